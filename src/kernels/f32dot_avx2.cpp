// AVX2 + FMA versions of the float dot orders in f32dot.cpp: the same fma /
// add / mul per output as the scalar reference, so the same bits (tested in
// tests/unit/kernels/f32dot_exact_test.cpp). Products that the order adds
// unfused go through a register barrier so no compiler can contract them.
#include <immintrin.h>

#include "kernels/f32dot.h"
#include "kernels/f32tree_inl.h"

namespace larql::f32dot::avx2 {

#define LARQL_AVX2 __attribute__((target("avx2,fma")))

namespace {
using simd::tree16;
LARQL_AVX2 inline __m256 mul_nofuse(__m256 a, __m256 b) {
  __m256 p = _mm256_mul_ps(a, b);
  __asm__("" : "+x"(p));
  return p;
}
LARQL_AVX2 inline float mul_nofuse(float a, float b) {
  float p = a * b;
  __asm__("" : "+x"(p));
  return p;
}
}  // namespace

LARQL_AVX2 float lanes16(const float* x, const float* y, int64_t n) {
  __m256 lo = _mm256_setzero_ps(), hi = _mm256_setzero_ps();
  const int64_t n16 = n & ~int64_t{15};
  for (int64_t k = 0; k < n16; k += 16) {
    lo = _mm256_fmadd_ps(_mm256_loadu_ps(x + k), _mm256_loadu_ps(y + k), lo);
    hi = _mm256_fmadd_ps(_mm256_loadu_ps(x + k + 8), _mm256_loadu_ps(y + k + 8), hi);
  }
  if (n16 < n) {
    alignas(32) float t[16];
    _mm256_store_ps(t, lo);
    _mm256_store_ps(t + 8, hi);
    for (int64_t k = n16; k < n; ++k) {
      const int l = static_cast<int>(k - n16);
      t[l] = _mm_cvtss_f32(_mm_fmadd_ss(_mm_set_ss(x[k]), _mm_set_ss(y[k]), _mm_set_ss(t[l])));
    }
    lo = _mm256_load_ps(t);
    hi = _mm256_load_ps(t + 8);
  }
  return tree16(lo, hi);
}

LARQL_AVX2 void lanes16_x4(const float* w, const float* x, int64_t ldx, int64_t n, float* out) {
  const int64_t n16 = n & ~int64_t{15};
  __m256 lo[4], hi[4];
  for (int i = 0; i < 4; ++i) lo[i] = hi[i] = _mm256_setzero_ps();
  for (int64_t k = 0; k < n16; k += 16) {
    const __m256 rl = _mm256_loadu_ps(w + k), rh = _mm256_loadu_ps(w + k + 8);
    for (int i = 0; i < 4; ++i) {
      lo[i] = _mm256_fmadd_ps(rl, _mm256_loadu_ps(x + i * ldx + k), lo[i]);
      hi[i] = _mm256_fmadd_ps(rh, _mm256_loadu_ps(x + i * ldx + k + 8), hi[i]);
    }
  }
  for (int i = 0; i < 4; ++i) {
    if (n16 < n) {  // ragged end: finish this token's lanes one by one
      alignas(32) float t[16];
      _mm256_store_ps(t, lo[i]);
      _mm256_store_ps(t + 8, hi[i]);
      for (int64_t k = n16; k < n; ++k) {
        const int l = static_cast<int>(k - n16);
        t[l] = _mm_cvtss_f32(_mm_fmadd_ss(_mm_set_ss(w[k]), _mm_set_ss(x[i * ldx + k]), _mm_set_ss(t[l])));
      }
      lo[i] = _mm256_load_ps(t);
      hi[i] = _mm256_load_ps(t + 8);
    }
    out[i] = tree16(lo[i], hi[i]);
  }
}

LARQL_AVX2 float dot4x16(const float* x, const float* y, int64_t n) {
  const int64_t np = n & ~int64_t{63};
  __m256 a[8];
  for (auto& r : a) r = _mm256_setzero_ps();
  for (int64_t c = 0; c < np; c += 64)
    for (int i = 0; i < 8; ++i) a[i] = _mm256_fmadd_ps(_mm256_loadu_ps(x + c + 8 * i), _mm256_loadu_ps(y + c + 8 * i), a[i]);
  // acc_j lanes 0..7 = a[2j], 8..15 = a[2j+1]; t = (acc0 + acc2) + (acc1 + acc3).
  const __m256 lo = _mm256_add_ps(_mm256_add_ps(a[0], a[4]), _mm256_add_ps(a[2], a[6]));
  const __m256 hi = _mm256_add_ps(_mm256_add_ps(a[1], a[5]), _mm256_add_ps(a[3], a[7]));
  float s = tree16(lo, hi);
  for (int64_t k = np; k < n; ++k) s = s + mul_nofuse(x[k], y[k]);
  return s;
}

// Column kernels: acc[slot*dv + d], slot = j % 16 (or % 64), vectorized over d.
LARQL_AVX2 void acc_cols(bool four16, const ValueCols& vc, const float* p, int64_t jb, int64_t je, int64_t np,
                         int64_t dv, float* acc) {
  const int64_t ns = four16 ? 64 : 16, d8 = dv & ~int64_t{7};
  for (int64_t j = jb; j < je; ++j) {
    const float* v = vc.v + j * vc.stride;
    float* a = acc + (j & (ns - 1)) * dv;
    const __m256 pj = _mm256_set1_ps(p[j]);
    int64_t d = 0;
    for (; d < d8; d += 8) _mm256_storeu_ps(a + d, _mm256_fmadd_ps(_mm256_loadu_ps(v + d), pj, _mm256_loadu_ps(a + d)));
    for (; d < dv; ++d) a[d] = _mm_cvtss_f32(_mm_fmadd_ss(_mm_set_ss(v[d]), _mm_set_ss(p[j]), _mm_set_ss(a[d])));
  }
  (void)np;
}

LARQL_AVX2 void reduce_cols(bool four16, int64_t dv, const float* acc, float* out) {
  const int64_t d8 = dv & ~int64_t{7};
  for (int64_t d = 0; d < d8; d += 8) {
    __m256 t[16];
    for (int l = 0; l < 16; ++l) {
      const float* s = acc + l * dv + d;
      t[l] = four16 ? _mm256_add_ps(_mm256_add_ps(_mm256_loadu_ps(s), _mm256_loadu_ps(s + 32 * dv)),
                                    _mm256_add_ps(_mm256_loadu_ps(s + 16 * dv), _mm256_loadu_ps(s + 48 * dv)))
                    : _mm256_loadu_ps(s);
    }
    __m256 a[8], b[4];
    for (int i = 0; i < 8; ++i) a[i] = _mm256_add_ps(t[i + 8], t[i]);
    for (int i = 0; i < 4; ++i) b[i] = _mm256_add_ps(a[i + 4], a[i]);
    _mm256_storeu_ps(out + d, _mm256_add_ps(_mm256_add_ps(b[0], b[2]), _mm256_add_ps(b[1], b[3])));
  }
  for (int64_t d = d8; d < dv; ++d) {
    float t[16], a[8], b[4];
    for (int l = 0; l < 16; ++l) {
      const float* s = acc + l * dv + d;
      t[l] = four16 ? (s[0] + s[32 * dv]) + (s[16 * dv] + s[48 * dv]) : s[0];
    }
    for (int i = 0; i < 8; ++i) a[i] = t[i + 8] + t[i];
    for (int i = 0; i < 4; ++i) b[i] = a[i + 4] + a[i];
    out[d] = (b[0] + b[2]) + (b[1] + b[3]);
  }
}

LARQL_AVX2 void tail_cols(const ValueCols& vc, const float* p, int64_t jb, int64_t je, int64_t dv, float* out) {
  const int64_t d8 = dv & ~int64_t{7};
  for (int64_t j = jb; j < je; ++j) {
    const float* v = vc.v + j * vc.stride;
    const __m256 pj = _mm256_set1_ps(p[j]);
    int64_t d = 0;
    for (; d < d8; d += 8) _mm256_storeu_ps(out + d, _mm256_add_ps(_mm256_loadu_ps(out + d), mul_nofuse(_mm256_loadu_ps(v + d), pj)));
    for (; d < dv; ++d) out[d] = out[d] + mul_nofuse(v[d], p[j]);
  }
}

}  // namespace larql::f32dot::avx2
