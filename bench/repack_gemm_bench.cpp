// Prefill GEMM over the row-interleaved layout (kernels/repack.h), one thread,
// 512 tokens, llama-1b FFN shapes; and the machine's vpdpbusd peak to compare
// against. "GOPS" counts int8 multiply-adds x2 (one MAC = 2 ops).
//   build-x/bench/bench_kernels --benchmark_filter=Gemm
// Gemm*/0 is the one-group kernel (gemm_rowgroup: 1 row group x 8 tokens), /1 the
// register-blocked one (repack_gemm_avx512vnni.cpp), run in the same process.
#include <benchmark/benchmark.h>
#include <immintrin.h>

#include <memory>
#include <random>
#include <vector>

#include "format/ggml_types.h"
#include "kernels/amx.h"
#include "kernels/qdot.h"
#include "kernels/repack.h"
#include "tensor/quants.h"

using namespace larql;

namespace {

// 16 independent vpdpbusd chains, register operands only: the throughput bound.
__attribute__((target("avx512f,avx512vnni"), noinline)) void peak_loop(int64_t iters, int32_t* out) {
  __m512i a[16];
#pragma GCC unroll 16
  for (int i = 0; i < 16; ++i) a[i] = _mm512_set1_epi32(i);
  __m512i u = _mm512_set1_epi8(3), s = _mm512_set1_epi8(-2);
  asm volatile("" : "+v"(u), "+v"(s));  // keep the sources opaque
  for (int64_t k = 0; k < iters; ++k)
#pragma GCC unroll 16
    for (int i = 0; i < 16; ++i) a[i] = _mm512_dpbusd_epi32(a[i], u, s);
  __m512i r = a[0];
#pragma GCC unroll 16
  for (int i = 1; i < 16; ++i) r = _mm512_add_epi32(r, a[i]);
  _mm512_storeu_si512(out, r);
}

void BM_VnniPeak(benchmark::State& st) {
  if (!qdot::isa_available(qdot::Isa::Avx512Vnni)) { st.SkipWithError("no AVX-512 VNNI"); return; }
  const int64_t iters = 1 << 20;
  alignas(64) int32_t out[16];
  for (auto _ : st) {
    peak_loop(iters, out);
    benchmark::DoNotOptimize(out);
  }
  st.counters["GOPS"] = benchmark::Counter(double(iters) * 16 * 64 * 2 * double(st.iterations()), benchmark::Counter::kIsRate);
}

struct Setup {
  std::vector<uint8_t> w, act;
  std::vector<int32_t> aux;
  std::unique_ptr<repack::Packed> p;
  size_t ab = 0, xn = 0;
};

Setup make(GGMLType t, int64_t n_in, int64_t n_out, int nt) {
  Setup s;
  std::mt19937 g(1);
  std::normal_distribution<float> d(0.f, 1.f);
  const uint64_t rb = ggml_row_size(t, uint64_t(n_in));
  s.w.resize(rb * uint64_t(n_out));
  std::vector<float> row(static_cast<size_t>(n_in));
  for (int64_t r = 0; r < n_out; ++r) {
    for (auto& v : row) v = d(g);
    quantize_row(t, row.data(), s.w.data() + rb * uint64_t(r), n_in);
  }
  s.p = repack::pack(WeightView{t, s.w.data(), n_in, n_out, rb});
  s.ab = (qdot::act_bytes(t, n_in) + 63) / 64 * 64;
  s.xn = repack::aux_count(t, n_in);
  s.act.resize(s.ab * size_t(nt));
  s.aux.resize(s.xn * size_t(nt));
  for (int k = 0; k < nt; ++k) {
    for (auto& v : row) v = d(g);
    qdot::quantize_act(t, row.data(), n_in, s.act.data() + s.ab * size_t(k));
    repack::act_aux(t, s.act.data() + s.ab * size_t(k), n_in, s.aux.data() + s.xn * size_t(k));
  }
  return s;
}

void BM_Gemm(benchmark::State& st, GGMLType t, int64_t n_in, int64_t n_out) {
  if (!repack::enabled()) { st.SkipWithError("repack disabled on this CPU"); return; }
  const int nt = 512;
  static Setup s;
  static GGMLType last_t = GGMLType::F32;
  static int64_t last_in = 0, last_out = 0;
  if (t != last_t || n_in != last_in || n_out != last_out) {
    s = make(t, n_in, n_out, nt);
    last_t = t, last_in = n_in, last_out = n_out;
  }
  std::vector<float> y(size_t(n_out) * nt);
  const bool blocked = st.range(0) != 0;
  for (auto _ : st) {
    if (blocked) repack::avx512vnni::gemm(*s.p, s.act.data(), s.ab, s.aux.data(), s.xn, nt, 0, n_out / 16, y.data(), n_out);
    else repack::avx512vnni::gemm_rowgroup(*s.p, s.act.data(), s.ab, s.aux.data(), s.xn, nt, 0, n_out / 16, y.data(), n_out);
    benchmark::DoNotOptimize(y.data());
  }
  st.counters["GOPS"] = benchmark::Counter(2.0 * double(n_in) * double(n_out) * nt * double(st.iterations()), benchmark::Counter::kIsRate);
}

// The same GEMM through repack::gemm for one family (Arg: 0 avx512vnni, 1
// avxvnni, 2 avx2; repack_ymm_inl.h for 1 and 2), so the 256-bit kernels are
// measured against the 512-bit ones on one machine. Skipped where the CPU lacks it.
void BM_GemmFamily(benchmark::State& st, GGMLType t, int64_t n_in, int64_t n_out) {
  const qdot::Isa fams[] = {qdot::Isa::Avx512Vnni, qdot::Isa::AvxVnni, qdot::Isa::Avx2};
  const qdot::Isa f = fams[st.range(0)];
  if (!qdot::isa_available(f)) { st.SkipWithError("CPU lacks this family"); return; }
  if (f == qdot::Isa::Avx2 && !repack::avx2::handles(t)) { st.SkipWithError("no packed AVX2 kernel for this type"); return; }
  const int nt = 512;
  Setup s = make(t, n_in, n_out, nt);
  std::vector<float> y(size_t(n_out) * nt);
  for (auto _ : st) {
    repack::gemm(f, *s.p, s.act.data(), s.ab, s.aux.data(), s.xn, nt, 0, n_out / 16, y.data(), n_out);
    benchmark::DoNotOptimize(y.data());
  }
  st.SetLabel(qdot::isa_name(f));
  st.counters["GOPS"] = benchmark::Counter(2.0 * double(n_in) * double(n_out) * nt * double(st.iterations()), benchmark::Counter::kIsRate);
}

// The AMX-INT8 kernel (kernels/amx.h) against the AVX-512 VNNI one on the same
// shape (Arg 0: amx::gemm, 1: avx512vnni::gemm). Skipped without AMX; the
// software model the tests run it through says nothing about speed.
void BM_GemmAmx(benchmark::State& st, GGMLType t, int64_t n_in, int64_t n_out) {
  const bool use_amx = st.range(0) == 0;
  if (use_amx && !(amx::available() && repack::amx::usable())) { st.SkipWithError("no AMX"); return; }
  if (!qdot::isa_available(qdot::Isa::Avx512Vnni)) { st.SkipWithError("no AVX-512 VNNI"); return; }
  const int nt = 512;
  Setup s = make(t, n_in, n_out, nt);
  std::vector<float> y(size_t(n_out) * nt);
  for (auto _ : st) {
    if (use_amx) repack::amx::gemm(*s.p, s.act.data(), s.ab, s.aux.data(), s.xn, nt, 0, n_out / 16, y.data(), n_out);
    else repack::avx512vnni::gemm(*s.p, s.act.data(), s.ab, s.aux.data(), s.xn, nt, 0, n_out / 16, y.data(), n_out);
    benchmark::DoNotOptimize(y.data());
  }
  st.SetLabel(use_amx ? "amx" : "avx512vnni");
  st.counters["GOPS"] = benchmark::Counter(2.0 * double(n_in) * double(n_out) * nt * double(st.iterations()), benchmark::Counter::kIsRate);
}

}  // namespace

BENCHMARK(BM_VnniPeak);
BENCHMARK_CAPTURE(BM_GemmFamily, Q8_0_2048x8192_t512, GGMLType::Q8_0, 2048, 8192)->DenseRange(0, 2)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_GemmFamily, Q4_0_2048x8192_t512, GGMLType::Q4_0, 2048, 8192)->DenseRange(0, 2)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_GemmFamily, Q4_K_2048x8192_t512, GGMLType::Q4_K, 2048, 8192)->DenseRange(0, 2)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_GemmFamily, Q4_K_256x8192_t512, GGMLType::Q4_K, 256, 8192)->DenseRange(2, 2)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_GemmFamily, Q4_K_1024x8192_t512, GGMLType::Q4_K, 1024, 8192)->DenseRange(2, 2)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_GemmFamily, Q5_K_2048x8192_t512, GGMLType::Q5_K, 2048, 8192)->DenseRange(0, 2)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_GemmFamily, Q6_K_8192x2048_t512, GGMLType::Q6_K, 8192, 2048)->DenseRange(0, 2)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_GemmFamily, Q4_K_8192x2048_t512, GGMLType::Q4_K, 8192, 2048)->DenseRange(0, 2)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_GemmFamily, Q4_K_14336x1024_t512, GGMLType::Q4_K, 14336, 1024)->DenseRange(0, 2)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_GemmFamily, Q6_K_14336x1024_t512, GGMLType::Q6_K, 14336, 1024)->DenseRange(0, 2)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_GemmFamily, Q6_K_2048x8192_t512, GGMLType::Q6_K, 2048, 8192)->DenseRange(0, 2)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Gemm, Q8_0_2048x8192_t512, GGMLType::Q8_0, 2048, 8192)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Gemm, Q8_0_8192x2048_t512, GGMLType::Q8_0, 8192, 2048)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Gemm, Q4_0_2048x8192_t512, GGMLType::Q4_0, 2048, 8192)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);
// K-quants go through the one-group kernel (/0 only).
BENCHMARK_CAPTURE(BM_Gemm, Q4_K_2048x8192_t512, GGMLType::Q4_K, 2048, 8192)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Gemm, Q5_K_2048x8192_t512, GGMLType::Q5_K, 2048, 8192)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Gemm, Q6_K_8192x2048_t512, GGMLType::Q6_K, 8192, 2048)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_GemmAmx, Q8_0_2048x8192_t512, GGMLType::Q8_0, 2048, 8192)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_GemmAmx, Q4_0_2048x8192_t512, GGMLType::Q4_0, 2048, 8192)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_GemmAmx, Q4_K_2048x8192_t512, GGMLType::Q4_K, 2048, 8192)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_GemmAmx, Q6_K_8192x2048_t512, GGMLType::Q6_K, 8192, 2048)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);
