// SIMD versions of element-wise and activation-quantizing loops whose scalar
// definitions live in ops.cpp (silu) and qdot.cpp (ggml's Q8_0 / Q8_1 / Q8_K
// activation quantizers). Each lane performs the scalar reference's exact
// operation sequence, so results are bit-identical; tests compare them.
// Internal to the kernels module: callers use ops::swiglu and
// qdot::quantize_act, which choose a version at run time.
#pragma once
#include <cstdint>

namespace larql::vec {

// out[i] = ops::silu(g[i]) * u[i].
// quant_q8_k: nb blocks of 256 floats into BlockQ8_K (ggml's quantize_row_q8_K_ref).
// quant_q8_0: nb blocks of 32 floats into BlockQ8_0, or BlockQ8_1 (d, d * sum) when with_sum.
// The quantizers return false when a block holds a NaN; the caller then
// quantizes the row with the scalar reference.
namespace avx512 {
void swiglu(const float* g, const float* u, float* out, int64_t n);
bool quant_q8_k(const float* x, uint8_t* out, int64_t nb);
bool quant_q8_0(const float* x, uint8_t* out, int64_t nb, bool with_sum);
}  // namespace avx512
namespace avx2 {
void swiglu(const float* g, const float* u, float* out, int64_t n);
bool quant_q8_k(const float* x, uint8_t* out, int64_t nb);
bool quant_q8_0(const float* x, uint8_t* out, int64_t nb, bool with_sum);
}  // namespace avx2

}  // namespace larql::vec
