// Decode (one token) kernels on the packed layout, old vs new in one process:
// repack::avx512vnni::gemm with nt = 1 (the shared GEMM kernel) against
// repack::avx512vnni::gemv (repack_gemv_avx512vnni.cpp), single thread, at
// llama-1b's shapes. "GB/s" is packed bytes streamed per CPU second; compare it
// with one core's streaming read. Skipped where the packed kernels can't run.
//   build-x/bin/bench_kernels --benchmark_filter=Gemv
#include <benchmark/benchmark.h>

#include <memory>
#include <random>
#include <vector>

#include "format/ggml_types.h"
#include "kernels/qdot.h"
#include "kernels/repack.h"
#include "tensor/quants.h"

using namespace larql;

namespace {

struct Case {
  std::vector<uint8_t> w, act;
  std::vector<int32_t> aux;
  std::vector<float> y;
  std::vector<std::unique_ptr<repack::Packed>> p;  // copies, visited in turn
};

// copies > 1: that many packed copies of one matrix, so each call streams from
// DRAM as decode does (the model is far larger than the L3) instead of the cache.
std::unique_ptr<Case> make_case(GGMLType t, int64_t n_in, int64_t n_out, int copies) {
  auto c = std::make_unique<Case>();
  std::mt19937 g(3);
  std::normal_distribution<float> d(0.f, 1.f);
  const uint64_t rb = ggml_row_size(t, uint64_t(n_in));
  c->w.resize(rb * uint64_t(n_out));
  std::vector<float> row(static_cast<size_t>(n_in));
  for (int64_t r = 0; r < n_out; ++r) {
    for (auto& v : row) v = d(g);
    quantize_row(t, row.data(), c->w.data() + rb * uint64_t(r), n_in);
  }
  for (int k = 0; k < copies; ++k) c->p.push_back(repack::pack(WeightView{t, c->w.data(), n_in, n_out, rb}));
  for (auto& v : row) v = d(g);
  c->act.resize(qdot::act_bytes(t, n_in));
  qdot::quantize_act(t, row.data(), n_in, c->act.data());
  c->aux.resize(repack::aux_count(t, n_in));
  repack::act_aux(t, c->act.data(), n_in, c->aux.data());
  c->y.resize(static_cast<size_t>(n_out));
  return c;
}

void BM_gemv(benchmark::State& st, GGMLType t, int64_t n_in, int64_t n_out, bool fresh, int copies = 1) {
  if (!repack::enabled()) {
    st.SkipWithError("packed kernels not enabled on this CPU");
    return;
  }
  auto c = make_case(t, n_in, n_out, copies);
  const int64_t ng = n_out / repack::kRows;
  size_t k = 0;
  for (auto _ : st) {
    const repack::Packed& p = *c->p[k++ % c->p.size()];
    if (fresh) repack::avx512vnni::gemv(p, c->act.data(), c->aux.data(), 0, ng, c->y.data());
    else repack::avx512vnni::gemm(p, c->act.data(), 0, c->aux.data(), 0, 1, 0, ng, c->y.data(), n_out);
    benchmark::DoNotOptimize(c->y.data());
  }
  st.counters["GB/s"] = benchmark::Counter(double(c->p[0]->bytes) * double(st.iterations()), benchmark::Counter::kIsRate,
                                           benchmark::Counter::kIs1000);
}

// One token through repack::gemm with family f over every row, visiting the
// copies in turn; "GB/s" = packed bytes per second (CPU time, or real time
// summed over threads where the benchmark asks for it).
void sweep(benchmark::State& st, qdot::Isa f, GGMLType t, int64_t n_in, int64_t n_out, int copies) {
  auto c = make_case(t, n_in, n_out, copies);
  size_t k = 0;
  for (auto _ : st) {
    const repack::Packed& p = *c->p[k++ % c->p.size()];
    repack::gemm(f, p, c->act.data(), 0, c->aux.data(), 0, 1, 0, n_out / repack::kRows, c->y.data(), n_out);
    benchmark::DoNotOptimize(c->y.data());
  }
  st.SetLabel(qdot::isa_name(f));
  st.counters["GB/s"] = benchmark::Counter(double(c->p[0]->bytes) * double(st.iterations()), benchmark::Counter::kIsRate,
                                           benchmark::Counter::kIs1000);
}

// One token through repack::gemm for one family (Arg: 0 avx512vnni, 1 avxvnni,
// 2 avx2), from DRAM (copies > 1) or the cache.
void BM_gemv_family(benchmark::State& st, GGMLType t, int64_t n_in, int64_t n_out, int copies) {
  const qdot::Isa fams[] = {qdot::Isa::Avx512Vnni, qdot::Isa::AvxVnni, qdot::Isa::Avx2};
  const qdot::Isa f = fams[st.range(0)];
  if (!qdot::isa_available(f)) { st.SkipWithError("CPU lacks this family"); return; }
  if (f == qdot::Isa::Avx2 && !repack::avx2::handles(t)) { st.SkipWithError("no packed AVX2 kernel for this type"); return; }
  sweep(st, f, t, n_in, n_out, copies);
}

}  // namespace

BENCHMARK_CAPTURE(BM_gemv_family, Q4_K_2048x8192_dram, GGMLType::Q4_K, 2048, 8192, 6)->DenseRange(0, 2);
BENCHMARK_CAPTURE(BM_gemv_family, Q6_K_8192x2048_dram, GGMLType::Q6_K, 8192, 2048, 6)->DenseRange(0, 2);
BENCHMARK_CAPTURE(BM_gemv_family, Q8_0_2048x8192_dram, GGMLType::Q8_0, 2048, 8192, 4)->DenseRange(0, 2);
BENCHMARK_CAPTURE(BM_gemv_family, Q4_K_2048x2048, GGMLType::Q4_K, 2048, 2048, 1)->DenseRange(0, 2);
BENCHMARK_CAPTURE(BM_gemv_family, Q6_K_2048x2048, GGMLType::Q6_K, 2048, 2048, 1)->DenseRange(0, 2);
BENCHMARK_CAPTURE(BM_gemv_family, Q8_0_2048x2048, GGMLType::Q8_0, 2048, 2048, 1)->DenseRange(0, 2);
BENCHMARK_CAPTURE(BM_gemv_family, Q4_K_4096x128_l2, GGMLType::Q4_K, 4096, 128, 1)->DenseRange(0, 2);
BENCHMARK_CAPTURE(BM_gemv_family, Q8_0_4096x64_l2, GGMLType::Q8_0, 4096, 64, 1)->DenseRange(0, 2);
BENCHMARK_CAPTURE(BM_gemv_family, Q6_K_4096x64_l2, GGMLType::Q6_K, 4096, 64, 1)->DenseRange(0, 2);

// gate/up (2048 -> 8192) and down (8192 -> 2048) from DRAM (6 copies, ~58 MB) and
// from the cache; attention q (2048 -> 2048); output head (Q6_K, tied; 215 MB).
BENCHMARK_CAPTURE(BM_gemv, Q4_K_2048x8192_dram_old, GGMLType::Q4_K, 2048, 8192, false, 6);
BENCHMARK_CAPTURE(BM_gemv, Q4_K_2048x8192_dram_new, GGMLType::Q4_K, 2048, 8192, true, 6);
BENCHMARK_CAPTURE(BM_gemv, Q6_K_8192x2048_dram_old, GGMLType::Q6_K, 8192, 2048, false, 6);
BENCHMARK_CAPTURE(BM_gemv, Q6_K_8192x2048_dram_new, GGMLType::Q6_K, 8192, 2048, true, 6);
BENCHMARK_CAPTURE(BM_gemv, Q8_0_2048x8192_dram_old, GGMLType::Q8_0, 2048, 8192, false, 4);
BENCHMARK_CAPTURE(BM_gemv, Q8_0_2048x8192_dram_new, GGMLType::Q8_0, 2048, 8192, true, 4);
BENCHMARK_CAPTURE(BM_gemv, Q4_K_2048x8192_old, GGMLType::Q4_K, 2048, 8192, false);
BENCHMARK_CAPTURE(BM_gemv, Q4_K_2048x8192_new, GGMLType::Q4_K, 2048, 8192, true);
BENCHMARK_CAPTURE(BM_gemv, Q6_K_8192x2048_old, GGMLType::Q6_K, 8192, 2048, false);
BENCHMARK_CAPTURE(BM_gemv, Q6_K_8192x2048_new, GGMLType::Q6_K, 8192, 2048, true);
BENCHMARK_CAPTURE(BM_gemv, Q4_K_2048x2048_old, GGMLType::Q4_K, 2048, 2048, false);
BENCHMARK_CAPTURE(BM_gemv, Q4_K_2048x2048_new, GGMLType::Q4_K, 2048, 2048, true);
BENCHMARK_CAPTURE(BM_gemv, Q6_K_2048x128256_old, GGMLType::Q6_K, 2048, 128256, false);
BENCHMARK_CAPTURE(BM_gemv, Q6_K_2048x128256_new, GGMLType::Q6_K, 2048, 128256, true);

namespace {
// Both cores streaming from DRAM at once, as decode with -t 2 does: each thread
// sweeps its own copies of an llama-8b gate/up (4096 -> 14336) or down matrix
// with the run-time family. "GB/s" is both threads' bytes per wall second:
// compare with a 2-thread streaming read of the same machine.
void BM_gemv_dram_2t(benchmark::State& st, GGMLType t, int64_t n_in, int64_t n_out) {
  if (!repack::enabled()) { st.SkipWithError("packed kernels not enabled on this CPU"); return; }
  sweep(st, qdot::isa(), t, n_in, n_out, 2);
}
}  // namespace
BENCHMARK_CAPTURE(BM_gemv_dram_2t, Q4_K_4096x14336, GGMLType::Q4_K, 4096, 14336)->Threads(2)->UseRealTime();
BENCHMARK_CAPTURE(BM_gemv_dram_2t, Q6_K_14336x4096, GGMLType::Q6_K, 14336, 4096)->Threads(2)->UseRealTime();
BENCHMARK_CAPTURE(BM_gemv_dram_2t, Q8_0_4096x14336, GGMLType::Q8_0, 4096, 14336)->Threads(2)->UseRealTime();
