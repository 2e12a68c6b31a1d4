// Microbenchmarks for the quantized matmul kernels (single thread, CPU time, so
// a busy shared machine distorts them less than wall-clock end-to-end runs).
//   build-x/bin/bench_kernels --benchmark_filter=Q4_K
//   LARQL_QDOT_ISA=avx2 build-x/bin/bench_kernels   # cap the kernel family
// "packed" rows run the row-interleaved copy (kernels/repack.h) when repack::enabled().
#include <benchmark/benchmark.h>

#include <memory>
#include <random>
#include <string>
#include <vector>

#include "format/ggml_types.h"
#include "kernels/matmul.h"
#include "kernels/qdot.h"
#include "kernels/repack.h"
#include "tensor/quants.h"
#include "util/thread_pool.h"

using namespace larql;

namespace {

struct Weights {
  std::vector<uint8_t> data;
  WeightView view;
};

Weights make_weights(GGMLType t, int64_t n_in, int64_t n_out) {
  std::mt19937 g(1);
  std::normal_distribution<float> d(0.f, 1.f);
  Weights w;
  const uint64_t rb = ggml_row_size(t, uint64_t(n_in));
  w.data.resize(rb * uint64_t(n_out));
  std::vector<float> row(static_cast<size_t>(n_in));
  for (int64_t r = 0; r < n_out; ++r) {
    for (auto& v : row) v = d(g);
    quantize_row(t, row.data(), w.data.data() + rb * uint64_t(r), n_in);
  }
  w.view = WeightView{t, w.data.data(), n_in, n_out, rb};
  return w;
}

void BM_matmul(benchmark::State& st, GGMLType t, int64_t n_in, int64_t n_out, bool packed = false) {
  const int64_t n_tok = st.range(0);
  static ThreadPool pool(1);
  Weights w = make_weights(t, n_in, n_out);
  std::unique_ptr<repack::Packed> p;
  if (packed && repack::enabled(t)) {  // plain AVX2: no packed Q8_0
    p = repack::pack(w.view);
    w.view.packed = p.get();
  }
  std::vector<float> x(size_t(n_in * n_tok), 0.5f), y(size_t(n_out * n_tok));
  for (size_t i = 0; i < x.size(); ++i) x[i] = float(int(i * 7919 % 255) - 127) / 64.f;
  for (auto _ : st) {
    matmul(w.view, x.data(), n_tok, y.data(), pool);
    benchmark::DoNotOptimize(y.data());
  }
  st.counters["MAC/s"] = benchmark::Counter(double(n_in * n_out * n_tok) * double(st.iterations()), benchmark::Counter::kIsRate);
  st.SetLabel(std::string(qdot::isa_name(qdot::isa())) + (p ? " packed" : ""));
}

}  // namespace

BENCHMARK_CAPTURE(BM_matmul, Q4_K_2048x8192, GGMLType::Q4_K, 2048, 8192)->Arg(1)->Arg(128);
BENCHMARK_CAPTURE(BM_matmul, Q6_K_8192x2048, GGMLType::Q6_K, 8192, 2048)->Arg(1)->Arg(128);
BENCHMARK_CAPTURE(BM_matmul, Q8_0_2048x8192, GGMLType::Q8_0, 2048, 8192)->Arg(1)->Arg(128);
BENCHMARK_CAPTURE(BM_matmul, Q4_0_2048x8192, GGMLType::Q4_0, 2048, 8192)->Arg(1)->Arg(128);

BENCHMARK_CAPTURE(BM_matmul, Q4_K_2048x8192_packed, GGMLType::Q4_K, 2048, 8192, true)->Arg(1)->Arg(128);
BENCHMARK_CAPTURE(BM_matmul, Q6_K_8192x2048_packed, GGMLType::Q6_K, 8192, 2048, true)->Arg(1)->Arg(128);
BENCHMARK_CAPTURE(BM_matmul, Q8_0_2048x8192_packed, GGMLType::Q8_0, 2048, 8192, true)->Arg(1)->Arg(128);
BENCHMARK_CAPTURE(BM_matmul, Q4_0_2048x8192_packed, GGMLType::Q4_0, 2048, 8192, true)->Arg(1)->Arg(128);
BENCHMARK_CAPTURE(BM_matmul, Q5_K_2048x8192_packed, GGMLType::Q5_K, 2048, 8192, true)->Arg(1)->Arg(128);

BENCHMARK_MAIN();
