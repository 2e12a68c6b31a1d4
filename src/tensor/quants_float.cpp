// F32 / F16 / BF16 rows (block size 1). Conversions round to nearest even,
// as ggml does (util/half.h).
#include <cstring>

#include "tensor/quants_impl.h"

namespace larql::quant {

void dequant_f32(const uint8_t* x, float* y, int64_t n) {
  std::memcpy(y, x, static_cast<size_t>(n) * sizeof(float));
}

void quant_f32(const float* x, uint8_t* y, int64_t n, const float*) {
  std::memcpy(y, x, static_cast<size_t>(n) * sizeof(float));
}

void dequant_f16(const uint8_t* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = load_half(x + 2 * i);
}

void quant_f16(const float* x, uint8_t* y, int64_t n, const float*) {
  for (int64_t i = 0; i < n; ++i) {
    const uint16_t h = fp32_to_fp16(x[i]);
    y[2 * i] = static_cast<uint8_t>(h);
    y[2 * i + 1] = static_cast<uint8_t>(h >> 8);
  }
}

void dequant_bf16(const uint8_t* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i)
    y[i] = bf16_to_fp32(static_cast<uint16_t>(x[2 * i] | (x[2 * i + 1] << 8)));
}

void quant_bf16(const float* x, uint8_t* y, int64_t n, const float*) {
  for (int64_t i = 0; i < n; ++i) {
    const uint16_t h = fp32_to_bf16(x[i]);
    y[2 * i] = static_cast<uint8_t>(h);
    y[2 * i + 1] = static_cast<uint8_t>(h >> 8);
  }
}

}  // namespace larql::quant
