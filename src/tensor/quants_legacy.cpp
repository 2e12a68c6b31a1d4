// The 32-element "legacy" types: Q4_0, Q4_1, Q5_0, Q5_1, Q8_0.
//
// Element order inside a block: byte j of qs holds element j in its low
// nibble and element j+16 in its high nibble (Q4/Q5). Q5 keeps the fifth bit
// of element j in bit j of the little-endian uint32 qh.
#include <algorithm>
#include <cmath>

#include "tensor/quants_impl.h"
#include "tensor/quants_search.h"

namespace larql::quant {

void dequant_q4_0(const uint8_t* x, float* y, int64_t nb) {
  const auto* b = reinterpret_cast<const BlockQ4_0*>(x);
  for (int64_t i = 0; i < nb; ++i, y += 32) {
    const float d = load_half(b[i].d);
    for (int j = 0; j < 16; ++j) {
      y[j] = static_cast<float>((b[i].qs[j] & 0x0F) - 8) * d;
      y[j + 16] = static_cast<float>((b[i].qs[j] >> 4) - 8) * d;
    }
  }
}

void dequant_q4_1(const uint8_t* x, float* y, int64_t nb) {
  const auto* b = reinterpret_cast<const BlockQ4_1*>(x);
  for (int64_t i = 0; i < nb; ++i, y += 32) {
    const float d = load_half(b[i].d), m = load_half(b[i].m);
    for (int j = 0; j < 16; ++j) {
      y[j] = static_cast<float>(b[i].qs[j] & 0x0F) * d + m;
      y[j + 16] = static_cast<float>(b[i].qs[j] >> 4) * d + m;
    }
  }
}

namespace {
uint32_t load_u32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) | (static_cast<uint32_t>(p[1]) << 8) |
         (static_cast<uint32_t>(p[2]) << 16) | (static_cast<uint32_t>(p[3]) << 24);
}
}  // namespace

void dequant_q5_0(const uint8_t* x, float* y, int64_t nb) {
  const auto* b = reinterpret_cast<const BlockQ5_0*>(x);
  for (int64_t i = 0; i < nb; ++i, y += 32) {
    const float d = load_half(b[i].d);
    const uint32_t qh = load_u32(b[i].qh);
    for (int j = 0; j < 16; ++j) {
      const int q0 = (b[i].qs[j] & 0x0F) | static_cast<int>(((qh >> j) & 1) << 4);
      const int q1 = (b[i].qs[j] >> 4) | static_cast<int>(((qh >> (j + 16)) & 1) << 4);
      y[j] = static_cast<float>(q0 - 16) * d;
      y[j + 16] = static_cast<float>(q1 - 16) * d;
    }
  }
}

void dequant_q5_1(const uint8_t* x, float* y, int64_t nb) {
  const auto* b = reinterpret_cast<const BlockQ5_1*>(x);
  for (int64_t i = 0; i < nb; ++i, y += 32) {
    const float d = load_half(b[i].d), m = load_half(b[i].m);
    const uint32_t qh = load_u32(b[i].qh);
    for (int j = 0; j < 16; ++j) {
      const int q0 = (b[i].qs[j] & 0x0F) | static_cast<int>(((qh >> j) & 1) << 4);
      const int q1 = (b[i].qs[j] >> 4) | static_cast<int>(((qh >> (j + 16)) & 1) << 4);
      y[j] = static_cast<float>(q0) * d + m;
      y[j + 16] = static_cast<float>(q1) * d + m;
    }
  }
}

void dequant_q8_0(const uint8_t* x, float* y, int64_t nb) {
  const auto* b = reinterpret_cast<const BlockQ8_0*>(x);
  for (int64_t i = 0; i < nb; ++i, y += 32) {
    const float d = load_half(b[i].d);
    for (int j = 0; j < 32; ++j) y[j] = static_cast<float>(b[i].qs[j]) * d;
  }
}

// Same arithmetic as ggml's reference (d = amax/127, round half away from
// zero), so files match llama-quantize's Q8_0 byte for byte.
void quant_q8_0(const float* x, uint8_t* y, int64_t nb, const float*) {
  auto* b = reinterpret_cast<BlockQ8_0*>(y);
  for (int64_t i = 0; i < nb; ++i, x += 32) {
    float amax = 0.f;
    for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(x[j]));
    const float d = amax / 127.f;
    const float id = d != 0.f ? 1.f / d : 0.f;
    store_half(b[i].d, d);
    for (int j = 0; j < 32; ++j) {
      const float v = std::round(x[j] * id);  // |v| <= 127 unless x is not finite
      b[i].qs[j] = static_cast<int8_t>(v >= -127.f && v <= 127.f ? v : (v > 0 ? 127 : v < 0 ? -127 : 0));
    }
  }
}

// Q4_0: searched symmetric scale (the largest-magnitude element lands near
// code -8), four blocks per search call.
void quant_q4_0(const float* x, uint8_t* y, int64_t nb, const float* imp) {
  auto* b = reinterpret_cast<BlockQ4_0*>(y);
  static const float kZero[32] = {};
  float w[4][32], scale[4];
  for (int64_t i0 = 0; i0 < nb; i0 += 4) {
    const float* xs[4];
    const float* ws[4];
    for (int g = 0; g < 4; ++g) {
      const int64_t i = i0 + g;
      xs[g] = i < nb ? x + 32 * i : kZero;  // a missing tail block fits as all-zero
      ws[g] = w[g];
      const float* xb = xs[g];
      float sum_x2 = 0.f;
      for (int j = 0; j < 32; ++j) sum_x2 += xb[j] * xb[j];
      const float sigma2 = sum_x2 / 32.f, rms = std::sqrt(sigma2);
      for (int j = 0; j < 32; ++j)
        w[g][j] = imp && i < nb ? imp[32 * i + j] * std::sqrt(sigma2 + xb[j] * xb[j]) : rms + std::fabs(xb[j]);
    }
    fit_symmetric_x4<32>(xs, ws, 8, 0.1f, 9, scale);
    for (int g = 0; g < 4 && i0 + g < nb; ++g) {
      BlockQ4_0& blk = b[i0 + g];
      const float* xb = xs[g];
      const float d = store_half(blk.d, scale[g]);
      const float id = d != 0.f ? 1.f / d : 0.f;
      for (int j = 0; j < 16; ++j) {
        const int q0 = round_clamp(xb[j] * id, -8, 7) + 8;
        const int q1 = round_clamp(xb[j + 16] * id, -8, 7) + 8;
        blk.qs[j] = static_cast<uint8_t>(q0 | (q1 << 4));
      }
    }
  }
}

namespace {
void store_u32(uint8_t* p, uint32_t v) {
  for (int k = 0; k < 4; ++k) p[k] = static_cast<uint8_t>(v >> (8 * k));
}
}  // namespace

// Q5_0 / Q5_1: plain max-based scales (they appear only as llama.cpp's
// fallback for rows not divisible by 256, so no search is spent on them).
void quant_q5_0(const float* x, uint8_t* y, int64_t nb, const float*) {
  auto* b = reinterpret_cast<BlockQ5_0*>(y);
  for (int64_t i = 0; i < nb; ++i, x += 32) {
    float amax = 0.f, vmax = 0.f;
    for (int j = 0; j < 32; ++j)
      if (std::fabs(x[j]) > amax) { amax = std::fabs(x[j]); vmax = x[j]; }
    const float d = store_half(b[i].d, vmax / -16.f);
    const float id = d != 0.f ? 1.f / d : 0.f;
    uint32_t qh = 0;
    for (int j = 0; j < 16; ++j) {
      const int q0 = round_clamp(x[j] * id, -16, 15) + 16;
      const int q1 = round_clamp(x[j + 16] * id, -16, 15) + 16;
      b[i].qs[j] = static_cast<uint8_t>((q0 & 0x0F) | ((q1 & 0x0F) << 4));
      qh |= static_cast<uint32_t>(q0 >> 4) << j;
      qh |= static_cast<uint32_t>(q1 >> 4) << (j + 16);
    }
    store_u32(b[i].qh, qh);
  }
}

void quant_q5_1(const float* x, uint8_t* y, int64_t nb, const float*) {
  auto* b = reinterpret_cast<BlockQ5_1*>(y);
  for (int64_t i = 0; i < nb; ++i, x += 32) {
    float lo = x[0], hi = x[0];
    for (int j = 1; j < 32; ++j) { lo = std::min(lo, x[j]); hi = std::max(hi, x[j]); }
    const float d = store_half(b[i].d, (hi - lo) / 31.f);
    const float m = store_half(b[i].m, lo);
    const float id = d != 0.f ? 1.f / d : 0.f;
    uint32_t qh = 0;
    for (int j = 0; j < 16; ++j) {
      const int q0 = round_clamp((x[j] - m) * id, 0, 31);
      const int q1 = round_clamp((x[j + 16] - m) * id, 0, 31);
      b[i].qs[j] = static_cast<uint8_t>((q0 & 0x0F) | ((q1 & 0x0F) << 4));
      qh |= static_cast<uint32_t>(q0 >> 4) << j;
      qh |= static_cast<uint32_t>(q1 >> 4) << (j + 16);
    }
    store_u32(b[i].qh, qh);
  }
}

}  // namespace larql::quant
