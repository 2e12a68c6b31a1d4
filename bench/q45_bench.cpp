// Q5_0 / Q4_1 / Q5_1 weight rows (the types llama.cpp's Q4_K_M mix uses where a
// row of 1408 = DeepSeek-V2-Lite's n_ff_exp can't be K-quantized), scalar vs each
// SIMD family in one process, single thread. A matrix n_out x n_in, every row
// against nt activation rows (1 = decode, 8 = a prefill tile). "bytes" counts the
// weight bytes read per iteration.
//   build-x/bin/bench_kernels --benchmark_filter=Q45
#include <benchmark/benchmark.h>

#include <random>
#include <vector>

#include "format/ggml_types.h"
#include "kernels/qdot.h"
#include "tensor/quants.h"

using namespace larql;

namespace {

void BM_q45(benchmark::State& st, GGMLType t, qdot::Isa f, int64_t n_in, int64_t n_out, int nt) {
  if (!qdot::isa_available(f)) {
    st.SkipWithError("kernel family not available on this CPU");
    return;
  }
  std::mt19937 g(3);
  const uint64_t rb = ggml_row_size(t, uint64_t(n_in));
  std::vector<uint8_t> w(rb * uint64_t(n_out));
  for (auto& b : w) b = uint8_t(g());
  const size_t bs = ggml_type_traits(uint32_t(t))->type_size;
  for (size_t i = 0; i < w.size(); i += bs) {  // sane fp16 scales (and mins)
    w[i] = 0x66; w[i + 1] = 0x2E;
    if (t != GGMLType::Q5_0) { w[i + 2] = 0x66; w[i + 3] = 0xAE; }
  }
  std::normal_distribution<float> d(0.f, 1.f);
  std::vector<float> x(static_cast<size_t>(n_in));
  const size_t ab = qdot::act_bytes(t, n_in);
  std::vector<uint8_t> act(ab * size_t(nt));
  for (int k = 0; k < nt; ++k) {
    for (auto& v : x) v = d(g);
    qdot::quantize_act(t, x.data(), n_in, act.data() + ab * size_t(k));
  }
  std::vector<float> y(static_cast<size_t>(nt));
  for (auto _ : st) {
    for (int64_t r = 0; r < n_out; ++r) {
      qdot::dot_rows(f, t, w.data() + rb * uint64_t(r), act.data(), ab, n_in, nt, y.data());
      benchmark::DoNotOptimize(y.data());
    }
  }
  st.SetBytesProcessed(int64_t(st.iterations()) * int64_t(w.size()));
}

void register_all() {
  for (GGMLType t : {GGMLType::Q5_0, GGMLType::Q4_1, GGMLType::Q5_1})
    for (auto f : {qdot::Isa::Scalar, qdot::Isa::Avx2, qdot::Isa::Avx512, qdot::Isa::Avx512Vnni})
      for (auto [n_in, n_out] : {std::pair<int64_t, int64_t>{1408, 2048}, {2048, 1408}})
        for (int nt : {1, 8}) {
          const std::string name = std::string("Q45/") + ggml_type_name(uint32_t(t)) + "/" + qdot::isa_name(f) + "/" +
                                   std::to_string(n_in) + "x" + std::to_string(n_out) + "/nt" + std::to_string(nt);
          benchmark::RegisterBenchmark(name.c_str(), BM_q45, t, f, n_in, n_out, nt)->Unit(benchmark::kMicrosecond);
        }
}

const int registered = (register_all(), 0);

}  // namespace
