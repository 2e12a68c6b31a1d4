// Internal: tiled prefill attention for the F32 cache in llama.cpp's order
// (bit-identical to attn_detail::attend_f32_reference). A GQA group's heads x a
// block of queries share every K row and V column they read; each dot product
// keeps its own lane and summation order, only the work is register-blocked.
#pragma once
#include <cstdint>

#include "engine/attention.h"

namespace larql::attn_detail {
// Returns false (and does nothing) where no tiled kernel exists for this CPU
// (AVX-512F or AVX2 + FMA needed, LARQL_FORCE_SCALAR off, LARQL_ATTN_TILED not "0"), or for
// decode (n == 1, the 4x16 value order) when there are fewer KV heads than threads.
bool attend_f32_tiled(const AttentionParams& P, const float* k32, const float* v32, const float* q, int64_t n,
                      int64_t pos0, float* out, ThreadPool& pool);
}  // namespace larql::attn_detail

namespace larql::attn_tile {
bool available();

// The micro-kernels, one set per ISA with the same signatures: AVX-512F
// (attention_tiled_avx512.cpp) and AVX2 + FMA (attention_tiled_avx2.cpp).
//  - score_block: out[r] = dot4x16(k + r*kstride, q, dk) for r < rows <= 16
//    (rows of one K block).
//  - row_max / row_exp / row_scale: masked softmax numerator of one row in
//    llama.cpp's order. p[first..last) hold raw scores; on return p[0..n_kv) =
//    exp(s - mx) (0 where masked), the sum = per-16 float trees added in
//    double. mx comes from row_max().
//  - values4: for up to 4 rows of probabilities p[i] (length >= je) against a
//    transposed value block vt[d*ldt + j] (d < dv): out[i][d] = lanes16 over
//    positions jb..je-1 (multiples of 16) of vt[d][j] * p[i][j].
//  - exp_fast16: the vector expf_fast (same bits as ops::expf_fast), for tests.
#define LARQL_ATTN_TILE_KERNELS                                                                            \
  void score_block(const float* k, int64_t kstride, int rows, const float* q, int64_t dk, float* out);    \
  float row_max(float* p, int64_t first, int64_t last, float softcap, float scale);                       \
  double row_exp(float* p, int64_t first, int64_t last, int64_t n_kv, float mx);                          \
  void row_scale(float* p, int64_t n_kv, float inv);                                                      \
  void values4(const float* vt, int64_t ldt, int64_t dv, const float* const* p, int np, int64_t jb, int64_t je, \
               float* const* out);                                                                        \
  void exp_fast16(const float* x, float* out);
namespace avx512 {
LARQL_ATTN_TILE_KERNELS
}  // namespace avx512
namespace avx2 {
LARQL_ATTN_TILE_KERNELS
}  // namespace avx2
#undef LARQL_ATTN_TILE_KERNELS

// The set this CPU runs (AVX-512F if present, else AVX2); only when available().
struct Kernels {
  decltype(&avx512::score_block) score_block;
  decltype(&avx512::row_max) row_max;
  decltype(&avx512::row_exp) row_exp;
  decltype(&avx512::row_scale) row_scale;
  decltype(&avx512::values4) values4;
  decltype(&avx512::exp_fast16) exp_fast16;
};
const Kernels& kernels();
}  // namespace larql::attn_tile
