// --ram-budget expert cache: logits bit-identical to the mapped path on every
// MoE family (few slots, so experts are evicted and re-read constantly),
// slot bytes equal to the file's, and LRU/LFU victims on hand-made sequences.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>

#include "engine/expert_cache.h"
#include "engine/model.h"
#include "engine/session.h"
#include "synth/synth.h"
#include "../test_paths.h"
#include "util/error.h"

using namespace larql;

namespace {

std::string fixture(const std::string& name) { return test::fixtures_dir() + "/models/synthetic/" + name; }

// A tiny qwen3moe (no llama.cpp fixture exists for it), made once per process.
std::string qwen3moe_synth() {
  static std::string path = [] {
    std::string p = (std::filesystem::temp_directory_path() / ("larql-ec-qwen3moe-" + std::to_string(::getpid()) + ".gguf")).string();
    synth::Options o;
    o.arch = "qwen3moe";
    o.type = synth::FileType::Q4_K_M;
    o.out = p;
    o.threads = 1;
    synth::synthesize(o);
    return p;
  }();
  return path;
}

// Prefill of a prompt (all logits) then a few one-token decode steps.
std::vector<float> run(const Model& m) {
  SessionOptions so;
  so.n_threads = 2;
  so.n_ctx = 64;
  Session s(m, so);
  std::vector<int32_t> prompt;
  for (int i = 0; i < 20; ++i) prompt.push_back((i * 37 + 5) % static_cast<int32_t>(m.hparams().n_vocab));
  std::vector<float> all, step;
  s.eval(prompt.data(), static_cast<int64_t>(prompt.size()), true, all);
  for (int i = 0; i < 12; ++i) {
    const int32_t t = (i * 101 + 7) % static_cast<int32_t>(m.hparams().n_vocab);
    s.eval(&t, 1, false, step);
    all.insert(all.end(), step.begin(), step.end());
  }
  return all;
}

void check_identical(const std::string& path, ExpertPolicy policy, bool prefetch) {
  SCOPED_TRACE(path + " " + expert_policy_name(policy) + (prefetch ? " prefetch" : ""));
  auto mapped = Model::load(path);
  const std::vector<float> ref = run(*mapped);
  auto cached = Model::load(path);
  ExpertCacheOptions o;
  o.policy = policy;
  o.prefetch = prefetch;
  o.slots = 2 * cached->hparams().n_expert_used + 2;  // the minimum: constant eviction
  cached->set_expert_cache(std::make_shared<ExpertCache>(*cached, o));
  const std::vector<float> got = run(*cached);
  ASSERT_EQ(ref.size(), got.size());
  EXPECT_EQ(0, std::memcmp(ref.data(), got.data(), sizeof(float) * ref.size())) << "logits differ";
  const ExpertCacheStats st = cached->expert_cache()->stats();
  EXPECT_GT(st.lookups, 0u);
  EXPECT_EQ(st.lookups, st.hits + st.prefetch_hits + st.late + st.misses);
  EXPECT_GT(st.loads, 0u);
  EXPECT_LE(st.predicted_right, st.predicted);  // predictions are asynchronous: their count is timing-dependent
}

}  // namespace

TEST(ExpertCache, LogitsBitIdenticalAllMoEFamilies) {
  LARQL_REQUIRE_FIXTURES();
  for (ExpertPolicy pol : {ExpertPolicy::LRU, ExpertPolicy::LFU}) {
    check_identical(fixture("tiny-mixtral-8x2-Q4_K_M.gguf"), pol, true);
    check_identical(fixture("tiny-qwen2moe-4x2-Q8_0.gguf"), pol, true);
    check_identical(fixture("tiny-deepseek2-mla-Q4_K_M.gguf"), pol, true);
  }
  check_identical(fixture("tiny-mixtral-8x2-F32.gguf"), ExpertPolicy::LFU, false);
  check_identical(fixture("tiny-deepseek2-mla-Q8_0.gguf"), ExpertPolicy::LRU, false);
}

TEST(ExpertCache, LogitsBitIdenticalQwen3MoeSynth) {
  const std::string p = qwen3moe_synth();
  check_identical(p, ExpertPolicy::LFU, true);
  check_identical(p, ExpertPolicy::LRU, false);
  std::filesystem::remove(p);
}

TEST(ExpertCache, SlotHoldsTheFileBytes) {
  LARQL_REQUIRE_FIXTURES();
  auto m = Model::load(fixture("tiny-qwen2moe-4x2-Q4_K_M.gguf"));
  ExpertCacheOptions o;
  o.slots = 6;
  o.prefetch = false;
  ExpertCache c(*m, o);
  for (int64_t il = 0; il < m->hparams().n_layer; ++il)
    for (int64_t e = 0; e < m->hparams().n_expert; ++e) {
      const LayerWeights& L = m->weights().layers[static_cast<size_t>(il)];
      ExpertHandle h = c.acquire(il, e);
      EXPECT_EQ(0, std::memcmp(h.gate.data, L.gate_exps.at(e).data, L.gate_exps.expert_bytes));
      EXPECT_EQ(0, std::memcmp(h.up.data, L.up_exps.at(e).data, L.up_exps.expert_bytes));
      EXPECT_EQ(0, std::memcmp(h.down.data, L.down_exps.at(e).data, L.down_exps.expert_bytes));
      EXPECT_EQ(h.down.n_out, L.down_exps.w.n_out);
      EXPECT_NE(h.gate.data, L.gate_exps.at(e).data);  // a copy, not the mapping
      c.release(h);
    }
}

namespace {
// Acquire+release in order; returns whether each lookup was a hit.
std::vector<bool> play(ExpertCache& c, const std::vector<int>& seq) {
  std::vector<bool> hit;
  for (int e : seq) {
    const uint64_t before = c.stats().hits;
    c.release(c.acquire(0, e));
    hit.push_back(c.stats().hits > before);
  }
  return hit;
}
}  // namespace

// Four slots, experts 0..3 loaded, 0 and 1 used often, then 2 and 3 once more
// (most recent). A fifth expert evicts: LRU the least recent (0), LFU the
// least frequent (2; 2 and 3 tie on count, 2 is older).
TEST(ExpertCache, LruAndLfuVictims) {
  LARQL_REQUIRE_FIXTURES();
  auto m = Model::load(fixture("tiny-mixtral-8x2-Q8_0.gguf"));
  const std::vector<int> warm = {0, 1, 2, 3, 0, 1, 0, 1, 0, 1, 2, 3, 4};
  for (ExpertPolicy pol : {ExpertPolicy::LRU, ExpertPolicy::LFU}) {
    ExpertCacheOptions o;
    o.slots = 4;
    o.prefetch = false;
    o.policy = pol;
    ExpertCache c(*m, o);
    const std::vector<bool> h = play(c, warm);
    EXPECT_EQ(std::count(h.begin(), h.end(), true), 8);  // 4 cold misses + the 5th expert
    const int evicted = pol == ExpertPolicy::LRU ? 0 : 2;
    const int kept = pol == ExpertPolicy::LRU ? 2 : 0;
    EXPECT_EQ(play(c, {kept}), std::vector<bool>{true}) << expert_policy_name(pol);
    EXPECT_EQ(play(c, {evicted}), std::vector<bool>{false}) << expert_policy_name(pol);
  }
}

TEST(ExpertCache, BudgetTooSmallIsAnError) {
  LARQL_REQUIRE_FIXTURES();
  auto m = Model::load(fixture("tiny-mixtral-8x2-Q8_0.gguf"));
  try {
    plan_ram_budget(*m, 1 << 20, 64, 1, KVType::F32, 16);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("too small"), std::string::npos) << e.what();
  }
  auto dense = Model::load(fixture("tiny-llama-gqa-Q8_0.gguf"));
  EXPECT_THROW(plan_ram_budget(*dense, 1ull << 32, 64, 1, KVType::F32, 16), Error);
  const BudgetPlan p = plan_ram_budget(*m, 1ull << 32, 64, 1, KVType::F32, 16);
  EXPECT_EQ(p.slots, m->hparams().n_layer * m->hparams().n_expert);  // everything fits: capped
  EXPECT_THROW(parse_expert_policy("fifo"), Error);
}
