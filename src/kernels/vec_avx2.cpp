// AVX2 + FMA versions of vec_simd.h: 8 floats per vector.
#include <immintrin.h>

#include <cmath>

#include <cstring>

#include "kernels/exp_simd_inl.h"
#include "kernels/ops.h"
#include "kernels/vec_simd.h"
#include "tensor/quants_impl.h"
#include "util/half.h"

namespace larql::vec::avx2 {

#define LARQL_AVX2 __attribute__((target("avx2,fma")))

namespace {
LARQL_AVX2 inline __m256 silu_mul(__m256 g, __m256 u) {
  const __m256 e = simd::exp8(_mm256_sub_ps(_mm256_setzero_ps(), g));  // -g is exact
  return _mm256_mul_ps(_mm256_div_ps(g, _mm256_add_ps(_mm256_set1_ps(1.0f), e)), u);
}
LARQL_AVX2 inline __m256 abs8(__m256 v) { return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), v); }
LARQL_AVX2 inline bool has_nan(__m256 v) { return _mm256_movemask_ps(_mm256_cmp_ps(v, v, _CMP_UNORD_Q)) != 0; }
LARQL_AVX2 inline float hmax(__m256 v) {
  __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  m = _mm_max_ps(m, _mm_movehl_ps(m, m));
  m = _mm_max_ss(m, _mm_movehdup_ps(m));
  return _mm_cvtss_f32(m);
}
LARQL_AVX2 inline int hsum(__m256i v) {
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4E));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xB1));
  return _mm_cvtsi128_si32(s);
}
// nearbyint(s * x) as int32 (round half to even, the default mode).
LARQL_AVX2 inline __m256i round_mul(__m256 x, __m256 s) {
  return _mm256_cvtps_epi32(_mm256_round_ps(_mm256_mul_ps(x, s), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
}
// 32 int32 codes (within int8 range) to 32 bytes in order.
LARQL_AVX2 inline void store32(int8_t* o, __m256i a, __m256i b, __m256i c, __m256i d) {
  const __m256i ab = _mm256_packs_epi32(a, b), cd = _mm256_packs_epi32(c, d);
  const __m256i p = _mm256_packs_epi16(ab, cd);  // per 128-bit lane: a0-3 b0-3 c0-3 d0-3 | a4-7 b4-7 c4-7 d4-7
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(o),
                      _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7)));
}
}  // namespace

LARQL_AVX2 void swiglu(const float* g, const float* u, float* out, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(out + i, silu_mul(_mm256_loadu_ps(g + i), _mm256_loadu_ps(u + i)));
  for (; i < n; ++i) out[i] = ops::silu(g[i]) * u[i];
}

LARQL_AVX2 bool quant_q8_k(const float* x, uint8_t* out, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, x += 256) {
    auto& b = reinterpret_cast<quant::BlockQ8_K*>(out)[i];
    __m256 am = _mm256_setzero_ps();
    bool nan = false;
    for (int k = 0; k < 32; ++k) {
      const __m256 v = _mm256_loadu_ps(x + 8 * k);
      nan |= has_nan(v);
      am = _mm256_max_ps(am, abs8(v));
    }
    if (nan) return false;
    const float amax = hmax(am);
    if (amax == 0.f) {
      std::memset(&b, 0, sizeof b);
      continue;
    }
    float mx = 0;  // the first element of largest magnitude, as the reference
    for (int j = 0; j < 256; ++j)
      if (std::fabs(x[j]) == amax) {
        mx = x[j];
        break;
      }
    const float iscale = -127.f / mx;
    const __m256 s = _mm256_set1_ps(iscale);
    const __m256i cap = _mm256_set1_epi32(127);
    int16_t bsums[16];
    for (int k = 0; k < 8; ++k) {
      __m256i q[4];
      for (int r = 0; r < 4; ++r) q[r] = _mm256_min_epi32(round_mul(_mm256_loadu_ps(x + 32 * k + 8 * r), s), cap);
      store32(b.qs + 32 * k, q[0], q[1], q[2], q[3]);
      bsums[2 * k] = static_cast<int16_t>(hsum(_mm256_add_epi32(q[0], q[1])));
      bsums[2 * k + 1] = static_cast<int16_t>(hsum(_mm256_add_epi32(q[2], q[3])));
    }
    std::memcpy(b.bsums, bsums, sizeof bsums);
    const float d = 1.f / iscale;
    std::memcpy(b.d, &d, 4);
  }
  return true;
}

LARQL_AVX2 bool quant_q8_0(const float* x, uint8_t* out, int64_t nb, bool with_sum) {
  const size_t stride = with_sum ? 36 : sizeof(quant::BlockQ8_0);  // BlockQ8_1: d, s, qs[32]
  for (int64_t i = 0; i < nb; ++i, x += 32) {
    uint8_t* blk = out + static_cast<size_t>(i) * stride;
    __m256 v[4];
    bool nan = false;
    for (int r = 0; r < 4; ++r) {
      v[r] = _mm256_loadu_ps(x + 8 * r);
      nan |= has_nan(v[r]);
    }
    if (nan) return false;
    const float amax = hmax(_mm256_max_ps(_mm256_max_ps(abs8(v[0]), abs8(v[1])), _mm256_max_ps(abs8(v[2]), abs8(v[3]))));
    const float d = amax / 127.f, id = amax != 0.f ? 127.f / amax : 0.f;
    const __m256 s = _mm256_set1_ps(id);
    __m256i q[4];
    for (int r = 0; r < 4; ++r) q[r] = round_mul(v[r], s);
    store32(reinterpret_cast<int8_t*>(blk + (with_sum ? 4 : 2)), q[0], q[1], q[2], q[3]);
    quant::store_half(blk, d);
    if (with_sum)
      quant::store_half(blk + 2, d * static_cast<float>(hsum(_mm256_add_epi32(_mm256_add_epi32(q[0], q[1]),
                                                                            _mm256_add_epi32(q[2], q[3])))));
  }
  return true;
}

}  // namespace larql::vec::avx2
