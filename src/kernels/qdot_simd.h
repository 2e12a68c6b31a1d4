// SIMD implementations behind qdot::dot (internal to src/kernels).
#pragma once
#include <cstdint>

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
}  // namespace larql::qdot::avx2
