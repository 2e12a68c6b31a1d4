// AVX-512 + VNNI (vpdpwssd / vpdpbusd) integer dot products; see qdot_avx512_impl.h.
// Every header is included before the target pragma so no inline function
// shared with other files is compiled for AVX-512.
#include <immintrin.h>

#include <cmath>
#include <cstring>
#include <type_traits>

#include "kernels/qdot_simd.h"
#include "tensor/quants_impl.h"

#if defined(__clang__)
// clang ignores `#pragma GCC target`; clang builds (the fuzzers) leave these
// kernels out and qdot::isa_available() reports the family as absent.
#include <cstdlib>
namespace larql::qdot::avx512vnni {
void dot_rows(GGMLType, const uint8_t*, const uint8_t*, size_t, int64_t, int, float*) { std::abort(); }
void seq_rows(GGMLType, const uint8_t*, const uint8_t*, size_t, int64_t, int, float*) { std::abort(); }
}  // namespace larql::qdot::avx512vnni
#else
#pragma GCC push_options
// GCC 12 warns about the deliberately undefined upper halves in its own cast intrinsics.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,avx2,fma,f16c")
#define LARQL_QDOT_NS avx512vnni
#define LARQL_QDOT_VNNI 1
#include "kernels/qdot_avx512_impl.h"
#pragma GCC pop_options
#endif
