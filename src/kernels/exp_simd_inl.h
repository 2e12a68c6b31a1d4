// ops::expf_fast on vector lanes: the same constants and operation order, and
// ldexp's rounding (subnormals included), so every lane equals the scalar
// reference bit for bit. Include inside a TU that uses <immintrin.h>.
#pragma once
#include <immintrin.h>

#include <cmath>

namespace larql::simd {

// AVX-512F: scalef is ldexp with one rounding.
__attribute__((target("avx512f,avx2,fma"))) inline __m512 exp16(__m512 x) {
  const __m512 shifter = _mm512_set1_ps(0x1.8p23f);
  const __m512 z = _mm512_fmadd_ps(x, _mm512_set1_ps(0x1.715476p+0f), shifter);
  const __m512 n = _mm512_sub_ps(z, shifter);
  const __m512 b =
      _mm512_fnmadd_ps(n, _mm512_set1_ps(0x1.7f7d1cp-20f), _mm512_fnmadd_ps(n, _mm512_set1_ps(0x1.62e4p-1f), x));
  const __m512 u = _mm512_mul_ps(b, b);
  const __m512 j = _mm512_fmadd_ps(
      _mm512_fmadd_ps(_mm512_fmadd_ps(_mm512_set1_ps(0x1.0e4020p-7f), b, _mm512_set1_ps(0x1.573e2ep-5f)), u,
                      _mm512_fmadd_ps(_mm512_set1_ps(0x1.555e66p-3f), b, _mm512_set1_ps(0x1.fffdb6p-2f))),
      u, _mm512_fmadd_ps(_mm512_set1_ps(0x1.ffffecp-1f), b, _mm512_set1_ps(1.0f)));
  const __m512 r = _mm512_maskz_scalef_ps(0xFFFF, j, n);
  const __m512 an = _mm512_castsi512_ps(_mm512_and_si512(_mm512_castps_si512(n), _mm512_set1_epi32(0x7fffffff)));
  const __mmask16 big = _mm512_cmp_ps_mask(an, _mm512_set1_ps(192.0f), _CMP_GT_OQ);
  const __mmask16 pos = _mm512_cmp_ps_mask(n, _mm512_setzero_ps(), _CMP_GT_OQ);
  return _mm512_mask_blend_ps(big, r, _mm512_maskz_mov_ps(pos, _mm512_set1_ps(INFINITY)));
}

// AVX2: ldexp(j, n) as j * 2^n1 * 2^n2 with n1 = floor(n / 2), n2 = n - n1.
// For |n| <= 192 both powers are normal floats and j * 2^n1 is exact (j is
// near 1), so the second product is the only rounding, as in ldexp.
__attribute__((target("avx2,fma"))) inline __m256 pow2i8(__m256i k) {  // 2^k, -126 <= k <= 127
  return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(k, _mm256_set1_epi32(127)), 23));
}
__attribute__((target("avx2,fma"))) inline __m256 exp8(__m256 x) {
  const __m256 shifter = _mm256_set1_ps(0x1.8p23f);
  const __m256 z = _mm256_fmadd_ps(x, _mm256_set1_ps(0x1.715476p+0f), shifter);
  const __m256 n = _mm256_sub_ps(z, shifter);
  const __m256 b =
      _mm256_fnmadd_ps(n, _mm256_set1_ps(0x1.7f7d1cp-20f), _mm256_fnmadd_ps(n, _mm256_set1_ps(0x1.62e4p-1f), x));
  const __m256 u = _mm256_mul_ps(b, b);
  const __m256 j = _mm256_fmadd_ps(
      _mm256_fmadd_ps(_mm256_fmadd_ps(_mm256_set1_ps(0x1.0e4020p-7f), b, _mm256_set1_ps(0x1.573e2ep-5f)), u,
                      _mm256_fmadd_ps(_mm256_set1_ps(0x1.555e66p-3f), b, _mm256_set1_ps(0x1.fffdb6p-2f))),
      u, _mm256_fmadd_ps(_mm256_set1_ps(0x1.ffffecp-1f), b, _mm256_set1_ps(1.0f)));
  const __m256 an = _mm256_andnot_ps(_mm256_set1_ps(-0.0f), n);
  const __m256 big = _mm256_cmp_ps(an, _mm256_set1_ps(192.0f), _CMP_GT_OQ);
  // Clamp before the integer conversion so lanes masked out below stay defined.
  const __m256i ni = _mm256_cvtps_epi32(_mm256_min_ps(_mm256_max_ps(n, _mm256_set1_ps(-192.0f)), _mm256_set1_ps(192.0f)));
  const __m256i n1 = _mm256_srai_epi32(ni, 1);
  const __m256 r = _mm256_mul_ps(_mm256_mul_ps(j, pow2i8(n1)), pow2i8(_mm256_sub_epi32(ni, n1)));
  const __m256 pos = _mm256_cmp_ps(n, _mm256_setzero_ps(), _CMP_GT_OQ);
  return _mm256_blendv_ps(r, _mm256_and_ps(pos, _mm256_set1_ps(INFINITY)), big);
}

}  // namespace larql::simd
