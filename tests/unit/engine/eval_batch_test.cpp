// eval_batch: several sessions in one pass give the logits each would get
// alone, keep their caches apart, and reject bad batches before touching any.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "engine/model.h"
#include "engine/session.h"
#include "../test_paths.h"
#include "util/error.h"

namespace larql {
namespace {

float max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  EXPECT_EQ(a.size(), b.size());
  float m = 0;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) m = std::max(m, std::fabs(a[i] - b[i]));
  return m;
}

// Tiled kernels may sum a stacked batch in another order than a lone row;
// the difference stays at float rounding.
constexpr float kTol = 2e-3f;

void check_model(const std::string& file, KVType kv) {
  auto model = Model::load(test::fixtures_dir() + "/models/" + file);
  SessionOptions so;
  so.n_threads = 2;
  so.n_ctx = 64;
  so.kv_type = kv;
  so.pool = std::make_shared<ThreadPool>(2);
  const std::vector<std::vector<int32_t>> prompts = {{1, 5, 9, 13, 2}, {1, 7}, {3, 4, 5, 6, 7, 8, 9}};
  const std::vector<int32_t> next = {11, 12, 14};

  // Alone: prefill, then one decode step each.
  std::vector<std::vector<float>> ref_prefill, ref_step;
  for (size_t i = 0; i < prompts.size(); ++i) {
    Session s(*model, so);
    std::vector<float> l;
    s.eval(prompts[i].data(), static_cast<int64_t>(prompts[i].size()), true, l);
    ref_prefill.push_back(l);
    s.eval(&next[i], 1, false, l);
    ref_step.push_back(l);
  }

  // Together: one batched prefill (all logits), then one batched decode step.
  std::vector<Session> ss;
  for (size_t i = 0; i < prompts.size(); ++i) ss.emplace_back(*model, so);
  std::vector<std::vector<float>> out(prompts.size());
  std::vector<BatchItem> items;
  for (size_t i = 0; i < prompts.size(); ++i)
    items.push_back({&ss[i], prompts[i].data(), static_cast<int64_t>(prompts[i].size()), true, &out[i]});
  eval_batch(items);
  for (size_t i = 0; i < prompts.size(); ++i) {
    EXPECT_EQ(ss[i].n_past(), static_cast<int64_t>(prompts[i].size()));
    EXPECT_LT(max_abs_diff(out[i], ref_prefill[i]), kTol) << file << " prefill " << i;
  }
  items.clear();
  for (size_t i = 0; i < prompts.size(); ++i) items.push_back({&ss[i], &next[i], 1, false, &out[i]});
  eval_batch(items);
  for (size_t i = 0; i < prompts.size(); ++i) EXPECT_LT(max_abs_diff(out[i], ref_step[i]), kTol) << file << " step " << i;
}

TEST(EvalBatch, MatchesSeparateSessionsDense) {
  LARQL_REQUIRE_FIXTURES();
  check_model("facts/facts-F32.gguf", KVType::F32);
  check_model("synthetic/tiny-llama-gqa-Q8_0.gguf", KVType::F16);
  check_model("synthetic/tiny-gemma3-Q4_K_M.gguf", KVType::F32);  // sliding window + soft-cap paths
}

// MoE: rows of several sessions share each expert's matrix product; MLA keeps
// one latent cache per session (prefill takes the expanded path, the decode
// step the absorbed one).
TEST(EvalBatch, MatchesSeparateSessionsMoE) {
  LARQL_REQUIRE_FIXTURES();
  check_model("synthetic/tiny-mixtral-8x2-Q8_0.gguf", KVType::F16);
  check_model("synthetic/tiny-qwen2moe-4x2-Q4_K_M.gguf", KVType::F32);
  check_model("synthetic/tiny-deepseek2-mla-F32.gguf", KVType::F32);
  check_model("synthetic/tiny-deepseek2-mla-Q8_0.gguf", KVType::F16);
}

// One batch mixing a decode step (absorbed MLA) and a fresh prompt (expanded MLA).
TEST(EvalBatch, MixedDecodeAndPrefillMLA) {
  LARQL_REQUIRE_FIXTURES();
  auto model = Model::load(test::fixtures_dir() + "/models/synthetic/tiny-deepseek2-mla-F32.gguf");
  SessionOptions so;
  so.n_ctx = 32;
  so.pool = std::make_shared<ThreadPool>(2);
  const std::vector<int32_t> pa = {1, 5, 9, 13, 2}, pb = {1, 7, 8, 9, 10, 11, 12};
  const int32_t next = 11;
  std::vector<float> ref_a, ref_b, l;
  {
    Session a(*model, so), b(*model, so);
    a.eval(pa.data(), 5, false, l);
    a.eval(&next, 1, false, ref_a);
    b.eval(pb.data(), 7, true, ref_b);
  }
  Session a(*model, so), b(*model, so);
  a.eval(pa.data(), 5, false, l);
  std::vector<float> out_a, out_b;
  std::vector<BatchItem> items = {{&a, &next, 1, false, &out_a}, {&b, pb.data(), 7, true, &out_b}};
  eval_batch(items);
  EXPECT_LT(max_abs_diff(out_a, ref_a), kTol);
  EXPECT_LT(max_abs_diff(out_b, ref_b), kTol);
}

TEST(EvalBatch, RejectsBadBatchesWithoutSideEffects) {
  LARQL_REQUIRE_FIXTURES();
  auto model = Model::load(test::fixtures_dir() + "/models/facts/facts-F32.gguf");
  SessionOptions so;
  so.n_threads = 1;
  so.n_ctx = 8;
  Session a(*model, so), b(*model, so);
  std::vector<float> la, lb;
  const int32_t toks[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
  // The same session twice.
  std::vector<BatchItem> dup = {{&a, toks, 2, false, &la}, {&a, toks, 2, false, &lb}};
  EXPECT_THROW(eval_batch(dup), Error);
  // Second item overflows its context: nothing may run, not even the first.
  std::vector<BatchItem> over = {{&a, toks, 2, false, &la}, {&b, toks, 9, false, &lb}};
  EXPECT_THROW(eval_batch(over), Error);
  EXPECT_EQ(a.n_past(), 0);
  // Out-of-vocabulary token.
  const int32_t bad = 1 << 30;
  std::vector<BatchItem> oov = {{&a, toks, 2, false, &la}, {&b, &bad, 1, false, &lb}};
  EXPECT_THROW(eval_batch(oov), Error);
  EXPECT_EQ(a.n_past(), 0);
  EXPECT_THROW(eval_batch(std::span<const BatchItem>()), Error);
}

}  // namespace
}  // namespace larql
