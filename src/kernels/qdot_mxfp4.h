// MXFP4 weights x Q8_0 activations (internal to src/kernels; qdot.cpp routes
// GGMLType::MXFP4 here). Per block of 32: the E2M1 codes doubled are the
// integers {0,1,2,3,4,6,8,12} (sign in bit 3), so the block's dot with the
// int8 activations is an exact integer sum S, and the result is
//   sum_b fp16(d_a) * 2^(e_b - 128) * S_b
// accumulated in float in block order, like ggml's vec_dot_mxfp4_q8_0. Every
// ISA computes S exactly and accumulates in that same scalar order, so all
// variants give the same bits.
#pragma once
#include <cstddef>
#include <cstdint>

#include "kernels/qdot.h"

namespace larql::qdot::mxfp4 {

// One weight row of nb blocks against one Q8_0 activation row.
float dot_scalar(const uint8_t* w, const uint8_t* a, int64_t nb);
// nt activation rows (stride bytes apart): out[0..nt). Families without an
// MXFP4 kernel use the next one down (AVX-512 uses the AVX2 kernel).
void dot_rows(Isa family, const uint8_t* w, const uint8_t* a, size_t stride, int64_t n, int nt, float* out);

}  // namespace larql::qdot::mxfp4
