// AVX-512 (BW) bodies of the integer dot products, included by qdot_avx512.cpp
// and qdot_avx512vnni.cpp after each sets its own `#pragma GCC target`, so the
// binary still runs on CPUs without AVX-512 (dispatch in qdot.cpp).
//
// Bit-identical to the AVX2 kernels: 512-bit registers hold two 32-byte chunks
// whose int32 lanes are folded (integer adds, exact) into the same 8 lanes the
// AVX2 code produces before any float operation, and the float accumulation is
// then the same instruction sequence. Needs LARQL_QDOT_NS and LARQL_QDOT_VNNI.
// Internal to src/kernels; no include guard on purpose (one include per TU).

namespace larql::qdot::LARQL_QDOT_NS {

using namespace larql::quant;

namespace {

inline float hsum(__m256 v) {
  __m128 lo = _mm256_castps256_ps128(v), hi = _mm256_extractf128_ps(v, 1);
  lo = _mm_add_ps(lo, hi);
  lo = _mm_add_ps(lo, _mm_movehl_ps(lo, lo));
  lo = _mm_add_ss(lo, _mm_movehdup_ps(lo));
  return _mm_cvtss_f32(lo);
}

inline float q8k_d(const BlockQ8_K& b) { float d; std::memcpy(&d, b.d, 4); return d; }

// Exact integer sums for the sequential (llama.cpp AMX) order.
inline int hsum_i(__m256i v) {
  __m128i x = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  x = _mm_add_epi32(x, _mm_unpackhi_epi64(x, x));
  x = _mm_add_epi32(x, _mm_shuffle_epi32(x, 1));
  return _mm_cvtsi128_si32(x);
}
inline int hsum_i(__m128i x) {
  x = _mm_add_epi32(x, _mm_unpackhi_epi64(x, x));
  x = _mm_add_epi32(x, _mm_shuffle_epi32(x, 1));
  return _mm_cvtsi128_si32(x);
}
// acc + float(s) * d, fused, as one scalar instruction.
inline float fma1(int s, float d, float acc) {
  return _mm_cvtss_f32(_mm_fmadd_ss(_mm_set_ss(static_cast<float>(s)), _mm_set_ss(d), _mm_set_ss(acc)));
}

// acc += sum over int16 pairs of p * s (int32 lanes).
inline __m512i dot16(__m512i acc, __m512i p, __m512i s) {
#if LARQL_QDOT_VNNI
  return _mm512_dpwssd_epi32(acc, p, s);
#else
  return _mm512_add_epi32(acc, _mm512_madd_epi16(p, s));
#endif
}

// Unsigned bytes u times signed bytes v, summed per 4 bytes into int32 lanes.
inline __m512i dot_u8i8(__m512i u, __m512i v) {
#if LARQL_QDOT_VNNI
  return _mm512_dpbusd_epi32(_mm512_setzero_si512(), u, v);
#else
  return _mm512_madd_epi16(_mm512_maddubs_epi16(u, v), _mm512_set1_epi16(1));
#endif
}

// Low + high 256-bit halves: lane l of the result covers bytes 4l..4l+3 of both chunks.
inline __m256i fold(__m512i v) { return _mm256_add_epi32(_mm512_castsi512_si256(v), _mm512_extracti64x4_epi64(v, 1)); }

inline __m512i load64(const void* p) { return _mm512_loadu_si512(p); }
inline __m512i bcast32(const void* p) { return _mm512_broadcast_i64x4(_mm256_loadu_si256(static_cast<const __m256i*>(p))); }

// Shift counts for the two 256-bit halves (64-bit lanes): a in the low half, b in the high.
inline __m512i shifts(int a, int b) { return _mm512_set_epi64(b, b, b, b, a, a, a, a); }

}  // namespace

// Q4_K / Q5_K: chunk c of qs gives sub-block 2c (low nibbles) in the low half of a
// zmm and 2c+1 (high nibbles) in the high half, matching 64 contiguous Q8_K codes.
// SEQ: llama.cpp's AMX order (one float per output, exact block sums), else ggml's vec_dot lanes.
template <int NT, bool SEQ>
void dot_q4_k_n(const uint8_t* w, const uint8_t* a, size_t a_stride, int64_t nb, bool five, float* out) {
  const __m512i m4 = _mm512_set1_epi8(0x0F), one = _mm512_set1_epi8(1);
  const __m512i idx0 = _mm512_inserti64x4(_mm512_setzero_si512(), _mm256_set1_epi16(1), 1);  // lanes 16-31 -> +1
  __m256 acc[NT];
  __m128 acc_m[NT];
  float seq[NT];
  int mn_i[NT];
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
    uint32_t wd[3];
    std::memcpy(wd, scales, 12);
    const uint32_t sc_w[2] = {wd[0] & 0x3f3f3f3fu, (wd[2] & 0x0f0f0f0fu) | (((wd[0] >> 6) & 0x03030303u) << 4)};
    const uint32_t mn_w[2] = {wd[1] & 0x3f3f3f3fu, ((wd[2] >> 4) & 0x0f0f0f0fu) | (((wd[1] >> 6) & 0x03030303u) << 4)};
    const __m128i sc16 = _mm_cvtepu8_epi16(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(sc_w)));
    const __m512i sc512 = _mm512_castsi128_si512(sc16);
    const __m128i mins16 = _mm_cvtepu8_epi16(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(mn_w)));
    const BlockQ8_K* y[NT];
    __m512i sumi[NT];
    for (int t = 0; t < NT; ++t) {
      y[t] = reinterpret_cast<const BlockQ8_K*>(a + t * a_stride) + i;
      const __m128i b0 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(y[t]->bsums));
      const __m128i b1 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(y[t]->bsums + 16));
      const __m128i prod = _mm_madd_epi16(mins16, _mm_hadd_epi16(b0, b1));
      if constexpr (SEQ) mn_i[t] = hsum_i(prod);
      else acc_m[t] = _mm_fmadd_ps(_mm_set1_ps(-q8k_d(*y[t]) * xdmin), _mm_cvtepi32_ps(prod), acc_m[t]);
      sumi[t] = _mm512_setzero_si512();
    }
    const __m512i hbits = qh ? bcast32(qh) : _mm512_setzero_si512();
    for (int c = 0; c < 4; ++c) {
      __m512i q = _mm512_and_si512(_mm512_srlv_epi64(bcast32(qs + 32 * c), shifts(0, 4)), m4);
      if (qh) {
        const __m512i h = _mm512_and_si512(_mm512_srlv_epi64(hbits, shifts(2 * c, 2 * c + 1)), one);
        q = _mm512_or_si512(q, _mm512_slli_epi16(h, 4));
      }
      const __m512i s = _mm512_permutexvar_epi16(_mm512_add_epi16(idx0, _mm512_set1_epi16(int16_t(2 * c))), sc512);
      for (int t = 0; t < NT; ++t)
        sumi[t] = dot16(sumi[t], _mm512_maddubs_epi16(q, load64(y[t]->qs + 64 * c)), s);
    }
    for (int t = 0; t < NT; ++t) {
      if constexpr (SEQ) {
        const float yd = q8k_d(*y[t]);
        seq[t] = fma1(hsum_i(fold(sumi[t])), yd * xd, seq[t]);
        seq[t] = fma1(mn_i[t], -(yd * xdmin), seq[t]);
      } else {
        acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(q8k_d(*y[t]) * xd), _mm256_cvtepi32_ps(fold(sumi[t])), acc[t]);
      }
    }
  }
  if constexpr (SEQ) {
    for (int t = 0; t < NT; ++t) out[t] = seq[t];
    return;
  }
  for (int t = 0; t < NT; ++t) {
    __m128 m = _mm_add_ps(acc_m[t], _mm_movehl_ps(acc_m[t], acc_m[t]));
    m = _mm_add_ss(m, _mm_movehdup_ps(m));
    out[t] = hsum(acc[t]) + _mm_cvtss_f32(m);
  }
}

// Q6_K: per half, ql's 64 bytes give codes 0/1 (low nibbles) and 2/3 (high
// nibbles) with two bits each from qh; 32 is subtracted inside int16 pair sums.
template <int NT, bool SEQ>
void dot_q6_k_n(const uint8_t* w, const uint8_t* a, size_t a_stride, int64_t nb, float* out) {
  const __m512i m4 = _mm512_set1_epi8(0x0F), m3 = _mm512_set1_epi8(3), m32 = _mm512_set1_epi8(32);
  // int16 lane j of a 64-byte product belongs to scale group j/8.
  const __m512i grp = _mm512_srli_epi16(
      _mm512_set_epi16(31, 30, 29, 28, 27, 26, 25, 24, 23, 22, 21, 20, 19, 18, 17, 16, 15, 14, 13, 12, 11, 10, 9, 8,
                       7, 6, 5, 4, 3, 2, 1, 0),
      3);
  __m256 acc[NT];
  float seq[NT];
  for (int t = 0; t < NT; ++t) { acc[t] = _mm256_setzero_ps(); seq[t] = 0; }
  for (int64_t i = 0; i < nb; ++i) {
    const auto& x = reinterpret_cast<const BlockQ6_K*>(w)[i];
    const __m512i sc = _mm512_castsi256_si512(_mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(x.scales))));
    const BlockQ8_K* y[NT];
    __m512i sumi[NT];
    for (int t = 0; t < NT; ++t) {
      y[t] = reinterpret_cast<const BlockQ8_K*>(a + t * a_stride) + i;
      sumi[t] = _mm512_setzero_si512();
    }
    for (int half = 0; half < 2; ++half) {
      const __m512i l = load64(x.ql + 64 * half);
      const __m512i h = bcast32(x.qh + 32 * half);
      __m512i q[2];
      q[0] = _mm512_or_si512(_mm512_and_si512(l, m4),
                             _mm512_slli_epi16(_mm512_and_si512(_mm512_srlv_epi64(h, shifts(0, 2)), m3), 4));
      q[1] = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(l, 4), m4),
                             _mm512_slli_epi16(_mm512_and_si512(_mm512_srlv_epi64(h, shifts(4, 6)), m3), 4));
      for (int k = 0; k < 2; ++k) {
        const __m512i s = _mm512_permutexvar_epi16(_mm512_add_epi16(grp, _mm512_set1_epi16(int16_t(8 * half + 4 * k))), sc);
        for (int t = 0; t < NT; ++t) {
          const __m512i yy = load64(y[t]->qs + 128 * half + 64 * k);
          const __m512i p = _mm512_sub_epi16(_mm512_maddubs_epi16(q[k], yy), _mm512_maddubs_epi16(m32, yy));
          sumi[t] = dot16(sumi[t], p, s);
        }
      }
    }
    for (int t = 0; t < NT; ++t) {
      if constexpr (SEQ) seq[t] = fma1(hsum_i(fold(sumi[t])), q8k_d(*y[t]) * load_half(x.d), seq[t]);
      else acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(q8k_d(*y[t]) * load_half(x.d)), _mm256_cvtepi32_ps(fold(sumi[t])), acc[t]);
    }
  }
  for (int t = 0; t < NT; ++t) out[t] = SEQ ? seq[t] : hsum(acc[t]);
}

// Q8_0 / Q4_0: two 32-element blocks per zmm; the two blocks' float updates are
// applied one after the other, as the AVX2 loop does.
template <int NT, bool Q4, bool SEQ>
void dot_q8_0_n(const uint8_t* w, const uint8_t* a, size_t a_stride, int64_t nb, float* out) {
  const size_t bs = Q4 ? sizeof(BlockQ4_0) : sizeof(BlockQ8_0);
  const __m512i m4 = _mm512_set1_epi8(0x0F), off = _mm512_set1_epi8(8);
  auto codes = [&](int64_t i) {  // signed codes of blocks i and i + 1
    const uint8_t* b0 = w + i * bs;
    const uint8_t* b1 = b0 + bs;
    if (!Q4)
      return _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(b0 + 2))),
                                _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b1 + 2)), 1);
    const __m128i q0 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b0 + 2));
    const __m128i q1 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b1 + 2));
    const __m512i v = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_set_m128i(_mm_srli_epi16(q0, 4), q0)),
                                         _mm256_set_m128i(_mm_srli_epi16(q1, 4), q1), 1);
    return _mm512_sub_epi8(_mm512_and_si512(v, m4), off);
  };
  __m256 acc[NT];
  float seq[NT];
  for (int t = 0; t < NT; ++t) { acc[t] = _mm256_setzero_ps(); seq[t] = 0; }
  int64_t i = 0;
  for (; i + 2 <= nb; i += 2) {
    const __m512i qx = codes(i);
    const __m512i ax = _mm512_abs_epi8(qx);
    const __mmask64 neg = _mm512_movepi8_mask(qx);
    const float xd0 = load_half(w + i * bs), xd1 = load_half(w + (i + 1) * bs);
    for (int t = 0; t < NT; ++t) {
      const auto* y = reinterpret_cast<const BlockQ8_0*>(a + t * a_stride) + i;
      const __m512i qy = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(y[0].qs))),
                                            _mm256_loadu_si256(reinterpret_cast<const __m256i*>(y[1].qs)), 1);
      const __m512i sy = _mm512_mask_sub_epi8(qy, neg, _mm512_setzero_si512(), qy);
      const __m512i pi = dot_u8i8(ax, sy);
      if constexpr (SEQ) {
        seq[t] = fma1(hsum_i(_mm512_castsi512_si256(pi)), xd0 * load_half(y[0].d), seq[t]);
        seq[t] = fma1(hsum_i(_mm512_extracti64x4_epi64(pi, 1)), xd1 * load_half(y[1].d), seq[t]);
        continue;
      }
      const __m512 p = _mm512_cvtepi32_ps(pi);
      acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(xd0 * load_half(y[0].d)), _mm512_castps512_ps256(p), acc[t]);
      acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(xd1 * load_half(y[1].d)),
                               _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(p), 1)), acc[t]);
    }
  }
  if (i < nb) {  // odd block count: the last block alone in the low half
    __m256i q;  // not codes(): it would read past the row end
    if (!Q4) {
      q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + i * bs + 2));
    } else {
      const __m128i q0 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(w + i * bs + 2));
      q = _mm256_sub_epi8(_mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(q0, 4), q0), _mm256_set1_epi8(0x0F)),
                          _mm256_set1_epi8(8));
    }
    const __m256i ax = _mm256_sign_epi8(q, q);
    const float xd = load_half(w + i * bs);
    for (int t = 0; t < NT; ++t) {
      const auto& y = reinterpret_cast<const BlockQ8_0*>(a + t * a_stride)[i];
      const __m256i qy = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(y.qs));
      const __m256i p = _mm256_madd_epi16(_mm256_maddubs_epi16(ax, _mm256_sign_epi8(qy, q)), _mm256_set1_epi16(1));
      if constexpr (SEQ) seq[t] = fma1(hsum_i(p), xd * load_half(y.d), seq[t]);
      else acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(xd * load_half(y.d)), _mm256_cvtepi32_ps(p), acc[t]);
    }
  }
  for (int t = 0; t < NT; ++t) out[t] = SEQ ? seq[t] : hsum(acc[t]);
}

// Q5_0 / Q4_1 / Q5_1: one block per ymm, same float sequence as the AVX2 kernel
// (and qdot.cpp's dot_q45_lanes); the fifth bits come straight from a mask register.
struct BlockQ8_1v { uint8_t d[2]; uint8_t s[2]; int8_t qs[32]; };

inline __m256i dot_u8i8_256(__m256i u, __m256i v) {
#if LARQL_QDOT_VNNI
  return _mm256_dpbusd_epi32(_mm256_setzero_si256(), u, v);
#else
  return _mm256_madd_epi16(_mm256_maddubs_epi16(u, v), _mm256_set1_epi16(1));
#endif
}

template <int NT, class Block, bool MIN, bool FIVE>
void dot_q45_n(const uint8_t* w, const uint8_t* a, size_t a_stride, int64_t nb, float* out) {
  const auto* x = reinterpret_cast<const Block*>(w);
  const __m256i m4 = _mm256_set1_epi8(0x0F), h16 = _mm256_set1_epi8(0x10);
  __m256 acc[NT];
  float summs[NT];
  for (int t = 0; t < NT; ++t) { acc[t] = _mm256_setzero_ps(); summs[t] = 0; }
  for (int64_t i = 0; i < nb; ++i) {
    const __m128i q = _mm_loadu_si128(reinterpret_cast<const __m128i*>(x[i].qs));
    __m256i qx = _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(q, 4), q), m4);
    if constexpr (FIVE) {
      uint32_t qh;
      std::memcpy(&qh, x[i].qh, 4);
      qx = _mm256_or_si256(qx, _mm256_maskz_mov_epi8(static_cast<__mmask32>(qh), h16));
    }
    __mmask32 neg = 0;
    if constexpr (!MIN) {  // Q5_0: |code| times y with the code's sign
      qx = _mm256_sub_epi8(qx, h16);
      neg = _mm256_movepi8_mask(qx);
      qx = _mm256_abs_epi8(qx);
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
      if constexpr (!MIN) qy = _mm256_mask_sub_epi8(qy, neg, _mm256_setzero_si256(), qy);
      acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(xd * yd), _mm256_cvtepi32_ps(dot_u8i8_256(qx, qy)), acc[t]);
    }
  }
  for (int t = 0; t < NT; ++t) out[t] = hsum(acc[t]) + summs[t];
}

// nt activation rows (a_stride bytes apart) against one weight row, nt >= 1.
template <bool SEQ>
void dot_rows_t(GGMLType type, const uint8_t* w, const uint8_t* a, size_t a_stride, int64_t n, int nt, float* out) {
  auto run = [&](auto k1, auto k4, auto k8, int64_t nb) {
    while (nt >= 8) { k8(a, nb); a += 8 * a_stride; out += 8; nt -= 8; }
    if (nt >= 4) { k4(a, nb); a += 4 * a_stride; out += 4; nt -= 4; }
    while (nt > 0) { k1(a, nb); a += a_stride; out += 1; nt -= 1; }
  };
  switch (type) {
    case GGMLType::Q4_K: case GGMLType::Q5_K: {
      const bool five = type == GGMLType::Q5_K;
      run([&](const uint8_t* p, int64_t nb) { dot_q4_k_n<1, SEQ>(w, p, a_stride, nb, five, out); },
          [&](const uint8_t* p, int64_t nb) { dot_q4_k_n<4, SEQ>(w, p, a_stride, nb, five, out); },
          [&](const uint8_t* p, int64_t nb) { dot_q4_k_n<8, SEQ>(w, p, a_stride, nb, five, out); }, n / 256);
      return;
    }
    case GGMLType::Q6_K:
      run([&](const uint8_t* p, int64_t nb) { dot_q6_k_n<1, SEQ>(w, p, a_stride, nb, out); },
          [&](const uint8_t* p, int64_t nb) { dot_q6_k_n<4, SEQ>(w, p, a_stride, nb, out); },
          [&](const uint8_t* p, int64_t nb) { dot_q6_k_n<8, SEQ>(w, p, a_stride, nb, out); }, n / 256);
      return;
    case GGMLType::Q8_0:
      run([&](const uint8_t* p, int64_t nb) { dot_q8_0_n<1, false, SEQ>(w, p, a_stride, nb, out); },
          [&](const uint8_t* p, int64_t nb) { dot_q8_0_n<4, false, SEQ>(w, p, a_stride, nb, out); },
          [&](const uint8_t* p, int64_t nb) { dot_q8_0_n<8, false, SEQ>(w, p, a_stride, nb, out); }, n / 32);
      return;
    case GGMLType::Q4_0:
      run([&](const uint8_t* p, int64_t nb) { dot_q8_0_n<1, true, SEQ>(w, p, a_stride, nb, out); },
          [&](const uint8_t* p, int64_t nb) { dot_q8_0_n<4, true, SEQ>(w, p, a_stride, nb, out); },
          [&](const uint8_t* p, int64_t nb) { dot_q8_0_n<8, true, SEQ>(w, p, a_stride, nb, out); }, n / 32);
      return;
    case GGMLType::Q5_0: case GGMLType::Q4_1: case GGMLType::Q5_1:
      if constexpr (!SEQ) {
        auto go = [&](auto blk, auto min_t, auto five_t) {
          using B = decltype(blk);
          constexpr bool M = decltype(min_t)::value, F = decltype(five_t)::value;
          run([&](const uint8_t* p, int64_t nb) { dot_q45_n<1, B, M, F>(w, p, a_stride, nb, out); },
              [&](const uint8_t* p, int64_t nb) { dot_q45_n<4, B, M, F>(w, p, a_stride, nb, out); },
              [&](const uint8_t* p, int64_t nb) { dot_q45_n<8, B, M, F>(w, p, a_stride, nb, out); }, n / 32);
        };
        if (type == GGMLType::Q5_0) go(BlockQ5_0{}, std::false_type{}, std::true_type{});
        else if (type == GGMLType::Q4_1) go(BlockQ4_1{}, std::true_type{}, std::false_type{});
        else go(BlockQ5_1{}, std::true_type{}, std::true_type{});
      }
      return;
    default: return;
  }
}

void dot_rows(GGMLType type, const uint8_t* w, const uint8_t* a, size_t a_stride, int64_t n, int nt, float* out) {
  dot_rows_t<false>(type, w, a, a_stride, n, nt, out);
}
void seq_rows(GGMLType type, const uint8_t* w, const uint8_t* a, size_t a_stride, int64_t n, int nt, float* out) {
  dot_rows_t<true>(type, w, a, a_stride, n, nt, out);
}

}  // namespace larql::qdot::LARQL_QDOT_NS
