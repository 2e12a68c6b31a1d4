// SIMD implementations behind qdot::dot (internal to src/kernels).
#pragma once
#include <cstddef>
#include <cstdint>

#include "format/ggml_types.h"

namespace larql::qdot::avx2 {
float dot_q8_0(const uint8_t* w, const uint8_t* a, int64_t nb);
float dot_q4_0(const uint8_t* w, const uint8_t* a, int64_t nb);
float dot_q4_k(const uint8_t* w, const uint8_t* a, int64_t nb, bool five);
// Four activation rows (a_stride bytes apart) against one weight row.
void dot_q4_k_x4(const uint8_t* w, const uint8_t* a, size_t a_stride, int64_t nb, bool five, float* out);
float dot_q6_k(const uint8_t* w, const uint8_t* a, int64_t nb);
void dot_q6_k_x4(const uint8_t* w, const uint8_t* a, size_t a_stride, int64_t nb, float* out);
void dot_q8_0_x4(const uint8_t* w, const uint8_t* a, size_t a_stride, int64_t nb, float* out);
float dot_f32(const float* x, const float* y, int64_t n);
// Sequential (llama.cpp AMX) order: one float per output fed exact block sums.
void seq_q8_0_x4(const uint8_t* w, const uint8_t* a, size_t st, int64_t nb, float* out);
void seq_q8_0_x1(const uint8_t* w, const uint8_t* a, int64_t nb, float* out);
void seq_q4_k_x4(const uint8_t* w, const uint8_t* a, size_t st, int64_t nb, bool five, float* out);
void seq_q4_k_x1(const uint8_t* w, const uint8_t* a, int64_t nb, bool five, float* out);
void seq_q6_k_x4(const uint8_t* w, const uint8_t* a, size_t st, int64_t nb, float* out);
void seq_q6_k_x1(const uint8_t* w, const uint8_t* a, int64_t nb, float* out);
// Q5_0 / Q4_1 / Q5_1 (type), vec_dot lane order; bit-identical to qdot::dot_scalar.
void dot_q45_x4(GGMLType type, const uint8_t* w, const uint8_t* a, size_t st, int64_t nb, float* out);
void dot_q45_x1(GGMLType type, const uint8_t* w, const uint8_t* a, int64_t nb, float* out);
}  // namespace larql::qdot::avx2

// AVX-512 BW (qdot_avx512.cpp) and AVX-512 VNNI (qdot_avx512vnni.cpp): nt
// activation rows against one weight row for Q4_0, Q8_0, Q4_K, Q5_K, Q6_K;
// bit-identical to the AVX2 kernels.
// seq_rows: the same in the sequential (llama.cpp AMX) order.
namespace larql::qdot::avx512 {
void dot_rows(GGMLType type, const uint8_t* w, const uint8_t* a, size_t a_stride, int64_t n, int nt, float* out);
void seq_rows(GGMLType type, const uint8_t* w, const uint8_t* a, size_t a_stride, int64_t n, int nt, float* out);
}
namespace larql::qdot::avx512vnni {
void dot_rows(GGMLType type, const uint8_t* w, const uint8_t* a, size_t a_stride, int64_t n, int nt, float* out);
void seq_rows(GGMLType type, const uint8_t* w, const uint8_t* a, size_t a_stride, int64_t n, int nt, float* out);
}
