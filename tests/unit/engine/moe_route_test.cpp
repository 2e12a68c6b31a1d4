// MoE routing (moe_route) against hand-computed selections and weights for each
// family's gating rule: softmax top-k with and without renormalisation, DeepSeek
// V3's sigmoid + selection bias + scale, ties, and group-limited routing.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "engine/moe.h"
#include "util/error.h"

namespace larql {
namespace {

struct Routed {
  std::vector<int32_t> sel;
  std::vector<float> w;
};

Routed route(const Family& f, std::vector<float> logits, int64_t k, const std::vector<float>& bias = {}) {
  Routed r{std::vector<int32_t>(static_cast<size_t>(k)), std::vector<float>(static_cast<size_t>(k))};
  std::vector<float> tmp;
  moe_route(f, static_cast<int64_t>(logits.size()), k, logits.data(), bias.empty() ? nullptr : bias.data(), r.sel.data(),
            r.w.data(), tmp);
  return r;
}

// Logits ln(1), ln(2), ln(4), ln(1): softmax = 1/8, 2/8, 4/8, 1/8.
const std::vector<float> kLogits = {0.0f, std::log(2.0f), std::log(4.0f), 0.0f};

TEST(MoERoute, SoftmaxTopKUnnormalised) {  // qwen2moe
  Family f;
  const Routed r = route(f, kLogits, 2);
  EXPECT_EQ(r.sel, (std::vector<int32_t>{2, 1}));
  EXPECT_NEAR(r.w[0], 0.5f, 1e-6);
  EXPECT_NEAR(r.w[1], 0.25f, 1e-6);
}

TEST(MoERoute, SoftmaxTopKRenormalised) {  // mixtral, qwen3moe
  Family f;
  f.moe_norm_topk = true;
  const Routed r = route(f, kLogits, 2);
  EXPECT_NEAR(r.w[0], 2.0f / 3.0f, 1e-6);
  EXPECT_NEAR(r.w[1], 1.0f / 3.0f, 1e-6);
}

TEST(MoERoute, TiesGoToTheLowerExpert) {
  Family f;
  const Routed r = route(f, {1.0f, 3.0f, 3.0f, 3.0f}, 2);
  EXPECT_EQ(r.sel, (std::vector<int32_t>{1, 2}));
}

TEST(MoERoute, SigmoidWithSelectionBiasAndScale) {  // DeepSeek V3
  Family f;
  f.gating = Gating::Sigmoid;
  f.moe_norm_topk = true;
  f.moe_scale = 2.5f;
  // Equal sigmoid scores 0.5; the bias alone decides the selection but not the weights.
  const Routed r = route(f, {0, 0, 0, 0}, 2, {0.0f, 0.1f, 0.3f, 0.2f});
  EXPECT_EQ(r.sel, (std::vector<int32_t>{2, 3}));
  EXPECT_NEAR(r.w[0], 1.25f, 1e-6);
  EXPECT_NEAR(r.w[1], 1.25f, 1e-6);
  // Unnormalised: sigmoid(ln 3) = 0.75 times the scale.
  f.moe_norm_topk = false;
  const Routed u = route(f, {std::log(3.0f), 0, 0, 0}, 1);
  EXPECT_EQ(u.sel[0], 0);
  EXPECT_NEAR(u.w[0], 0.75f * 2.5f, 1e-6);
}

TEST(MoERoute, GroupLimited) {
  // 8 experts in 4 groups of 2; keep 2 groups. Scores (softmax keeps the order):
  // group 0 {5, 0}, group 1 {4, 4}, group 2 {4.5, 0}, group 3 {1, 1}.
  const std::vector<float> lg = {5, 0, 4, 4, 4.5f, 0, 1, 1};
  Family f;
  f.expert_groups = 4;
  f.expert_groups_used = 2;
  f.group_score = GroupScore::Max;  // V2: groups 0 (5) and 2 (4.5)
  EXPECT_EQ(route(f, lg, 2).sel, (std::vector<int32_t>{0, 4}));
  f.group_score = GroupScore::Top2Sum;  // V3 (on sigmoid scores): groups 1 (~2*0.98) and 0 (~0.99+0.5)
  f.gating = Gating::Sigmoid;
  EXPECT_EQ(route(f, lg, 3).sel, (std::vector<int32_t>{0, 2, 3}));
  // Without the limit the best three are 0, 4 and 2.
  f.expert_groups = 0;
  EXPECT_EQ(route(f, lg, 3).sel, (std::vector<int32_t>{0, 4, 2}));
}

TEST(MoEFamily, RejectsInconsistentExpertCounts) {
  HParams hp;
  hp.arch = "qwen3moe";
  hp.head_dim_k = 64;
  hp.n_expert = 4;
  hp.n_ff_exp = 32;
  hp.n_expert_used = 5;
  EXPECT_THROW(family_for(hp), Error);
  hp.n_expert_used = 2;
  EXPECT_TRUE(family_for(hp).layer_is_moe(0));
  hp.arch = "qwen2moe";  // shared-expert width missing
  EXPECT_THROW(family_for(hp), Error);
  hp.arch = "deepseek2";
  hp.head_dim_k = 96; hp.head_dim_v = 64; hp.rope_dim = 32; hp.kv_lora_rank = 64; hp.n_expert = 8;
  hp.n_layer_dense_lead = 1;
  hp.n_expert_groups = 3;  // does not divide 8
  hp.n_expert_groups_used = 1;
  EXPECT_THROW(family_for(hp), Error);
  hp.n_expert_groups = 4;  // 1 group of 2 holds k = 2
  const Family f = family_for(hp);
  EXPECT_TRUE(f.mla);
  EXPECT_FALSE(f.layer_is_moe(0));
  EXPECT_TRUE(f.layer_is_moe(1));
  hp.n_expert_used = 3;  // 1 group of 2 cannot hold 3
  EXPECT_THROW(family_for(hp), Error);
  hp.kv_lora_rank = 0;
  EXPECT_THROW(family_for(hp), Error);
}

}  // namespace
}  // namespace larql
