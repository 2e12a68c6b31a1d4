// Internal to src/tensor: GGML block layouts as byte-exact structs and the
// per-type row codecs that quants.cpp dispatches to.
//
// Every struct member is a byte array, so blocks have alignment 1 and can be
// read at any address (a 17-byte MXFP4 or 110-byte Q3_K block is not aligned
// for its fp16 fields). Multi-byte fields are little-endian, as in GGUF.
#pragma once
#include <bit>
#include <cstdint>
#include <cstring>

#include "util/half.h"

static_assert(std::endian::native == std::endian::little, "LARQL assumes a little-endian host");

namespace larql::quant {

constexpr int QK_K = 256;  // elements per K-quant super-block

struct BlockQ4_0 { uint8_t d[2]; uint8_t qs[16]; };                              // x = d*(q-8)
struct BlockQ4_1 { uint8_t d[2]; uint8_t m[2]; uint8_t qs[16]; };                // x = d*q + m
struct BlockQ5_0 { uint8_t d[2]; uint8_t qh[4]; uint8_t qs[16]; };               // x = d*(q-16)
struct BlockQ5_1 { uint8_t d[2]; uint8_t m[2]; uint8_t qh[4]; uint8_t qs[16]; }; // x = d*q + m
struct BlockQ8_0 { uint8_t d[2]; int8_t qs[32]; };                               // x = d*q
struct BlockQ2_K { uint8_t scales[16]; uint8_t qs[64]; uint8_t d[2]; uint8_t dmin[2]; };
struct BlockQ3_K { uint8_t hmask[32]; uint8_t qs[64]; uint8_t scales[12]; uint8_t d[2]; };
struct BlockQ4_K { uint8_t d[2]; uint8_t dmin[2]; uint8_t scales[12]; uint8_t qs[128]; };
struct BlockQ5_K { uint8_t d[2]; uint8_t dmin[2]; uint8_t scales[12]; uint8_t qh[32]; uint8_t qs[128]; };
struct BlockQ6_K { uint8_t ql[128]; uint8_t qh[64]; int8_t scales[16]; uint8_t d[2]; };
struct BlockQ8_K { uint8_t d[4]; int8_t qs[256]; uint8_t bsums[32]; };  // float d, int16 bsums[16]
struct BlockMXFP4 { uint8_t e; uint8_t qs[16]; };                        // E8M0 scale + 32 x E2M1

static_assert(sizeof(BlockQ4_0) == 18 && sizeof(BlockQ4_1) == 20 && sizeof(BlockQ5_0) == 22 &&
              sizeof(BlockQ5_1) == 24 && sizeof(BlockQ8_0) == 34);
static_assert(sizeof(BlockQ2_K) == 84 && sizeof(BlockQ3_K) == 110 && sizeof(BlockQ4_K) == 144 &&
              sizeof(BlockQ5_K) == 176 && sizeof(BlockQ6_K) == 210 && sizeof(BlockQ8_K) == 292);
static_assert(sizeof(BlockMXFP4) == 17);

inline float load_half(const uint8_t* p) {
  return fp16_to_fp32(static_cast<uint16_t>(p[0] | (p[1] << 8)));
}
// Stores fp16(v) and returns the value actually stored, which is what the
// quantizers must use when they pick the integer codes.
inline float store_half(uint8_t* p, float v) {
  const uint16_t h = fp32_to_fp16(v);
  p[0] = static_cast<uint8_t>(h);
  p[1] = static_cast<uint8_t>(h >> 8);
  return fp16_to_fp32(h);
}

// Round to nearest (ties to even) without a float->int conversion of an
// out-of-range value: the result is clamped to [lo, hi] first, and NaN maps to lo.
inline int round_clamp(float v, int lo, int hi) {
  v = (v + 12582912.f) - 12582912.f;  // 1.5 * 2^23: exact rounding for |v| < 2^22
  if (!(v >= static_cast<float>(lo))) return lo;
  if (v > static_cast<float>(hi)) return hi;
  return static_cast<int>(v);
}

// Q4_K / Q5_K pack 8 (scale, min) pairs of 6 bits into 12 bytes:
//   bytes 0-3: scale j (j<4) in bits 0-5, bits 4-5 of scale j+4 in bits 6-7
//   bytes 4-7: min j   (j<4) in bits 0-5, bits 4-5 of min j+4   in bits 6-7
//   bytes 8-11: low 4 bits of scale j+4 | low 4 bits of min j+4 << 4
inline void unpack_scale_min_k4(const uint8_t* s, int j, int* sc, int* m) {
  if (j < 4) {
    *sc = s[j] & 63;
    *m = s[j + 4] & 63;
  } else {
    *sc = (s[j + 4] & 0x0F) | ((s[j - 4] >> 6) << 4);
    *m = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
  }
}
inline void pack_scale_min_k4(uint8_t* s, const uint8_t* ls, const uint8_t* lm) {
  for (int j = 0; j < 4; ++j) {
    s[j] = static_cast<uint8_t>((ls[j] & 63) | ((ls[j + 4] >> 4) << 6));
    s[j + 4] = static_cast<uint8_t>((lm[j] & 63) | ((lm[j + 4] >> 4) << 6));
    s[j + 8] = static_cast<uint8_t>((ls[j + 4] & 0x0F) | ((lm[j + 4] & 0x0F) << 4));
  }
}

// Row codecs over whole blocks: nb blocks at x -> nb*block_size floats at y
// (dequant), or the reverse (quant; imp may be nullptr).
using DequantFn = void (*)(const uint8_t* x, float* y, int64_t nb);
using QuantFn = void (*)(const float* x, uint8_t* y, int64_t nb, const float* imp);

void dequant_f32(const uint8_t*, float*, int64_t);
void dequant_f16(const uint8_t*, float*, int64_t);
void dequant_bf16(const uint8_t*, float*, int64_t);
void quant_f32(const float*, uint8_t*, int64_t, const float*);
void quant_f16(const float*, uint8_t*, int64_t, const float*);
void quant_bf16(const float*, uint8_t*, int64_t, const float*);

void dequant_q4_0(const uint8_t*, float*, int64_t);
void dequant_q4_1(const uint8_t*, float*, int64_t);
void dequant_q5_0(const uint8_t*, float*, int64_t);
void dequant_q5_1(const uint8_t*, float*, int64_t);
void dequant_q8_0(const uint8_t*, float*, int64_t);
void quant_q4_0(const float*, uint8_t*, int64_t, const float*);
void quant_q5_0(const float*, uint8_t*, int64_t, const float*);
void quant_q5_1(const float*, uint8_t*, int64_t, const float*);
void quant_q8_0(const float*, uint8_t*, int64_t, const float*);

void dequant_q2_k(const uint8_t*, float*, int64_t);
void dequant_q3_k(const uint8_t*, float*, int64_t);
void dequant_q4_k(const uint8_t*, float*, int64_t);
void dequant_q5_k(const uint8_t*, float*, int64_t);
void dequant_q6_k(const uint8_t*, float*, int64_t);
void dequant_q8_k(const uint8_t*, float*, int64_t);
void quant_q4_k(const float*, uint8_t*, int64_t, const float*);
void quant_q5_k(const float*, uint8_t*, int64_t, const float*);
void quant_q6_k(const float*, uint8_t*, int64_t, const float*);
void quant_q8_k(const float*, uint8_t*, int64_t, const float*);

void dequant_mxfp4(const uint8_t*, float*, int64_t);
void quant_mxfp4(const float*, uint8_t*, int64_t, const float*);

}  // namespace larql::quant
