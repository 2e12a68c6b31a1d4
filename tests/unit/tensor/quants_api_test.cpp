// Which types are supported, and how bad arguments are rejected.
#include <gtest/gtest.h>

#include <vector>

#include "quants_test_util.h"
#include "tensor/quants.h"
#include "util/error.h"

using namespace larql;

TEST(QuantsApi, SupportedTypes) {
  const GGMLType decodable[] = {GGMLType::F32,  GGMLType::F16,  GGMLType::BF16, GGMLType::Q4_0,
                                GGMLType::Q4_1, GGMLType::Q5_0, GGMLType::Q5_1, GGMLType::Q8_0,
                                GGMLType::Q2_K, GGMLType::Q3_K, GGMLType::Q4_K, GGMLType::Q5_K,
                                GGMLType::Q6_K, GGMLType::Q8_K, GGMLType::MXFP4};
  const GGMLType encodable[] = {GGMLType::F32,  GGMLType::F16,  GGMLType::BF16, GGMLType::Q8_0, GGMLType::Q4_0,
                                GGMLType::Q4_K, GGMLType::Q5_K, GGMLType::Q6_K, GGMLType::Q8_K,
                                GGMLType::Q5_0, GGMLType::Q5_1, GGMLType::MXFP4};
  for (GGMLType t : decodable) EXPECT_TRUE(can_dequantize(t)) << ggml_type_name(static_cast<uint32_t>(t));
  for (GGMLType t : encodable) EXPECT_TRUE(can_quantize(t)) << ggml_type_name(static_cast<uint32_t>(t));
  for (GGMLType t : {GGMLType::Q4_1, GGMLType::Q2_K, GGMLType::Q3_K,
                     GGMLType::Q8_1, GGMLType::IQ4_NL})
    EXPECT_FALSE(can_quantize(t)) << ggml_type_name(static_cast<uint32_t>(t));
  for (GGMLType t : {GGMLType::Q8_1, GGMLType::IQ2_XXS, GGMLType::IQ4_XS, GGMLType::I8, GGMLType::F64,
                     GGMLType::TQ1_0, static_cast<GGMLType>(4), static_cast<GGMLType>(1000)})
    EXPECT_FALSE(can_dequantize(t)) << static_cast<uint32_t>(t);
}

TEST(QuantsApi, RejectsUnsupportedTypes) {
  std::vector<float> x(256, 1.f);
  std::vector<uint8_t> q(4096);
  EXPECT_THROW(quantize_row(GGMLType::Q2_K, x.data(), q.data(), 256), Error);
  EXPECT_THROW(quantize_row(GGMLType::Q3_K, x.data(), q.data(), 256), Error);
  EXPECT_THROW(dequantize_row(GGMLType::IQ2_XXS, q.data(), x.data(), 256), Error);
  EXPECT_THROW(dequantize_row(static_cast<GGMLType>(1000), q.data(), x.data(), 256), Error);
  EXPECT_THROW(quantize_row(static_cast<GGMLType>(5), x.data(), q.data(), 256), Error);
}

TEST(QuantsApi, RejectsBadCounts) {
  std::vector<float> x(512, 1.f);
  std::vector<uint8_t> q(4096);
  EXPECT_THROW(quantize_row(GGMLType::Q4_K, x.data(), q.data(), 255), Error);
  EXPECT_THROW(quantize_row(GGMLType::Q8_0, x.data(), q.data(), 33), Error);
  EXPECT_THROW(quantize_row(GGMLType::Q8_0, x.data(), q.data(), -32), Error);
  EXPECT_THROW(dequantize_row(GGMLType::Q6_K, q.data(), x.data(), 128), Error);
  EXPECT_THROW(dequantize_row(GGMLType::MXFP4, q.data(), x.data(), 16), Error);
  EXPECT_THROW(dequantize_row(GGMLType::F16, q.data(), x.data(), -1), Error);
  try {
    dequantize_row(GGMLType::Q4_K, q.data(), x.data(), 300);
    FAIL() << "no exception";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("Q4_K"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("256"), std::string::npos) << e.what();
  }
}

TEST(QuantsApi, NullPointersAndEmptyRows) {
  std::vector<float> x(32, 1.f);
  EXPECT_THROW(quantize_row(GGMLType::Q8_0, nullptr, x.data(), 32), Error);
  EXPECT_THROW(dequantize_row(GGMLType::Q8_0, nullptr, x.data(), 32), Error);
  EXPECT_THROW(dequantize_row(GGMLType::Q8_0, x.data(), nullptr, 32), Error);
  // n = 0 is a valid empty row: nothing is read or written.
  EXPECT_NO_THROW(quantize_row(GGMLType::Q4_K, nullptr, nullptr, 0));
  EXPECT_NO_THROW(dequantize_row(GGMLType::MXFP4, nullptr, nullptr, 0));
}

// Every codec writes exactly ggml_row_size bytes / n floats: guard bytes around
// the buffers stay untouched (ASan builds also catch overruns directly).
TEST(QuantsApi, WritesExactlyTheRow) {
  const GGMLType types[] = {GGMLType::F32,  GGMLType::F16,  GGMLType::BF16, GGMLType::Q4_0, GGMLType::Q4_1,
                            GGMLType::Q5_0, GGMLType::Q5_1, GGMLType::Q8_0, GGMLType::Q2_K, GGMLType::Q3_K,
                            GGMLType::Q4_K, GGMLType::Q5_K, GGMLType::Q6_K, GGMLType::Q8_K, GGMLType::MXFP4};
  const int64_t n = 512;
  const auto x = test::gaussian(n, 7);
  for (GGMLType t : types) {
    SCOPED_TRACE(ggml_type_name(static_cast<uint32_t>(t)));
    const size_t bytes = ggml_row_size(t, n);
    std::vector<uint8_t> q(bytes + 64, 0xA5);
    for (size_t i = 32; i < 32 + bytes; ++i) q[i] = static_cast<uint8_t>(i * 37);  // arbitrary blocks
    if (can_quantize(t)) quantize_row(t, x.data(), q.data() + 32, n);
    for (size_t i = 0; i < 32; ++i) {
      EXPECT_EQ(q[i], 0xA5);
      EXPECT_EQ(q[32 + bytes + i], 0xA5);
    }
    std::vector<float> y(n + 16, -7.f);
    dequantize_row(t, q.data() + 32, y.data() + 8, n);
    for (int i = 0; i < 8; ++i) {
      EXPECT_EQ(y[i], -7.f);
      EXPECT_EQ(y[n + 8 + i], -7.f);
    }
  }
}
