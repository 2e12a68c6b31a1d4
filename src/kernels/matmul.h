// Weight-times-activation products over any supported tensor type.
#pragma once
#include <cstdint>
#include <functional>
#include <vector>

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

// One input read by several products (attention's q, k and v; the FFN's gate
// and up). Its activations are quantized once per activation format and kept,
// not once per product. write_rows() fuses the quantization into the step that
// produces the input (a norm): each row is quantized right after it is
// written, while it is still in L1. Buffers keep their capacity across
// reset(), so steady-state decode allocates nothing.
class SharedInput {
 public:
  // New contents: n_tok rows of n_in floats at x (which must outlive use).
  void reset(const float* x, int64_t n_tok, int64_t n_in);
  const float* x() const { return x_; }
  int64_t n_tok() const { return n_tok_; }
  int64_t n_in() const { return n_in_; }

  // Runs make_row(t) for every row over the pool, then quantizes row t for
  // products with weight type w in the same task (no-op quantization for
  // types whose products read floats). Rows must be written at x.
  void write_rows(GGMLType w, ThreadPool& pool, const std::function<void(int64_t)>& make_row);

  // Activations for products with weight type w (quantized on first request,
  // `stride` bytes per token) and, for row-interleaved kernels, their integer
  // corrections (`aux_stride` ints per token).
  const uint8_t* acts(GGMLType w, ThreadPool& pool, size_t& stride);
  const int32_t* aux(GGMLType w, ThreadPool& pool, size_t& aux_stride);
  // For F16 / BF16 weights: the input rounded to w and widened back (n_tok x n_in floats).
  const float* rounded(GGMLType w, ThreadPool& pool);
  // For the AMX-BF16 kernel: rounded(BF16) in lane order (halfdot::amx::to_lanes).
  const uint16_t* bf16_lanes(ThreadPool& pool);

 private:
  struct Slot {
    GGMLType key = GGMLType::F32;  // activation type (acts) or weight type (aux)
    bool ready = false;
    size_t stride = 0;
    std::vector<uint8_t> bytes;
    std::vector<int32_t> ints;
    std::vector<float> floats;
  };
  template <class T>
  Slot& slot(std::vector<Slot>& list, GGMLType key, size_t stride, std::vector<T> Slot::*buf);
  Slot& act_slot(GGMLType w);
  Slot& aux_slot(GGMLType w);
  Slot& rounded_slot(GGMLType w);
  void quantize_rows(GGMLType w, Slot& s, int64_t t0, int64_t t1) const;
  const float* x_ = nullptr;
  int64_t n_tok_ = 0, n_in_ = 0;
  std::vector<Slot> acts_, aux_, rounded_, lanes_;
};

// Y[t, o] = sum_i W[o, i] * X[t, i] for t < n_tok (X: n_tok x n_in, Y: n_tok x n_out).
// Rows of W are split across the pool's threads.
void matmul(const WeightView& w, const float* x, int64_t n_tok, float* y, ThreadPool& pool,
            Product kind = Product::Plain);
// The same product on a shared input (its quantized activations are reused).
void matmul(const WeightView& w, SharedInput& in, float* y, ThreadPool& pool, Product kind = Product::Plain);

// ggml's float dot product orders: 16 lanes by k mod 16, or 4 x 16 lanes over
// 64-element chunks with a plain multiply-add tail (SIMD, same bits as scalar).
float dot_f32_lanes16(const float* x, const float* y, int64_t n);
float dot_f32_4x16(const float* x, const float* y, int64_t n);

// One row of W as floats.
void weight_row(const WeightView& w, int64_t row, float* out);

}  // namespace larql
