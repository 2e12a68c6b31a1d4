// Load-time repacking (kernels/repack.h): repack::pack() of one matrix, one
// thread, llama FFN shapes. "GB/s" counts source (GGUF) bytes. pack() includes
// its allocation and MADV_POPULATE_WRITE, as a model load pays them.
//   build-x/bin/bench_kernels --benchmark_filter=Pack
// LARQL_QDOT_ISA caps the packer with the kernels, for A/B in one binary:
// avx2 the AVX2 packer, scalar the portable one. The small shapes stay in a large L3 across iterations (and reuse
// the freed copy's pages, except for the first benchmark of a process, which
// pays fresh pages: filter on all of BM_Pack/ to compare); the big shapes (and
// BM_PackAlloc, the allocation alone) are what a model load sees.
#include <benchmark/benchmark.h>

#include <sys/mman.h>

#include <cstdlib>
#include <random>
#include <vector>

#include "format/ggml_types.h"
#include "kernels/repack.h"
#include "tensor/quants.h"

using namespace larql;

namespace {

void BM_Pack(benchmark::State& st, GGMLType t, int64_t n_in, int64_t n_out) {
  const uint64_t rb = ggml_row_size(t, uint64_t(n_in));
  std::vector<uint8_t> w(rb * uint64_t(n_out));
  std::mt19937 g(1);
  std::normal_distribution<float> d(0.f, 1.f);
  std::vector<float> row(static_cast<size_t>(n_in));
  for (int64_t r = 0; r < n_out; ++r) {
    for (auto& v : row) v = d(g);
    quantize_row(t, row.data(), w.data() + rb * uint64_t(r), n_in);
  }
  const WeightView v{t, w.data(), n_in, n_out, rb};
  for (auto _ : st) {
    auto p = repack::pack(v);
    benchmark::DoNotOptimize(p->data);
  }
  st.counters["GB/s"] = benchmark::Counter(double(w.size()) * double(st.iterations()) / 1e9, benchmark::Counter::kIsRate);
}

// The floor under BM_Pack at the same shape: pack()'s allocation alone (same
// aligned_alloc + MADV_HUGEPAGE + MADV_POPULATE_WRITE, then free).
void BM_PackAlloc(benchmark::State& st, GGMLType t, int64_t n_in, int64_t n_out) {
  const uint64_t rb = ggml_row_size(t, uint64_t(n_in));
  std::vector<uint8_t> w(rb * uint64_t(n_out));
  const size_t bytes = repack::pack(WeightView{t, w.data(), n_in, n_out, rb})->bytes;
  constexpr size_t kHuge = size_t{2} << 20;
  const size_t alloc = (bytes + 4095) / 4096 * 4096;
  for (auto _ : st) {
    auto* p = static_cast<uint8_t*>(std::aligned_alloc(alloc >= kHuge ? kHuge : 4096, alloc));
#ifdef MADV_HUGEPAGE
    if (alloc >= kHuge) madvise(p, alloc / kHuge * kHuge, MADV_HUGEPAGE);
#endif
#ifdef MADV_POPULATE_WRITE
    madvise(p, alloc, MADV_POPULATE_WRITE);
#endif
    benchmark::DoNotOptimize(p);
    std::free(p);
  }
  st.counters["GB/s"] = benchmark::Counter(double(w.size()) * double(st.iterations()) / 1e9, benchmark::Counter::kIsRate);
}

}  // namespace

// llama-1b FFN shapes (source + packed copy fit a large L3) ...
BENCHMARK_CAPTURE(BM_Pack, Q8_0_2048x8192, GGMLType::Q8_0, 2048, 8192)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Pack, Q4_0_2048x8192, GGMLType::Q4_0, 2048, 8192)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Pack, Q4_K_2048x8192, GGMLType::Q4_K, 2048, 8192)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Pack, Q5_K_2048x8192, GGMLType::Q5_K, 2048, 8192)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Pack, Q6_K_8192x2048, GGMLType::Q6_K, 8192, 2048)->Unit(benchmark::kMillisecond);
// ... and llama-8b's (32..62 MB of source: DRAM to DRAM, as at model load).
BENCHMARK_CAPTURE(BM_Pack, Q8_0_4096x14336, GGMLType::Q8_0, 4096, 14336)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Pack, Q4_0_4096x14336, GGMLType::Q4_0, 4096, 14336)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Pack, Q4_K_4096x14336, GGMLType::Q4_K, 4096, 14336)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Pack, Q5_K_4096x14336, GGMLType::Q5_K, 4096, 14336)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Pack, Q6_K_14336x4096, GGMLType::Q6_K, 14336, 4096)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_PackAlloc, Q8_0_4096x14336, GGMLType::Q8_0, 4096, 14336)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_PackAlloc, Q4_K_4096x14336, GGMLType::Q4_K, 4096, 14336)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_PackAlloc, Q6_K_14336x4096, GGMLType::Q6_K, 14336, 4096)->Unit(benchmark::kMillisecond);
