// Quantized dot products with activations quantized the way ggml's CPU backend
// does it (Q8_0 / Q8_1 / Q8_K blocks, F16 / BF16 rows): integer sums inside a
// block, one float multiply per block. This is what makes LARQL's logits agree
// with llama.cpp's to ~1e-4 on quantized models rather than ~1e-1.
#pragma once
#include <cstddef>
#include <cstdint>

#include "format/ggml_types.h"

namespace larql::qdot {

// The activation encoding ggml pairs with a weight type (its vec_dot_type).
GGMLType act_type(GGMLType weight_type);
// Bytes of n activations in act_type(w).
size_t act_bytes(GGMLType weight_type, int64_t n);
// Quantizes n floats for products with weight_type (n a multiple of its block size).
void quantize_act(GGMLType weight_type, const float* x, int64_t n, uint8_t* out);
// quantize_act with the portable reference whatever the CPU (the SIMD
// quantizers are tested against it byte for byte).
void quantize_act_scalar(GGMLType weight_type, const float* x, int64_t n, uint8_t* out);
// True when dot() has an integer path for this weight type.
bool supported(GGMLType weight_type);
// sum_i w[i] * x[i] for one weight row and one quantized activation row.
// Uses the best SIMD variant the CPU has (AVX2) unless LARQL_FORCE_SCALAR is set.
float dot(GGMLType weight_type, const uint8_t* w_row, const uint8_t* act, int64_t n);
// dot() for 4 activation rows at once (a, a + stride, ...): out[0..3]. Same
// results as four dot() calls; faster where the weight block is unpacked once.
void dot4(GGMLType weight_type, const uint8_t* w_row, const uint8_t* act, size_t act_stride, int64_t n, float* out);
// The portable reference every SIMD variant is tested against.
float dot_scalar(GGMLType weight_type, const uint8_t* w_row, const uint8_t* act, int64_t n);

// Kernel families, chosen at run time from the CPU's features. LARQL_FORCE_SCALAR=1
// forces Scalar; LARQL_QDOT_ISA=scalar|avx2|avxvnni|avx512|avx512vnni caps the
// choice (for benchmarks). Types a family has no kernel for use the next one
// down. AvxVnni (AVX2 + the VEX vpdpbusd, no AVX-512) has packed kernels only
// (kernels/repack.h); its row-major products and quantizers are the AVX2 ones.
enum class Isa { Scalar, Avx2, AvxVnni, Avx512, Avx512Vnni };
Isa isa();                      // the family dot()/dot4()/dot_rows() use
bool isa_available(Isa family); // the CPU can run it
const char* isa_name(Isa family);
// nt activation rows (a, a + stride, ...) against one weight row: out[0..nt).
// Same results as nt dot() calls; the weight block is unpacked once per 8 (AVX-512)
// or 4 (AVX2) rows.
void dot_rows(GGMLType weight_type, const uint8_t* w_row, const uint8_t* act, size_t act_stride, int64_t n, int nt,
              float* out);
// dot_rows() with an explicit family (tests compare every family with Scalar).
void dot_rows(Isa family, GGMLType weight_type, const uint8_t* w_row, const uint8_t* act, size_t act_stride,
              int64_t n, int nt, float* out);

// llama.cpp's AMX-path order (docs/numerics.md): per output one float
// accumulator, fed block by block an exact integer sum S as fma(S, d_w*d_a, acc).
// Every ISA gives the same bits. seq_order() says whether a plain (non-expert)
// product of this type and row count takes it; otherwise dot_rows' order applies.
bool seq_order(GGMLType weight_type, int64_t n_out);
void seq_rows(GGMLType weight_type, const uint8_t* w_row, const uint8_t* act, size_t act_stride, int64_t n, int nt,
              float* out);
void seq_rows(Isa family, GGMLType weight_type, const uint8_t* w_row, const uint8_t* act, size_t act_stride,
              int64_t n, int nt, float* out);
// The portable reference of the sequential order.
float dot_seq_scalar(GGMLType weight_type, const uint8_t* w_row, const uint8_t* act, int64_t n);

}  // namespace larql::qdot
