// Hand-built blocks with values worked out from the GGML format definitions
// (ggml-common.h block structs and the layout notes in docs/tensor-types.md).
// Each test packs chosen codes into the documented bit positions and checks
// the decoder's output element by element, plus a few literal values.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "quants_test_util.h"
#include "tensor/quants.h"
#include "util/half.h"

using namespace larql;

namespace {

// A few exact fp16 encodings.
constexpr uint16_t H_0_125 = 0x3000, H_0_25 = 0x3400, H_0_5 = 0x3800, H_1 = 0x3C00, H_2 = 0x4000,
                   H_NEG_1 = 0xBC00;

void put16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v);
  p[1] = static_cast<uint8_t>(v >> 8);
}

std::vector<float> decode(GGMLType t, const std::vector<uint8_t>& b, size_t n) {
  return test::dequantize(t, b.data(), n);
}

}  // namespace

TEST(QuantsKnownBlocks, F32F16BF16) {
  const float f[3] = {1.5f, -0.0f, 3.4e38f};
  std::vector<uint8_t> b(12);
  std::memcpy(b.data(), f, 12);
  const auto y = decode(GGMLType::F32, b, 3);
  EXPECT_EQ(y[0], 1.5f);
  EXPECT_TRUE(std::signbit(y[1]));
  EXPECT_EQ(y[2], 3.4e38f);

  // fp16: 1, -2, smallest subnormal 2^-24, largest finite 65504, +inf.
  std::vector<uint8_t> h(10);
  const uint16_t hv[5] = {0x3C00, 0xC000, 0x0001, 0x7BFF, 0x7C00};
  for (int i = 0; i < 5; ++i) put16(h.data() + 2 * i, hv[i]);
  const auto yh = decode(GGMLType::F16, h, 5);
  EXPECT_EQ(yh[0], 1.f);
  EXPECT_EQ(yh[1], -2.f);
  EXPECT_EQ(yh[2], std::ldexp(1.f, -24));
  EXPECT_EQ(yh[3], 65504.f);
  EXPECT_TRUE(std::isinf(yh[4]));

  // bf16 is the top half of a float32: 1, -3, smallest subnormal 2^-133.
  std::vector<uint8_t> bf(6);
  const uint16_t bv[3] = {0x3F80, 0xC040, 0x0001};
  for (int i = 0; i < 3; ++i) put16(bf.data() + 2 * i, bv[i]);
  const auto yb = decode(GGMLType::BF16, bf, 3);
  EXPECT_EQ(yb[0], 1.f);
  EXPECT_EQ(yb[1], -3.f);
  EXPECT_EQ(yb[2], std::ldexp(1.f, -133));
}

// Q4_0 {fp16 d; u8 qs[16]}: element j in the low nibble of qs[j], element
// j+16 in the high nibble; x = d * (q - 8).
TEST(QuantsKnownBlocks, Q4_0) {
  std::vector<uint8_t> b(18);
  put16(b.data(), H_0_5);
  for (int j = 0; j < 16; ++j) b[2 + j] = static_cast<uint8_t>(j | ((15 - j) << 4));
  const auto y = decode(GGMLType::Q4_0, b, 32);
  for (int j = 0; j < 16; ++j) {
    EXPECT_EQ(y[j], 0.5f * static_cast<float>(j - 8)) << j;
    EXPECT_EQ(y[j + 16], 0.5f * static_cast<float>(7 - j)) << j;
  }
  EXPECT_EQ(y[0], -4.f);
  EXPECT_EQ(y[16], 3.5f);
}

// Q4_1 {fp16 d; fp16 m; u8 qs[16]}: x = d * q + m.
TEST(QuantsKnownBlocks, Q4_1) {
  std::vector<uint8_t> b(20);
  put16(b.data(), H_0_25);
  put16(b.data() + 2, H_NEG_1);
  for (int j = 0; j < 16; ++j) b[4 + j] = static_cast<uint8_t>(j | ((15 - j) << 4));
  const auto y = decode(GGMLType::Q4_1, b, 32);
  for (int j = 0; j < 16; ++j) {
    EXPECT_EQ(y[j], 0.25f * static_cast<float>(j) - 1.f) << j;
    EXPECT_EQ(y[j + 16], 0.25f * static_cast<float>(15 - j) - 1.f) << j;
  }
}

// Q5_0 {fp16 d; u8 qh[4]; u8 qs[16]}: the fifth bit of element i is bit i of
// the little-endian uint32 qh; x = d * (q - 16).
TEST(QuantsKnownBlocks, Q5_0) {
  std::vector<uint8_t> b(22);
  put16(b.data(), H_1);
  const uint32_t qh = 0x80000001u | (1u << 19);  // elements 0, 19, 31
  std::memcpy(b.data() + 2, &qh, 4);
  b[6 + 3] = 0x5A;   // element 3 low nibble 10, element 19 high nibble 5
  b[6 + 15] = 0xF0;  // element 15 low 0, element 31 high 15
  const auto y = decode(GGMLType::Q5_0, b, 32);
  EXPECT_EQ(y[0], 0.f);     // 16 - 16
  EXPECT_EQ(y[1], -16.f);   // 0 - 16
  EXPECT_EQ(y[3], -6.f);    // 10 - 16
  EXPECT_EQ(y[19], 5.f);    // (5 | 16) - 16
  EXPECT_EQ(y[31], 15.f);   // (15 | 16) - 16
  EXPECT_EQ(y[15], -16.f);
  EXPECT_EQ(y[16], -16.f);
}

// Q5_1 {fp16 d; fp16 m; u8 qh[4]; u8 qs[16]}: x = d * q + m.
TEST(QuantsKnownBlocks, Q5_1) {
  std::vector<uint8_t> b(24);
  put16(b.data(), H_0_5);
  put16(b.data() + 2, H_2);
  const uint32_t qh = 1u << 16;  // element 16
  std::memcpy(b.data() + 4, &qh, 4);
  b[8 + 0] = 0xF3;  // element 0: 3, element 16: 15 | 16 = 31
  const auto y = decode(GGMLType::Q5_1, b, 32);
  EXPECT_EQ(y[0], 3.5f);
  EXPECT_EQ(y[16], 17.5f);
  EXPECT_EQ(y[1], 2.f);
}

// Q8_0 {fp16 d; i8 qs[32]}: x = d * q.
TEST(QuantsKnownBlocks, Q8_0) {
  std::vector<uint8_t> b(34);
  put16(b.data(), H_2);
  for (int j = 0; j < 32; ++j) b[2 + j] = static_cast<uint8_t>(static_cast<int8_t>(j - 16));
  b[2 + 31] = 0x80;  // -128
  const auto y = decode(GGMLType::Q8_0, b, 32);
  for (int j = 0; j < 31; ++j) EXPECT_EQ(y[j], 2.f * static_cast<float>(j - 16)) << j;
  EXPECT_EQ(y[31], -256.f);
}

// Q8_K {float d; i8 qs[256]; i16 bsums[16]}: x = d * q (bsums unused by the decoder).
TEST(QuantsKnownBlocks, Q8_K) {
  std::vector<uint8_t> b(292, 0xEE);
  const float d = 0.125f;
  std::memcpy(b.data(), &d, 4);
  for (int j = 0; j < 256; ++j) b[4 + j] = static_cast<uint8_t>(static_cast<int8_t>(j - 128));
  const auto y = decode(GGMLType::Q8_K, b, 256);
  for (int j = 0; j < 256; ++j) EXPECT_EQ(y[j], 0.125f * static_cast<float>(j - 128)) << j;
}

// Q2_K {u8 scales[16]; u8 qs[64]; fp16 d; fp16 dmin}: 16 sub-blocks of 16;
// scales[s] = scale | min << 4. Element e = 128h + 32s + l (h < 2, s < 4,
// l < 32) has its 2-bit code in bits 2s of qs[32h + l] and uses sub-block e/16.
// x = d * scale * q - dmin * min.
TEST(QuantsKnownBlocks, Q2_K) {
  std::vector<uint8_t> b(84, 0);
  for (int s = 0; s < 16; ++s) b[s] = static_cast<uint8_t>(s | ((15 - s) << 4));
  std::vector<int> code(256);
  for (int e = 0; e < 256; ++e) {
    code[e] = (e * 7 + 3) % 4;
    const int h = e / 128, s = (e % 128) / 32, l = e % 32;
    b[16 + 32 * h + l] |= static_cast<uint8_t>(code[e] << (2 * s));
  }
  put16(b.data() + 80, H_1);
  put16(b.data() + 82, H_0_5);
  const auto y = decode(GGMLType::Q2_K, b, 256);
  for (int e = 0; e < 256; ++e) {
    const int sb = e / 16;
    EXPECT_EQ(y[e], 1.f * static_cast<float>(sb) * static_cast<float>(code[e]) - 0.5f * static_cast<float>(15 - sb))
        << e;
  }
  // Literal: element 0 (code 3, sub-block 0: scale 0, min 15) = -7.5;
  // element 255 (code (255*7+3)%4 = 0, sub-block 15: scale 15, min 0) = 0.
  EXPECT_EQ(y[0], -7.5f);
  EXPECT_EQ(y[255], 0.f);
}

// Q3_K {u8 hmask[32]; u8 qs[64]; u8 scales[12]; fp16 d}: 16 sub-blocks of 16
// with 6-bit scales stored +32: low 4 bits of scale s in the low (s < 8) or
// high (s >= 8) nibble of scales[s % 8], high 2 bits in bits 2*(s/4) of
// scales[8 + s % 4]. Element e = 128h + 32s + l: low 2 bits of the code in
// bits 2s of qs[32h + l], third bit in bit 4h+s of hmask[l]; value
// x = d * (scale - 32) * (code - 4).
TEST(QuantsKnownBlocks, Q3_K) {
  std::vector<uint8_t> b(110, 0);
  int scale6[16];
  for (int s = 0; s < 16; ++s) {
    scale6[s] = (s * 4 + 1) % 64;  // 1, 5, ..., 61: all bit patterns of the high 2 bits occur
    const int lo = scale6[s] & 0x0F, hi = scale6[s] >> 4;
    b[96 + s % 8] |= static_cast<uint8_t>(s < 8 ? lo : lo << 4);
    b[96 + 8 + s % 4] |= static_cast<uint8_t>(hi << (2 * (s / 4)));
  }
  std::vector<int> code(256);
  for (int e = 0; e < 256; ++e) {
    code[e] = (e * 5 + 2) % 8;
    const int h = e / 128, s = (e % 128) / 32, l = e % 32;
    b[32 + 32 * h + l] |= static_cast<uint8_t>((code[e] & 3) << (2 * s));
    if (code[e] & 4) b[l] |= static_cast<uint8_t>(1 << (4 * h + s));
  }
  put16(b.data() + 108, H_0_5);
  const auto y = decode(GGMLType::Q3_K, b, 256);
  for (int e = 0; e < 256; ++e) {
    const float dl = 0.5f * static_cast<float>(scale6[e / 16] - 32);
    EXPECT_EQ(y[e], dl * static_cast<float>(code[e] - 4)) << e;
  }
  // Literal: element 0: code 2, scale 1 - 32 = -31 -> 0.5 * -31 * -2 = 31.
  EXPECT_EQ(y[0], 31.f);
}

namespace {
// Q4_K / Q5_K 12-byte scales: 6-bit scale sc[j] and min m[j] for 8 sub-blocks.
// j < 4: sc in bits 0-5 of byte j, m in bits 0-5 of byte j+4. j >= 4: low 4
// bits in byte j+4 (sc low nibble, m high nibble), high 2 bits in bits 6-7 of
// byte j-4 (sc) and byte j (m).
void pack_k4_scales(uint8_t* p, const int* sc, const int* m) {
  std::memset(p, 0, 12);
  for (int j = 0; j < 4; ++j) {
    p[j] = static_cast<uint8_t>(sc[j]);
    p[j + 4] = static_cast<uint8_t>(m[j]);
  }
  for (int j = 4; j < 8; ++j) {
    p[j + 4] = static_cast<uint8_t>((sc[j] & 0x0F) | ((m[j] & 0x0F) << 4));
    p[j - 4] |= static_cast<uint8_t>((sc[j] >> 4) << 6);
    p[j] |= static_cast<uint8_t>((m[j] >> 4) << 6);
  }
}
}  // namespace

// Q4_K {fp16 d; fp16 dmin; u8 scales[12]; u8 qs[128]}: 8 sub-blocks of 32.
// Element e = 64c + l (l < 32) is the low nibble of qs[32c + l], element
// 64c + 32 + l its high nibble; x = d * sc[e/32] * q - dmin * m[e/32].
TEST(QuantsKnownBlocks, Q4_K) {
  std::vector<uint8_t> b(144, 0);
  int sc[8], m[8];
  for (int j = 0; j < 8; ++j) {
    sc[j] = 10 + 7 * j;  // 10..59
    m[j] = 63 - 5 * j;   // 63..28
  }
  put16(b.data(), H_0_5);
  put16(b.data() + 2, H_0_25);
  pack_k4_scales(b.data() + 4, sc, m);
  std::vector<int> code(256);
  for (int e = 0; e < 256; ++e) {
    code[e] = (e * 5 + 1) % 16;
    const int c = e / 64, l = e % 32;
    b[16 + 32 * c + l] |= static_cast<uint8_t>((e % 64) < 32 ? code[e] : code[e] << 4);
  }
  const auto y = decode(GGMLType::Q4_K, b, 256);
  for (int e = 0; e < 256; ++e) {
    const int j = e / 32;
    EXPECT_EQ(y[e], 0.5f * static_cast<float>(sc[j]) * static_cast<float>(code[e]) -
                        0.25f * static_cast<float>(m[j]))
        << e;
  }
  // Literal: element 255: sub-block 7 (sc 59, m 28), code (255*5+1)%16 = 12:
  // 0.5*59*12 - 0.25*28 = 347.
  EXPECT_EQ(y[255], 347.f);
}

// Q5_K {fp16 d; fp16 dmin; u8 scales[12]; u8 qh[32]; u8 qs[128]}: Q4_K plus
// a fifth bit: element 64c + l in bit 2c of qh[l], element 64c + 32 + l in
// bit 2c + 1.
TEST(QuantsKnownBlocks, Q5_K) {
  std::vector<uint8_t> b(176, 0);
  int sc[8], m[8];
  for (int j = 0; j < 8; ++j) {
    sc[j] = 63 - 6 * j;
    m[j] = 3 + 8 * j;
  }
  put16(b.data(), H_0_125);
  put16(b.data() + 2, H_1);
  pack_k4_scales(b.data() + 4, sc, m);
  std::vector<int> code(256);
  for (int e = 0; e < 256; ++e) {
    code[e] = (e * 11 + 3) % 32;
    const int c = e / 64, l = e % 32;
    const bool high_half = (e % 64) >= 32;
    b[48 + 32 * c + l] |= static_cast<uint8_t>(high_half ? (code[e] & 15) << 4 : code[e] & 15);
    if (code[e] & 16) b[16 + l] |= static_cast<uint8_t>(1 << (2 * c + (high_half ? 1 : 0)));
  }
  const auto y = decode(GGMLType::Q5_K, b, 256);
  for (int e = 0; e < 256; ++e) {
    const int j = e / 32;
    EXPECT_EQ(y[e], 0.125f * static_cast<float>(sc[j]) * static_cast<float>(code[e]) - static_cast<float>(m[j]))
        << e;
  }
}

// Q6_K {u8 ql[128]; u8 qh[64]; i8 scales[16]; fp16 d}: 16 sub-blocks of 16.
// Element e = 128h + 32s + l: low 4 bits in ql[64h + 32*(s%2) + l] (low
// nibble for s < 2, high for s >= 2), high 2 bits in bits 2s of
// qh[32h + l]; x = d * scales[e/16] * (code - 32).
TEST(QuantsKnownBlocks, Q6_K) {
  std::vector<uint8_t> b(210, 0);
  int scale[16];
  for (int j = 0; j < 16; ++j) {
    scale[j] = j * 16 - 120;  // -120..120
    b[192 + j] = static_cast<uint8_t>(static_cast<int8_t>(scale[j]));
  }
  put16(b.data() + 208, H_0_25);
  std::vector<int> code(256);
  for (int e = 0; e < 256; ++e) {
    code[e] = (e * 13 + 7) % 64;
    const int h = e / 128, s = (e % 128) / 32, l = e % 32;
    b[64 * h + 32 * (s % 2) + l] |= static_cast<uint8_t>((code[e] & 15) << (s < 2 ? 0 : 4));
    b[128 + 32 * h + l] |= static_cast<uint8_t>((code[e] >> 4) << (2 * s));
  }
  const auto y = decode(GGMLType::Q6_K, b, 256);
  for (int e = 0; e < 256; ++e)
    EXPECT_EQ(y[e], 0.25f * static_cast<float>(scale[e / 16]) * static_cast<float>(code[e] - 32)) << e;
  // Literal: element 0: code 7, scale -120: 0.25 * -120 * (7 - 32) = 750.
  EXPECT_EQ(y[0], 750.f);
}

// MXFP4 {u8 e (E8M0); u8 qs[16]}: element j in the low nibble of qs[j],
// element j+16 in the high nibble; code = sign bit + E2M1 magnitude
// {0, 0.5, 1, 1.5, 2, 3, 4, 6}; x = E2M1(code) * 2^(e - 127).
TEST(QuantsKnownBlocks, MXFP4) {
  const float e2m1[16] = {0, 0.5f, 1, 1.5f, 2, 3, 4, 6, -0.f, -0.5f, -1, -1.5f, -2, -3, -4, -6};
  std::vector<uint8_t> b(17 * 5);
  const uint8_t exps[5] = {127, 128, 120, 1, 0};
  for (int k = 0; k < 5; ++k) {
    b[17 * k] = exps[k];
    for (int j = 0; j < 16; ++j) b[17 * k + 1 + j] = static_cast<uint8_t>(j | ((15 - j) << 4));
  }
  const auto y = decode(GGMLType::MXFP4, b, 32 * 5);
  for (int k = 0; k < 5; ++k) {
    const float scale = std::ldexp(1.f, exps[k] - 127);  // exact, including the subnormal 2^-127
    for (int j = 0; j < 16; ++j) {
      EXPECT_EQ(y[32 * k + j], e2m1[j] * scale) << k << " " << j;
      EXPECT_EQ(y[32 * k + j + 16], e2m1[15 - j] * scale) << k << " " << j;
    }
  }
  EXPECT_EQ(y[7], 6.f);
  EXPECT_EQ(y[32 + 7], 12.f);
  EXPECT_EQ(y[128 + 1], std::ldexp(1.f, -128));  // 0.5 * 2^-127: a subnormal, kept exactly
}

// e = 255 is NaN in the OCP spec; ggml (and so LARQL) decodes it as 2^128
// like any other exponent: code 1 (0.5) gives 2^127, larger codes overflow.
TEST(QuantsKnownBlocks, MXFP4ExponentFF) {
  std::vector<uint8_t> b(17, 0);
  b[0] = 255;
  b[1] = 0x21;  // element 0: code 1, element 16: code 2
  const auto y = decode(GGMLType::MXFP4, b, 32);
  EXPECT_EQ(y[0], std::ldexp(1.f, 127));
  EXPECT_TRUE(std::isinf(y[16]));
  EXPECT_EQ(y[1], 0.f);
}

// Quantizer literals. Q8_0 follows ggml's reference: d = amax / 127,
// q = round-half-away(x / d).
TEST(QuantsKnownBlocks, Q8_0Encode) {
  std::vector<float> x(32);
  for (int j = 0; j < 32; ++j) x[j] = static_cast<float>(j - 16) * 0.5f;  // -8 .. 7.5
  const auto q = test::quantize(GGMLType::Q8_0, x);
  EXPECT_EQ(test::le16(q.data()), fp32_to_fp16(8.f / 127.f));
  const auto qs = reinterpret_cast<const int8_t*>(q.data() + 2);
  EXPECT_EQ(qs[0], -127);   // -8
  EXPECT_EQ(qs[16], 0);     // 0
  EXPECT_EQ(qs[24], 64);    // 4 * 127/8 = 63.5 -> 64 (half away from zero)
  EXPECT_EQ(qs[8], -64);    // -4 -> -63.5 -> -64
  EXPECT_EQ(qs[31], 119);   // 7.5 * 15.875 = 119.06
}

// Q8_K follows ggml's reference: the largest-magnitude element maps to -127,
// d = 1/iscale as float, bsums = sums of 16 codes.
TEST(QuantsKnownBlocks, Q8_KEncode) {
  std::vector<float> x(256);
  for (int j = 0; j < 256; ++j) x[j] = static_cast<float>(j - 128);  // max |x| = 128 at x = -128
  const auto q = test::quantize(GGMLType::Q8_K, x);
  float d;
  std::memcpy(&d, q.data(), 4);
  EXPECT_EQ(d, 1.f / (-127.f / -128.f));
  const auto qs = reinterpret_cast<const int8_t*>(q.data() + 4);
  EXPECT_EQ(qs[0], -127);
  EXPECT_EQ(qs[128], 0);
  EXPECT_EQ(qs[255], 126);  // 127 * 127/128 = 126.0078
  for (int g = 0; g < 16; ++g) {
    int sum = 0;
    for (int l = 0; l < 16; ++l) sum += qs[16 * g + l];
    int16_t bs;
    std::memcpy(&bs, q.data() + 260 + 2 * g, 2);
    EXPECT_EQ(bs, sum) << g;
  }
}
