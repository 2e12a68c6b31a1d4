// AVX-512 F16 / BF16 products (halfdot.h): weights widened 16 at a time
// (vcvtph2ps; bf16 by a 16-bit shift), one zmm per 16-lane accumulator.
//  - lanes16: a register-blocked kernel of 4 rows x 6 tokens (24
//    accumulators). Rows are swept in chunks of ~192 KiB so a chunk stays in
//    L2 while every token block passes over it.
//  - dot4x16: one row at a time, 4 accumulators, for decode: a single
//    sequential stream per thread (one thread streams ~23 GB/s from DRAM here;
//    two or four interleaved rows 15-23 GB/s, software prefetch no gain).
// Each output is still its own fma sequence in increasing k, so results equal
// the scalar references bit for bit.
#include <immintrin.h>

#include <algorithm>
#include <memory>

#include "kernels/f32tree_inl.h"
#include "kernels/halfdot.h"

// GCC 12 flags its own 512-bit intrinsics' undefined-register idiom.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace larql::halfdot::avx512 {

#define LARQL_AVX512 __attribute__((target("avx512f,avx512bw,avx2,fma,f16c")))

namespace {

template <bool BF>
LARQL_AVX512 inline __m512 widen16(const uint8_t* p) {
  const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
  if constexpr (BF) return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
  else return _mm512_cvtph_ps(h);
}

// One step of the register block: RM rows (rb bytes apart) x NT tokens (ldx
// floats apart) over k in [k0, k1). The 16-lane accumulators start at zero
// (first) or from `state`, and end as outputs in y (last) or back in `state`;
// each lane still sums its k in increasing order.
template <int RM, int NT, bool BF>
LARQL_AVX512 void micro16(const uint8_t* w, size_t rb, const float* x, int64_t ldx, int64_t k0, int64_t k1,
                          __m512* state, int64_t srow, bool first, bool last, float* y, int64_t ldy) {
  __m512 acc[RM][NT];
#pragma GCC unroll 8
  for (int i = 0; i < RM; ++i)
#pragma GCC unroll 8
    for (int t = 0; t < NT; ++t) acc[i][t] = first ? _mm512_setzero_ps() : state[i * srow + t];
  for (int64_t k = k0; k < k1; k += 16) {
    __m512 wv[RM];
#pragma GCC unroll 8
    for (int i = 0; i < RM; ++i) wv[i] = widen16<BF>(w + i * rb + 2 * k);
#pragma GCC unroll 8
    for (int t = 0; t < NT; ++t) {
      const __m512 xv = _mm512_loadu_ps(x + t * ldx + k);
#pragma GCC unroll 8
      for (int i = 0; i < RM; ++i) acc[i][t] = _mm512_fmadd_ps(wv[i], xv, acc[i][t]);
    }
  }
#pragma GCC unroll 8
  for (int i = 0; i < RM; ++i)
#pragma GCC unroll 8
    for (int t = 0; t < NT; ++t) {
      if (last) y[t * ldy + i] = simd::tree16(acc[i][t]);
      else state[i * srow + t] = acc[i][t];
    }
}

// micro16 for nt <= NT tokens.
template <int RM, int NT, bool BF>
LARQL_AVX512 void micro16_nt(int nt, const uint8_t* w, size_t rb, const float* x, int64_t ldx, int64_t k0, int64_t k1,
                             __m512* state, int64_t srow, bool first, bool last, float* y, int64_t ldy) {
  if constexpr (NT > 1)
    if (nt < NT) return micro16_nt<RM, NT - 1, BF>(nt, w, rb, x, ldx, k0, k1, state, srow, first, last, y, ldy);
  micro16<RM, NT, BF>(w, rb, x, ldx, k0, k1, state, srow, first, last, y, ldy);
}

constexpr int kRowBlock = 4, kTok = 6;  // 24 accumulators (of 32 zmm)
constexpr int64_t kSlice = 512;          // k per pass: a token block's slice (12 KiB) stays in L1
constexpr int64_t kChunkRows = 64;       // rows per chunk: its weight slice (64 KiB) stays in L2
constexpr int kPanel = 8 * kTok;         // tokens per panel: their activation slice (96 KiB) stays in L2

// GEMM blocking that keeps each output's own fma order: rows in chunks,
// tokens in panels, k in slices. For one (chunk, panel, slice) every token
// block passes over every row block, so the chunk's weight slice is read from
// L2 once per token block and each token block's activations from L1 once per
// row block; accumulators are parked (chunk rows x panel tokens, 192 KiB) between slices.
template <bool BF>
LARQL_AVX512 void lanes16(const Rows& m, int64_t r0, int64_t r1, const float* x, int64_t ldx, int nt, float* y,
                          int64_t ldy) {
  struct alignas(64) Park {
    float lanes[kChunkRows * kPanel * 16];
  };
  thread_local const std::unique_ptr<Park> park_store(new Park);  // once per thread, never per call
  __m512* park = reinterpret_cast<__m512*>(park_store->lanes);
  for (int64_t rc = r0; rc < r1; rc += kChunkRows) {
    const int64_t re = std::min(r1, rc + kChunkRows);
    for (int tp = 0; tp < nt; tp += kPanel) {
      const int te = std::min(nt, tp + kPanel);
      for (int64_t k0 = 0; k0 < m.n; k0 += kSlice) {
        const int64_t k1 = std::min(m.n, k0 + kSlice);
        const bool first = k0 == 0, last = k1 == m.n;
        for (int t = tp; t < te; t += kTok) {
          const int tb = std::min(kTok, te - t);
          __m512* st = park + (t - tp);
          int64_t r = rc;
          for (; r + kRowBlock <= re; r += kRowBlock)
            micro16_nt<kRowBlock, kTok, BF>(tb, m.w + static_cast<size_t>(r) * m.row_bytes, m.row_bytes, x + t * ldx,
                                            ldx, k0, k1, st + (r - rc) * kPanel, kPanel, first, last, y + t * ldy + r,
                                            ldy);
          for (; r < re; ++r)
            micro16_nt<1, kTok, BF>(tb, m.w + static_cast<size_t>(r) * m.row_bytes, m.row_bytes, x + t * ldx, ldx,
                                    k0, k1, st + (r - rc) * kPanel, kPanel, first, last, y + t * ldy + r, ldy);
        }
      }
    }
  }
}

// dot4x16 of RM rows with one token.
template <int RM, bool BF>
LARQL_AVX512 void dot4x16(const uint8_t* w, size_t rb, const float* x, int64_t n, float* out, int64_t ldo) {
  const int64_t np = n & ~int64_t{63};
  __m512 a[RM][4];
#pragma GCC unroll 4
  for (int i = 0; i < RM; ++i)
#pragma GCC unroll 4
    for (int j = 0; j < 4; ++j) a[i][j] = _mm512_setzero_ps();
  for (int64_t c = 0; c < np; c += 64) {
#pragma GCC unroll 4
    for (int j = 0; j < 4; ++j) {
      const __m512 xv = _mm512_loadu_ps(x + c + 16 * j);
#pragma GCC unroll 4
      for (int i = 0; i < RM; ++i) a[i][j] = _mm512_fmadd_ps(widen16<BF>(w + i * rb + 2 * (c + 16 * j)), xv, a[i][j]);
    }
  }
#pragma GCC unroll 4
  for (int i = 0; i < RM; ++i) {
    double s = simd::tree16(_mm512_add_ps(_mm512_add_ps(a[i][0], a[i][2]), _mm512_add_ps(a[i][1], a[i][3])));
    for (int64_t k = np; k < n; ++k) {
      float p = widen_one(BF, w + i * rb + 2 * k) * x[k];
      __asm__("" : "+v"(p));  // a float product, never fused into the double add
      s += static_cast<double>(p);
    }
    out[i * ldo] = static_cast<float>(s);
  }
}

template <bool BF>
LARQL_AVX512 void vecdot(const Rows& m, int64_t r0, int64_t r1, const float* x, int64_t ldx, int nt, float* y,
                         int64_t ldy) {
  for (int t = 0; t < nt; ++t) {
    for (int64_t r = r0; r < r1; ++r)
      dot4x16<1, BF>(m.w + static_cast<size_t>(r) * m.row_bytes, m.row_bytes, x + t * ldx, m.n, y + t * ldy + r, 1);
  }
}

}  // namespace

LARQL_AVX512 void gemm(const Rows& m, bool lanes, int64_t r0, int64_t r1, const float* x, int64_t ldx, int nt,
                       float* y, int64_t ldy) {
  const bool bf = m.type == GGMLType::BF16;
  if (lanes) {
    if (bf) lanes16<true>(m, r0, r1, x, ldx, nt, y, ldy);
    else lanes16<false>(m, r0, r1, x, ldx, nt, y, ldy);
  } else {
    if (bf) vecdot<true>(m, r0, r1, x, ldx, nt, y, ldy);
    else vecdot<false>(m, r0, r1, x, ldx, nt, y, ldy);
  }
}

}  // namespace larql::halfdot::avx512
