// AVX2 + FMA versions of the integer dot products in qdot.cpp. Compiled with
// per-function target attributes and only called when the CPU has AVX2/FMA.
// Integer sums are exact; only the float accumulation order differs from the
// scalar reference (tested against it in tests/unit/kernels).
#include <immintrin.h>

#include <cmath>
#include <cstring>

#include "kernels/qdot_simd.h"
#include "tensor/quants_impl.h"

namespace larql::qdot::avx2 {

using namespace larql::quant;

#define LARQL_AVX2 __attribute__((target("avx2,fma,f16c")))

namespace {

LARQL_AVX2 inline float hsum(__m256 v) {
  __m128 lo = _mm256_castps256_ps128(v), hi = _mm256_extractf128_ps(v, 1);
  lo = _mm_add_ps(lo, hi);
  lo = _mm_add_ps(lo, _mm_movehl_ps(lo, lo));
  lo = _mm_add_ss(lo, _mm_movehdup_ps(lo));
  return _mm_cvtss_f32(lo);
}

// Sum of signed byte products in 8 int32 lanes: |x| * sign(y, x) via maddubs.
LARQL_AVX2 inline __m256i dot_i8(__m256i x, __m256i y) {
  const __m256i ax = _mm256_sign_epi8(x, x);
  const __m256i sy = _mm256_sign_epi8(y, x);
  return _mm256_madd_epi16(_mm256_maddubs_epi16(ax, sy), _mm256_set1_epi16(1));
}

float q8k_d(const BlockQ8_K& b) { float d; std::memcpy(&d, b.d, 4); return d; }

}  // namespace

LARQL_AVX2 float dot_q8_0(const uint8_t* w, const uint8_t* a, int64_t nb) {
  const auto* x = reinterpret_cast<const BlockQ8_0*>(w);
  const auto* y = reinterpret_cast<const BlockQ8_0*>(a);
  __m256 acc = _mm256_setzero_ps();
  for (int64_t i = 0; i < nb; ++i) {
    const __m256 d = _mm256_set1_ps(load_half(x[i].d) * load_half(y[i].d));
    const __m256i qx = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x[i].qs));
    const __m256i qy = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(y[i].qs));
    acc = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(dot_i8(qx, qy)), acc);
  }
  return hsum(acc);
}

LARQL_AVX2 float dot_q4_0(const uint8_t* w, const uint8_t* a, int64_t nb) {
  const auto* x = reinterpret_cast<const BlockQ4_0*>(w);
  const auto* y = reinterpret_cast<const BlockQ8_0*>(a);
  __m256 acc = _mm256_setzero_ps();
  const __m256i m4 = _mm256_set1_epi8(0x0F), off = _mm256_set1_epi8(8);
  for (int64_t i = 0; i < nb; ++i) {
    const __m128i q = _mm_loadu_si128(reinterpret_cast<const __m128i*>(x[i].qs));
    __m256i qx = _mm256_set_m128i(_mm_srli_epi16(q, 4), q);
    qx = _mm256_sub_epi8(_mm256_and_si256(qx, m4), off);
    const __m256i qy = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(y[i].qs));
    const __m256 d = _mm256_set1_ps(load_half(x[i].d) * load_half(y[i].d));
    acc = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(dot_i8(qx, qy)), acc);
  }
  return hsum(acc);
}

// Q4_K / Q5_K: 8 sub-blocks of 32 with 6-bit (scale, min); min part via Q8_K's
// per-16 sums. NT activation rows share each unpacked weight block (prefill).
LARQL_AVX2 inline int hsum_i(__m256i v) {
  __m128i x = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  x = _mm_add_epi32(x, _mm_unpackhi_epi64(x, x));
  x = _mm_add_epi32(x, _mm_shuffle_epi32(x, 1));
  return _mm_cvtsi128_si32(x);
}
LARQL_AVX2 inline int hsum_i128(__m128i x) {
  x = _mm_add_epi32(x, _mm_unpackhi_epi64(x, x));
  x = _mm_add_epi32(x, _mm_shuffle_epi32(x, 1));
  return _mm_cvtsi128_si32(x);
}

template <int NT, bool SEQ = false>
LARQL_AVX2 void dot_q4_k_n(const uint8_t* w, const uint8_t* a, size_t a_stride, int64_t nb, bool five, float* out) {
  const __m256i m4 = _mm256_set1_epi8(0x0F);
  __m256 acc[NT];
  __m128 acc_m[NT];  // mins: 4 lanes, each two sub-blocks' min * (sum of their 32 activations)
  float seq[NT];
  for (int t = 0; t < NT; ++t) { acc[t] = _mm256_setzero_ps(); acc_m[t] = _mm_setzero_ps(); seq[t] = 0; }
  for (int64_t i = 0; i < nb; ++i) {
    const uint8_t *scales, *qs, *qh = nullptr;
    float xd, xdmin;
    if (five) {
      const auto& x = reinterpret_cast<const BlockQ5_K*>(w)[i];
      scales = x.scales; qs = x.qs; qh = x.qh; xd = load_half(x.d); xdmin = load_half(x.dmin);
    } else {
      const auto& x = reinterpret_cast<const BlockQ4_K*>(w)[i];
      scales = x.scales; qs = x.qs; xd = load_half(x.d); xdmin = load_half(x.dmin);
    }
    // Unpack the 8 six-bit scales and mins word-wise (bytes 0-3 hold sc/mn 0-3 in
    // their low 6 bits and the top bits of 4-7; bytes 8-11 the low nibbles of 4-7).
    uint32_t wd[3];
    std::memcpy(wd, scales, 12);
    const uint32_t sc_w[2] = {wd[0] & 0x3f3f3f3fu, (wd[2] & 0x0f0f0f0fu) | (((wd[0] >> 6) & 0x03030303u) << 4)};
    const uint32_t mn_w[2] = {wd[1] & 0x3f3f3f3fu, ((wd[2] >> 4) & 0x0f0f0f0fu) | (((wd[1] >> 6) & 0x03030303u) << 4)};
    uint8_t sc[8];
    std::memcpy(sc, sc_w, 8);
    const __m128i mins16 = _mm_cvtepu8_epi16(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(mn_w)));
    const BlockQ8_K* y[NT];
    __m256i sumi[NT];
    int mn_i[NT];
    for (int t = 0; t < NT; ++t) {
      y[t] = reinterpret_cast<const BlockQ8_K*>(a + t * a_stride) + i;
      // per sub-block sums of 32 activations (pairs of Q8_K's per-16 sums) times the mins
      const __m128i b0 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(y[t]->bsums));
      const __m128i b1 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(y[t]->bsums + 16));
      const __m128i prod = _mm_madd_epi16(mins16, _mm_hadd_epi16(b0, b1));
      if constexpr (SEQ) mn_i[t] = hsum_i128(prod);
      else acc_m[t] = _mm_fmadd_ps(_mm_set1_ps(-q8k_d(*y[t]) * xdmin), _mm_cvtepi32_ps(prod), acc_m[t]);
      sumi[t] = _mm256_setzero_si256();
    }
    const __m256i hbits = qh ? _mm256_loadu_si256(reinterpret_cast<const __m256i*>(qh)) : _mm256_setzero_si256();
    for (int c = 0; c < 4; ++c) {
      const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(qs + 32 * c));
      __m256i lo = _mm256_and_si256(q, m4);
      __m256i hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), m4);
      if (qh) {
        const __m256i one = _mm256_set1_epi8(1);
        lo = _mm256_or_si256(lo, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hbits, 2 * c), one), 4));
        hi = _mm256_or_si256(hi, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hbits, 2 * c + 1), one), 4));
      }
      const __m256i slo = _mm256_set1_epi16(static_cast<int16_t>(sc[2 * c]));
      const __m256i shi = _mm256_set1_epi16(static_cast<int16_t>(sc[2 * c + 1]));
      for (int t = 0; t < NT; ++t) {
        const __m256i ylo = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(y[t]->qs + 64 * c));
        const __m256i yhi = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(y[t]->qs + 64 * c + 32));
        const __m256i plo = _mm256_madd_epi16(_mm256_maddubs_epi16(lo, ylo), slo);
        const __m256i phi = _mm256_madd_epi16(_mm256_maddubs_epi16(hi, yhi), shi);
        sumi[t] = _mm256_add_epi32(sumi[t], _mm256_add_epi32(plo, phi));
      }
    }
    if constexpr (SEQ) {
      for (int t = 0; t < NT; ++t) {
        const float yd = q8k_d(*y[t]);
        seq[t] = std::fma(static_cast<float>(hsum_i(sumi[t])), yd * xd, seq[t]);
        seq[t] = std::fma(static_cast<float>(mn_i[t]), -(yd * xdmin), seq[t]);
      }
    } else {
      for (int t = 0; t < NT; ++t)
        acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(q8k_d(*y[t]) * xd), _mm256_cvtepi32_ps(sumi[t]), acc[t]);
    }
  }
  if constexpr (SEQ) { for (int t = 0; t < NT; ++t) out[t] = seq[t]; return; }
  for (int t = 0; t < NT; ++t) {
    __m128 m = _mm_add_ps(acc_m[t], _mm_movehl_ps(acc_m[t], acc_m[t]));
    m = _mm_add_ss(m, _mm_movehdup_ps(m));
    out[t] = hsum(acc[t]) + _mm_cvtss_f32(m);
  }
}

LARQL_AVX2 float dot_q4_k(const uint8_t* w, const uint8_t* a, int64_t nb, bool five) {
  float r;
  dot_q4_k_n<1>(w, a, 0, nb, five, &r);
  return r;
}

void dot_q4_k_x4(const uint8_t* w, const uint8_t* a, size_t a_stride, int64_t nb, bool five, float* out) {
  dot_q4_k_n<4>(w, a, a_stride, nb, five, out);
}

// Q6_K: codes 0..63 minus 32 (subtracted inside the int16 pair sums, as ggml
// does), one int8 scale per 16. NT activation rows per unpacked weight block.
template <int NT, bool SEQ = false>
LARQL_AVX2 void dot_q6_k_n(const uint8_t* w, const uint8_t* a, size_t a_stride, int64_t nb, float* out) {
  const __m256i m4 = _mm256_set1_epi8(0x0F), m3 = _mm256_set1_epi8(3), m32 = _mm256_set1_epi8(32);
  __m256 acc[NT];
  float seq[NT];
  for (int t = 0; t < NT; ++t) { acc[t] = _mm256_setzero_ps(); seq[t] = 0; }
  for (int64_t i = 0; i < nb; ++i) {
    const auto& x = reinterpret_cast<const BlockQ6_K*>(w)[i];
    const BlockQ8_K* y[NT];
    __m256i sumi[NT];
    for (int t = 0; t < NT; ++t) {
      y[t] = reinterpret_cast<const BlockQ8_K*>(a + t * a_stride) + i;
      sumi[t] = _mm256_setzero_si256();
    }
    for (int half = 0; half < 2; ++half) {
      const uint8_t* ql = x.ql + 64 * half;
      const uint8_t* qh = x.qh + 32 * half;
      const int8_t* sc = x.scales + 8 * half;
      const __m256i l0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ql));
      const __m256i l1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ql + 32));
      const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(qh));
      __m256i q[4];
      q[0] = _mm256_or_si256(_mm256_and_si256(l0, m4), _mm256_slli_epi16(_mm256_and_si256(h, m3), 4));
      q[1] = _mm256_or_si256(_mm256_and_si256(l1, m4), _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(h, 2), m3), 4));
      q[2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), m4), _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(h, 4), m3), 4));
      q[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), m4), _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(h, 6), m3), 4));
      for (int k = 0; k < 4; ++k) {
        const __m256i s = _mm256_set_m128i(_mm_set1_epi16(sc[2 * k + 1]), _mm_set1_epi16(sc[2 * k]));
        for (int t = 0; t < NT; ++t) {
          const __m256i yy = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(y[t]->qs + 128 * half + 32 * k));
          const __m256i p = _mm256_sub_epi16(_mm256_maddubs_epi16(q[k], yy), _mm256_maddubs_epi16(m32, yy));
          sumi[t] = _mm256_add_epi32(sumi[t], _mm256_madd_epi16(p, s));
        }
      }
    }
    for (int t = 0; t < NT; ++t) {
      if constexpr (SEQ) seq[t] = std::fma(static_cast<float>(hsum_i(sumi[t])), q8k_d(*y[t]) * load_half(x.d), seq[t]);
      else acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(q8k_d(*y[t]) * load_half(x.d)), _mm256_cvtepi32_ps(sumi[t]), acc[t]);
    }
  }
  for (int t = 0; t < NT; ++t) out[t] = SEQ ? seq[t] : hsum(acc[t]);
}

LARQL_AVX2 float dot_q6_k(const uint8_t* w, const uint8_t* a, int64_t nb) {
  float r;
  dot_q6_k_n<1>(w, a, 0, nb, &r);
  return r;
}

void dot_q6_k_x4(const uint8_t* w, const uint8_t* a, size_t a_stride, int64_t nb, float* out) {
  dot_q6_k_n<4>(w, a, a_stride, nb, out);
}

// Q8_0 for NT activation rows.
template <int NT, bool SEQ = false>
LARQL_AVX2 void dot_q8_0_n(const uint8_t* w, const uint8_t* a, size_t a_stride, int64_t nb, float* out) {
  const auto* x = reinterpret_cast<const BlockQ8_0*>(w);
  __m256 acc[NT];
  float seq[NT];
  for (int t = 0; t < NT; ++t) { acc[t] = _mm256_setzero_ps(); seq[t] = 0; }
  for (int64_t i = 0; i < nb; ++i) {
    const __m256i qx = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x[i].qs));
    const __m256i ax = _mm256_sign_epi8(qx, qx);
    const float xd = load_half(x[i].d);
    for (int t = 0; t < NT; ++t) {
      const auto& y = reinterpret_cast<const BlockQ8_0*>(a + t * a_stride)[i];
      const __m256i qy = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(y.qs));
      const __m256i p = _mm256_madd_epi16(_mm256_maddubs_epi16(ax, _mm256_sign_epi8(qy, qx)), _mm256_set1_epi16(1));
      if constexpr (SEQ) seq[t] = std::fma(static_cast<float>(hsum_i(p)), xd * load_half(y.d), seq[t]);
      else acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(xd * load_half(y.d)), _mm256_cvtepi32_ps(p), acc[t]);
    }
  }
  for (int t = 0; t < NT; ++t) out[t] = SEQ ? seq[t] : hsum(acc[t]);
}

void dot_q8_0_x4(const uint8_t* w, const uint8_t* a, size_t a_stride, int64_t nb, float* out) {
  dot_q8_0_n<4>(w, a, a_stride, nb, out);
}

LARQL_AVX2 float dot_f32(const float* x, const float* y, int64_t n) {
  __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    a0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i), a0);
    a1 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 8), _mm256_loadu_ps(y + i + 8), a1);
  }
  float s = hsum(_mm256_add_ps(a0, a1));
  for (; i < n; ++i) s += x[i] * y[i];
  return s;
}

void seq_q8_0_x4(const uint8_t* w, const uint8_t* a, size_t st, int64_t nb, float* out) { dot_q8_0_n<4, true>(w, a, st, nb, out); }
void seq_q8_0_x1(const uint8_t* w, const uint8_t* a, int64_t nb, float* out) { dot_q8_0_n<1, true>(w, a, 0, nb, out); }
void seq_q4_k_x4(const uint8_t* w, const uint8_t* a, size_t st, int64_t nb, bool five, float* out) { dot_q4_k_n<4, true>(w, a, st, nb, five, out); }
void seq_q4_k_x1(const uint8_t* w, const uint8_t* a, int64_t nb, bool five, float* out) { dot_q4_k_n<1, true>(w, a, 0, nb, five, out); }
void seq_q6_k_x4(const uint8_t* w, const uint8_t* a, size_t st, int64_t nb, float* out) { dot_q6_k_n<4, true>(w, a, st, nb, out); }
void seq_q6_k_x1(const uint8_t* w, const uint8_t* a, int64_t nb, float* out) { dot_q6_k_n<1, true>(w, a, 0, nb, out); }

// Q5_0 / Q4_1 / Q5_1 in the scalar reference's lane order (qdot.cpp dot_q45_lanes).
namespace {
struct BlockQ8_1v { uint8_t d[2]; uint8_t s[2]; int8_t qs[32]; };

// Byte k = 0xFF where bit k of the 32-bit qh is set: byte k takes qh byte k/8,
// then keeps only its bit k%8 and compares.
LARQL_AVX2 inline __m256i bits_to_bytes(const uint8_t* qh) {
  uint32_t v;
  std::memcpy(&v, qh, 4);
  const __m256i spread = _mm256_shuffle_epi8(
      _mm256_set1_epi32(static_cast<int>(v)),
      _mm256_set_epi64x(0x0303030303030303, 0x0202020202020202, 0x0101010101010101, 0));
  const __m256i bit = _mm256_set1_epi64x(static_cast<int64_t>(0x8040201008040201ull));
  return _mm256_cmpeq_epi8(_mm256_and_si256(spread, bit), bit);
}

template <int NT, class Block, bool MIN, bool FIVE>
LARQL_AVX2 void dot_q45_n(const uint8_t* w, const uint8_t* a, size_t a_stride, int64_t nb, float* out) {
  const auto* x = reinterpret_cast<const Block*>(w);
  const __m256i m4 = _mm256_set1_epi8(0x0F), h16 = _mm256_set1_epi8(0x10);
  __m256 acc[NT];
  float summs[NT];
  for (int t = 0; t < NT; ++t) { acc[t] = _mm256_setzero_ps(); summs[t] = 0; }
  for (int64_t i = 0; i < nb; ++i) {
    const __m128i q = _mm_loadu_si128(reinterpret_cast<const __m128i*>(x[i].qs));
    __m256i qx = _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(q, 4), q), m4);
    if constexpr (FIVE) qx = _mm256_or_si256(qx, _mm256_and_si256(bits_to_bytes(x[i].qh), h16));
    __m256i ax = qx;
    if constexpr (!MIN) {  // Q5_0: signed codes, |x| times sign-adjusted y
      qx = _mm256_sub_epi8(qx, h16);
      ax = _mm256_sign_epi8(qx, qx);
    }
    const float xd = load_half(x[i].d);
    for (int t = 0; t < NT; ++t) {
      const uint8_t* yb = a + t * a_stride;
      const int8_t* yq;
      float yd;
      if constexpr (MIN) {
        const auto& y = reinterpret_cast<const BlockQ8_1v*>(yb)[i];
        yq = y.qs; yd = load_half(y.d);
        summs[t] = std::fma(load_half(x[i].m), load_half(y.s), summs[t]);
      } else {
        const auto& y = reinterpret_cast<const BlockQ8_0*>(yb)[i];
        yq = y.qs; yd = load_half(y.d);
      }
      __m256i qy = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(yq));
      if constexpr (!MIN) qy = _mm256_sign_epi8(qy, qx);
      const __m256i p = _mm256_madd_epi16(_mm256_maddubs_epi16(ax, qy), _mm256_set1_epi16(1));
      acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(xd * yd), _mm256_cvtepi32_ps(p), acc[t]);
    }
  }
  for (int t = 0; t < NT; ++t) out[t] = hsum(acc[t]) + summs[t];
}

template <int NT>
void dot_q45(GGMLType type, const uint8_t* w, const uint8_t* a, size_t st, int64_t nb, float* out) {
  if (type == GGMLType::Q5_0) dot_q45_n<NT, BlockQ5_0, false, true>(w, a, st, nb, out);
  else if (type == GGMLType::Q4_1) dot_q45_n<NT, BlockQ4_1, true, false>(w, a, st, nb, out);
  else dot_q45_n<NT, BlockQ5_1, true, true>(w, a, st, nb, out);
}
}  // namespace

void dot_q45_x4(GGMLType type, const uint8_t* w, const uint8_t* a, size_t st, int64_t nb, float* out) { dot_q45<4>(type, w, a, st, nb, out); }
void dot_q45_x1(GGMLType type, const uint8_t* w, const uint8_t* a, int64_t nb, float* out) { dot_q45<1>(type, w, a, 0, nb, out); }

}  // namespace larql::qdot::avx2
