#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "kernels/ops.h"
#include "kernels/qdot.h"
#include "tensor/quants.h"
#include "util/half.h"

using namespace larql;

namespace {

// Independent double-precision rope: angle_i = pos * inv_freq_i, HF-style YaRN blend.
std::vector<float> rope_ref(const std::vector<float>& x, int64_t d, int64_t pos, double base, ops::RopeMode mode,
                            double factor, bool yarn, int64_t orig_ctx, const std::vector<float>& ff) {
  const double pi = 3.14159265358979323846;
  double low = 0, high = 0, mscale = 1;
  if (yarn) {
    auto dim = [&](double rot) { return d * std::log(orig_ctx / (rot * 2 * pi)) / (2 * std::log(base)); };
    low = std::max(0.0, std::floor(dim(32)));
    high = std::min(double(d - 1), std::ceil(dim(1)));
    mscale = 0.1 * std::log(factor) + 1.0;
  }
  std::vector<float> y = x;
  for (int64_t i = 0; i < d / 2; ++i) {
    double extrap = std::pow(base, -2.0 * i / d) / (ff.empty() ? 1.0 : ff[i]);
    double inv = extrap / factor;
    if (yarn) {
      double r = std::clamp((i - low) / std::max(0.001, high - low), 0.0, 1.0);
      double mask = 1 - r;
      inv = inv * (1 - mask) + extrap * mask;
    }
    double a = pos * inv;
    int64_t p = mode == ops::RopeMode::Norm ? 2 * i : i, q = mode == ops::RopeMode::Norm ? 2 * i + 1 : i + d / 2;
    y[p] = float((x[p] * std::cos(a) - x[q] * std::sin(a)) * mscale);
    y[q] = float((x[p] * std::sin(a) + x[q] * std::cos(a)) * mscale);
  }
  return y;
}

std::vector<float> randv(size_t n, int seed) {
  std::mt19937 g(seed);
  std::normal_distribution<float> nd;
  std::vector<float> v(n);
  for (auto& x : v) x = nd(g);
  return v;
}

}  // namespace

TEST(Rope, PlainLinearYarnAndFrequencyFactors) {
  const int64_t d = 64;
  auto x = randv(d, 1);
  std::vector<float> ff(d / 2);
  for (int64_t i = 0; i < d / 2; ++i) ff[i] = 1.0f + 0.25f * float(i % 5);
  struct Case { ops::RopeMode mode; double factor; bool yarn; bool use_ff; };
  for (Case c : {Case{ops::RopeMode::Norm, 1, false, false}, Case{ops::RopeMode::Neox, 1, false, false},
                 Case{ops::RopeMode::Norm, 4, false, false}, Case{ops::RopeMode::Neox, 8, true, false},
                 Case{ops::RopeMode::Norm, 1, false, true}}) {
    for (int64_t pos : {0, 1, 17, 300}) {
      ops::RopeConfig rc;
      rc.n_rot = d;
      rc.freq_base = 10000.0f;
      rc.mode = c.mode;
      rc.freq_scale = float(1.0 / c.factor);
      if (c.yarn) {
        rc.ext_factor = 1.0f;
        ops::rope_yarn_corr_dims(d, 4096, rc.freq_base, 32.0f, 1.0f, rc.corr_dims);
      }
      if (c.use_ff) rc.freq_factors = ff.data();
      auto got = x;
      ops::rope(got.data(), 1, d, pos, rc);
      auto want = rope_ref(x, d, pos, 10000.0, c.mode, c.factor, c.yarn, 4096, c.use_ff ? ff : std::vector<float>{});
      for (int64_t i = 0; i < d; ++i)
        EXPECT_NEAR(got[i], want[i], 2e-4 * (1 + std::fabs(want[i])))
            << "mode " << int(c.mode) << " factor " << c.factor << " yarn " << c.yarn << " pos " << pos << " i " << i;
    }
  }
}

TEST(Ops, NormsSoftmaxActivations) {
  std::vector<float> x = {1, -2, 3, -4}, w = {1, 2, 1, 0.5f}, y(4);
  ops::rms_norm(x.data(), w.data(), 0.0f, 4, y.data());
  const double rms = std::sqrt((1 + 4 + 9 + 16) / 4.0);
  for (int i = 0; i < 4; ++i) EXPECT_NEAR(y[i], x[i] / rms * w[i], 1e-6);
  std::vector<float> b = {0.5f, 0, 0, 1};
  ops::layer_norm(x.data(), w.data(), b.data(), 0.0f, 4, y.data());
  double mean = -0.5, var = ((1.5 * 1.5) + (1.5 * 1.5) + (3.5 * 3.5) + (3.5 * 3.5)) / 4;
  for (int i = 0; i < 4; ++i) EXPECT_NEAR(y[i], (x[i] - mean) / std::sqrt(var) * w[i] + b[i], 1e-5);
  std::vector<float> s = {1, 2, 3, -INFINITY};
  ops::softmax(s.data(), 4);
  double z = std::exp(1) + std::exp(2) + std::exp(3);
  EXPECT_NEAR(s[0], std::exp(1) / z, 1e-6);
  EXPECT_EQ(s[3], 0.0f);
  for (float v : {-90.f, -20.f, -1.f, -1e-3f, 0.f, 0.5f, 3.f, 30.f, 80.f})
    EXPECT_NEAR(ops::expf_fast(v), std::exp(v), 3e-7 * std::exp(v)) << v;
  EXPECT_EQ(ops::expf_fast(-INFINITY), 0.0f);
  EXPECT_NEAR(ops::silu(2.0f), 2.0 / (1 + std::exp(-2.0)), 1e-6);
  EXPECT_NEAR(ops::gelu_tanh(1.0f), 0.8411920, 1e-6);
  EXPECT_NEAR(ops::gelu_ggml(1.0f), 0.8411920, 1e-3);  // fp16-rounded
  EXPECT_EQ(ops::gelu_ggml(-11.0f), 0.0f);
  EXPECT_EQ(ops::gelu_ggml(12.0f), 12.0f);
}

// The integer dot products agree with dequantize-then-dot within the error of
// quantizing the activations.
TEST(QDot, MatchesFloatDotForEveryType) {
  const int64_t n = 512;
  auto w = randv(n, 2), x = randv(n, 3);
  for (GGMLType t : {GGMLType::Q8_0, GGMLType::Q4_0, GGMLType::Q5_0, GGMLType::Q5_1, GGMLType::Q4_K,
                     GGMLType::Q5_K, GGMLType::Q6_K, GGMLType::F16, GGMLType::BF16}) {
    std::vector<uint8_t> wq(ggml_row_size(t, n));
    quantize_row(t, w.data(), wq.data(), n);
    std::vector<float> wd(n);
    dequantize_row(t, wq.data(), wd.data(), n);
    double ref = 0, mag = 0;
    for (int64_t i = 0; i < n; ++i) { ref += double(wd[i]) * x[i]; mag += std::fabs(double(wd[i]) * x[i]); }
    std::vector<uint8_t> act(qdot::act_bytes(t, n));
    qdot::quantize_act(t, x.data(), n, act.data());
    float got = qdot::dot(t, wq.data(), act.data(), n);
    EXPECT_NEAR(got, ref, 0.01 * mag) << ggml_type_name(uint32_t(t));
  }
}

// Exactness of every integer dot product: random weight blocks (any bit
// pattern, sane fp16 scales) against dequantize(weights) · dequantize(activations).
TEST(QDot, ExactAgainstDequantizedOperands) {
  std::mt19937 g(5);
  const int64_t n = 512;
  auto x = randv(n, 9);
  for (GGMLType t : {GGMLType::Q8_0, GGMLType::Q4_0, GGMLType::Q5_0, GGMLType::Q4_1, GGMLType::Q5_1,
                     GGMLType::Q2_K, GGMLType::Q3_K, GGMLType::Q4_K, GGMLType::Q5_K, GGMLType::Q6_K}) {
    const auto tr = *ggml_type_traits(uint32_t(t));
    std::vector<uint8_t> w(ggml_row_size(t, n));
    for (auto& b : w) b = uint8_t(g());
    // Overwrite every fp16 scale field with a small positive value so no block is inf/NaN.
    const uint16_t h = 0x2E66;  // ~0.1
    for (size_t blk = 0; blk < w.size() / tr.type_size; ++blk) {
      uint8_t* p = w.data() + blk * tr.type_size;
      auto put = [&](size_t off) { p[off] = uint8_t(h & 0xFF); p[off + 1] = uint8_t(h >> 8); };
      switch (t) {
        case GGMLType::Q4_1: case GGMLType::Q5_1: put(0); put(2); break;
        case GGMLType::Q2_K: put(80); put(82); break;
        case GGMLType::Q3_K: put(108); break;
        case GGMLType::Q4_K: case GGMLType::Q5_K: put(0); put(2); break;
        case GGMLType::Q6_K: put(208); break;
        default: put(0);
      }
    }
    std::vector<float> wd(n);
    dequantize_row(t, w.data(), wd.data(), n);
    std::vector<uint8_t> act(qdot::act_bytes(t, n));
    qdot::quantize_act(t, x.data(), n, act.data());
    // Dequantize the activation codes (Q8_1 shares Q8_0's first bytes but has a 36-byte block).
    std::vector<float> xd(n);
    const GGMLType at = qdot::act_type(t);
    if (at == GGMLType::Q8_1) {
      for (int64_t b = 0; b < n / 32; ++b) {
        const uint8_t* p = act.data() + b * 36;
        float d = fp16_to_fp32(uint16_t(p[0] | (p[1] << 8)));
        for (int j = 0; j < 32; ++j) xd[b * 32 + j] = d * float(int8_t(p[4 + j]));
      }
    } else {
      dequantize_row(at, act.data(), xd.data(), n);
    }
    double ref = 0, mag = 0;
    for (int64_t i = 0; i < n; ++i) { ref += double(wd[i]) * xd[i]; mag += std::fabs(double(wd[i]) * xd[i]); }
    const float got = qdot::dot(t, w.data(), act.data(), n);
    // Q4_1/Q5_1 use the fp16-rounded block sum s, so allow its rounding there.
    const double tol = (t == GGMLType::Q4_1 || t == GGMLType::Q5_1) ? 2e-3 * mag : 1e-5 * mag + 1e-6;
    EXPECT_NEAR(got, ref, tol) << ggml_type_name(uint32_t(t));
  }
}

// Every SIMD dot product against the scalar reference (skips visibly without AVX2).
TEST(QDot, SimdMatchesScalar) {
  std::mt19937 g(11);
  int checked = 0;
  for (GGMLType t : {GGMLType::Q8_0, GGMLType::Q4_0, GGMLType::Q4_K, GGMLType::Q5_K, GGMLType::Q6_K}) {
    for (int64_t n : {256, 2048, 4096}) {
      auto w = randv(size_t(n), int(g() % 1000)), x = randv(size_t(n), int(g() % 1000));
      std::vector<uint8_t> wq(ggml_row_size(t, n));
      quantize_row(t, w.data(), wq.data(), n);
      std::vector<uint8_t> act(qdot::act_bytes(t, n));
      qdot::quantize_act(t, x.data(), n, act.data());
      const float a = qdot::dot(t, wq.data(), act.data(), n), b = qdot::dot_scalar(t, wq.data(), act.data(), n);
      EXPECT_NEAR(a, b, 1e-5f * (1 + std::fabs(b))) << ggml_type_name(uint32_t(t)) << " n=" << n;
      ++checked;
    }
  }
  EXPECT_EQ(checked, 15);
}

// The 4-row kernels give bit-identical results to four single-row calls.
TEST(QDot, FourRowKernelsEqualSingleRows) {
  const int64_t n = 1024;
  for (GGMLType t : {GGMLType::Q8_0, GGMLType::Q4_0, GGMLType::Q4_K, GGMLType::Q5_K, GGMLType::Q6_K, GGMLType::F16}) {
    auto w = randv(n, 21);
    std::vector<uint8_t> wq(ggml_row_size(t, n));
    quantize_row(t, w.data(), wq.data(), n);
    const size_t ab = qdot::act_bytes(t, n);
    std::vector<uint8_t> act(4 * ab);
    for (int k = 0; k < 4; ++k) {
      auto x = randv(n, 30 + k);
      qdot::quantize_act(t, x.data(), n, act.data() + k * ab);
    }
    float o[4];
    qdot::dot4(t, wq.data(), act.data(), ab, n, o);
    for (int k = 0; k < 4; ++k) EXPECT_EQ(o[k], qdot::dot(t, wq.data(), act.data() + k * ab, n)) << ggml_type_name(uint32_t(t));
  }
}
