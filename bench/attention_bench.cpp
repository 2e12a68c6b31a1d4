// Attention microbenchmark: the tiled F32 kernels vs the per-(query, head) path
// they replace, on Llama-3.2-1B's shape (32 query heads, 8 KV heads, head dim
// 64), one layer: pp512, a 128-token batch after 384, one decode token after 4095.
//   build-x/bin/bench_kernels --benchmark_filter=Attn
#include <benchmark/benchmark.h>

#include <cmath>
#include <random>
#include <vector>

#include "engine/attention_exact.h"
#include "engine/attention_tiled.h"
#include "util/thread_pool.h"

using namespace larql;

namespace {

struct AttnInputs {
  AttentionParams P;
  std::vector<float> k, v, q, out;
  AttnInputs(int64_t n, int64_t pos0) {
    P.n_head = 32, P.n_head_kv = 8, P.dk = 64, P.dv = 64, P.scale = 0.125f;
    std::mt19937 g(1);
    std::normal_distribution<float> d(0.f, 1.f);
    k.resize((pos0 + n) * 8 * 64), v.resize(k.size()), q.resize(n * 32 * 64), out.resize(n * 32 * 64);
    for (auto* a : {&k, &v, &q})
      for (auto& x : *a) x = d(g);
  }
};

template <bool Tiled>
void BM_AttnPrefill(benchmark::State& st) {
  const int64_t n = st.range(0), pos0 = st.range(1);
  ThreadPool pool(static_cast<int>(st.range(2)));
  AttnInputs in(n, pos0);
  for (auto _ : st) {
    if (Tiled)
      attn_detail::attend_f32(in.P, in.k.data(), in.v.data(), in.q.data(), n, pos0, in.out.data(), pool);
    else
      attn_detail::attend_f32_untiled(in.P, in.k.data(), in.v.data(), in.q.data(), n, pos0, in.out.data(), pool);
    benchmark::DoNotOptimize(in.out.data());
  }
  // Causal pairs x (QK + PV) x 2 flops per multiply-add, per head.
  const double pairs = static_cast<double>(n) * (pos0 + (n + 1) / 2.0);
  st.counters["GFLOP/s"] = benchmark::Counter(pairs * 32 * 64 * 4 * static_cast<double>(st.iterations()) / 1e9,
                                              benchmark::Counter::kIsRate);
  st.SetLabel(Tiled && attn_tile::available() ? "tiled" : "per-job");
}
// One thread, CPU time (the shared machine distorts wall time); args: n, pos0, threads.
BENCHMARK(BM_AttnPrefill<false>)->Name("AttnPrefill/old")->Args({512, 0, 1})->Args({128, 384, 1})->Args({1, 4095, 1})->Unit(benchmark::kMillisecond);
BENCHMARK(BM_AttnPrefill<true>)->Name("AttnPrefill/tiled")->Args({512, 0, 1})->Args({128, 384, 1})->Args({1, 4095, 1})->Unit(benchmark::kMillisecond);

}  // namespace
