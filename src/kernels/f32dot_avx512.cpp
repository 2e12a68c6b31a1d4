// AVX-512F versions of the float dot orders in f32dot.cpp: one zmm holds the
// 16 lanes of an accumulator; column kernels run 16 head dims per vector with
// masked tails. Same operation sequence per output as the scalar reference.
#include <immintrin.h>

#include "kernels/f32dot.h"
#include "kernels/f32tree_inl.h"

namespace larql::f32dot::avx512 {

#define LARQL_AVX512 __attribute__((target("avx512f,avx2,fma")))

namespace {
using simd::tree16;
LARQL_AVX512 inline __m512 mul_nofuse(__m512 a, __m512 b) {
  __m512 p = _mm512_mul_ps(a, b);
  __asm__("" : "+v"(p));
  return p;
}
LARQL_AVX512 inline float mul_nofuse(float a, float b) {
  float p = a * b;
  __asm__("" : "+v"(p));
  return p;
}
LARQL_AVX512 inline __mmask16 tail_mask(int64_t w) { return static_cast<__mmask16>((1u << w) - 1u); }
}  // namespace

LARQL_AVX512 float lanes16(const float* x, const float* y, int64_t n) {
  __m512 acc = _mm512_setzero_ps();
  const int64_t n16 = n & ~int64_t{15};
  for (int64_t k = 0; k < n16; k += 16) acc = _mm512_fmadd_ps(_mm512_loadu_ps(x + k), _mm512_loadu_ps(y + k), acc);
  if (n16 < n) {
    const __mmask16 m = tail_mask(n - n16);
    acc = _mm512_mask3_fmadd_ps(_mm512_maskz_loadu_ps(m, x + n16), _mm512_maskz_loadu_ps(m, y + n16), acc, m);
  }
  return tree16(acc);
}

LARQL_AVX512 void lanes16_x4(const float* w, const float* x, int64_t ldx, int64_t n, float* out) {
  __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
  const float *x0 = x, *x1 = x + ldx, *x2 = x + 2 * ldx, *x3 = x + 3 * ldx;
  const int64_t n16 = n & ~int64_t{15};
  for (int64_t k = 0; k < n16; k += 16) {
    const __m512 r = _mm512_loadu_ps(w + k);
    a0 = _mm512_fmadd_ps(r, _mm512_loadu_ps(x0 + k), a0);
    a1 = _mm512_fmadd_ps(r, _mm512_loadu_ps(x1 + k), a1);
    a2 = _mm512_fmadd_ps(r, _mm512_loadu_ps(x2 + k), a2);
    a3 = _mm512_fmadd_ps(r, _mm512_loadu_ps(x3 + k), a3);
  }
  if (n16 < n) {
    const __mmask16 m = tail_mask(n - n16);
    const __m512 r = _mm512_maskz_loadu_ps(m, w + n16);
    a0 = _mm512_mask3_fmadd_ps(r, _mm512_maskz_loadu_ps(m, x0 + n16), a0, m);
    a1 = _mm512_mask3_fmadd_ps(r, _mm512_maskz_loadu_ps(m, x1 + n16), a1, m);
    a2 = _mm512_mask3_fmadd_ps(r, _mm512_maskz_loadu_ps(m, x2 + n16), a2, m);
    a3 = _mm512_mask3_fmadd_ps(r, _mm512_maskz_loadu_ps(m, x3 + n16), a3, m);
  }
  out[0] = tree16(a0), out[1] = tree16(a1), out[2] = tree16(a2), out[3] = tree16(a3);
}

LARQL_AVX512 float dot4x16(const float* x, const float* y, int64_t n) {
  const int64_t np = n & ~int64_t{63};
  __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
  for (int64_t c = 0; c < np; c += 64) {
    a0 = _mm512_fmadd_ps(_mm512_loadu_ps(x + c), _mm512_loadu_ps(y + c), a0);
    a1 = _mm512_fmadd_ps(_mm512_loadu_ps(x + c + 16), _mm512_loadu_ps(y + c + 16), a1);
    a2 = _mm512_fmadd_ps(_mm512_loadu_ps(x + c + 32), _mm512_loadu_ps(y + c + 32), a2);
    a3 = _mm512_fmadd_ps(_mm512_loadu_ps(x + c + 48), _mm512_loadu_ps(y + c + 48), a3);
  }
  float s = tree16(_mm512_add_ps(_mm512_add_ps(a0, a2), _mm512_add_ps(a1, a3)));
  for (int64_t k = np; k < n; ++k) s = s + mul_nofuse(x[k], y[k]);
  return s;
}

LARQL_AVX512 void dot4x16_rows(const float* k, int64_t stride, const float* q, int64_t n, int64_t jb, int64_t je,
                               float* out) {
  for (int64_t j = jb; j < je; ++j) out[j] = dot4x16(k + j * stride, q, n);  // inlined: no per-row dispatch
}

LARQL_AVX512 void acc_cols(bool four16, const ValueCols& vc, const float* p, int64_t jb, int64_t je, int64_t np,
                           int64_t dv, float* acc) {
  const int64_t ns = four16 ? 64 : 16, d16 = dv & ~int64_t{15};
  const __mmask16 m = tail_mask(dv - d16);
  for (int64_t j = jb; j < je; ++j) {
    const float* v = vc.v + j * vc.stride;
    float* a = acc + (j & (ns - 1)) * dv;
    const __m512 pj = _mm512_set1_ps(p[j]);
    int64_t d = 0;
    for (; d < d16; d += 16) _mm512_storeu_ps(a + d, _mm512_fmadd_ps(_mm512_loadu_ps(v + d), pj, _mm512_loadu_ps(a + d)));
    if (m) _mm512_mask_storeu_ps(a + d, m, _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, v + d), pj, _mm512_maskz_loadu_ps(m, a + d)));
  }
  (void)np;
}

namespace {
LARQL_AVX512 inline __m512 reduce16(bool four16, const float* s, int64_t dv, __mmask16 m) {
  __m512 t[16];
  for (int l = 0; l < 16; ++l) {
    const float* q = s + l * dv;
    t[l] = four16 ? _mm512_add_ps(_mm512_add_ps(_mm512_maskz_loadu_ps(m, q), _mm512_maskz_loadu_ps(m, q + 32 * dv)),
                                  _mm512_add_ps(_mm512_maskz_loadu_ps(m, q + 16 * dv), _mm512_maskz_loadu_ps(m, q + 48 * dv)))
                  : _mm512_maskz_loadu_ps(m, q);
  }
  __m512 a[8], b[4];
  for (int i = 0; i < 8; ++i) a[i] = _mm512_add_ps(t[i + 8], t[i]);
  for (int i = 0; i < 4; ++i) b[i] = _mm512_add_ps(a[i + 4], a[i]);
  return _mm512_add_ps(_mm512_add_ps(b[0], b[2]), _mm512_add_ps(b[1], b[3]));
}
}  // namespace

LARQL_AVX512 void reduce_cols(bool four16, int64_t dv, const float* acc, float* out) {
  for (int64_t d = 0; d < dv; d += 16) {
    const __mmask16 m = dv - d >= 16 ? __mmask16(0xFFFF) : tail_mask(dv - d);
    _mm512_mask_storeu_ps(out + d, m, reduce16(four16, acc + d, dv, m));
  }
}

LARQL_AVX512 void tail_cols(const ValueCols& vc, const float* p, int64_t jb, int64_t je, int64_t dv, float* out) {
  for (int64_t j = jb; j < je; ++j) {
    const float* v = vc.v + j * vc.stride;
    const __m512 pj = _mm512_set1_ps(p[j]);
    for (int64_t d = 0; d < dv; d += 16) {
      const __mmask16 m = dv - d >= 16 ? __mmask16(0xFFFF) : tail_mask(dv - d);
      const __m512 o = _mm512_add_ps(_mm512_maskz_loadu_ps(m, out + d), mul_nofuse(_mm512_maskz_loadu_ps(m, v + d), pj));
      _mm512_mask_storeu_ps(out + d, m, o);
    }
  }
}

}  // namespace larql::f32dot::avx512
