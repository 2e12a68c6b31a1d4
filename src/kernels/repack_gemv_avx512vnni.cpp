// Decode (one token) kernels over the row-interleaved layout of repack.h for
// Q4_K, Q5_K, Q6_K, Q8_0, Q4_0 and Q5_0. Same per-lane operations as the nt = 1 case of repack_avx512vnni.cpp
// (exact integer sums, then the scalar reference's float products and fmas in
// block order), so results equal qdot::seq_rows bit for bit. What differs is the
// schedule, tuned for a single token where nothing amortizes the unpacking:
//  - Q6_K: two 16-row groups per pass share every activation broadcast and give
//    the out-of-order core twice as many independent chains;
//  - Q4_K / Q5_K: one group, two vpdpbusd chains, activation broadcasts shared by
//    the low and high nibble vectors;
//  - a software prefetch runs a fixed distance ahead in each group's stream.
// Headers come before the target pragma so nothing shared is built for AVX-512.
#include <immintrin.h>

#include <cstdlib>
#include <cstring>

#include "kernels/repack.h"
#include "tensor/quants_impl.h"

#if defined(__clang__)
namespace larql::repack::avx512vnni {
bool gemv_handles(GGMLType) { return false; }  // clang builds leave the GCC-pragma kernels out
void gemv(const Packed&, const uint8_t*, const int32_t*, int64_t, int64_t, float*) { std::abort(); }
}  // namespace larql::repack::avx512vnni
#else
#pragma GCC push_options
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,avx2,fma,f16c")

namespace larql::repack::avx512vnni {

using namespace larql::quant;

#include "kernels/repack_simd_inl.h"

namespace {

inline __m512i bc(const uint8_t* p) {  // 4 activation bytes to every lane
  int32_t v;
  std::memcpy(&v, p, 4);
  return _mm512_set1_epi32(v);
}
inline __m512 halves(const uint8_t* p) { return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p))); }
inline __m512i ld(const uint8_t* p) { return _mm512_load_si512(p); }
inline __m512i u8x16(const uint8_t* p) { return _mm512_cvtepu8_epi32(_mm_load_si128(reinterpret_cast<const __m128i*>(p))); }
inline __m512i i8x16(const uint8_t* p) { return _mm512_cvtepi8_epi32(_mm_load_si128(reinterpret_cast<const __m128i*>(p))); }
inline float act_f32(const uint8_t* p) { float f; std::memcpy(&f, p, 4); return f; }

// Bytes ahead of the stream to prefetch (0 = off); LARQL_GEMV_PF overrides (tuning).
// 4.5 KiB measured best here over 1.5-9 KiB (scratch DRAM harness, 8192x2048, two
// threads, and larql bench tg64 on llama-1b Q4_K_M: 36-43 -> 44-47 tok/s against
// 3 KiB); the hardware prefetcher alone leaves Q4_K / Q6_K at about half speed.
size_t pf_dist() {
  static const size_t d = [] {
    const char* e = std::getenv("LARQL_GEMV_PF");
    return e ? static_cast<size_t>(std::strtoul(e, nullptr, 10)) : size_t{4608};
  }();
  return d;
}

// G groups of one matrix read in lockstep, gb bytes apart (w: the first one's
// metadata); group g's outputs go to y + g * ys.
struct Groups {
  const uint8_t* w;
  size_t gb;
  BlockLayout L;
  int64_t ys;
  const uint8_t* group(int g) const { return w + g * gb; }
  const uint8_t* meta(int g, int64_t b) const { return w + g * gb + L.meta(b); }
  const uint8_t* codes(int g, int64_t b) const { return w + g * gb + L.codes(b); }
};

// Q4_K / Q5_K: isum = sum_j sc_j * S_j, msum = sum_j mn_j * B_j (exact), then
// acc = fma(float(isum), d_a * d, acc); acc = fma(float(msum), -(d_a * dmin), acc).
template <int G, bool FIVE>
void gemv_q4_k(const Groups& gr, int64_t nb, const uint8_t* act, const int32_t* x, size_t pd, float* y) {
  const __m512i m4 = _mm512_set1_epi8(0x0F);
  __m512 acc[G];
  for (int g = 0; g < G; ++g) acc[g] = _mm512_setzero_ps();
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* qa = act + b * sizeof(BlockQ8_K) + 4;
    __m512i isum[G];
    for (int g = 0; g < G; ++g) isum[g] = _mm512_setzero_si512();
    for (int j = 0; j < 8; ++j) {
      __m512i s0[G], s1[G];  // two chains per group
      for (int g = 0; g < G; ++g) s0[g] = s1[g] = _mm512_setzero_si512();
      if (pd)
        for (int g = 0; g < G; ++g) prefetch_share(gr.group(g), gr.L, b, j, 8, pd);
      for (int v = 0; v < 4; ++v) {
        const __m512i al = bc(qa + 32 * j + 4 * v), ah = bc(qa + 32 * j + 4 * v + 16);
        for (int g = 0; g < G; ++g) {
          const uint8_t* c = gr.codes(g, b);
          const __m512i raw = ld(c + (4 * j + v) * 64);
          __m512i lo = _mm512_and_si512(raw, m4), hi = _mm512_and_si512(_mm512_srli_epi16(raw, 4), m4);
          if constexpr (FIVE) {
            const uint8_t* mk = c + 2048 + (8 * j + 2 * v) * 8;
            add_fifth_bits(lo, hi, mk);
          }
          if (v % 2 == 0) s0[g] = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(s0[g], lo, al), hi, ah);
          else s1[g] = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(s1[g], lo, al), hi, ah);
        }
      }
      for (int g = 0; g < G; ++g) {
        const __m512i sc = u8x16(gr.meta(g, b) + 64 + 16 * j);
        isum[g] = _mm512_add_epi32(isum[g], _mm512_mullo_epi32(_mm512_add_epi32(s0[g], s1[g]), sc));
      }
    }
    const __m512 da = _mm512_set1_ps(act_f32(qa - 4));
    for (int g = 0; g < G; ++g) {
      const uint8_t* w = gr.meta(g, b);
      __m512i msum = _mm512_setzero_si512();
      for (int j = 0; j < 8; ++j)
        msum = _mm512_add_epi32(msum, _mm512_mullo_epi32(u8x16(w + 192 + 16 * j), _mm512_set1_epi32(x[b * 8 + j])));
      acc[g] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum[g]), _mm512_mul_ps(da, halves(w)), acc[g]);
      acc[g] = _mm512_fnmadd_ps(_mm512_cvtepi32_ps(msum), _mm512_mul_ps(da, halves(w + 32)), acc[g]);
    }
  }
  for (int g = 0; g < G; ++g) _mm512_storeu_ps(y + g * gr.ys, acc[g]);
}

// Q6_K: S_s starts at -32*bsum_s (codes are stored without their -32);
// isum = sum_s sc_s * S_s; acc = fma(float(isum), d_a * d, acc).
template <int G>
void gemv_q6_k(const Groups& gr, int64_t nb, const uint8_t* act, const int32_t* x, size_t pd, float* y) {
  const __m512i m4 = _mm512_set1_epi8(0x0F), m30 = _mm512_set1_epi8(0x30);
  __m512 acc[G];
  for (int g = 0; g < G; ++g) acc[g] = _mm512_setzero_ps();
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* qa = act + b * sizeof(BlockQ8_K) + 4;
    __m512i isum[G];
    for (int g = 0; g < G; ++g) isum[g] = _mm512_setzero_si512();
    for (int s = 0; s < 16; ++s) {
      const uint8_t* p = qa + 16 * s;
      const __m512i a0 = bc(p), a1 = bc(p + 4), a2 = bc(p + 8), a3 = bc(p + 12);
      const __m512i init = _mm512_set1_epi32(x[b * 16 + s]);
      for (int g = 0; g < G; ++g) {
        const uint8_t* c = gr.codes(g, b);
        if (pd) prefetch_share(gr.group(g), gr.L, b, s, 16, pd);
        const __m512i h = ld(c + 2048 + 64 * s);
        const __m512i r0 = ld(c + 128 * s), r1 = ld(c + 128 * s + 64);
        // code | (high bits << 4): ternary logic A | (B & C) = 0xF8
        const __m512i lo0 = _mm512_ternarylogic_epi32(_mm512_and_si512(r0, m4), _mm512_slli_epi16(h, 4), m30, 0xF8);
        const __m512i hi0 = _mm512_ternarylogic_epi32(_mm512_and_si512(_mm512_srli_epi16(r0, 4), m4), _mm512_slli_epi16(h, 2), m30, 0xF8);
        const __m512i lo1 = _mm512_ternarylogic_epi32(_mm512_and_si512(r1, m4), h, m30, 0xF8);
        const __m512i hi1 = _mm512_ternarylogic_epi32(_mm512_and_si512(_mm512_srli_epi16(r1, 4), m4), _mm512_srli_epi16(h, 2), m30, 0xF8);
        const __m512i t0 = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(init, lo0, a0), hi0, a2);
        const __m512i t1 = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(_mm512_setzero_si512(), lo1, a1), hi1, a3);
        const __m512i sc = i8x16(gr.meta(g, b) + 32 + 16 * s);
        isum[g] = _mm512_add_epi32(isum[g], _mm512_mullo_epi32(_mm512_add_epi32(t0, t1), sc));
      }
    }
    const __m512 da = _mm512_set1_ps(act_f32(qa - 4));
    for (int g = 0; g < G; ++g)
      acc[g] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum[g]), _mm512_mul_ps(da, halves(gr.meta(g, b))), acc[g]);
  }
  for (int g = 0; g < G; ++g) _mm512_storeu_ps(y + g * gr.ys, acc[g]);
}

// Q8_0 (Q4 = false), Q4_0 and Q5_0 (FIVE: bit 4 from the block's masks): S
// starts at the block's correction x[b]; acc = fma(float(S), d_w * d_a, acc).
// Four vpdpbusd chains in all hide their latency: four per group for one
// group, two per group for several (their broadcasts are shared).
template <int G, bool Q4, bool FIVE = false>
void gemv_q8_0(const Groups& gr, int64_t nb, const uint8_t* act, const int32_t* x, size_t pd, float* y) {
  constexpr int kChains = G == 1 ? 4 : 2;
  const __m512i m4 = _mm512_set1_epi8(0x0F);
  __m512 acc[G];
  for (int g = 0; g < G; ++g) acc[g] = _mm512_setzero_ps();
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* qa = act + b * sizeof(BlockQ8_0) + 2;
    __m512i a[8];
    for (int k = 0; k < 8; ++k) a[k] = bc(qa + 4 * k);
    uint16_t h;
    std::memcpy(&h, qa - 2, 2);
    const __m512 da = _mm512_set1_ps(_cvtsh_ss(h));
    for (int g = 0; g < G; ++g) {
      const uint8_t* c = gr.codes(g, b);
      if (pd) prefetch_share(gr.group(g), gr.L, b, 0, 1, pd);
      __m512i s[kChains];
      s[0] = _mm512_set1_epi32(x[b]);
      for (int k = 1; k < kChains; ++k) s[k] = _mm512_setzero_si512();
      if constexpr (Q4) {
        for (int v = 0; v < 4; ++v) {
          const __m512i raw = ld(c + 64 * v);
          __m512i lo = _mm512_and_si512(raw, m4), hi = _mm512_and_si512(_mm512_srli_epi16(raw, 4), m4);
          if constexpr (FIVE) {
            add_fifth_bits(lo, hi, c + 256 + 16 * v);
          }
          s[v % kChains] = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(s[v % kChains], lo, a[v]), hi, a[v + 4]);
        }
      } else {
        for (int k = 0; k < 8; ++k) s[k % kChains] = _mm512_dpbusd_epi32(s[k % kChains], ld(c + 64 * k), a[k]);
      }
      __m512i sum = s[0];
      for (int k = 1; k < kChains; ++k) sum = _mm512_add_epi32(sum, s[k]);
      acc[g] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(sum), _mm512_mul_ps(halves(gr.meta(g, b)), da), acc[g]);
    }
  }
  for (int g = 0; g < G; ++g) _mm512_storeu_ps(y + g * gr.ys, acc[g]);
}

void run1(const Packed& p, const Groups& gr, const uint8_t* act, const int32_t* x, size_t pd, float* y) {
  const int64_t nb = p.n_in / 256, nb32 = p.n_in / 32;
  switch (p.type) {
    case GGMLType::Q4_K: gemv_q4_k<1, false>(gr, nb, act, x, pd, y); return;
    case GGMLType::Q5_K: gemv_q4_k<1, true>(gr, nb, act, x, pd, y); return;
    case GGMLType::Q6_K: gemv_q6_k<1>(gr, nb, act, x, pd, y); return;
    case GGMLType::Q8_0: gemv_q8_0<1, false>(gr, nb32, act, x, pd, y); return;
    case GGMLType::Q4_0: gemv_q8_0<1, true>(gr, nb32, act, x, pd, y); return;
    case GGMLType::Q5_0: gemv_q8_0<1, true, true>(gr, nb32, act, x, pd, y); return;
    default: std::abort();  // gemv_handles() is checked by the dispatcher
  }
}

}  // namespace

// LARQL_GEMV=0 sends one-token products back to the shared gemm() (A/B runs).
bool gemv_handles(GGMLType t) {
  static const bool off = [] {
    const char* e = std::getenv("LARQL_GEMV");
    return e && std::strcmp(e, "0") == 0;
  }();
  return !off && (t == GGMLType::Q4_K || t == GGMLType::Q5_K || t == GGMLType::Q6_K || t == GGMLType::Q8_0 ||
                  t == GGMLType::Q4_0 || t == GGMLType::Q5_0);
}

void gemv(const Packed& p, const uint8_t* act, const int32_t* aux, int64_t g0, int64_t g1, float* y) {
  const size_t pd = pf_dist();
  const auto groups = [&](int64_t g, int64_t apart) {
    return Groups{p.data + static_cast<size_t>(g) * p.group_bytes, static_cast<size_t>(apart) * p.group_bytes, p.blk,
                  apart * kRows};
  };
  int64_t g = g0;
  // Two groups per pass pay for Q6_K (long unpacking per vector: 1.1-1.3x in
  // DRAM) but not for the other types, whose one-group loops already keep up.
  // The two are the halves of the range: two sequential streams.
  if (p.type == GGMLType::Q6_K) {
    const int64_t half = (g1 - g0) / 2;
    for (int64_t i = 0; i < half; ++i) gemv_q6_k<2>(groups(g0 + i, half), p.n_in / 256, act, aux, pd, y + (g0 + i) * kRows);
    g += 2 * half;
  }
  for (; g < g1; ++g) run1(p, groups(g, 1), act, aux, pd, y + g * kRows);
}

}  // namespace larql::repack::avx512vnni

#pragma GCC pop_options
#endif
