// Whole-word (multi-token) edit targets (docs/editing.md): after inserting
// Spain -> Madrid the greedy continuation of "The capital of Spain is" must be
// " Madrid" (all its tokens), with each mechanism, live and (FEATURE, MEMIT)
// compiled into a GGUF. The unedited model says " Dublin" there and a
// first-token-only edit said " Mg", so the checks can fail. Also: patch files
// from before whole-word edits still load with their old meaning.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "../test_paths.h"
#include "compile/compile.h"
#include "edit/evaluate.h"
#include "edit/materialize.h"
#include "engine/model.h"
#include "util/error.h"
#include "util/thread_pool.h"

using namespace larql;
namespace fs = std::filesystem;

namespace {
const char* kPrompt = "The capital of Spain is";

std::string dir() { return test::fixtures_dir() + "/models/facts/"; }

std::shared_ptr<ThreadPool> pool() {
  static auto p = std::make_shared<ThreadPool>(2);
  return p;
}

edit::Fact spain(const edit::Editor& ed) {
  return edit::make_fact(ed, "Spain", "capital", "Madrid", edit::load_templates_tsv(dir() + "templates.tsv"));
}

// Greedy text of the compiled (materialized, written, reloaded) patch.
std::string compiled_text(const Model& m, const FfnPatch& p, int64_t n) {
  const std::string out = (fs::path(::testing::TempDir()) / ("larql-ww-" + std::to_string(::getpid()) + ".gguf")).string();
  fs::remove(out);
  compile::write_model(m.source(), edit::materialize(m.source(), p), out);
  auto m2 = Model::load(out);
  const edit::Editor ed2(*m2, pool());
  const std::string s = edit::greedy_text(ed2, kPrompt, n, nullptr, {});
  fs::remove(out);
  return s;
}

std::string base_patch_json(const std::string& fact, const std::string& extra = "") {
  return R"({"format":"larql-patch","version":1,"base":{"family":"llama","n_layer":4,"n_embd":4,"n_ff":8,"n_vocab":16,
    "fingerprint":"0"},"operations":[{"op":"insert","mode":"knn",)" + extra + R"("facts":[)" + fact + R"(]}]})";
}
}  // namespace

TEST(EditWholeWord, TargetTokensAndOldPatches) {
  // A fact written before whole-word edits: first token only, as before.
  edit::Patch p = edit::patch_from_json(
      base_patch_json(R"({"entity":"a","relation":"r","target":"xy","prompt":"p","target_token":3})"), "old.vlp");
  ASSERT_EQ(p.ops.size(), 1u);
  EXPECT_EQ(p.ops[0].facts[0].steps(), std::vector<int32_t>{3});
  // Round trip of the new field.
  p.ops[0].facts[0].target_tokens = {3, 7, 9};
  const edit::Patch q = edit::patch_from_json(edit::patch_to_json(p), "new.vlp");
  EXPECT_EQ(q.ops[0].facts[0].steps(), (std::vector<int32_t>{3, 7, 9}));
  // Bad token lists are refused with the field named.
  for (const std::string& bad : {std::string(R"("target_token":3,"target_tokens":[3,99])"),
                                 std::string(R"("target_token":3,"target_tokens":[4,5])"), std::string(R"("target_token":16)")}) {
    try {
      edit::patch_from_json(base_patch_json(R"({"entity":"a","relation":"r","target":"x",)" + bad + "}"), "bad.vlp");
      ADD_FAILURE() << "accepted " << bad;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("target_token"), std::string::npos) << e.what();
    }
  }
  EXPECT_THROW(edit::patch_from_json(base_patch_json(R"({"entity":"a","relation":"r","target":"x"})", R"("column_facts":[0,5],)"), "c.vlp"),
               Error);
}

TEST(EditWholeWord, FeatureMemitKnnSayTheWholeWord) {
  LARQL_REQUIRE_FIXTURES();
  auto m = Model::load(dir() + "facts-F32.gguf");
  edit::Editor ed(*m, pool());
  const edit::Fact f = spain(ed);
  ASSERT_GE(f.target_tokens.size(), 2u) << "\" Madrid\" should be several tokens in this vocabulary";
  EXPECT_EQ(f.target_token, f.target_tokens[0]);
  const int64_t n = static_cast<int64_t>(f.target_tokens.size());
  const std::string before = edit::greedy_text(ed, kPrompt, n, nullptr, {});
  EXPECT_NE(before.rfind(" Madrid", 0), 0u) << before;

  const std::vector<std::string> decoys = {"The capital of France is", "The currency of Spain is the", "The capital of Italy is"};
  const edit::Operation fe = ed.insert_feature(f, decoys, nullptr, {});
  ASSERT_EQ(fe.ffn.layers.size(), 1u);
  EXPECT_EQ(fe.ffn.layers.begin()->second.slots.size(), f.target_tokens.size());  // one feature per token
  EXPECT_EQ(edit::greedy_text(ed, kPrompt, n, &fe.ffn, {}).rfind(" Madrid", 0), 0u) << edit::greedy_text(ed, kPrompt, n, &fe.ffn, {});
  EXPECT_EQ(compiled_text(*m, fe.ffn, n).rfind(" Madrid", 0), 0u) << compiled_text(*m, fe.ffn, n);
  // France keeps its answer.
  EXPECT_EQ(edit::greedy_text(ed, "The capital of France is", 1, &fe.ffn, {}), " Paris");

  edit::Operation me = ed.insert_memit({f}, edit::read_lines(dir() + "val.txt", 60), nullptr, {});
  EXPECT_EQ(me.column_fact, std::vector<int64_t>(f.target_tokens.size(), 0));
  EXPECT_EQ(me.ffn.layers.begin()->second.rank, n);
  EXPECT_EQ(edit::greedy_text(ed, kPrompt, n, &me.ffn, {}).rfind(" Madrid", 0), 0u) << edit::greedy_text(ed, kPrompt, n, &me.ffn, {});
  EXPECT_EQ(compiled_text(*m, me.ffn, n).rfind(" Madrid", 0), 0u);

  const edit::Operation kn = ed.insert_knn(f, {});
  EXPECT_EQ(kn.knn.size(), f.target_tokens.size());
  EXPECT_EQ(edit::greedy_text(ed, kPrompt, n, nullptr, kn.knn).rfind(" Madrid", 0), 0u) << edit::greedy_text(ed, kPrompt, n, nullptr, kn.knn);

  // The whole-word insert is one operation: a DELETE of the fact cancels every step.
  edit::PatchStack st;
  st.patches.push_back(edit::Patch{});
  st.patches[0].ops = {fe, me};
  edit::Operation del;
  del.op = "delete";
  del.mode = edit::Mode::Mask;
  del.cancels = true;
  del.facts.push_back({"Spain", "capital", "", "", -1});
  st.patches[0].ops.push_back(del);
  st.compose();
  EXPECT_EQ(edit::greedy_text(ed, kPrompt, n, st.ffn().get(), {}), before);
}
