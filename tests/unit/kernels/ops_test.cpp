#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "kernels/ops.h"
#include "kernels/qdot.h"
#include "tensor/quants.h"

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
