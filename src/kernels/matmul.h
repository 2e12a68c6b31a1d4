// Weight-times-activation products over any supported tensor type.
#pragma once
#include <cstdint>

#include "format/ggml_types.h"

namespace larql {
class ThreadPool;
namespace repack {
struct Packed;
}

// A 2-D view of weight rows: rows() rows of n_in elements, row-major, each
// row_bytes long (one expert of a 3-D tensor is also a WeightView).
struct WeightView {
  GGMLType type = GGMLType::F32;
  const uint8_t* data = nullptr;
  int64_t n_in = 0;    // ne[0]
  int64_t n_out = 0;   // rows
  uint64_t row_bytes = 0;
  // Optional row-interleaved copy (kernels/repack.h) used by plain products when it
  // matches this exact view; data stays valid (slices, weight_row, other orders).
  const repack::Packed* packed = nullptr;
  bool valid() const { return data != nullptr; }
};

// Which of llama.cpp's operation orders a product follows (docs/numerics.md):
// a plain matrix product (MUL_MAT) or a routed expert's (MUL_MAT_ID).
enum class Product { Plain, Expert };

// Y[t, o] = sum_i W[o, i] * X[t, i] for t < n_tok (X: n_tok x n_in, Y: n_tok x n_out).
// Rows of W are split across the pool's threads.
void matmul(const WeightView& w, const float* x, int64_t n_tok, float* y, ThreadPool& pool,
            Product kind = Product::Plain);

// ggml's float dot product orders: 16 lanes by k mod 16, or 4 x 16 lanes over
// 64-element chunks with a plain multiply-add tail (SIMD, same bits as scalar).
float dot_f32_lanes16(const float* x, const float* y, int64_t n);
float dot_f32_4x16(const float* x, const float* y, int64_t n);

// One row of W as floats.
void weight_row(const WeightView& w, int64_t row, float* out);

}  // namespace larql
