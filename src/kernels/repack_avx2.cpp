// Packed-layout kernels (repack.h) for AVX2 CPUs without VNNI (Zen 2/3, older
// Intel): the 256-bit kernels of repack_ymm_inl.h with vpdpbusd emulated as
// vpmaddubsw (u8 x s8 pairs summed to int16, saturating) + vpmaddwd by 1.
// Exact only while a pair sum stays within int16: 2 x 63 x 128 < 32767 for the
// 4/5/6-bit codes of Q4_0, Q5_0, Q4_K, Q5_K, Q6_K; Q8_0's 0..255 codes would
// saturate, so its kernel multiplies |w| by a * sgn(w) (micro_q8_0).
#include <immintrin.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "kernels/repack.h"
#include "tensor/quants_impl.h"

namespace larql::repack::avx2 {
bool handles(GGMLType t) {
  return t == GGMLType::Q8_0 || t == GGMLType::Q4_0 || t == GGMLType::Q5_0 || t == GGMLType::Q4_K ||
         t == GGMLType::Q5_K || t == GGMLType::Q6_K;
}
}  // namespace larql::repack::avx2

#if defined(__clang__)
namespace larql::repack::avx2 {
void gemm(const Packed&, const uint8_t*, size_t, const int32_t*, size_t, int, int64_t, int64_t, float*, int64_t) {
  std::abort();  // clang builds leave the GCC-pragma kernels out (repack::enabled() is false there)
}
}  // namespace larql::repack::avx2
#else
#pragma GCC push_options
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC target("avx2,fma,f16c")

namespace larql::repack::avx2 {

using namespace larql::quant;

namespace {
constexpr bool kNativeDp = false;
inline __m256i dp(__m256i acc, __m256i u, __m256i a) {
  return _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(u, a), _mm256_set1_epi16(1)));
}
}  // namespace

#include "kernels/repack_ymm_inl.h"

void gemm(const Packed& p, const uint8_t* act, size_t as, const int32_t* aux, size_t xs, int nt, int64_t g0,
          int64_t g1, float* y, int64_t ldy) {
  run(p, act, as, aux, xs, nt, g0, g1, y, ldy);
}

}  // namespace larql::repack::avx2

#pragma GCC pop_options
#endif
