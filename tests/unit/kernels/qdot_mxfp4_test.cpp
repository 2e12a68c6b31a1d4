// MXFP4 x Q8_0 integer dot products (kernels/qdot_mxfp4.cpp): every ISA equals
// the scalar kernel bit for bit, and the scalar kernel equals a float64 dot of
// the dequantized weight row with the dequantized activations (the block sums
// are exact integers; only the per-block float accumulation rounds). Plus the
// end-to-end error against unquantized activations.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "format/ggml_types.h"
#include "kernels/matmul.h"
#include "kernels/qdot.h"
#include "tensor/quants.h"
#include "util/thread_pool.h"

using namespace larql;

namespace {

std::vector<float> randf(size_t n, uint32_t seed, float scale = 1.f) {
  std::mt19937 g(seed);
  std::normal_distribution<float> d(0.f, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = d(g);
  return v;
}

// Arbitrary code nibbles with exponents in a range that keeps products finite.
std::vector<uint8_t> random_mxfp4(int64_t n, uint32_t seed) {
  std::mt19937 g(seed);
  std::vector<uint8_t> w(ggml_row_size(GGMLType::MXFP4, uint64_t(n)));
  for (auto& b : w) b = uint8_t(g());
  for (size_t b = 0; b < w.size(); b += 17) w[b] = uint8_t(110 + g() % 30);  // 2^-17 .. 2^12
  return w;
}

}  // namespace

TEST(QdotMXFP4, ActivationsAreQ8_0AndSupported) {
  EXPECT_TRUE(qdot::supported(GGMLType::MXFP4));
  EXPECT_EQ(qdot::act_type(GGMLType::MXFP4), GGMLType::Q8_0);
  EXPECT_EQ(qdot::act_bytes(GGMLType::MXFP4, 64), 68u);
}

TEST(QdotMXFP4, ScalarEqualsFloat64OfDequantizedOperands) {
  for (int64_t n : {32, 256, 2880, 4096}) {
    const auto w = random_mxfp4(n, uint32_t(n));
    const auto x = randf(size_t(n), 7u + uint32_t(n));
    std::vector<uint8_t> a(qdot::act_bytes(GGMLType::MXFP4, n));
    qdot::quantize_act(GGMLType::MXFP4, x.data(), n, a.data());
    std::vector<float> wf(static_cast<size_t>(n)), af(static_cast<size_t>(n));
    dequantize_row(GGMLType::MXFP4, w.data(), wf.data(), n);
    dequantize_row(GGMLType::Q8_0, a.data(), af.data(), n);
    double ref = 0, mag = 0;
    for (int64_t i = 0; i < n; ++i) {
      ref += double(wf[size_t(i)]) * af[size_t(i)];
      mag += std::fabs(double(wf[size_t(i)]) * af[size_t(i)]);
    }
    const float got = qdot::dot_scalar(GGMLType::MXFP4, w.data(), a.data(), n);
    EXPECT_NEAR(got, ref, 1e-6 * mag + 1e-30) << "n=" << n;
  }
}

TEST(QdotMXFP4, EveryIsaMatchesScalarBitForBit) {
  const int64_t n = 2880;
  const auto w = random_mxfp4(n, 11);
  const size_t ab = qdot::act_bytes(GGMLType::MXFP4, n);
  const int nt = 19;
  const auto x = randf(size_t(n) * nt, 12, 3.f);
  std::vector<uint8_t> a(ab * nt);
  for (int t = 0; t < nt; ++t) qdot::quantize_act(GGMLType::MXFP4, x.data() + t * n, n, a.data() + ab * t);
  for (qdot::Isa f : {qdot::Isa::Scalar, qdot::Isa::Avx2, qdot::Isa::Avx512, qdot::Isa::Avx512Vnni}) {
    if (!qdot::isa_available(f)) continue;
    std::vector<float> out(nt);
    qdot::dot_rows(f, GGMLType::MXFP4, w.data(), a.data(), ab, n, nt, out.data());
    for (int t = 0; t < nt; ++t)
      EXPECT_EQ(out[size_t(t)], qdot::dot_scalar(GGMLType::MXFP4, w.data(), a.data() + ab * t, n))
          << qdot::isa_name(f) << " row " << t;
  }
}

TEST(QdotMXFP4, MatmulCloseToFloatProductOfDequantizedWeights) {
  // What the engine's expert products see: only the activations' int8 rounding differs.
  const int64_t n_in = 256, n_out = 48, n_tok = 5;
  const auto wf0 = randf(size_t(n_in * n_out), 21, 0.06f);
  std::vector<uint8_t> w(ggml_row_size(GGMLType::MXFP4, uint64_t(n_in)) * n_out);
  const uint64_t rb = ggml_row_size(GGMLType::MXFP4, uint64_t(n_in));
  for (int64_t r = 0; r < n_out; ++r) quantize_row(GGMLType::MXFP4, wf0.data() + r * n_in, w.data() + r * rb, n_in);
  const auto x = randf(size_t(n_in * n_tok), 22);
  WeightView v{GGMLType::MXFP4, w.data(), n_in, n_out, rb};
  ThreadPool pool(2);
  std::vector<float> y(size_t(n_out * n_tok));
  matmul(v, x.data(), n_tok, y.data(), pool, Product::Expert);
  std::vector<float> row(static_cast<size_t>(n_in));
  for (int64_t r = 0; r < n_out; ++r) {
    dequantize_row(GGMLType::MXFP4, w.data() + r * rb, row.data(), n_in);
    for (int64_t t = 0; t < n_tok; ++t) {
      double ref = 0, mag = 0;
      for (int64_t i = 0; i < n_in; ++i) {
        ref += double(row[size_t(i)]) * x[size_t(t * n_in + i)];
        mag += std::fabs(double(row[size_t(i)]) * x[size_t(t * n_in + i)]);
      }
      EXPECT_NEAR(y[size_t(t * n_out + r)], ref, 0.01 * mag) << r << "," << t;  // Q8_0: <= 1/254 per element
    }
  }
}
