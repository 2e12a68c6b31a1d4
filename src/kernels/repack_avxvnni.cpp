// Packed-layout kernels (repack.h) for CPUs with AVX-VNNI but no AVX-512
// (Intel 12th-14th gen Core, ...): the 256-bit kernels of repack_ymm_inl.h
// with the VEX-encoded vpdpbusd. Exact for every packed type (u8 codes x s8
// activations, summed in int32). Headers come before the target pragma so
// nothing shared is built for AVX-VNNI.
#include <immintrin.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "kernels/repack.h"
#include "tensor/quants_impl.h"

#if defined(__clang__)
namespace larql::repack::avxvnni {
void gemm(const Packed&, const uint8_t*, size_t, const int32_t*, size_t, int, int64_t, int64_t, float*, int64_t) {
  std::abort();  // clang builds leave the GCC-pragma kernels out (repack::enabled() is false there)
}
}  // namespace larql::repack::avxvnni
#else
#pragma GCC push_options
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC target("avxvnni,avx2,fma,f16c")

namespace larql::repack::avxvnni {

using namespace larql::quant;

namespace {
constexpr bool kNativeDp = true;
inline __m256i dp(__m256i acc, __m256i u, __m256i a) { return _mm256_dpbusd_avx_epi32(acc, u, a); }
}  // namespace

#include "kernels/repack_ymm_inl.h"

void gemm(const Packed& p, const uint8_t* act, size_t as, const int32_t* aux, size_t xs, int nt, int64_t g0,
          int64_t g1, float* y, int64_t ldy) {
  run(p, act, as, aux, xs, nt, g0, g1, y, ldy);
}

}  // namespace larql::repack::avxvnni

#pragma GCC pop_options
#endif
