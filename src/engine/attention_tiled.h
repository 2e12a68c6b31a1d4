// Internal: tiled prefill attention for the F32 cache in llama.cpp's order
// (bit-identical to attn_detail::attend_f32_reference). A GQA group's heads x a
// block of queries share every K row and V column they read; each dot product
// keeps its own lane and summation order, only the work is register-blocked.
#pragma once
#include <cstdint>

#include "engine/attention.h"

namespace larql::attn_detail {
// Returns false (and does nothing) where no tiled kernel exists for this CPU
// (AVX-512F needed, LARQL_FORCE_SCALAR off, LARQL_ATTN_TILED not "0"), or for
// decode (n == 1, the 4x16 value order) when there are fewer KV heads than threads.
bool attend_f32_tiled(const AttentionParams& P, const float* k32, const float* v32, const float* q, int64_t n,
                      int64_t pos0, float* out, ThreadPool& pool);
}  // namespace larql::attn_detail

namespace larql::attn_tile {
bool available();

// AVX-512F micro-kernels (attention_tiled_avx512.cpp).
namespace avx512 {
// out[r] = dot4x16(k + r*kstride, q, dk) for r < rows <= 16 (rows of one K block).
void score_block(const float* k, int64_t kstride, int rows, const float* q, int64_t dk, float* out);
// Masked softmax numerator of one row in llama.cpp's order. p[first..last) hold
// raw scores; on return p[0..n_kv) = exp(s - mx) (0 where masked), *sum_out =
// sum of per-16 float trees in double. mx comes from row_max().
float row_max(float* p, int64_t first, int64_t last, float softcap, float scale);
double row_exp(float* p, int64_t first, int64_t last, int64_t n_kv, float mx);
void row_scale(float* p, int64_t n_kv, float inv);
// Value pass for up to 4 rows of probabilities p[i] (length >= je) against a
// transposed value block vt[d*ldt + j] (d < dv): out[i][d] = lanes16 over
// positions jb..je-1 (multiples of 16) of vt[d][j] * p[i][j].
void values4(const float* vt, int64_t ldt, int64_t dv, const float* const* p, int np, int64_t jb, int64_t je,
             float* const* out);
// The vector expf_fast (same bits as ops::expf_fast), for tests.
void exp_fast16(const float* x, float* out);
}  // namespace avx512
}  // namespace larql::attn_tile
