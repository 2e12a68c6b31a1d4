// AVX-512 VNNI kernels over the row-interleaved layout of repack.h: lane r of
// every vector is output row 16g + r, so each lane performs the scalar
// reference's operations for its row (exact integer sums by vpdpbusd, one
// vcvtdq2ps, the same float products and fmas in block order) and the results
// equal qdot::seq_rows bit for bit. NT tokens share every weight vector loaded.
// Headers come before the target pragma so nothing shared is built for AVX-512.
#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "kernels/repack.h"
#include "tensor/quants_impl.h"

#if defined(__clang__)
#include <cstdlib>
namespace larql::repack::avx512vnni {
void gemm(const Packed&, const uint8_t*, size_t, const int32_t*, size_t, int, int64_t, int64_t, float*, int64_t) {
  std::abort();  // clang builds leave the GCC-pragma kernels out (repack::enabled() is false there)
}
void gemm_rowgroup(const Packed&, const uint8_t*, size_t, const int32_t*, size_t, int, int64_t, int64_t, float*, int64_t) {
  std::abort();
}
}  // namespace larql::repack::avx512vnni
#else
#pragma GCC push_options
// GCC 12 warns about the deliberately undefined upper halves in its own cast intrinsics.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,avx2,fma,f16c")

namespace larql::repack::avx512vnni {

using namespace larql::quant;

#include "kernels/repack_simd_inl.h"

namespace {

struct Tok {  // one token's activations and corrections
  const uint8_t* a;
  const int32_t* x;
};

inline __m512i bc(const uint8_t* p) {  // 4 activation bytes to every lane
  int32_t v;
  std::memcpy(&v, p, 4);
  return _mm512_set1_epi32(v);
}
inline __m512i dp(__m512i acc, __m512i u, const uint8_t* p) { return _mm512_dpbusd_epi32(acc, u, bc(p)); }
inline __m512 halves(const uint8_t* p) { return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p))); }
inline __m512i ld(const uint8_t* p) { return _mm512_load_si512(p); }
inline float act_half(const uint8_t* p) { uint16_t h; std::memcpy(&h, p, 2); return _cvtsh_ss(h); }
inline float act_f32(const uint8_t* p) { float f; std::memcpy(&f, p, 4); return f; }

// The loops over tokens, k-groups and sub-blocks are unrolled so the per-token
// arrays live in zmm registers (at -O2 GCC keeps them on the stack otherwise).

// Q8_0 (Q4 = false), Q4_0 and Q5_0 (Q4 and FIVE: bit 4 added from the block's
// masks): acc = fma(float(S), d_w * d_a, acc) per block.
template <int NT, bool Q4, bool FIVE = false>
void group_q8_0(const uint8_t* grp, const BlockLayout& L, int64_t nb, const Tok* tk, float* y,
                int64_t ldy) {
  constexpr int kC = NT >= 4 ? 1 : 4 / NT;  // independent vpdpbusd chains per token (latency)
  const __m512i m4 = _mm512_set1_epi8(0x0F);
  __m512 acc[NT];
  _Pragma("GCC unroll 16")
  for (int t = 0; t < NT; ++t) acc[t] = _mm512_setzero_ps();
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* w = grp + L.meta(b);
    const uint8_t* c = grp + L.codes(b);
    const __m512 dw = halves(w);
    __m512i s[NT][kC];
    const uint8_t* qa[NT];
    _Pragma("GCC unroll 16")
    for (int t = 0; t < NT; ++t) {
      s[t][0] = _mm512_set1_epi32(tk[t].x[b]);
      _Pragma("GCC unroll 16")
      for (int k = 1; k < kC; ++k) s[t][k] = _mm512_setzero_si512();
      qa[t] = tk[t].a + b * sizeof(BlockQ8_0) + 2;
    }
    if constexpr (Q4) {
      _Pragma("GCC unroll 16")
      for (int v = 0; v < 4; ++v) {
        const __m512i raw = ld(c + 64 * v);
        __m512i lo = _mm512_and_si512(raw, m4), hi = _mm512_and_si512(_mm512_srli_epi16(raw, 4), m4);
        if constexpr (FIVE) {
          add_fifth_bits(lo, hi, c + 256 + 16 * v);
        }
        _Pragma("GCC unroll 16")
        for (int t = 0; t < NT; ++t) s[t][v % kC] = dp(dp(s[t][v % kC], lo, qa[t] + 4 * v), hi, qa[t] + 4 * v + 16);
      }
    } else {
      _Pragma("GCC unroll 16")
      for (int g = 0; g < 8; ++g) {
        const __m512i q = ld(c + 64 * g);
        _Pragma("GCC unroll 16")
        for (int t = 0; t < NT; ++t) s[t][g % kC] = dp(s[t][g % kC], q, qa[t] + 4 * g);
      }
    }
    _Pragma("GCC unroll 16")
    for (int t = 0; t < NT; ++t) {
      _Pragma("GCC unroll 16")
      for (int k = 1; k < kC; ++k) s[t][0] = _mm512_add_epi32(s[t][0], s[t][k]);
      const __m512 da = _mm512_set1_ps(act_half(qa[t] - 2));
      acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s[t][0]), _mm512_mul_ps(dw, da), acc[t]);
    }
  }
  _Pragma("GCC unroll 16")
  for (int t = 0; t < NT; ++t) _mm512_storeu_ps(y + t * ldy, acc[t]);
}

// Q4_K / Q5_K: isum = sum_j sc_j * S_j, msum = sum_j mn_j * B_j (exact), then
// acc = fma(float(isum), d_a * d, acc); acc = fma(float(msum), -(d_a * dmin), acc).
template <int NT, bool FIVE>
void group_q4_k(const uint8_t* grp, const BlockLayout& L, int64_t nb, const Tok* tk, float* y,
                int64_t ldy) {
  constexpr int kC = NT >= 4 ? 1 : 4 / NT;  // independent vpdpbusd chains per token (latency)
  const __m512i m4 = _mm512_set1_epi8(0x0F);
  __m512 acc[NT];
  _Pragma("GCC unroll 16")
  for (int t = 0; t < NT; ++t) acc[t] = _mm512_setzero_ps();
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* w = grp + L.meta(b);
    const uint8_t* c = grp + L.codes(b);
    const uint8_t* qa[NT];
    __m512i isum[NT];
    _Pragma("GCC unroll 16")
    for (int t = 0; t < NT; ++t) {
      qa[t] = tk[t].a + b * sizeof(BlockQ8_K) + 4;
      isum[t] = _mm512_setzero_si512();
    }
    _Pragma("GCC unroll 16")
    for (int j = 0; j < 8; ++j) {
      __m512i s[NT][kC];
      _Pragma("GCC unroll 16")
      for (int t = 0; t < NT; ++t)
        _Pragma("GCC unroll 16")
        for (int k = 0; k < kC; ++k) s[t][k] = _mm512_setzero_si512();
      _Pragma("GCC unroll 16")
      for (int v = 0; v < 4; ++v) {
        const __m512i raw = ld(c + (4 * j + v) * 64);
        __m512i lo = _mm512_and_si512(raw, m4), hi = _mm512_and_si512(_mm512_srli_epi16(raw, 4), m4);
        if constexpr (FIVE) {
          const uint8_t* mk = c + 2048 + (8 * j + 2 * v) * 8;
          add_fifth_bits(lo, hi, mk);
        }
        _Pragma("GCC unroll 16")
        for (int t = 0; t < NT; ++t)
          s[t][v % kC] = dp(dp(s[t][v % kC], lo, qa[t] + 32 * j + 4 * v), hi, qa[t] + 32 * j + 4 * v + 16);
      }
      const __m512i sc = _mm512_cvtepu8_epi32(_mm_load_si128(reinterpret_cast<const __m128i*>(w + 64 + 16 * j)));
      _Pragma("GCC unroll 16")
      for (int t = 0; t < NT; ++t) {
        _Pragma("GCC unroll 16")
        for (int k = 1; k < kC; ++k) s[t][0] = _mm512_add_epi32(s[t][0], s[t][k]);
        isum[t] = _mm512_add_epi32(isum[t], _mm512_mullo_epi32(s[t][0], sc));
      }
    }
    const __m512 d = halves(w), dmin = halves(w + 32);
    _Pragma("GCC unroll 16")
    for (int t = 0; t < NT; ++t) {
      __m512i msum = _mm512_setzero_si512();
      _Pragma("GCC unroll 16")
      for (int j = 0; j < 8; ++j) {
        const __m512i mn = _mm512_cvtepu8_epi32(_mm_load_si128(reinterpret_cast<const __m128i*>(w + 192 + 16 * j)));
        msum = _mm512_add_epi32(msum, _mm512_mullo_epi32(mn, _mm512_set1_epi32(tk[t].x[b * 8 + j])));
      }
      const __m512 da = _mm512_set1_ps(act_f32(qa[t] - 4));
      acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum[t]), _mm512_mul_ps(da, d), acc[t]);
      acc[t] = _mm512_fnmadd_ps(_mm512_cvtepi32_ps(msum), _mm512_mul_ps(da, dmin), acc[t]);
    }
  }
  _Pragma("GCC unroll 16")
  for (int t = 0; t < NT; ++t) _mm512_storeu_ps(y + t * ldy, acc[t]);
}

// Q6_K: S_g starts at -32*bsum_g (the codes are stored without their -32);
// isum = sum_g sc_g * S_g; acc = fma(float(isum), d_a * d, acc).
template <int NT>
void group_q6_k(const uint8_t* grp, const BlockLayout& L, int64_t nb, const Tok* tk, float* y,
                int64_t ldy) {
  const __m512i m4 = _mm512_set1_epi8(0x0F), m30 = _mm512_set1_epi8(0x30);
  __m512 acc[NT];
  _Pragma("GCC unroll 16")
  for (int t = 0; t < NT; ++t) acc[t] = _mm512_setzero_ps();
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* w = grp + L.meta(b);
    const uint8_t* c = grp + L.codes(b);
    const uint8_t* qa[NT];
    __m512i isum[NT];
    _Pragma("GCC unroll 16")
    for (int t = 0; t < NT; ++t) {
      qa[t] = tk[t].a + b * sizeof(BlockQ8_K) + 4;
      isum[t] = _mm512_setzero_si512();
    }
    _Pragma("GCC unroll 16")
    for (int g = 0; g < 16; ++g) {
      const __m512i h = ld(c + 2048 + 64 * g);
      const __m512i r0 = ld(c + 128 * g), r1 = ld(c + 128 * g + 64);
      // code | (high bits << 4): ternary logic A | (B & C) = 0xF8
      const __m512i lo0 = _mm512_ternarylogic_epi32(_mm512_and_si512(r0, m4), _mm512_slli_epi16(h, 4), m30, 0xF8);
      const __m512i hi0 = _mm512_ternarylogic_epi32(_mm512_and_si512(_mm512_srli_epi16(r0, 4), m4), _mm512_slli_epi16(h, 2), m30, 0xF8);
      const __m512i lo1 = _mm512_ternarylogic_epi32(_mm512_and_si512(r1, m4), h, m30, 0xF8);
      const __m512i hi1 = _mm512_ternarylogic_epi32(_mm512_and_si512(_mm512_srli_epi16(r1, 4), m4), _mm512_srli_epi16(h, 2), m30, 0xF8);
      const __m512i sc = _mm512_cvtepi8_epi32(_mm_load_si128(reinterpret_cast<const __m128i*>(w + 32 + 16 * g)));
      _Pragma("GCC unroll 16")
      for (int t = 0; t < NT; ++t) {
        const uint8_t* p = qa[t] + 16 * g;
        __m512i s = dp(dp(_mm512_set1_epi32(tk[t].x[b * 16 + g]), lo0, p), hi0, p + 8);
        if constexpr (NT == 1) s = _mm512_add_epi32(s, dp(dp(_mm512_setzero_si512(), lo1, p + 4), hi1, p + 12));
        else s = dp(dp(s, lo1, p + 4), hi1, p + 12);
        isum[t] = _mm512_add_epi32(isum[t], _mm512_mullo_epi32(s, sc));
      }
    }
    const __m512 d = halves(w);
    _Pragma("GCC unroll 16")
    for (int t = 0; t < NT; ++t) {
      const __m512 da = _mm512_set1_ps(act_f32(qa[t] - 4));
      acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum[t]), _mm512_mul_ps(da, d), acc[t]);
    }
  }
  _Pragma("GCC unroll 16")
  for (int t = 0; t < NT; ++t) _mm512_storeu_ps(y + t * ldy, acc[t]);
}

// Tokens per pass for the K-quants: enough accumulators to hide vpdpbusd latency,
// few enough to stay in registers (Q8_0 / Q4_0 take 8).
constexpr int kNT = 4;

template <int NT>
void group(const Packed& p, const uint8_t* w, int64_t nb, const Tok* tk, float* y, int64_t ldy) {
  const BlockLayout& L = p.blk;
  switch (p.type) {
    case GGMLType::Q8_0: group_q8_0<NT, false>(w, L, nb, tk, y, ldy); return;
    case GGMLType::Q4_0: group_q8_0<NT, true>(w, L, nb, tk, y, ldy); return;
    case GGMLType::Q5_0: group_q8_0<NT, true, true>(w, L, nb, tk, y, ldy); return;
    default: break;
  }
  if constexpr (NT <= kNT) switch (p.type) {
      case GGMLType::Q4_K: group_q4_k<NT, false>(w, L, nb, tk, y, ldy); return;
      case GGMLType::Q5_K: group_q4_k<NT, true>(w, L, nb, tk, y, ldy); return;
      case GGMLType::Q6_K: group_q6_k<NT>(w, L, nb, tk, y, ldy); return;
      default: return;
    }
}

// Tokens whose activations stay in L2 while every row group of the range is swept.
constexpr int kTokBlock = 64;

}  // namespace

void gemm(const Packed& p, const uint8_t* act, size_t as, const int32_t* aux, size_t xs, int nt, int64_t g0,
          int64_t g1, float* y, int64_t ldy) {
  if (nt >= 2 && gemm_blocked_supported(p.type)) gemm_blocked(p, act, as, aux, xs, nt, g0, g1, y, ldy);
  else gemm_rowgroup(p, act, as, aux, xs, nt, g0, g1, y, ldy);
}

void gemm_rowgroup(const Packed& p, const uint8_t* act, size_t as, const int32_t* aux, size_t xs, int nt, int64_t g0,
                   int64_t g1, float* y, int64_t ldy) {
  const bool legacy = p.type == GGMLType::Q8_0 || p.type == GGMLType::Q4_0 || p.type == GGMLType::Q5_0;
  const int max_nt = legacy ? 8 : kNT;  // K-quants keep 3 accumulators per token
  const int64_t nb = p.n_in / (legacy ? 32 : 256);
  for (int tb = 0; tb < nt; tb += kTokBlock) {
    const int te = std::min(nt, tb + kTokBlock);
    for (int64_t g = g0; g < g1; ++g) {
      const uint8_t* w = p.data + static_cast<size_t>(g) * p.group_bytes;
      for (int t = tb; t < te;) {
        Tok tk[8];
        const int n = std::min(max_nt, te - t);
        for (int k = 0; k < n; ++k) tk[k] = {act + as * static_cast<size_t>(t + k), aux + xs * static_cast<size_t>(t + k)};
        float* yo = y + t * ldy + g * kRows;
        const int step = n >= 8 ? 8 : n >= 4 ? 4 : n >= 2 ? 2 : 1;
        if (step == 8) group<8>(p, w, nb, tk, yo, ldy);
        else if (step == 4) group<4>(p, w, nb, tk, yo, ldy);
        else if (step == 2) group<2>(p, w, nb, tk, yo, ldy);
        else group<1>(p, w, nb, tk, yo, ldy);
        t += step;
      }
    }
  }
}

}  // namespace larql::repack::avx512vnni

#pragma GCC pop_options
#endif
