// AVX2 + FMA micro-kernels of the tiled F32 attention (attention_tiled.h), for
// CPUs without AVX-512 (Zen 2/3, client Intel). A 16-lane accumulator of the
// reference orders is a pair of ymm registers (lanes 0-7, 8-15); every output is
// the same sequence of correctly rounded operations as the scalar reference
// (f32dot::dot4x16_ref, lanes16_ref, ops::expf_fast), reduced one 16-lane tree
// at a time (simd::tree16), so results equal the AVX-512 kernels' bit for bit.
#include <immintrin.h>

#include <algorithm>
#include <cmath>

#include "engine/attention_tiled.h"
#include "kernels/exp_simd_inl.h"
#include "kernels/f32tree_inl.h"

namespace larql::attn_tile::avx2 {

#define LARQL_AVX2 __attribute__((target("avx2,fma")))

namespace {

struct V16 {  // one 16-lane float vector
  __m256 lo, hi;
};
LARQL_AVX2 inline V16 load16(const float* p) { return {_mm256_loadu_ps(p), _mm256_loadu_ps(p + 8)}; }
LARQL_AVX2 inline V16 zero16() { return {_mm256_setzero_ps(), _mm256_setzero_ps()}; }
LARQL_AVX2 inline V16 fma16(V16 a, V16 b, V16 c) { return {_mm256_fmadd_ps(a.lo, b.lo, c.lo), _mm256_fmadd_ps(a.hi, b.hi, c.hi)}; }
LARQL_AVX2 inline V16 add16(V16 a, V16 b) { return {_mm256_add_ps(a.lo, b.lo), _mm256_add_ps(a.hi, b.hi)}; }
LARQL_AVX2 inline float tree(V16 t) { return simd::tree16(t.lo, t.hi); }

LARQL_AVX2 inline float mul_nofuse(float a, float b) {
  float p = a * b;
  __asm__("" : "+x"(p));  // keep the product rounded (no fma contraction)
  return p;
}

// Lanes j0 + i (i < 16) inside [first, last), as all-ones int32 lanes.
struct Mask16 {
  __m256i lo, hi;
  bool any;
};
LARQL_AVX2 inline __m256i between(__m256i i, __m256i below, __m256i end) {  // below < i < end
  return _mm256_and_si256(_mm256_cmpgt_epi32(i, below), _mm256_cmpgt_epi32(end, i));
}
LARQL_AVX2 inline Mask16 lanes_in(int64_t j0, int64_t first, int64_t last) {
  const int lo = static_cast<int>(std::clamp<int64_t>(first - j0, 0, 16)),
            hi = static_cast<int>(std::clamp<int64_t>(last - j0, 0, 16));
  const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  const __m256i below = _mm256_set1_epi32(lo - 1), end = _mm256_set1_epi32(hi);
  return {between(idx, below, end), between(_mm256_add_epi32(idx, _mm256_set1_epi32(8)), below, end), hi > lo};
}

// t = (a0+a2)+(a1+a3) of dot4x16's accumulators for one K row. The same order
// as f32dot::avx2::dot4x16, kept inline: a call per 64-element dot made llama-1b
// Q4_K_M pp512 105 instead of 125 tok/s on Zen 3.
LARQL_AVX2 inline V16 score_row(const float* x, const float* q, int64_t np) {
  V16 a0 = zero16(), a1 = a0, a2 = a0, a3 = a0;
  for (int64_t c = 0; c < np; c += 64) {
    a0 = fma16(load16(x + c), load16(q + c), a0);
    a1 = fma16(load16(x + c + 16), load16(q + c + 16), a1);
    a2 = fma16(load16(x + c + 32), load16(q + c + 32), a2);
    a3 = fma16(load16(x + c + 48), load16(q + c + 48), a3);
  }
  return add16(add16(a0, a2), add16(a1, a3));
}

}  // namespace

LARQL_AVX2 void score_block(const float* k, int64_t kstride, int rows, const float* q, int64_t dk, float* out) {
  if (dk == 64) {  // head dim 64: q stays in 8 registers for the whole block, each K row is read once
    const V16 q0 = load16(q), q1 = load16(q + 16), q2 = load16(q + 32), q3 = load16(q + 48);
    for (int r = 0; r < rows; ++r) {
      const float* x = k + r * kstride;
      const V16 a02 = add16(fma16(load16(x), q0, zero16()), fma16(load16(x + 32), q2, zero16()));
      const V16 a13 = add16(fma16(load16(x + 16), q1, zero16()), fma16(load16(x + 48), q3, zero16()));
      out[r] = tree(add16(a02, a13));  // score_row's (a0+a2)+(a1+a3) after its one step
    }
    return;
  }
  const int64_t np = dk & ~int64_t{63};
  for (int r = 0; r < rows; ++r) {
    const float* x = k + r * kstride;
    float s = tree(score_row(x, q, np));
    for (int64_t i = np; i < dk; ++i) s = s + mul_nofuse(x[i], q[i]);  // dot4x16's scalar tail, in order
    out[r] = s;
  }
}

LARQL_AVX2 float row_max(float* p, int64_t first, int64_t last, float softcap, float scale) {
  if (softcap > 0)
    for (int64_t j = first; j < last; ++j) p[j] = std::tanh(p[j] / softcap) * softcap;
  __m256 mlo = _mm256_set1_ps(-INFINITY), mhi = mlo;
  const __m256 sc = _mm256_set1_ps(scale);
  for (int64_t j0 = first & ~int64_t{15}; j0 < last; j0 += 16) {
    const Mask16 m = lanes_in(j0, first, last);
    const __m256 slo = _mm256_mul_ps(_mm256_maskload_ps(p + j0, m.lo), sc);
    const __m256 shi = _mm256_mul_ps(_mm256_maskload_ps(p + j0 + 8, m.hi), sc);
    _mm256_maskstore_ps(p + j0, m.lo, slo);
    _mm256_maskstore_ps(p + j0 + 8, m.hi, shi);
    // s > mx ? s : mx (like std::max(mx, s)) in the lanes inside the range
    mlo = _mm256_blendv_ps(mlo, _mm256_max_ps(slo, mlo), _mm256_castsi256_ps(m.lo));
    mhi = _mm256_blendv_ps(mhi, _mm256_max_ps(shi, mhi), _mm256_castsi256_ps(m.hi));
  }
  alignas(32) float l[16];
  _mm256_store_ps(l, mlo);
  _mm256_store_ps(l + 8, mhi);
  float r = l[0];  // lane order as the AVX-512 kernel
  for (int i = 1; i < 16; ++i) r = std::max(r, l[i]);
  return r;
}

LARQL_AVX2 double row_exp(float* p, int64_t first, int64_t last, int64_t n_kv, float mx) {
  const __m256 vmx = _mm256_set1_ps(mx), ninf = _mm256_set1_ps(-INFINITY);
  double sum = 0;
  for (int64_t j0 = 0; j0 < n_kv; j0 += 16) {
    const Mask16 m = lanes_in(j0, first, last);
    if (!m.any) {  // all masked: zeros, and a +0 tree adds nothing to the sum
      _mm256_storeu_ps(p + j0, _mm256_setzero_ps());
      _mm256_storeu_ps(p + j0 + 8, _mm256_setzero_ps());
      continue;
    }
    V16 e;
    for (int h = 0; h < 2; ++h) {
      const __m256 x = _mm256_loadu_ps(p + j0 + 8 * h);
      const __m256 live = _mm256_and_ps(_mm256_castsi256_ps(h ? m.hi : m.lo), _mm256_cmp_ps(x, ninf, _CMP_NEQ_UQ));
      const __m256 v = _mm256_and_ps(live, simd::exp8(_mm256_sub_ps(x, vmx)));
      _mm256_storeu_ps(p + j0 + 8 * h, v);
      (h ? e.hi : e.lo) = v;
    }
    sum += static_cast<double>(tree(e));  // per-16 trees added in block order
  }
  return sum;
}

LARQL_AVX2 void row_scale(float* p, int64_t n_kv, float inv) {
  const __m256 s = _mm256_set1_ps(inv);
  for (int64_t j = 0; j < n_kv; j += 8) _mm256_storeu_ps(p + j, _mm256_mul_ps(_mm256_loadu_ps(p + j), s));
}

// Per 8-lane half, 4 probability rows x 2 value columns (8 accumulators, 14
// registers in the loop); each output's lanes then meet in one tree.
LARQL_AVX2 void values4(const float* vt, int64_t ldt, int64_t dv, const float* const* p, int np, int64_t jb,
                        int64_t je, float* const* out) {
  const float* pp[4];
  for (int i = 0; i < 4; ++i) pp[i] = p[std::min(i, np - 1)];  // missing rows: recompute one, discard
  for (int64_t d0 = 0; d0 < dv; d0 += 2) {
    const float* vr[2] = {vt + d0 * ldt, vt + std::min<int64_t>(d0 + 1, dv - 1) * ldt};
    alignas(32) float lanes[4][2][16];
    for (int h = 0; h < 2; ++h) {
      __m256 a[4][2];
      for (auto& ai : a) ai[0] = ai[1] = _mm256_setzero_ps();
      for (int64_t j = jb + 8 * h; j < je; j += 16) {
        const __m256 v0 = _mm256_loadu_ps(vr[0] + j), v1 = _mm256_loadu_ps(vr[1] + j);
#pragma GCC unroll 4
        for (int i = 0; i < 4; ++i) {
          const __m256 pv = _mm256_loadu_ps(pp[i] + j);
          a[i][0] = _mm256_fmadd_ps(v0, pv, a[i][0]);
          a[i][1] = _mm256_fmadd_ps(v1, pv, a[i][1]);
        }
      }
      for (int i = 0; i < 4; ++i)
        for (int c = 0; c < 2; ++c) _mm256_store_ps(lanes[i][c] + 8 * h, a[i][c]);
    }
    for (int i = 0; i < np; ++i) {
      out[i][d0] = tree({_mm256_load_ps(lanes[i][0]), _mm256_load_ps(lanes[i][0] + 8)});
      if (d0 + 1 < dv) out[i][d0 + 1] = tree({_mm256_load_ps(lanes[i][1]), _mm256_load_ps(lanes[i][1] + 8)});
    }
  }
}

LARQL_AVX2 void exp_fast16(const float* x, float* out) {
  _mm256_storeu_ps(out, simd::exp8(_mm256_loadu_ps(x)));
  _mm256_storeu_ps(out + 8, simd::exp8(_mm256_loadu_ps(x + 8)));
}

}  // namespace larql::attn_tile::avx2
