// AVX-512 versions of vec_simd.h: 16 floats per vector.
#include <immintrin.h>

#include <cmath>

#include <cstring>

#include "kernels/exp_simd_inl.h"
#include "kernels/ops.h"
#include "kernels/vec_simd.h"
#include "tensor/quants_impl.h"
#include "util/half.h"

#if defined(__GNUC__) && !defined(__clang__)
// GCC 12 warns about the deliberately undefined upper halves in its own reduce intrinsics.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

namespace larql::vec::avx512 {

#define LARQL_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx2,fma")))

namespace {
LARQL_AVX512 inline __m512 silu_mul(__m512 g, __m512 u) {
  const __m512 e = simd::exp16(_mm512_sub_ps(_mm512_setzero_ps(), g));  // -g is exact
  return _mm512_mul_ps(_mm512_div_ps(g, _mm512_add_ps(_mm512_set1_ps(1.0f), e)), u);
}
LARQL_AVX512 inline __m512 abs16(__m512 v) {
  return _mm512_castsi512_ps(_mm512_and_si512(_mm512_castps_si512(v), _mm512_set1_epi32(0x7fffffff)));
}
LARQL_AVX512 inline bool has_nan(__m512 v) { return _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q) != 0; }
// nearbyint(s * x) as int32 (round half to even, the default mode).
LARQL_AVX512 inline __m512i round_mul(__m512 x, __m512 s) {
  return _mm512_cvtps_epi32(_mm512_roundscale_ps(_mm512_mul_ps(x, s), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
}
}  // namespace

LARQL_AVX512 void swiglu(const float* g, const float* u, float* out, int64_t n) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) _mm512_storeu_ps(out + i, silu_mul(_mm512_loadu_ps(g + i), _mm512_loadu_ps(u + i)));
  if (i < n) {
    const __mmask16 m = static_cast<__mmask16>((1u << (n - i)) - 1u);
    _mm512_mask_storeu_ps(out + i, m, silu_mul(_mm512_maskz_loadu_ps(m, g + i), _mm512_maskz_loadu_ps(m, u + i)));
  }
}

LARQL_AVX512 bool quant_q8_k(const float* x, uint8_t* out, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, x += 256) {
    auto& b = reinterpret_cast<quant::BlockQ8_K*>(out)[i];
    __m512 v[16];
    __m512 am = _mm512_setzero_ps();
    bool nan = false;
    #pragma GCC unroll 16
    for (int k = 0; k < 16; ++k) {
      v[k] = _mm512_loadu_ps(x + 16 * k);
      nan |= has_nan(v[k]);
      am = _mm512_max_ps(am, abs16(v[k]));
    }
    if (nan) return false;
    const float amax = _mm512_reduce_max_ps(am);
    if (amax == 0.f) {
      std::memset(&b, 0, sizeof b);
      continue;
    }
    // The reference keeps the first element of largest magnitude (its sign matters).
    const __m512 va = _mm512_set1_ps(amax);
    float mx = 0;
    for (int k = 0; k < 16; ++k)
      if (const __mmask16 hit = _mm512_cmp_ps_mask(abs16(v[k]), va, _CMP_EQ_OQ)) {
        mx = x[16 * k + __builtin_ctz(hit)];
        break;
      }
    const float iscale = -127.f / mx;
    const __m512 s = _mm512_set1_ps(iscale);
    int16_t bsums[16];
    #pragma GCC unroll 16
    for (int k = 0; k < 16; ++k) {
      const __m512i q = _mm512_min_epi32(round_mul(v[k], s), _mm512_set1_epi32(127));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(b.qs + 16 * k), _mm512_cvtepi32_epi8(q));
      bsums[k] = static_cast<int16_t>(_mm512_reduce_add_epi32(q));
    }
    std::memcpy(b.bsums, bsums, sizeof bsums);
    const float d = 1.f / iscale;
    std::memcpy(b.d, &d, 4);
  }
  return true;
}

LARQL_AVX512 bool quant_q8_0(const float* x, uint8_t* out, int64_t nb, bool with_sum) {
  const size_t stride = with_sum ? 36 : sizeof(quant::BlockQ8_0);  // BlockQ8_1: d, s, qs[32]
  for (int64_t i = 0; i < nb; ++i, x += 32) {
    uint8_t* blk = out + static_cast<size_t>(i) * stride;
    const __m512 v0 = _mm512_loadu_ps(x), v1 = _mm512_loadu_ps(x + 16);
    if (has_nan(v0) || has_nan(v1)) return false;
    const float amax = _mm512_reduce_max_ps(_mm512_max_ps(abs16(v0), abs16(v1)));
    const float d = amax / 127.f, id = amax != 0.f ? 127.f / amax : 0.f;
    const __m512 s = _mm512_set1_ps(id);
    const __m512i q0 = round_mul(v0, s), q1 = round_mul(v1, s);
    int8_t* qs = reinterpret_cast<int8_t*>(blk + (with_sum ? 4 : 2));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(qs), _mm512_cvtepi32_epi8(q0));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(qs + 16), _mm512_cvtepi32_epi8(q1));
    quant::store_half(blk, d);
    if (with_sum) {
      const int sum = _mm512_reduce_add_epi32(_mm512_add_epi32(q0, q1));
      quant::store_half(blk + 2, d * static_cast<float>(sum));
    }
  }
  return true;
}

}  // namespace larql::vec::avx512
