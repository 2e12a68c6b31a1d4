// MXFP4 encoding (synth): exact E2M1 multiples round-trip, the block scale
// follows the OCP recipe (largest magnitude in [4, 8) x 2^(e-127)), values
// go to the nearest code, and the reconstruction error is bounded.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "tensor/quants.h"

using namespace larql;

TEST(QuantsMXFP4, ExactValuesRoundTrip) {
  const float vals[8] = {0, 0.5f, 1, 1.5f, 2, 3, 4, 6};
  std::vector<float> x(64), y(64);
  for (int i = 0; i < 64; ++i) x[size_t(i)] = vals[i % 8] * (i % 3 == 0 ? -1.f : 1.f) * (i < 32 ? 0.25f : 8.f);
  std::vector<uint8_t> q(34);
  quantize_row(GGMLType::MXFP4, x.data(), q.data(), 64);
  dequantize_row(GGMLType::MXFP4, q.data(), y.data(), 64);
  for (int i = 0; i < 64; ++i) EXPECT_EQ(y[size_t(i)], x[size_t(i)]) << i;
  EXPECT_EQ(q[0], 127 + 2 - 2 - 2);  // amax 6 * 0.25 = 1.5: floor(log2) = 0, e = 127 - 2
  EXPECT_EQ(q[17], 127 + 5 - 2);     // amax 48: floor(log2) = 5
}

TEST(QuantsMXFP4, NearestCodeAndBoundedError) {
  std::mt19937 g(5);
  std::normal_distribution<float> d(0.f, 1.f);
  std::vector<float> x(32 * 64), y(x.size());
  for (auto& v : x) v = d(g);
  std::vector<uint8_t> q(17 * 64);
  quantize_row(GGMLType::MXFP4, x.data(), q.data(), int64_t(x.size()));
  dequantize_row(GGMLType::MXFP4, q.data(), y.data(), int64_t(x.size()));
  for (size_t b = 0; b < 64; ++b) {
    float amax = 0;
    for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(x[b * 32 + size_t(j)]));
    const float unit = std::ldexp(1.f, int(q[b * 17]) - 127);  // E2M1 value 1
    EXPECT_GE(amax / unit, 4.f);
    EXPECT_LT(amax / unit, 8.f);
    for (int j = 0; j < 32; ++j) {
      const float v = x[b * 32 + size_t(j)], r = y[b * 32 + size_t(j)];
      // Spacing of E2M1 is <= 2 units; above 6 units it saturates at 6.
      const float bound = std::fabs(v) > 6 * unit ? std::fabs(v) - 6 * unit + 1e-6f : unit + 1e-6f;
      EXPECT_LE(std::fabs(v - r), bound) << b << "," << j;
      EXPECT_TRUE(r == 0 || (r > 0) == (v > 0));
    }
  }
}

TEST(QuantsMXFP4, ZeroBlockAndCanQuantize) {
  EXPECT_TRUE(can_quantize(GGMLType::MXFP4));
  std::vector<float> x(32, 0.f), y(32, 1.f);
  std::vector<uint8_t> q(17, 0xAB);
  quantize_row(GGMLType::MXFP4, x.data(), q.data(), 32);
  dequantize_row(GGMLType::MXFP4, q.data(), y.data(), 32);
  for (float v : y) EXPECT_EQ(v, 0.f);
}
