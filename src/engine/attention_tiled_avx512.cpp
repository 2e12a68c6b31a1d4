// AVX-512F micro-kernels of the tiled F32 attention (attention_tiled.h). Every
// output is the same sequence of correctly rounded operations as the scalar
// reference (f32dot::dot4x16_ref, lanes16_ref, ops::expf_fast); the speed comes
// from sharing loads and from reducing 16 dot products' lanes at once.
#include <immintrin.h>

#include <algorithm>
#include <cmath>

#include "engine/attention_tiled.h"
#include "kernels/exp_simd_inl.h"

namespace larql::attn_tile::avx512 {

#define LARQL_AVX512 __attribute__((target("avx512f,avx2,fma")))

namespace {
// GCC 12 warns (-Wuninitialized) on the unmasked forms' internal placeholder.
#define LARQL_SH128(a, b, imm) _mm512_maskz_shuffle_f32x4(0xFFFF, a, b, imm)

// 16 of ggml's 16-lane trees at once: lane i of the result is
// ((b0+b2)+(b1+b3)) of t[i], where a_l = t[l+8]+t[l], b_l = a[l+4]+a[l].
LARQL_AVX512 inline __m512 tree16x16(const __m512* t) {
  __m512 w[8], r[4], s[2];
  #pragma GCC unroll 16
  for (int k = 0; k < 8; ++k)  // [a(t2k) | a(t2k+1)]
    w[k] = _mm512_add_ps(LARQL_SH128(t[2 * k], t[2 * k + 1], 0x44),
                         LARQL_SH128(t[2 * k], t[2 * k + 1], 0xEE));
  #pragma GCC unroll 16
  for (int m = 0; m < 4; ++m)  // 128-bit chunk c: b of t(4m+c)
    r[m] = _mm512_add_ps(LARQL_SH128(w[2 * m], w[2 * m + 1], 0x88),
                         LARQL_SH128(w[2 * m], w[2 * m + 1], 0xDD));
  #pragma GCC unroll 16
  for (int m = 0; m < 2; ++m)  // chunk c: (b0+b2, b1+b3) of t(8m+c), t(8m+4+c)
    s[m] = _mm512_add_ps(_mm512_shuffle_ps(r[2 * m], r[2 * m + 1], 0x44),
                         _mm512_shuffle_ps(r[2 * m], r[2 * m + 1], 0xEE));
  // chunk c, lane k: t(4k+c); put t(i) in lane i.
  const __m512 f = _mm512_add_ps(_mm512_shuffle_ps(s[0], s[1], 0x88), _mm512_shuffle_ps(s[0], s[1], 0xDD));
  const __m512i idx = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
  return _mm512_maskz_permutexvar_ps(0xFFFF, idx, f);
}
// sum += tree(t[i]) for i < n in order (t[n..16) are overwritten); n = 0 after.
LARQL_AVX512 inline void sum_trees(__m512* t, int& n, double& sum) {
  for (int i = n; i < 16; ++i) t[i] = _mm512_setzero_ps();
  alignas(64) float tr[16];
  _mm512_store_ps(tr, tree16x16(t));
  for (int i = 0; i < n; ++i) sum += static_cast<double>(tr[i]);
  n = 0;
}
LARQL_AVX512 inline float mul_nofuse(float a, float b) {
  float p = a * b;
  __asm__("" : "+v"(p));  // keep the product rounded (no fma contraction)
  return p;
}
LARQL_AVX512 inline __mmask16 lanes_in(int64_t j0, int64_t first, int64_t last) {
  const int64_t lo = std::max<int64_t>(first - j0, 0), hi = std::min<int64_t>(last - j0, 16);
  if (hi <= lo) return 0;
  return static_cast<__mmask16>(((1u << hi) - 1u) & ~((1u << lo) - 1u));
}
using simd::exp16;  // ops::expf_fast on 16 lanes (kernels/exp_simd_inl.h)

// t = (a0+a2)+(a1+a3) of dot4x16's accumulators for one row, C 64-chunks, q in
// registers. R > 0: exactly R rows, fully unrolled so t stays in registers.
template <int C, int R = 0>
LARQL_AVX512 inline void score_rows_fixed(const float* k, int64_t kstride, int rows, const float* q, __m512* t) {
  __m512 qv[4 * C];
  #pragma GCC unroll 16
  for (int i = 0; i < 4 * C; ++i) qv[i] = _mm512_loadu_ps(q + 16 * i);
  if constexpr (R > 0) rows = R;
  #pragma GCC unroll 16
  for (int r = 0; r < rows; ++r) {
    const float* x = k + r * kstride;
    __m512 a[4];
    #pragma GCC unroll 16
    for (int g = 0; g < 4; ++g) a[g] = _mm512_fmadd_ps(_mm512_loadu_ps(x + 16 * g), qv[g], _mm512_setzero_ps());
    #pragma GCC unroll 16
    for (int c = 1; c < C; ++c)
      #pragma GCC unroll 16
      for (int g = 0; g < 4; ++g) a[g] = _mm512_fmadd_ps(_mm512_loadu_ps(x + 64 * c + 16 * g), qv[4 * c + g], a[g]);
    t[r] = _mm512_add_ps(_mm512_add_ps(a[0], a[2]), _mm512_add_ps(a[1], a[3]));
  }
}
LARQL_AVX512 inline void score_rows_any(const float* k, int64_t kstride, int rows, const float* q, int64_t np,
                                        __m512* t) {
  for (int r = 0; r < rows; ++r) {
    const float* x = k + r * kstride;
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    for (int64_t c = 0; c < np; c += 64) {
      a0 = _mm512_fmadd_ps(_mm512_loadu_ps(x + c), _mm512_loadu_ps(q + c), a0);
      a1 = _mm512_fmadd_ps(_mm512_loadu_ps(x + c + 16), _mm512_loadu_ps(q + c + 16), a1);
      a2 = _mm512_fmadd_ps(_mm512_loadu_ps(x + c + 32), _mm512_loadu_ps(q + c + 32), a2);
      a3 = _mm512_fmadd_ps(_mm512_loadu_ps(x + c + 48), _mm512_loadu_ps(q + c + 48), a3);
    }
    t[r] = _mm512_add_ps(_mm512_add_ps(a0, a2), _mm512_add_ps(a1, a3));
  }
}
}  // namespace

LARQL_AVX512 void score_block(const float* k, int64_t kstride, int rows, const float* q, int64_t dk, float* out) {
  const int64_t np = dk & ~int64_t{63};
  __m512 t[16];
  if (rows == 16 && np == dk && (np == 64 || np == 128)) {  // the common full block
    if (np == 64) score_rows_fixed<1, 16>(k, kstride, 16, q, t);
    else score_rows_fixed<2, 16>(k, kstride, 16, q, t);
    _mm512_storeu_ps(out, tree16x16(t));
    return;
  }
  if (np == 64) score_rows_fixed<1>(k, kstride, rows, q, t);
  else if (np == 128) score_rows_fixed<2>(k, kstride, rows, q, t);
  else score_rows_any(k, kstride, rows, q, np, t);
  #pragma GCC unroll 16
  for (int r = rows; r < 16; ++r) t[r] = _mm512_setzero_ps();
  _mm512_mask_storeu_ps(out, static_cast<__mmask16>((1u << rows) - 1u), tree16x16(t));
  if (np == dk) return;
  for (int r = 0; r < rows; ++r) {  // dot4x16's scalar tail, in order
    const float* x = k + r * kstride;
    float s = out[r];
    for (int64_t i = np; i < dk; ++i) s = s + mul_nofuse(x[i], q[i]);
    out[r] = s;
  }
}

LARQL_AVX512 float row_max(float* p, int64_t first, int64_t last, float softcap, float scale) {
  if (softcap > 0)
    for (int64_t j = first; j < last; ++j) p[j] = std::tanh(p[j] / softcap) * softcap;
  __m512 mx = _mm512_set1_ps(-INFINITY);
  const __m512 sc = _mm512_set1_ps(scale);
  for (int64_t j0 = first & ~int64_t{15}; j0 < last; j0 += 16) {
    const __mmask16 m = lanes_in(j0, first, last);
    const __m512 s = _mm512_mul_ps(_mm512_maskz_loadu_ps(m, p + j0), sc);
    _mm512_mask_storeu_ps(p + j0, m, s);
    mx = _mm512_mask_max_ps(mx, m, s, mx);  // s > mx ? s : mx, like std::max(mx, s)
  }
  alignas(64) float l[16];
  _mm512_store_ps(l, mx);
  float r = l[0];  // no NaN lanes here; the order only picks among equal values
  #pragma GCC unroll 16
  for (int i = 1; i < 16; ++i) r = std::max(r, l[i]);
  return r;
}

LARQL_AVX512 double row_exp(float* p, int64_t first, int64_t last, int64_t n_kv, float mx) {
  const __m512 vmx = _mm512_set1_ps(mx), ninf = _mm512_set1_ps(-INFINITY);
  double sum = 0;
  // The per-16 trees of up to 16 blocks are reduced together (tree16x16), then
  // added to the double sum in block order, as one tree at a time would be.
  __m512 pend[16];
  int np = 0;
  for (int64_t j0 = 0; j0 < n_kv; j0 += 16) {
    const __mmask16 m = lanes_in(j0, first, last);
    if (!m) {  // all masked: zeros, and a +0 tree adds nothing to the sum
      _mm512_storeu_ps(p + j0, _mm512_setzero_ps());
      continue;
    }
    const __m512 x = _mm512_loadu_ps(p + j0);
    const __mmask16 live = m & _mm512_cmp_ps_mask(x, ninf, _CMP_NEQ_UQ);
    const __m512 e = _mm512_maskz_mov_ps(live, exp16(_mm512_sub_ps(x, vmx)));
    _mm512_storeu_ps(p + j0, e);
    pend[np++] = e;
    if (np == 16) sum_trees(pend, np, sum);
  }
  if (np > 0) sum_trees(pend, np, sum);
  return sum;
}

LARQL_AVX512 void row_scale(float* p, int64_t n_kv, float inv) {
  const __m512 s = _mm512_set1_ps(inv);
  for (int64_t j = 0; j < n_kv; j += 16) _mm512_storeu_ps(p + j, _mm512_mul_ps(_mm512_loadu_ps(p + j), s));
}

LARQL_AVX512 void values4(const float* vt, int64_t ldt, int64_t dv, const float* const* p, int np, int64_t jb,
                          int64_t je, float* const* out) {
  const float* pp[4];
  #pragma GCC unroll 16
  for (int i = 0; i < 4; ++i) pp[i] = p[std::min(i, np - 1)];  // missing rows: recompute one, discard
  alignas(64) float acc[4][16][16];
  for (int64_t dg = 0; dg < dv; dg += 16) {
    #pragma GCC unroll 16
    for (int dt = 0; dt < 4; ++dt) {
      const float* vr[4];
      #pragma GCC unroll 16
      for (int k = 0; k < 4; ++k) vr[k] = vt + std::min<int64_t>(dg + 4 * dt + k, dv - 1) * ldt;
      __m512 a[4][4];
      #pragma GCC unroll 16
      for (auto& ai : a)
        #pragma GCC unroll 16
        for (auto& x : ai) x = _mm512_setzero_ps();
      for (int64_t j = jb; j < je; j += 16) {
        __m512 pv[4], vv[4];
        #pragma GCC unroll 16
        for (int i = 0; i < 4; ++i) pv[i] = _mm512_loadu_ps(pp[i] + j);
        #pragma GCC unroll 16
        for (int k = 0; k < 4; ++k) vv[k] = _mm512_loadu_ps(vr[k] + j);
        #pragma GCC unroll 16
        for (int i = 0; i < 4; ++i)
          #pragma GCC unroll 16
          for (int k = 0; k < 4; ++k) a[i][k] = _mm512_fmadd_ps(vv[k], pv[i], a[i][k]);
      }
      #pragma GCC unroll 16
      for (int i = 0; i < 4; ++i)
        #pragma GCC unroll 16
        for (int k = 0; k < 4; ++k) _mm512_store_ps(acc[i][4 * dt + k], a[i][k]);
    }
    const int64_t w = std::min<int64_t>(16, dv - dg);
    const __mmask16 m = static_cast<__mmask16>((1u << w) - 1u);
    for (int i = 0; i < np; ++i) {
      __m512 t[16];
      #pragma GCC unroll 16
      for (int l = 0; l < 16; ++l) t[l] = _mm512_load_ps(acc[i][l]);
      _mm512_mask_storeu_ps(out[i] + dg, m, tree16x16(t));
    }
  }
}

LARQL_AVX512 void exp_fast16(const float* x, float* out) { _mm512_storeu_ps(out, exp16(_mm512_loadu_ps(x))); }

}  // namespace larql::attn_tile::avx512
