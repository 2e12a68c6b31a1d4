// Row (de)quantization between float32 and GGML's on-disk tensor types.
//
// Every function works on one contiguous run of n elements whose encoded form
// is n / block_size blocks laid out exactly as GGML stores them (see
// src/format/ggml_types.h for ids and block sizes, docs/tensor-types.md for
// the bit layouts). Bad arguments (unsupported type, negative n, n not a
// multiple of the block size, null pointers with n > 0) throw larql::Error.
// The caller guarantees that src/dst hold n elements' worth of bytes
// (ggml_row_size(t, n)); the functions never touch anything beyond that.
//
// These are the portable scalar reference versions; SIMD matmul kernels live
// elsewhere and are tested against these.
#pragma once
#include <cstdint>

#include "format/ggml_types.h"

namespace larql {

// F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, Q8_K, MXFP4.
bool can_dequantize(GGMLType t);
// F32, F16, BF16, Q8_0, Q4_0, Q5_0, Q5_1, Q4_K, Q5_K, Q6_K, Q8_K, MXFP4.
bool can_quantize(GGMLType t);

// Decodes n elements of type t at src into n floats at dst.
void dequantize_row(GGMLType t, const void* src, float* dst, int64_t n);

// Encodes n floats at src as type t into ggml_row_size(t, n) bytes at dst.
// Q8_0 and Q8_K reproduce ggml's reference rounding bit for bit; Q4_0 and the
// K-quants search per (sub-)block for the scale (and min) that minimise a
// weighted squared error, like llama.cpp's quantizer does.
void quantize_row(GGMLType t, const float* src, void* dst, int64_t n);

// As above, with an optional per-element importance vector (length n, all
// >= 0; nullptr = none), e.g. mean squared activations per input column from
// an imatrix run. It steers the scale search of Q4_0 and the K-quants towards
// the elements that matter for the output; the other types ignore it.
void quantize_row(GGMLType t, const float* src, void* dst, int64_t n, const float* importance);

}  // namespace larql
