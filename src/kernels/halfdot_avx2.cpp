// AVX2 + FMA + F16C F16 / BF16 products (halfdot.h): a 16-lane accumulator is
// two ymm (lanes 0-7, 8-15). lanes16 runs one row x up to 6 tokens per pass
// (12 accumulators, activations as memory operands); dot4x16 one row per
// token. Same operation sequence per output as the scalar references.
#include <immintrin.h>

#include <algorithm>

#include "kernels/f32tree_inl.h"
#include "kernels/halfdot.h"

namespace larql::halfdot::avx2 {

#define LARQL_AVX2 __attribute__((target("avx2,fma,f16c")))

namespace {

template <bool BF>
LARQL_AVX2 inline __m256 widen8(const uint8_t* p) {
  const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  if constexpr (BF) return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
  else return _mm256_cvtph_ps(h);
}

template <int NT, bool BF>
LARQL_AVX2 void micro16(const uint8_t* w, const float* x, int64_t ldx, int64_t n, float* y, int64_t ldy) {
  __m256 lo[NT], hi[NT];
#pragma GCC unroll 8
  for (int t = 0; t < NT; ++t) lo[t] = hi[t] = _mm256_setzero_ps();
  for (int64_t k = 0; k < n; k += 16) {
    const __m256 wl = widen8<BF>(w + 2 * k), wh = widen8<BF>(w + 2 * k + 16);
#pragma GCC unroll 8
    for (int t = 0; t < NT; ++t) {
      lo[t] = _mm256_fmadd_ps(wl, _mm256_loadu_ps(x + t * ldx + k), lo[t]);
      hi[t] = _mm256_fmadd_ps(wh, _mm256_loadu_ps(x + t * ldx + k + 8), hi[t]);
    }
  }
#pragma GCC unroll 8
  for (int t = 0; t < NT; ++t) y[t * ldy] = simd::tree16(lo[t], hi[t]);
}

template <bool BF>
LARQL_AVX2 void lanes16(const Rows& m, int64_t r0, int64_t r1, const float* x, int64_t ldx, int nt, float* y,
                        int64_t ldy) {
  constexpr int kTok = 6;
  const int64_t chunk = std::max<int64_t>(1, static_cast<int64_t>((128 * 1024) / std::max<size_t>(m.row_bytes, 1)));
  for (int64_t rc = r0; rc < r1; rc += chunk) {
    const int64_t re = std::min(r1, rc + chunk);
    for (int t = 0; t < nt; t += kTok) {
      const int tb = std::min(kTok, nt - t);
      for (int64_t r = rc; r < re; ++r) {
        const uint8_t* w = m.w + static_cast<size_t>(r) * m.row_bytes;
        const float* xt = x + t * ldx;
        float* yt = y + t * ldy + r;
        switch (tb) {
          case 1: micro16<1, BF>(w, xt, ldx, m.n, yt, ldy); break;
          case 2: micro16<2, BF>(w, xt, ldx, m.n, yt, ldy); break;
          case 3: micro16<3, BF>(w, xt, ldx, m.n, yt, ldy); break;
          case 4: micro16<4, BF>(w, xt, ldx, m.n, yt, ldy); break;
          case 5: micro16<5, BF>(w, xt, ldx, m.n, yt, ldy); break;
          default: micro16<6, BF>(w, xt, ldx, m.n, yt, ldy); break;
        }
      }
    }
  }
}

template <bool BF>
LARQL_AVX2 float dot4x16(const uint8_t* w, const float* x, int64_t n) {
  const int64_t np = n & ~int64_t{63};
  __m256 lo[4], hi[4];
#pragma GCC unroll 4
  for (int j = 0; j < 4; ++j) lo[j] = hi[j] = _mm256_setzero_ps();
  for (int64_t c = 0; c < np; c += 64) {
#pragma GCC unroll 4
    for (int j = 0; j < 4; ++j) {
      const int64_t k = c + 16 * j;
      lo[j] = _mm256_fmadd_ps(widen8<BF>(w + 2 * k), _mm256_loadu_ps(x + k), lo[j]);
      hi[j] = _mm256_fmadd_ps(widen8<BF>(w + 2 * k + 16), _mm256_loadu_ps(x + k + 8), hi[j]);
    }
  }
  const __m256 l = _mm256_add_ps(_mm256_add_ps(lo[0], lo[2]), _mm256_add_ps(lo[1], lo[3]));
  const __m256 h = _mm256_add_ps(_mm256_add_ps(hi[0], hi[2]), _mm256_add_ps(hi[1], hi[3]));
  double s = simd::tree16(l, h);
  for (int64_t k = np; k < n; ++k) {
    float p = widen_one(BF, w + 2 * k) * x[k];
    __asm__("" : "+x"(p));  // a float product, never fused into the double add
    s += static_cast<double>(p);
  }
  return static_cast<float>(s);
}

}  // namespace

LARQL_AVX2 void gemm(const Rows& m, bool lanes, int64_t r0, int64_t r1, const float* x, int64_t ldx, int nt, float* y,
                     int64_t ldy) {
  const bool bf = m.type == GGMLType::BF16;
  if (lanes) {
    if (bf) lanes16<true>(m, r0, r1, x, ldx, nt, y, ldy);
    else lanes16<false>(m, r0, r1, x, ldx, nt, y, ldy);
    return;
  }
  for (int t = 0; t < nt; ++t)
    for (int64_t r = r0; r < r1; ++r) {
      const uint8_t* w = m.w + static_cast<size_t>(r) * m.row_bytes;
      y[t * ldy + r] = bf ? dot4x16<true>(w, x + t * ldx, m.n) : dot4x16<false>(w, x + t * ldx, m.n);
    }
}

}  // namespace larql::halfdot::avx2
