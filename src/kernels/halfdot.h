// Products of F16 / BF16 weight rows with float activations rounded to the
// weight's type, in ggml's two float orders (docs/numerics.md):
//  - lanes16 (its llamafile GEMM, prefill): lane L accumulates k = L mod 16 by
//    fma in increasing k, then the 16-lane tree of f32dot.h;
//  - dot4x16 (its vec_dot_f16, one token): 4 x 16 lanes over 64-element
//    chunks, (a0+a2)+(a1+a3), the tree, widened to double; a tail of float
//    products added in double.
// The SIMD kernels perform each output's exact operation sequence, so they
// equal the scalar references bit for bit. Weights are widened on the fly
// (fp16 -> f32 by vcvtph2ps, bf16 by a shift), never copied.
#pragma once
#include <cstddef>
#include <cstdint>

#include "format/ggml_types.h"
#include "util/half.h"

namespace larql::halfdot {

bool handles(GGMLType t);  // F16 or BF16

// One weight element widened exactly (bf: BF16, else F16).
inline float widen_one(bool bf, const uint8_t* p) {
  uint16_t h;
  __builtin_memcpy(&h, p, 2);
  return bf ? bf16_to_fp32(h) : fp16_to_fp32(h);
}

// x rounded to t (F16 or BF16) and widened back: the values ggml's product sees.
void round_acts(GGMLType t, const float* x, int64_t n, float* out);

// Scalar references over one weight row (n elements of type t) and rounded activations.
float lanes16_ref(GGMLType t, const uint8_t* w, const float* x, int64_t n);
float dot4x16_ref(GGMLType t, const uint8_t* w, const float* x, int64_t n);

// Rows of one weight matrix.
struct Rows {
  GGMLType type = GGMLType::F16;
  const uint8_t* w = nullptr;  // row 0
  size_t row_bytes = 0;
  int64_t n = 0;  // elements per row
};

// y[t*ldy + r] = order(row r, x + t*ldx) for r0 <= r < r1, t < nt. lanes16
// needs n % 16 == 0. Uses the best ISA the CPU has (f32dot's choice).
void gemm(const Rows& m, bool lanes16, int64_t r0, int64_t r1, const float* x, int64_t ldx, int nt, float* y,
          int64_t ldy);

namespace avx512 {
void gemm(const Rows& m, bool lanes16, int64_t r0, int64_t r1, const float* x, int64_t ldx, int nt, float* y,
          int64_t ldy);
}
namespace avx2 {
void gemm(const Rows& m, bool lanes16, int64_t r0, int64_t r1, const float* x, int64_t ldx, int nt, float* y,
          int64_t ldy);
}
void gemm_scalar(const Rows& m, bool lanes16, int64_t r0, int64_t r1, const float* x, int64_t ldx, int nt, float* y,
                 int64_t ldy);

}  // namespace larql::halfdot
