// MXFP4 (OCP microscaling FP4), GGML type 39: a block of 32 is one E8M0 scale
// byte e followed by 16 bytes of 4-bit E2M1 codes; byte j holds element j in
// its low nibble and element j+16 in its high nibble (as Q4_0).
//
// Value = E2M1(code) * 2^(e-127). GGML evaluates it as a doubled code table
// {0,1,2,3,4,6,8,12, 0,-1,-2,-3,-4,-6,-8,-12} (E2M1 x 2, exact integers)
// times 2^(e-128), the latter built directly as float bits: e >= 2 gives
// exponent field e-1; e = 1 and e = 0 give the subnormals 2^-127 and 2^-128.
// e = 255 (NaN in the OCP spec) is not special-cased: it decodes as 2^127
// times the code, like ggml. We reproduce that convention exactly.
//
// Encoding (synth; real gpt-oss files carry the checkpoint's own MXFP4): the
// block scale is the OCP recipe, 2^(floor(log2 amax) - 2) so amax lands in
// [4, 8) x scale (E2M1's largest value is 6: larger ones saturate), then each
// element takes the nearest representable value (ties: the smaller magnitude).
#include <cmath>

#include <algorithm>

#include "tensor/quants_impl.h"

namespace larql::quant {

namespace {
constexpr int8_t kE2M1x2[16] = {0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12};

float e8m0_half(uint8_t e) {
  const uint32_t bits = e < 2 ? (0x00200000u << e) : (static_cast<uint32_t>(e - 1) << 23);
  return fp32_from_bits(bits);
}
}  // namespace

void dequant_mxfp4(const uint8_t* x, float* y, int64_t nb) {
  const auto* b = reinterpret_cast<const BlockMXFP4*>(x);
  for (int64_t i = 0; i < nb; ++i, y += 32) {
    const float d = e8m0_half(b[i].e);
    for (int j = 0; j < 16; ++j) {
      y[j] = static_cast<float>(kE2M1x2[b[i].qs[j] & 0x0F]) * d;
      y[j + 16] = static_cast<float>(kE2M1x2[b[i].qs[j] >> 4]) * d;
    }
  }
}

void quant_mxfp4(const float* x, uint8_t* y, int64_t nb, const float* /*importance*/) {
  auto* b = reinterpret_cast<BlockMXFP4*>(y);
  for (int64_t i = 0; i < nb; ++i, x += 32) {
    float amax = 0;
    for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(x[j]));
    int e = 0;
    if (amax > 0 && std::isfinite(amax)) e = std::clamp(static_cast<int>(std::floor(std::log2(amax))) - 2 + 127, 0, 254);
    b[i].e = static_cast<uint8_t>(e);
    // In units of the doubled codes; double, since 1 / 2^-128 overflows a float.
    const double inv = amax > 0 && std::isfinite(amax) ? 1.0 / static_cast<double>(e8m0_half(b[i].e)) : 0.0;
    auto code = [&](float v) {
      const double a = std::isfinite(v) ? std::fabs(static_cast<double>(v)) * inv : 12.0;
      int best = 0;
      for (int c = 1; c < 8; ++c)
        if (std::fabs(a - kE2M1x2[c]) < std::fabs(a - kE2M1x2[best])) best = c;
      return static_cast<uint8_t>(best | (v < 0 && best ? 8 : 0));
    };
    for (int j = 0; j < 16; ++j) b[i].qs[j] = static_cast<uint8_t>(code(x[j]) | (code(x[j + 16]) << 4));
  }
}

}  // namespace larql::quant
