// gpt-oss pieces against hand-computed values and an independent float64
// attention: the router's softmax over the selected logits, the clamped SwiGLU,
// and attention sinks in the F32 (llama.cpp order), reference and F16-cache
// attention paths, plus the family switches.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "engine/attention.h"
#include "engine/family.h"
#include "engine/moe.h"
#include "util/half.h"
#include "util/thread_pool.h"

namespace larql {
namespace {

HParams oss_hparams() {
  HParams hp;
  hp.arch = "gpt-oss";
  hp.n_embd = 256; hp.n_head = 8; hp.n_head_kv = 2; hp.head_dim_k = hp.head_dim_v = hp.rope_dim = 64;
  hp.n_expert = 8; hp.n_expert_used = 4; hp.n_ff_exp = 256; hp.sliding_window = 128;
  return hp;
}

TEST(GptOss, FamilySwitches) {
  const Family f = family_for(oss_hparams());
  EXPECT_TRUE(f.moe && f.attn_sinks && f.router_bias && f.expert_biases && f.qkv_bias && f.ffn_norm_is_post_attention);
  EXPECT_EQ(f.gating, Gating::SoftmaxSelected);
  EXPECT_EQ(f.ffn, FFNKind::SwiGLUClamped);
  EXPECT_EQ(f.rope_mode, ops::RopeMode::Neox);
  EXPECT_FLOAT_EQ(f.attn_scale, 0.125f);
  // Layer 0 slides, layer 1 is full, and so on.
  for (int64_t il = 0; il < 6; ++il) EXPECT_EQ(f.layer_is_swa(il, 128), il % 2 == 0) << il;
  EXPECT_FALSE(f.layer_is_swa(0, 0));
}

TEST(GptOss, RouterSoftmaxOverSelectedLogits) {
  Family f = family_for(oss_hparams());
  const std::vector<float> logits = {1.0f, 3.0f, -2.0f, 2.0f, 0.5f, 2.0f, -1.0f, 0.0f};
  std::vector<int32_t> sel(4);
  std::vector<float> w(4), tmp;
  moe_route(f, 8, 4, logits.data(), nullptr, sel.data(), w.data(), tmp);
  EXPECT_EQ(sel, (std::vector<int32_t>{1, 3, 5, 0}));  // tie 2.0: lower id first
  // softmax(3, 2, 2, 1): e^0, e^-1, e^-1, e^-2 over their sum.
  const double z = 1 + 2 * std::exp(-1.0) + std::exp(-2.0);
  EXPECT_NEAR(w[0], 1 / z, 1e-6);
  EXPECT_NEAR(w[1], std::exp(-1.0) / z, 1e-6);
  EXPECT_NEAR(w[2], std::exp(-1.0) / z, 1e-6);
  EXPECT_NEAR(w[3], std::exp(-2.0) / z, 1e-6);
}

TEST(GptOss, ClampedSwiGLU) {
  auto ref = [](double g, double u) {
    const double x = std::min(g, 7.0), y = std::clamp(u, -7.0, 7.0);
    return x / (1 + std::exp(-1.702 * x)) * (y + 1);
  };
  EXPECT_EQ(swiglu_clamped(0.0f, 5.0f), 0.0f);
  EXPECT_NEAR(swiglu_clamped(1.0f, 0.0f), 0.845796, 1e-5);             // 1 / (1 + e^-1.702)
  EXPECT_NEAR(swiglu_clamped(10.0f, 10.0f), 7.0 * 8.0 / (1 + std::exp(-11.914)), 1e-4);  // both clamped
  EXPECT_NEAR(swiglu_clamped(2.0f, -9.0f), ref(2, -7), 1e-5);          // up clamped below: (-7 + 1)
  EXPECT_NEAR(swiglu_clamped(-30.0f, 3.0f), ref(-30, 3), 1e-6);        // gate is not clamped below
  for (float g = -9; g <= 9; g += 0.37f)
    for (float u = -9; u <= 9; u += 0.53f) ASSERT_NEAR(swiglu_clamped(g, u), ref(g, u), 2e-5 * (1 + std::fabs(ref(g, u))));
}

// Float64 attention with sinks: p_j = e^{s_j} / (sum_k e^{s_k} + e^{sink_h}).
std::vector<double> attend_sinks_f64(const AttentionParams& P, const std::vector<float>& k, const std::vector<float>& v,
                                     const std::vector<float>& q, int64_t n, int64_t pos0) {
  const int64_t H = P.n_head, HKV = P.n_head_kv, g = H / HKV;
  std::vector<double> out(size_t(n * H * P.dv), 0.0);
  for (int64_t t = 0; t < n; ++t)
    for (int64_t h = 0; h < H; ++h) {
      const int64_t pos = pos0 + t, first = P.window > 0 ? std::max<int64_t>(0, pos - P.window + 1) : 0;
      std::vector<double> s;
      for (int64_t j = first; j <= pos; ++j) {
        double d = 0;
        for (int64_t i = 0; i < P.dk; ++i) d += double(q[size_t((t * H + h) * P.dk + i)]) * k[size_t((j * HKV + h / g) * P.dk + i)];
        s.push_back(d * P.scale);
      }
      double sum = std::exp(double(P.sinks[h]));
      for (double& x : s) sum += (x = std::exp(x));
      for (int64_t j = first; j <= pos; ++j)
        for (int64_t i = 0; i < P.dv; ++i)
          out[size_t((t * H + h) * P.dv + i)] += s[size_t(j - first)] / sum * v[size_t((j * HKV + h / g) * P.dv + i)];
    }
  return out;
}

TEST(GptOss, AttentionSinksEveryPath) {
  ThreadPool pool(2);
  std::mt19937 rng(9);
  std::normal_distribution<float> nd(0.f, 1.f);
  struct Cfg { int64_t n, pos0, window; };
  for (const Cfg c : {Cfg{5, 0, 0}, Cfg{1, 37, 0}, Cfg{6, 20, 8}, Cfg{1, 0, 0}}) {
    AttentionParams P;
    P.n_head = 8; P.n_head_kv = 2; P.dk = P.dv = 64; P.window = c.window; P.scale = 0.125f;
    std::vector<float> sinks(8);
    for (size_t h = 0; h < 8; ++h) sinks[h] = 3.0f * nd(rng);
    sinks[0] = 12.0f;  // larger than any score: the sink sets the max
    P.sinks = sinks.data();
    const int64_t L = c.pos0 + c.n;
    std::vector<float> k(size_t(L * 2 * 64)), v(k.size()), q(size_t(c.n * 8 * 64));
    for (auto& x : k) x = nd(rng);
    for (auto& x : v) x = nd(rng);
    for (auto& x : q) x = 2.f * nd(rng);
    const auto exact = attend_sinks_f64(P, k, v, q, c.n, c.pos0);
    // With the sink at 12 the first head's weights sum to well below one.
    double head0 = 0;
    for (int64_t i = 0; i < 64; ++i) head0 += std::fabs(exact[size_t(i)]);
    EXPECT_LT(head0, 1.0);
    KVCacheView kv{KVType::F32, k.data(), v.data()};
    std::vector<float> out(exact.size());
    attend(P, kv, q.data(), c.n, c.pos0, out.data(), pool);
    for (size_t i = 0; i < out.size(); ++i) ASSERT_NEAR(out[i], exact[i], 1e-4) << "f32 fast " << i;
    attend_reference(P, kv, q.data(), c.n, c.pos0, out.data(), pool);
    for (size_t i = 0; i < out.size(); ++i) ASSERT_NEAR(out[i], exact[i], 1e-4) << "reference " << i;
    // F16 cache: k, v (and q, p in the fast path) rounded, so a looser bound.
    std::vector<uint16_t> k16(k.size()), v16(v.size());
    for (size_t i = 0; i < k.size(); ++i) k16[i] = fp32_to_fp16(k[i]);
    for (size_t i = 0; i < v.size(); ++i) v16[i] = fp32_to_fp16(v[i]);
    KVCacheView kv16{KVType::F16, k16.data(), v16.data()};
    attend(P, kv16, q.data(), c.n, c.pos0, out.data(), pool);
    for (size_t i = 0; i < out.size(); ++i) ASSERT_NEAR(out[i], exact[i], 3e-2) << "f16 " << i;
  }
}

}  // namespace
}  // namespace larql
