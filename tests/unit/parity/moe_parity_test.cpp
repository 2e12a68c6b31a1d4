// MoE execution checks against the llama.cpp references: token-by-token decode
// (one row per step: only the routed experts run; deepseek2 attends through the
// absorbed latent path) must give the logits of the reference's one-batch
// prompt pass, and the expert counters must show that only routed experts ran.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

#include "../test_paths.h"
#include "reference_io.h"
#include "engine/session.h"
#include "model/model_source.h"

using namespace larql;

namespace {

using test::read_f32;

struct Ref {
  std::unique_ptr<Model> model;
  nlohmann::json index;
  std::string dir;
};

Ref load(const std::string& stem) {
  Ref r;
  r.dir = test::fixtures_dir() + "/reference/" + stem;
  std::ifstream jf(r.dir + "/index.json");
  if (!jf) throw std::runtime_error("missing reference " + r.dir);
  r.index = nlohmann::json::parse(jf);
  r.model = Model::from_source(
      open_gguf_model(test::fixtures_dir() + "/models/synthetic/" + r.index["model_file"].get<std::string>()));
  return r;
}

class MoEDecode : public ::testing::TestWithParam<std::string> {};

// The 33-token prompt fed one token per eval() call.
TEST_P(MoEDecode, TokenByTokenMatchesReferencePrefill) {
  LARQL_REQUIRE_FIXTURES();
  Ref r = load(GetParam());
  const auto& p = r.index["prompts"][2];
  const std::vector<int32_t> toks = p["tokens"].get<std::vector<int32_t>>();
  const auto want = read_f32(r.dir + "/" + p["logits_file"].get<std::string>());
  const int64_t V = r.model->hparams().n_vocab;
  SessionOptions so;
  so.n_ctx = 64;
  Session s(*r.model, so);
  double max_diff = 0;
  for (size_t t = 0; t < toks.size(); ++t) {
    std::vector<float> l;
    s.eval(&toks[t], 1, false, l);
    for (int64_t i = 0; i < V; ++i) max_diff = std::max(max_diff, (double)std::fabs(l[i] - want[t * V + i]));
  }
  EXPECT_LE(max_diff, 1e-3) << GetParam();
  std::printf("DECODE %-24s 33 single-token steps vs reference prefill: max|d| %.3g\n", GetParam().c_str(), max_diff);
}

INSTANTIATE_TEST_SUITE_P(MoE, MoEDecode,
                         ::testing::Values("tiny-mixtral-8x2-F32", "tiny-qwen2moe-4x2-F32", "tiny-deepseek2-mla-F32"),
                         [](const auto& i) {
                           std::string s = i.param;
                           for (char& c : s) if (c == '-') c = '_';
                           return s;
                         });

// Decode runs exactly k experts per MoE layer and reads only their bytes;
// prefill runs each selected expert once over all its rows.
TEST(MoEStats, OnlyRoutedExpertsRun) {
  LARQL_REQUIRE_FIXTURES();
  Ref r = load("tiny-deepseek2-mla-Q4_K_M");
  const HParams& hp = r.model->hparams();
  const LayerWeights& L = r.model->weights().layers[1];
  const uint64_t per_expert = L.gate_exps.expert_bytes + L.up_exps.expert_bytes + L.down_exps.expert_bytes;
  const int64_t moe_layers = hp.n_layer - hp.n_layer_dense_lead;
  ASSERT_GT(moe_layers, 0);
  Session s(*r.model, SessionOptions{});
  const std::vector<int32_t> toks = r.index["prompts"][2]["tokens"].get<std::vector<int32_t>>();
  std::vector<float> l;
  s.eval(toks.data(), static_cast<int64_t>(toks.size()), false, l);
  const MoEStats pre = s.moe_stats();
  EXPECT_EQ(pre.rows, toks.size() * moe_layers);
  EXPECT_EQ(pre.expert_uses, toks.size() * moe_layers * hp.n_expert_used);
  EXPECT_LE(pre.expert_matmuls, static_cast<uint64_t>(moe_layers * hp.n_expert));  // at most once per expert
  EXPECT_EQ(pre.expert_bytes, pre.expert_matmuls * per_expert);
  s.clear_moe_stats();
  const int32_t next = 42;
  s.eval(&next, 1, false, l);
  EXPECT_EQ(s.moe_stats().expert_matmuls, static_cast<uint64_t>(moe_layers * hp.n_expert_used));
  EXPECT_EQ(s.moe_stats().expert_bytes, moe_layers * hp.n_expert_used * per_expert);
}

}  // namespace
