// Internal: the llama.cpp-order F32 attention, fast and scalar-reference
// versions (bit-identical; the reference exists for tests).
#pragma once
#include <cstdint>

#include "engine/attention.h"

namespace larql::attn_detail {
// No inf or NaN in x[0..n) (exponent bits all ones).
bool all_finite(const float* x, int64_t n);
void attend_f32(const AttentionParams& P, const float* k32, const float* v32, const float* q, int64_t n, int64_t pos0,
                float* out, ThreadPool& pool);
// attend_f32 without the tiled prefill kernels (one (query, head) job at a time).
void attend_f32_untiled(const AttentionParams& P, const float* k32, const float* v32, const float* q, int64_t n,
                        int64_t pos0, float* out, ThreadPool& pool);
void attend_f32_reference(const AttentionParams& P, const float* k32, const float* v32, const float* q, int64_t n,
                          int64_t pos0, float* out, ThreadPool& pool);
// ik_llama.cpp's order with an f16 cache (the ik_llama.cpp numerics profile).
void attend_ik_f16(const AttentionParams& P, const uint16_t* k16, const uint16_t* v16, const float* q, int64_t n,
                   int64_t pos0, float* out, ThreadPool& pool);
}  // namespace larql::attn_detail
