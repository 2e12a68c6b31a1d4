// Parity with llama.cpp: logits for every prompt of every dense and MoE fixture
// model (shared/fixtures/reference) and greedy continuations, within the
// tolerances the dense-inference issue sets. Prints one table row per model.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>

#include "../test_paths.h"
#include "reference_io.h"
#include "engine/session.h"
#include "kernels/numerics.h"
#include "util/cpu.h"
#include "model/model_source.h"

using namespace larql;

namespace {

using test::read_f32;

int argmax(const float* x, int64_t n) {
  int best = 0;
  for (int64_t i = 1; i < n; ++i)
    if (x[i] > x[best]) best = static_cast<int>(i);
  return best;
}

double kl(const float* p_logits, const float* q_logits, int64_t n) {
  double mp = -1e30, mq = -1e30;
  for (int64_t i = 0; i < n; ++i) { mp = std::max(mp, (double)p_logits[i]); mq = std::max(mq, (double)q_logits[i]); }
  double sp = 0, sq = 0;
  for (int64_t i = 0; i < n; ++i) { sp += std::exp(p_logits[i] - mp); sq += std::exp(q_logits[i] - mq); }
  double k = 0;
  for (int64_t i = 0; i < n; ++i) {
    double lp = p_logits[i] - mp - std::log(sp), lq = q_logits[i] - mq - std::log(sq);
    k += std::exp(lp) * (lp - lq);
  }
  return k;
}

// Selects a numerics profile for one test and restores the default after.
struct NumericsGuard {
  explicit NumericsGuard(Numerics n) { set_numerics(n); }
  ~NumericsGuard() { set_numerics(Numerics::LlamaCpp); }
};

class Parity : public ::testing::TestWithParam<std::string> {};

TEST_P(Parity, LogitsAndGreedy) {
  LARQL_REQUIRE_FIXTURES();
  const std::string stem = GetParam();
  const std::string ref_dir = test::fixtures_dir() + "/reference/" + stem;
  std::ifstream jf(ref_dir + "/index.json");
  ASSERT_TRUE(jf) << "missing reference " << ref_dir;
  auto ref = nlohmann::json::parse(jf);
  const std::string model_dir = stem.rfind("facts", 0) == 0 ? "/models/facts/" : "/models/synthetic/";
  auto model = Model::from_source(open_gguf_model(test::fixtures_dir() + model_dir + ref["model_file"].get<std::string>()));
  const bool f16kv = ref["settings"]["type_k"] == "f16";
  // Each reference is reproduced in the operation order of the engine that made
  // it (docs/numerics.md), so the logits must agree to the last bit: the bound
  // only leaves room for printing noise, and every greedy step is checked.
  const std::string engine = ref["producer"]["engine"].get<std::string>();
  NumericsGuard guard(parse_numerics(engine));
  // qwen2moe and deepseek2 (MLA) are not yet in the reference's exact order
  // (their F32 paths differ by ~3e-7, which a quantized model can amplify):
  // they keep the dense issue's bounds (1e-3 F32, 0.05 quantized, argmax where
  // the reference margin > 0.1, greedy up to a step whose margin is below 2x the bound).
  // Expert products follow ggml's vec_dot order, which only the SIMD kernels
  // reproduce exactly (the scalar ones sum blocks in another float order).
  const bool moe = stem.rfind("tiny-mixtral", 0) == 0;
  // LARQL_TEST_PACK_EXPERTS=1 (ctest parity_moe_packed_experts): experts packed
  // as the generating commands do, in the packed kernels' order, so mixtral
  // keeps only the dense bounds too.
  const bool packed = std::getenv("LARQL_TEST_PACK_EXPERTS") && model->pack_experts() > 0;
  const bool exact = stem.rfind("tiny-qwen2moe", 0) != 0 && stem.rfind("tiny-deepseek2", 0) != 0 &&
                     !(moe && (cpu_features().force_scalar || packed));
  const bool f32 = stem.find("F32") != std::string::npos;
  const double tol = exact ? 1e-6 : (f32 ? 1e-3 : 0.05);
  const int64_t V = model->hparams().n_vocab;

  double max_diff = 0, kl_sum = 0;
  int64_t positions = 0, agree = 0, argmax_checked = 0, greedy_checked = 0;
  for (const auto& p : ref["prompts"]) {
    std::vector<int32_t> toks = p["tokens"].get<std::vector<int32_t>>();
    auto want = read_f32(ref_dir + "/" + p["logits_file"].get<std::string>());
    ASSERT_EQ(want.size(), toks.size() * static_cast<size_t>(V));
    SessionOptions so;
    so.kv_type = f16kv ? KVType::F16 : KVType::F32;
    so.n_ctx = 512;
    Session s(*model, so);
    std::vector<float> got;
    s.eval(toks.data(), static_cast<int64_t>(toks.size()), true, got);
    ASSERT_EQ(got.size(), want.size());
    for (size_t t = 0; t < toks.size(); ++t) {
      const float* g = got.data() + t * V;
      const float* w = want.data() + t * V;
      double d = 0;
      for (int64_t i = 0; i < V; ++i) d = std::max(d, (double)std::fabs(g[i] - w[i]));
      max_diff = std::max(max_diff, d);
      if (std::getenv("LARQL_PARITY_VERBOSE")) std::printf("  prompt %d pos %zu max|d| %.3g\n", p["index"].get<int>(), t, d);
      kl_sum += kl(w, g, V);
      ++positions;
      const int ag = argmax(g, V), aw = argmax(w, V);
      agree += ag == aw;
      std::vector<float> sorted(w, w + V);
      std::partial_sort(sorted.begin(), sorted.begin() + 2, sorted.end(), std::greater<float>());
      if (exact || f32 || sorted[0] - sorted[1] > 0.1) {
        EXPECT_EQ(ag, aw) << stem << " prompt " << p["index"] << " position " << t;
        ++argmax_checked;
      }
    }
    // All 32 greedy steps, one token per decode call, as the reference made them.
    const auto& gr = p["greedy"];
    std::vector<int32_t> want_tokens = gr["tokens"].get<std::vector<int32_t>>();
    const std::vector<double> top1 = gr["top1_logit"].get<std::vector<double>>();
    const std::vector<double> margins = gr["margin_top1_top2"].get<std::vector<double>>();
    const double bound = std::max(2 * tol, 2 * max_diff);
    int32_t next = argmax(got.data() + (toks.size() - 1) * V, V);
    for (size_t step = 0; step < want_tokens.size(); ++step) {
      if (!exact && margins[step] < bound) break;
      EXPECT_EQ(next, want_tokens[step]) << stem << " prompt " << p["index"] << " greedy step " << step;
      if (next != want_tokens[step]) break;
      ++greedy_checked;
      if (step + 1 == want_tokens.size()) break;
      std::vector<float> l;
      s.eval(&next, 1, false, l);
      next = argmax(l.data(), V);
      // index.json prints the chosen logits with ~9 significant digits.
      if (exact) {
        EXPECT_NEAR(l[static_cast<size_t>(next)], top1[step + 1], 1e-5 * std::max(1.0, std::fabs(top1[step + 1])))
            << stem << " prompt " << p["index"] << " greedy step " << step + 1;
      }
    }
  }
  EXPECT_LE(max_diff, tol) << stem;
  std::printf("PARITY %-26s positions %4lld argmax agree %6.2f%% (checked %lld) max|d| %.3g mean KL %.3g greedy steps %lld\n",
              stem.c_str(), (long long)positions, 100.0 * agree / positions, (long long)argmax_checked, max_diff,
              kl_sum / positions, (long long)greedy_checked);
}

std::vector<std::string> dense_stems() {
  std::vector<std::string> out;
  for (const char* m : {"tiny-llama-gqa", "tiny-qwen2", "tiny-qwen3", "tiny-gemma3", "tiny-phi3", "tiny-gpt2", "facts"})
    for (const char* t : {"F32", "Q8_0", "Q4_K_M"}) out.push_back(std::string(m) + "-" + t);
  return out;
}

std::string name_of(const ::testing::TestParamInfo<std::string>& i) {
  std::string s = i.param;
  for (char& c : s) if (c == '-') c = '_';
  return s;
}

INSTANTIATE_TEST_SUITE_P(Dense, Parity, ::testing::ValuesIn(dense_stems()), name_of);

// Mixture of experts (mixtral, qwen2moe + gated shared expert, deepseek2 MLA +
// sigmoid routing with selection bias), same tolerances as dense.
std::vector<std::string> moe_stems() {
  std::vector<std::string> out;
  for (const char* m : {"tiny-mixtral-8x2", "tiny-qwen2moe-4x2", "tiny-deepseek2-mla"})
    for (const char* t : {"F32", "Q8_0", "Q4_K_M"}) out.push_back(std::string(m) + "-" + t);
  return out;
}

INSTANTIATE_TEST_SUITE_P(MoE, Parity, ::testing::ValuesIn(moe_stems()), name_of);

}  // namespace
