// Quantize -> dequantize on random data: error bounds per type, and the
// properties the quantizers promise (exact per-element bounds where the
// format gives one, better-than-naive K-quant fits, importance weighting,
// robustness to degenerate input).
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

constexpr size_t kN = 256 * 256;  // 64K elements, N(0, 0.02^2) like LLM weights

double roundtrip_rel_rmse(GGMLType t, const std::vector<float>& x, const float* imp = nullptr) {
  const auto q = test::quantize(t, x, imp);
  return test::rel_rmse(x, test::dequantize(t, q.data(), x.size()));
}

}  // namespace

// Bounds on RMSE / RMS(data) for Gaussian data. Measured values (see
// docs/tensor-types.md) are in the comments; the bounds leave ~5% headroom.
TEST(QuantsRoundTrip, GaussianErrorBounds) {
  const auto x = test::gaussian(kN, 1234);
  struct Case {
    GGMLType t;
    double bound;
  } cases[] = {
      {GGMLType::F16, 3.0e-4},   // 2.1e-4 (11-bit mantissa)
      {GGMLType::BF16, 1.8e-3},  // 1.66e-3 (8-bit mantissa)
      {GGMLType::Q8_0, 0.0057},  // 0.0054
      {GGMLType::Q8_K, 0.0074},  // 0.0070
      {GGMLType::Q6_K, 0.0187},  // 0.0178
      {GGMLType::Q5_K, 0.0378},  // 0.0360
      {GGMLType::Q4_K, 0.0750},  // 0.0713
      {GGMLType::Q4_0, 0.0860},  // 0.0817
      {GGMLType::Q5_0, 0.0500},  // max-based scale (fallback type only)
      {GGMLType::Q5_1, 0.0450},
  };
  for (const auto& c : cases) {
    const double e = roundtrip_rel_rmse(c.t, x);
    EXPECT_LT(e, c.bound) << ggml_type_name(static_cast<uint32_t>(c.t));
    EXPECT_GT(e, c.bound * 0.5) << ggml_type_name(static_cast<uint32_t>(c.t)) << ": suspiciously exact";
  }
  EXPECT_EQ(roundtrip_rel_rmse(GGMLType::F32, x), 0.0);
}

// Q8_0: every element within half a step of the stored fp16 scale (plus the
// scale's own fp16 rounding: |q| <= 127 steps of relative error 2^-11).
TEST(QuantsRoundTrip, Q8_0PerElementBound) {
  const auto x = test::gaussian(kN, 99);
  const auto q = test::quantize(GGMLType::Q8_0, x);
  const auto y = test::dequantize(GGMLType::Q8_0, q.data(), kN);
  for (size_t b = 0; b < kN / 32; ++b) {
    const float d = fp16_to_fp32(test::le16(q.data() + 34 * b));
    for (size_t j = 0; j < 32; ++j) {
      const size_t i = 32 * b + j;
      ASSERT_LE(std::fabs(x[i] - y[i]), 0.5f * d + 127.f * d * 0x1p-11f) << i;
    }
  }
  // Re-quantizing the decoded values reproduces the same bytes.
  EXPECT_EQ(test::quantize(GGMLType::Q8_0, y), q);
}

// F16/BF16 encode with round-to-nearest-even and decode exactly.
TEST(QuantsRoundTrip, HalfFormatsRoundToNearestEven) {
  std::vector<float> x = {1.f + 0x1p-11f, 1.f + 3 * 0x1p-11f, 65520.f, 1e-8f, -2.5f};
  const auto h = test::quantize(GGMLType::F16, x);
  EXPECT_EQ(test::le16(h.data() + 0), 0x3C00);  // tie -> even (1.0)
  EXPECT_EQ(test::le16(h.data() + 2), 0x3C02);  // tie -> even (1 + 2^-9)
  EXPECT_EQ(test::le16(h.data() + 4), 0x7C00);  // rounds to +inf
  EXPECT_EQ(test::le16(h.data() + 8), 0xC100);
  std::vector<float> xb = {1.f + 0x1p-8f, 1.f + 3 * 0x1p-8f, -2.5f};
  const auto b = test::quantize(GGMLType::BF16, xb);
  EXPECT_EQ(test::le16(b.data() + 0), 0x3F80);
  EXPECT_EQ(test::le16(b.data() + 2), 0x3F82);
  EXPECT_EQ(test::le16(b.data() + 4), 0xC020);
  const auto y = test::dequantize(GGMLType::BF16, b.data(), 3);
  EXPECT_EQ(y[2], -2.5f);
}

namespace {
// Naive Q4_K-style reference for comparison: per 32-element sub-block,
// scale = (max - min) / 15 and offset min (both unquantized!), round to nearest.
double naive_minmax_rel_rmse(const std::vector<float>& x, int nmax) {
  double e = 0, s = 0;
  for (size_t b = 0; b < x.size(); b += 32) {
    float lo = std::min(0.f, x[b]), hi = x[b];
    for (size_t j = 0; j < 32; ++j) {
      lo = std::min(lo, x[b + j]);
      hi = std::max(hi, x[b + j]);
    }
    const float d = (hi - lo) / static_cast<float>(nmax);
    for (size_t j = 0; j < 32; ++j) {
      const float q = std::round((x[b + j] - lo) / d);
      const double r = static_cast<double>(q * d + lo) - x[b + j];
      e += r * r;
      s += static_cast<double>(x[b + j]) * x[b + j];
    }
  }
  return std::sqrt(e / s);
}
}  // namespace

// The K-quant search must beat even an idealised naive min/max fit whose
// scale and offset are kept in full precision (measured: Q4_K 0.0714 vs
// 0.0785, Q5_K 0.0359 vs 0.0378).
TEST(QuantsRoundTrip, KQuantSearchBeatsNaiveMinMax) {
  const auto x = test::gaussian(kN, 4321);
  const double naive4 = naive_minmax_rel_rmse(x, 15), naive5 = naive_minmax_rel_rmse(x, 31);
  const double q4 = roundtrip_rel_rmse(GGMLType::Q4_K, x), q5 = roundtrip_rel_rmse(GGMLType::Q5_K, x);
  EXPECT_LT(q4, 0.93 * naive4) << "Q4_K " << q4 << " vs naive " << naive4;
  EXPECT_LT(q5, 0.97 * naive5) << "Q5_K " << q5 << " vs naive " << naive5;
}

// An importance vector shifts accuracy to the elements it marks.
TEST(QuantsRoundTrip, ImportanceWeightsFavourMarkedElements) {
  const auto x = test::gaussian(kN, 555);
  std::vector<float> imp(kN);
  for (size_t i = 0; i < kN; ++i) imp[i] = (i % 8 == 0) ? 100.f : 1.f;  // every 8th column matters
  auto marked_err = [&](GGMLType t, const float* w) {
    const auto q = test::quantize(t, x, w);
    const auto y = test::dequantize(t, q.data(), kN);
    double e = 0;
    for (size_t i = 0; i < kN; i += 8) e += (x[i] - y[i]) * (x[i] - y[i]);
    return e;
  };
  for (GGMLType t : {GGMLType::Q4_0, GGMLType::Q4_K, GGMLType::Q5_K, GGMLType::Q6_K}) {
    const double plain = marked_err(t, nullptr), weighted = marked_err(t, imp.data());
    EXPECT_LT(weighted, 0.9 * plain) << ggml_type_name(static_cast<uint32_t>(t));
  }
  // Uniform importance is harmless: same quality class as none.
  std::vector<float> ones(kN, 1.f);
  for (GGMLType t : {GGMLType::Q4_K, GGMLType::Q6_K})
    EXPECT_LT(roundtrip_rel_rmse(t, x, ones.data()), 1.05 * roundtrip_rel_rmse(t, x))
        << ggml_type_name(static_cast<uint32_t>(t));
}

// Zeros, constants, offsets, tiny and huge magnitudes, single spikes.
TEST(QuantsRoundTrip, DegenerateBlocks) {
  const GGMLType types[] = {GGMLType::Q8_0, GGMLType::Q4_0, GGMLType::Q4_K,
                            GGMLType::Q5_K, GGMLType::Q6_K, GGMLType::Q8_K};
  for (GGMLType t : types) {
    SCOPED_TRACE(ggml_type_name(static_cast<uint32_t>(t)));
    // All zero decodes to exactly zero.
    std::vector<float> z(512, 0.f);
    for (float v : test::dequantize(t, test::quantize(t, z).data(), 512)) ASSERT_EQ(v, 0.f);
    // Constant blocks (positive and negative) come back within 2%.
    for (float c : {0.37f, -1.25f}) {
      std::vector<float> x(512, c);
      for (float v : test::dequantize(t, test::quantize(t, x).data(), 512)) ASSERT_NEAR(v, c, 0.02 * std::fabs(c));
    }
    // A single spike in a zero block keeps its value and the zeros stay small.
    std::vector<float> s(512, 0.f);
    s[77] = 3.f;
    const auto ys = test::dequantize(t, test::quantize(t, s).data(), 512);
    EXPECT_NEAR(ys[77], 3.f, 0.02);
    for (size_t i = 0; i < 512; ++i)
      if (i != 77) {
        ASSERT_LE(std::fabs(ys[i]), 0.21f) << i;  // at most one Q4 step of the spike's block
      }
    // Scale invariance over orders of magnitude, as far as the fp16 super-block
    // scales allow (at sigma ~2e-5 Q6_K's d = max/(32*128) underflows fp16,
    // in ggml's format as much as here).
    const auto g = test::gaussian(1024, 3);
    const double ref = roundtrip_rel_rmse(t, g);
    for (float m : {0.1f, 1e3f}) {
      std::vector<float> gm(g);
      for (auto& v : gm) v *= m;
      EXPECT_NEAR(roundtrip_rel_rmse(t, gm), ref, 0.1 * ref) << "x" << m;
    }
  }
}

// Non-finite input gives unspecified codes but must not crash or trip the
// sanitizers (no out-of-range float->int conversion).
TEST(QuantsRoundTrip, NonFiniteInputIsSafe) {
  std::vector<float> x = test::gaussian(512, 8);
  x[3] = std::numeric_limits<float>::quiet_NaN();
  x[300] = std::numeric_limits<float>::infinity();
  x[301] = -std::numeric_limits<float>::infinity();
  x[400] = 3e38f;
  for (GGMLType t : {GGMLType::F16, GGMLType::BF16, GGMLType::Q8_0, GGMLType::Q4_0, GGMLType::Q4_K,
                     GGMLType::Q5_K, GGMLType::Q6_K, GGMLType::Q8_K}) {
    const auto q = test::quantize(t, x);
    const auto y = test::dequantize(t, q.data(), x.size());
    EXPECT_EQ(y.size(), x.size());
  }
}
