// ggml's 16-lane float tree (f32dot::tree16) on vector registers, for the
// SIMD float-order kernels (f32dot_*.cpp, halfdot_*.cpp).
#pragma once
#include <immintrin.h>

namespace larql::simd {

// Lanes t0..t15 of one zmm.
__attribute__((target("avx512f"))) inline float tree16(__m512 t) {
  // Register-only halving; the maskz forms avoid GCC 12's -Wuninitialized on
  // the unmasked 512-bit extract/shuffle intrinsics. Upper lanes are ignored.
  const __m512 a = _mm512_add_ps(_mm512_maskz_shuffle_f32x4(0xFFFF, t, t, 0xEE), t);  // t_{i+8} + t_i
  const __m512 b = _mm512_add_ps(_mm512_maskz_shuffle_f32x4(0xFFFF, a, a, 0x01), a);  // a_{i+4} + a_i
  const __m128 q = _mm512_maskz_extractf32x4_ps(0xF, b, 0);
  const __m128 c = _mm_add_ps(q, _mm_movehl_ps(q, q));  // b0+b2, b1+b3
  return _mm_cvtss_f32(_mm_add_ss(c, _mm_shuffle_ps(c, c, 1)));
}

// Lanes lo = t0..t7, hi = t8..t15.
__attribute__((target("avx2"))) inline float tree16(__m256 lo, __m256 hi) {
  const __m256 a = _mm256_add_ps(hi, lo);                                               // a_i = t_{i+8} + t_i
  const __m128 b = _mm_add_ps(_mm256_extractf128_ps(a, 1), _mm256_castps256_ps128(a));  // b_i = a_{i+4} + a_i
  const __m128 c = _mm_add_ps(b, _mm_movehl_ps(b, b));                                  // b0+b2, b1+b3
  return _mm_cvtss_f32(_mm_add_ss(c, _mm_shuffle_ps(c, c, 1)));
}

}  // namespace larql::simd
