// Register-blocked prefill GEMM for packed Q8_0 / Q4_0 / Q4_K / Q5_K / Q6_K (repack.h layout) on
// AVX-512 VNNI. A micro-kernel keeps RG row groups x NT tokens of integer block
// sums and float accumulators in zmm registers, so each weight vector loaded
// feeds NT tokens and each activation broadcast feeds RG row groups. Every lane
// still performs the scalar reference's operations for its (row, token): exact
// integer block sum, one int->float conversion, d_w * d_a, one fma per block in
// block order; so results equal qdot::seq_rows bit for bit. The activation
// scales are converted to float once per token block (exact) instead of once per
// row group. Headers come before the target pragma so nothing shared is built
// for AVX-512.
#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "kernels/repack.h"
#include "tensor/quants_impl.h"

namespace larql::repack::avx512vnni {

bool gemm_blocked_supported(GGMLType t) {
  return t == GGMLType::Q8_0 || t == GGMLType::Q4_0 || t == GGMLType::Q5_0 || t == GGMLType::Q4_K ||
         t == GGMLType::Q5_K || t == GGMLType::Q6_K;
}

}  // namespace larql::repack::avx512vnni

#if defined(__clang__)
#include <cstdlib>
namespace larql::repack::avx512vnni {
void gemm_blocked(const Packed&, const uint8_t*, size_t, const int32_t*, size_t, int, int64_t, int64_t, float*,
                  int64_t) {
  std::abort();  // clang builds leave the GCC-pragma kernels out (repack::enabled() is false there)
}
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

// Tokens per block: their activations stay in L2 while the row range is swept.
// 3 row groups x 4 tokens: 12 integer sums + 12 float accumulators + 3 weight
// vectors fit the 32 zmm registers, 12 independent vpdpbusd chains hide its
// latency, and 7 loads feed 12 vpdpbusd (measured best of 1x8, 2x4, 2x6, 3x4,
// 4x3 on Zen 5; bench/repack_gemm_bench.cpp).
constexpr int kTB = 128;
constexpr int kNT = 4;  // tokens per micro-kernel pass
constexpr int kRG = 3;  // row groups per micro-kernel pass

struct Args {
  const uint8_t* w;  // first row group
  size_t group_bytes;
  BlockLayout L;
  int64_t nb;
  const uint8_t* a;  // first token's activations
  size_t as;
  const int32_t* x;  // first token's corrections
  size_t xs;
  const float* da;  // activation scales as float, [token][block]
  float* y;         // output of the first row group, first token
  int64_t ldy;
};

// Block b's scales (m) and codes (c) in each of RG consecutive row groups.
template <int RG>
struct BlockPtrs {
  const uint8_t* m[RG];
  const uint8_t* c[RG];
  template <class A>
  BlockPtrs(const A& g, int64_t b) {
    _Pragma("GCC unroll 16")
    for (int r = 0; r < RG; ++r) {
      m[r] = g.w + r * g.group_bytes + g.L.meta(b);
      c[r] = g.w + r * g.group_bytes + g.L.codes(b);
    }
  }
};

inline __m512i bc(const uint8_t* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return _mm512_set1_epi32(v);
}

template <int RG, int NT, bool Q4, bool FIVE = false>
void micro(const Args& g) {
  const __m512i m4 = _mm512_set1_epi8(0x0F);
  __m512 acc[RG][NT];
  _Pragma("GCC unroll 16")
  for (int r = 0; r < RG; ++r)
    _Pragma("GCC unroll 16")
    for (int t = 0; t < NT; ++t) acc[r][t] = _mm512_setzero_ps();
  for (int64_t b = 0; b < g.nb; ++b) {
    const BlockPtrs<RG> at(g, b);
    const auto &wm = at.m, &wc = at.c;
    __m512i s[RG][NT];
    const uint8_t* qa[NT];
    _Pragma("GCC unroll 16")
    for (int t = 0; t < NT; ++t) {
      qa[t] = g.a + t * g.as + b * sizeof(BlockQ8_0) + 2;
      const __m512i x0 = _mm512_set1_epi32(g.x[t * g.xs + b]);
      _Pragma("GCC unroll 16")
      for (int r = 0; r < RG; ++r) s[r][t] = x0;
    }
    if constexpr (Q4) {
      _Pragma("GCC unroll 16")
      for (int v = 0; v < 4; ++v) {
        __m512i lo[RG], hi[RG];
        _Pragma("GCC unroll 16")
        for (int r = 0; r < RG; ++r) {
          const __m512i raw = _mm512_load_si512(wc[r] + 64 * v);
          lo[r] = _mm512_and_si512(raw, m4);
          hi[r] = _mm512_and_si512(_mm512_srli_epi16(raw, 4), m4);
          if constexpr (FIVE) {  // Q5_0: bit 4 from the block's masks
            add_fifth_bits(lo[r], hi[r], wc[r] + 256 + 16 * v);
          }
        }
        _Pragma("GCC unroll 16")
        for (int t = 0; t < NT; ++t) {
          const __m512i al = bc(qa[t] + 4 * v), ah = bc(qa[t] + 4 * v + 16);
          _Pragma("GCC unroll 16")
          for (int r = 0; r < RG; ++r) s[r][t] = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(s[r][t], lo[r], al), hi[r], ah);
        }
      }
    } else {
      _Pragma("GCC unroll 16")
      for (int q = 0; q < 8; ++q) {
        __m512i wv[RG];
        _Pragma("GCC unroll 16")
        for (int r = 0; r < RG; ++r) wv[r] = _mm512_load_si512(wc[r] + 64 * q);
        _Pragma("GCC unroll 16")
        for (int t = 0; t < NT; ++t) {
          const __m512i av = bc(qa[t] + 4 * q);
          _Pragma("GCC unroll 16")
          for (int r = 0; r < RG; ++r) s[r][t] = _mm512_dpbusd_epi32(s[r][t], wv[r], av);
        }
      }
    }
    _Pragma("GCC unroll 16")
    for (int r = 0; r < RG; ++r) {
      const __m512 dw = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(wm[r])));
      _Pragma("GCC unroll 16")
      for (int t = 0; t < NT; ++t) {
        const __m512 d = _mm512_mul_ps(dw, _mm512_set1_ps(g.da[t * g.nb + b]));
        acc[r][t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s[r][t]), d, acc[r][t]);
      }
    }
  }
  _Pragma("GCC unroll 16")
  for (int r = 0; r < RG; ++r)
    _Pragma("GCC unroll 16")
    for (int t = 0; t < NT; ++t) _mm512_storeu_ps(g.y + t * g.ldy + r * kRows, acc[r][t]);
}

template <int RG, bool Q4, bool FIVE>
void tokens(const Args& g, int n) {  // n <= kNT tokens
  switch (n) {
    case 1: micro<RG, 1, Q4, FIVE>(g); return;
    case 2: micro<RG, 2, Q4, FIVE>(g); return;
    case 3: micro<RG, 3, Q4, FIVE>(g); return;
    case 4: micro<RG, 4, Q4, FIVE>(g); return;
    default: return;
  }
}

// Q4_K / Q5_K: 2 row groups x 4 tokens (8 block sums, 8 sub-block sums and 8
// float accumulators in registers). Per lane, as the scalar reference:
// isum = sum_j sc_j * S_j and msum = sum_j mn_j * B_j (exact integers; msum by
// vpdpwssd on (mn_2i, mn_2i+1) x (B_2i, B_2i+1) pairs, still exact), then
// acc = fma(float(isum), d_a * d, acc); acc = fma(float(msum), -(d_a * dmin), acc).
constexpr int kNTK = 4;
constexpr int kRGK = 2;

struct ArgsK {
  const uint8_t* w;  // first row group
  size_t group_bytes;
  BlockLayout L;
  int64_t nb;
  const uint8_t* a;  // first token's activations (BlockQ8_K rows)
  size_t as;
  const int32_t* x;  // first token's corrections (8 per block)
  size_t xs;
  float* y;
  int64_t ldy;
};

inline __m512i u8x16(const uint8_t* p) { return _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))); }

template <int RG, int NT, bool FIVE>
void micro_k(const ArgsK& g) {
  const __m512i m4 = _mm512_set1_epi8(0x0F);
  __m512 acc[RG][NT];
  _Pragma("GCC unroll 16")
  for (int r = 0; r < RG; ++r)
    _Pragma("GCC unroll 16")
    for (int t = 0; t < NT; ++t) acc[r][t] = _mm512_setzero_ps();
  for (int64_t b = 0; b < g.nb; ++b) {
    const BlockPtrs<RG> at(g, b);
    const auto &wm = at.m, &wc = at.c;
    const uint8_t* qa[NT];
    _Pragma("GCC unroll 16")
    for (int t = 0; t < NT; ++t) qa[t] = g.a + t * g.as + b * sizeof(BlockQ8_K) + 4;
    __m512i isum[RG][NT];
    _Pragma("GCC unroll 16")
    for (int r = 0; r < RG; ++r)
      _Pragma("GCC unroll 16")
      for (int t = 0; t < NT; ++t) isum[r][t] = _mm512_setzero_si512();
    for (int j = 0; j < 8; ++j) {
      __m512i sj[RG][NT];
      _Pragma("GCC unroll 16")
      for (int r = 0; r < RG; ++r)
        _Pragma("GCC unroll 16")
        for (int t = 0; t < NT; ++t) sj[r][t] = _mm512_setzero_si512();
      _Pragma("GCC unroll 16")
      for (int v = 0; v < 4; ++v) {
        __m512i lo[RG], hi[RG];
        _Pragma("GCC unroll 16")
        for (int r = 0; r < RG; ++r) {
          const __m512i raw = _mm512_load_si512(wc[r] + (4 * j + v) * 64);
          lo[r] = _mm512_and_si512(raw, m4);
          hi[r] = _mm512_and_si512(_mm512_srli_epi16(raw, 4), m4);
          if constexpr (FIVE) {
            add_fifth_bits(lo[r], hi[r], wc[r] + 2048 + (8 * j + 2 * v) * 8);
          }
        }
        _Pragma("GCC unroll 16")
        for (int t = 0; t < NT; ++t) {
          const __m512i al = bc(qa[t] + 32 * j + 4 * v), ah = bc(qa[t] + 32 * j + 4 * v + 16);
          _Pragma("GCC unroll 16")
          for (int r = 0; r < RG; ++r) sj[r][t] = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(sj[r][t], lo[r], al), hi[r], ah);
        }
      }
      _Pragma("GCC unroll 16")
      for (int r = 0; r < RG; ++r) {
        const __m512i sc = u8x16(wm[r] + 64 + 16 * j);
        _Pragma("GCC unroll 16")
        for (int t = 0; t < NT; ++t) isum[r][t] = _mm512_add_epi32(isum[r][t], _mm512_mullo_epi32(sj[r][t], sc));
      }
    }
    // B pairs of each token as int16 (|B| <= 32 * 128 fits).
    int32_t bp[NT][4];
    _Pragma("GCC unroll 16")
    for (int t = 0; t < NT; ++t) {
      const int32_t* x = g.x + t * g.xs + b * 8;
      for (int i = 0; i < 4; ++i)
        bp[t][i] = aux_pair(x, i);
    }
    _Pragma("GCC unroll 16")
    for (int r = 0; r < RG; ++r) {
      __m512i mnp[4];  // lane l: mn_2i (low 16 bits) | mn_2i+1 (high) of row l
      _Pragma("GCC unroll 16")
      for (int i = 0; i < 4; ++i)
        mnp[i] = _mm512_or_si512(u8x16(wm[r] + 192 + 32 * i), _mm512_slli_epi32(u8x16(wm[r] + 192 + 32 * i + 16), 16));
      const __m512 d = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(wm[r])));
      const __m512 dmin = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(wm[r] + 32)));
      _Pragma("GCC unroll 16")
      for (int t = 0; t < NT; ++t) {
        __m512i msum = _mm512_setzero_si512();
        _Pragma("GCC unroll 16")
        for (int i = 0; i < 4; ++i) msum = _mm512_dpwssd_epi32(msum, mnp[i], _mm512_set1_epi32(bp[t][i]));
        float daf;
        std::memcpy(&daf, qa[t] - 4, 4);
        const __m512 da = _mm512_set1_ps(daf);
        acc[r][t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum[r][t]), _mm512_mul_ps(da, d), acc[r][t]);
        acc[r][t] = _mm512_fnmadd_ps(_mm512_cvtepi32_ps(msum), _mm512_mul_ps(da, dmin), acc[r][t]);
      }
    }
  }
  _Pragma("GCC unroll 16")
  for (int r = 0; r < RG; ++r)
    _Pragma("GCC unroll 16")
    for (int t = 0; t < NT; ++t) _mm512_storeu_ps(g.y + t * g.ldy + r * kRows, acc[r][t]);
}

// Q6_K: 2 row groups x 4 tokens. Per lane, as the scalar reference: S_s starts at
// -32 * bsum_s (codes stored without their -32), isum = sum_s sc_s * S_s (exact),
// acc = fma(float(isum), d_a * d, acc).
template <int RG, int NT>
void micro_q6(const ArgsK& g) {
  const __m512i m4 = _mm512_set1_epi8(0x0F), m30 = _mm512_set1_epi8(0x30);
  __m512 acc[RG][NT];
  _Pragma("GCC unroll 16")
  for (int r = 0; r < RG; ++r)
    _Pragma("GCC unroll 16")
    for (int t = 0; t < NT; ++t) acc[r][t] = _mm512_setzero_ps();
  for (int64_t b = 0; b < g.nb; ++b) {
    const BlockPtrs<RG> at(g, b);
    const auto &wm = at.m, &wc = at.c;
    const uint8_t* qa[NT];
    __m512i isum[RG][NT];
    _Pragma("GCC unroll 16")
    for (int t = 0; t < NT; ++t) {
      qa[t] = g.a + t * g.as + b * sizeof(BlockQ8_K) + 4;
      _Pragma("GCC unroll 16")
      for (int r = 0; r < RG; ++r) isum[r][t] = _mm512_setzero_si512();
    }
    for (int sb = 0; sb < 16; ++sb) {
      __m512i lo0[RG], hi0[RG], lo1[RG], hi1[RG], sc[RG];
      _Pragma("GCC unroll 16")
      for (int r = 0; r < RG; ++r) {
        const __m512i h = _mm512_load_si512(wc[r] + 2048 + 64 * sb);
        const __m512i r0 = _mm512_load_si512(wc[r] + 128 * sb), r1 = _mm512_load_si512(wc[r] + 128 * sb + 64);
        // code | (high bits << 4): ternary logic A | (B & C) = 0xF8
        lo0[r] = _mm512_ternarylogic_epi32(_mm512_and_si512(r0, m4), _mm512_slli_epi16(h, 4), m30, 0xF8);
        hi0[r] = _mm512_ternarylogic_epi32(_mm512_and_si512(_mm512_srli_epi16(r0, 4), m4), _mm512_slli_epi16(h, 2), m30, 0xF8);
        lo1[r] = _mm512_ternarylogic_epi32(_mm512_and_si512(r1, m4), h, m30, 0xF8);
        hi1[r] = _mm512_ternarylogic_epi32(_mm512_and_si512(_mm512_srli_epi16(r1, 4), m4), _mm512_srli_epi16(h, 2), m30, 0xF8);
        sc[r] = _mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(wm[r] + 32 + 16 * sb)));
      }
      _Pragma("GCC unroll 16")
      for (int t = 0; t < NT; ++t) {
        const uint8_t* p = qa[t] + 16 * sb;
        const __m512i a0 = bc(p), a1 = bc(p + 4), a2 = bc(p + 8), a3 = bc(p + 12);
        const __m512i init = _mm512_set1_epi32(g.x[t * g.xs + b * 16 + sb]);
        _Pragma("GCC unroll 16")
        for (int r = 0; r < RG; ++r) {
          __m512i sv = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(init, lo0[r], a0), hi0[r], a2);
          sv = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(sv, lo1[r], a1), hi1[r], a3);
          isum[r][t] = _mm512_add_epi32(isum[r][t], _mm512_mullo_epi32(sv, sc[r]));
        }
      }
    }
    _Pragma("GCC unroll 16")
    for (int r = 0; r < RG; ++r) {
      const __m512 d = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(wm[r])));
      _Pragma("GCC unroll 16")
      for (int t = 0; t < NT; ++t) {
        float daf;
        std::memcpy(&daf, qa[t] - 4, 4);
        acc[r][t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum[r][t]), _mm512_mul_ps(_mm512_set1_ps(daf), d), acc[r][t]);
      }
    }
  }
  _Pragma("GCC unroll 16")
  for (int r = 0; r < RG; ++r)
    _Pragma("GCC unroll 16")
    for (int t = 0; t < NT; ++t) _mm512_storeu_ps(g.y + t * g.ldy + r * kRows, acc[r][t]);
}

// K-quant micro-kernel for RG row groups and n <= kNTK tokens (Q6 = false: Q4_K, or Q5_K when FIVE).
template <int RG, bool FIVE, bool Q6>
void tokens_k(const ArgsK& g, int n) {
  switch (n) {
    case 1: Q6 ? micro_q6<RG, 1>(g) : micro_k<RG, 1, FIVE>(g); return;
    case 2: Q6 ? micro_q6<RG, 2>(g) : micro_k<RG, 2, FIVE>(g); return;
    case 3: Q6 ? micro_q6<RG, 3>(g) : micro_k<RG, 3, FIVE>(g); return;
    case 4: Q6 ? micro_q6<RG, 4>(g) : micro_k<RG, 4, FIVE>(g); return;
    default: return;
  }
}

template <bool FIVE, bool Q6 = false>
void run_k(const Packed& p, const uint8_t* act, size_t as, const int32_t* aux, size_t xs, int nt, int64_t g0,
           int64_t g1, float* y, int64_t ldy) {
  const int64_t nb = p.n_in / 256;
  for (int tb = 0; tb < nt; tb += kTB) {
    const int te = std::min(nt, tb + kTB);
    for (int64_t g = g0; g < g1;) {
      const int rg = static_cast<int>(std::min<int64_t>(kRGK, g1 - g));
      for (int t = tb; t < te;) {
        const int n = std::min(kNTK, te - t);
        const ArgsK ar{p.data + static_cast<size_t>(g) * p.group_bytes, p.group_bytes, p.blk, nb, act + as * static_cast<size_t>(t), as, aux + xs * static_cast<size_t>(t), xs,
                       y + t * ldy + g * kRows, ldy};
        if (rg == 2) tokens_k<2, FIVE, Q6>(ar, n);
        else tokens_k<1, FIVE, Q6>(ar, n);
        t += n;
      }
      g += rg;
    }
  }
}

template <bool Q4, bool FIVE = false>
void run(const Packed& p, const uint8_t* act, size_t as, const int32_t* aux, size_t xs, int nt, int64_t g0,
         int64_t g1, float* y, int64_t ldy) {
  const int64_t nb = p.n_in / 32;
  thread_local std::vector<float> dav;  // grows once per thread, never per token
  if (dav.size() < static_cast<size_t>(kTB * nb)) dav.resize(static_cast<size_t>(kTB * nb));
  for (int tb = 0; tb < nt; tb += kTB) {
    const int te = std::min(nt, tb + kTB);
    for (int t = tb; t < te; ++t) {
      const uint8_t* a = act + as * static_cast<size_t>(t);
      float* d = dav.data() + static_cast<size_t>(t - tb) * nb;
      for (int64_t b = 0; b < nb; ++b) {
        uint16_t h;
        std::memcpy(&h, a + b * sizeof(BlockQ8_0), 2);
        d[b] = _cvtsh_ss(h);
      }
    }
    for (int64_t g = g0; g < g1;) {
      const int rg = static_cast<int>(std::min<int64_t>(kRG, g1 - g));
      for (int t = tb; t < te;) {
        const int n = std::min(kNT, te - t);
        const Args ar{p.data + static_cast<size_t>(g) * p.group_bytes, p.group_bytes, p.blk, nb, act + as * static_cast<size_t>(t), as, aux + xs * static_cast<size_t>(t), xs,
                      dav.data() + static_cast<size_t>(t - tb) * nb, y + t * ldy + g * kRows, ldy};
        if (rg == 3) tokens<3, Q4, FIVE>(ar, n);
        else if (rg == 2) tokens<2, Q4, FIVE>(ar, n);
        else tokens<1, Q4, FIVE>(ar, n);
        t += n;
      }
      g += rg;
    }
  }
}

}  // namespace

void gemm_blocked(const Packed& p, const uint8_t* act, size_t as, const int32_t* aux, size_t xs, int nt, int64_t g0,
                  int64_t g1, float* y, int64_t ldy) {
  switch (p.type) {
    case GGMLType::Q4_0: run<true>(p, act, as, aux, xs, nt, g0, g1, y, ldy); return;
    case GGMLType::Q5_0: run<true, true>(p, act, as, aux, xs, nt, g0, g1, y, ldy); return;
    case GGMLType::Q4_K: run_k<false>(p, act, as, aux, xs, nt, g0, g1, y, ldy); return;
    case GGMLType::Q5_K: run_k<true>(p, act, as, aux, xs, nt, g0, g1, y, ldy); return;
    case GGMLType::Q6_K: run_k<false, true>(p, act, as, aux, xs, nt, g0, g1, y, ldy); return;
    default: run<false>(p, act, as, aux, xs, nt, g0, g1, y, ldy); return;
  }
}

}  // namespace larql::repack::avx512vnni

#pragma GCC pop_options
#endif
