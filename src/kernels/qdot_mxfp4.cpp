// MXFP4 x Q8_0 integer dot products; see qdot_mxfp4.h.
#include "kernels/qdot_mxfp4.h"

#include <cstring>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "util/cpu.h"
#include "util/half.h"

namespace larql::qdot::mxfp4 {

namespace {

constexpr int8_t kCodes[16] = {0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12};
constexpr int64_t kWBlock = 17, kABlock = 34;  // {e8m0, qs[16]} and {fp16 d, int8 qs[32]}

// 2^(e - 128) as float bits (ggml's E8M0 "half" scale; e < 2 are subnormals).
float e8m0_half(uint8_t e) {
  const uint32_t bits = e < 2 ? (0x00200000u << e) : (static_cast<uint32_t>(e - 1) << 23);
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

float block_scale(const uint8_t* wb, const uint8_t* ab) {
  uint16_t h;
  std::memcpy(&h, ab, 2);
  return fp16_to_fp32(h) * e8m0_half(wb[0]);
}

int32_t block_sum_scalar(const uint8_t* wb, const uint8_t* ab) {
  const uint8_t* qs = wb + 1;
  const auto* q8 = reinterpret_cast<const int8_t*>(ab + 2);
  int32_t s = 0;
  for (int j = 0; j < 16; ++j) s += kCodes[qs[j] & 0x0F] * q8[j] + kCodes[qs[j] >> 4] * q8[j + 16];
  return s;
}

// The float accumulation every variant shares. Kept out of line (and out of
// the SIMD target) so the compiler cannot fuse it into FMAs for one ISA only.
__attribute__((noinline)) float accumulate(const uint8_t* w, const uint8_t* a, const int32_t* sums, int64_t nb,
                                           float acc) {
  for (int64_t b = 0; b < nb; ++b) {
    const float d = block_scale(w + b * kWBlock, a + b * kABlock);
    acc += d * static_cast<float>(sums[b]);
  }
  return acc;
}

#if defined(__x86_64__)
#define LARQL_MXFP4_AVX2 __attribute__((target("avx2")))

// Exact integer sums of chunk blocks: codes expanded through a 16-entry
// shuffle table, products summed as |w| (unsigned) x sign-adjusted a.
LARQL_MXFP4_AVX2 void block_sums_avx2(const uint8_t* w, const uint8_t* a, int64_t nb, int32_t* sums) {
  const __m128i table = _mm_loadu_si128(reinterpret_cast<const __m128i*>(kCodes));
  const __m128i low4 = _mm_set1_epi8(0x0F);
  const __m256i ones = _mm256_set1_epi16(1);
  for (int64_t b = 0; b < nb; ++b) {
    const __m128i q = _mm_loadu_si128(reinterpret_cast<const __m128i*>(w + b * kWBlock + 1));
    const __m128i lo = _mm_shuffle_epi8(table, _mm_and_si128(q, low4));
    const __m128i hi = _mm_shuffle_epi8(table, _mm_and_si128(_mm_srli_epi16(q, 4), low4));
    const __m256i wv = _mm256_set_m128i(hi, lo);
    const __m256i av = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a + b * kABlock + 2));
    const __m256i p16 = _mm256_maddubs_epi16(_mm256_sign_epi8(wv, wv), _mm256_sign_epi8(av, wv));
    const __m256i p32 = _mm256_madd_epi16(p16, ones);
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(p32), _mm256_extracti128_si256(p32, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4E));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xB1));
    sums[b] = _mm_cvtsi128_si32(s);
  }
}
#endif

constexpr int64_t kChunk = 64;  // blocks per integer pass (2048 elements)

float dot_avx2(const uint8_t* w, const uint8_t* a, int64_t nb) {
  int32_t sums[kChunk];
  float acc = 0;
  for (int64_t b0 = 0; b0 < nb; b0 += kChunk) {
    const int64_t c = nb - b0 < kChunk ? nb - b0 : kChunk;
#if defined(__x86_64__)
    block_sums_avx2(w + b0 * kWBlock, a + b0 * kABlock, c, sums);
#endif
    acc = accumulate(w + b0 * kWBlock, a + b0 * kABlock, sums, c, acc);
  }
  return acc;
}

}  // namespace

float dot_scalar(const uint8_t* w, const uint8_t* a, int64_t nb) {
  int32_t sums[kChunk];
  float acc = 0;
  for (int64_t b0 = 0; b0 < nb; b0 += kChunk) {
    const int64_t c = nb - b0 < kChunk ? nb - b0 : kChunk;
    for (int64_t b = 0; b < c; ++b) sums[b] = block_sum_scalar(w + (b0 + b) * kWBlock, a + (b0 + b) * kABlock);
    acc = accumulate(w + b0 * kWBlock, a + b0 * kABlock, sums, c, acc);
  }
  return acc;
}

void dot_rows(Isa family, const uint8_t* w, const uint8_t* a, size_t stride, int64_t n, int nt, float* out) {
  const int64_t nb = n / 32;
  bool simd = false;
#if defined(__x86_64__)
  simd = family != Isa::Scalar && isa_available(Isa::Avx2);
#endif
  for (int t = 0; t < nt; ++t)
    out[t] = simd ? dot_avx2(w, a + t * stride, nb) : dot_scalar(w, a + t * stride, nb);
}

}  // namespace larql::qdot::mxfp4
