// The FFN patch hook, the .vlp format and materialization, checked against
// hand-computed values and against the compiled (weight-level) model.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "../test_paths.h"
#include "compile/compile.h"
#include "edit/b64.h"
#include "edit/editor.h"
#include "edit/materialize.h"
#include "edit/patch.h"
#include "edit/workspace.h"
#include "engine/model.h"
#include "engine/session.h"
#include "util/error.h"
#include "util/thread_pool.h"

using namespace larql;
namespace fs = std::filesystem;

namespace {
std::string facts_gguf() { return test::fixtures_dir() + "/models/facts/facts-F32.gguf"; }
fs::path tmpdir(const std::string& name) {
  fs::path d = fs::temp_directory_path() / ("larql_edit_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}
}  // namespace

TEST(EditB64, RoundTripAndErrors) {
  for (size_t n : {0, 1, 2, 3, 7}) {
    std::vector<float> v;
    for (size_t i = 0; i < n; ++i) v.push_back(static_cast<float>(i) * -1.5f + 0.25f);
    EXPECT_EQ(edit::b64_to_floats(edit::floats_to_b64(v), "t"), v);
  }
  // 1.0f = 00 00 80 3f -> "AACAPw==" (hand-encoded).
  EXPECT_EQ(edit::floats_to_b64({1.0f}), "AACAPw==");
  EXPECT_THROW(edit::b64_to_floats("AAC", "t"), Error);
  EXPECT_THROW(edit::b64_to_floats("AA!APw==", "t"), Error);
  EXPECT_THROW(edit::b64_to_floats("AAA=", "t"), Error);  // 2 bytes: not a float
}

TEST(EditFfnPatch, HandComputedLayer) {
  // E = 2, F = 3. a = [1, 2, 3], h = [1, -1]; mask feature 1; slot on feature 2
  // with gate [2, 0], up [1, 1]... up·h = 0 -> act 0; use up [1, 0] -> act silu(2)*1.
  FfnPatch p;
  FfnLayerPatch& L = p.layers[0];
  L.masked = {1};
  L.slots.push_back({2, {2, 0}, {1, 0}, {10, 20}});
  L.rank = 1;
  L.A = {1, -1};        // n_embd
  L.B = {0.5f, 7, 9};   // n_ff: features 1 and 2 are zeroed in a, so only a[0] counts
  p.validate(1, 2, 3);
  float h[2] = {1, -1}, a[3] = {1, 2, 3}, out[2] = {0, 0};
  std::vector<float> sa;
  p.before_down(0, h, a, 1, 2, 3, sa);
  EXPECT_EQ(a[1], 0.0f);
  EXPECT_EQ(a[2], 0.0f);
  const double silu2 = 2.0 / (1.0 + std::exp(-2.0));
  ASSERT_EQ(sa.size(), 1u);
  EXPECT_NEAR(sa[0], silu2, 1e-6);
  p.after_down(0, a, sa, out, 1, 2, 3);
  EXPECT_NEAR(out[0], silu2 * 10 + 0.5, 1e-5);
  EXPECT_NEAR(out[1], silu2 * 20 - 0.5, 1e-5);
  EXPECT_THROW(p.validate(1, 3, 3), Error);  // slot vectors are not n_embd long
}

TEST(EditSolve, CholeskyMatchesHandSolution) {
  // [[4,2],[2,3]] x = [2, 5]  ->  x = [-0.5, 2]
  std::vector<double> M = {4, 2, 2, 3}, Y = {2, 5};
  edit::cholesky_solve(M, 2, Y, 1);
  EXPECT_NEAR(Y[0], -0.5, 1e-12);
  EXPECT_NEAR(Y[1], 2.0, 1e-12);
  std::vector<double> bad = {1, 2, 2, 1}, y2 = {1, 1};
  EXPECT_THROW(edit::cholesky_solve(bad, 2, y2, 1), Error);
}

TEST(EditPatchFile, RejectsBadFiles) {
  EXPECT_THROW(edit::patch_from_json("{", "x.vlp"), Error);
  EXPECT_THROW(edit::patch_from_json(R"({"format":"other"})", "x.vlp"), Error);
  EXPECT_THROW(edit::patch_from_json(R"({"format":"larql-patch","version":99})", "x.vlp"), Error);
  const std::string no_base = R"({"format":"larql-patch","version":1,"operations":[]})";
  try {
    edit::patch_from_json(no_base, "x.vlp");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("family"), std::string::npos) << e.what();
  }
}

TEST(EditPatch, EmptyPatchIsBitIdenticalAndMaterializationMatches) {
  LARQL_REQUIRE_FIXTURES();
  auto m = Model::load(facts_gguf());
  auto pool = std::make_shared<ThreadPool>(2);
  edit::Editor ed(*m, pool);
  const std::string prompt = "The capital of Spain is";
  const auto base = ed.run(prompt, nullptr).logits;
  FfnPatch empty;
  EXPECT_EQ(ed.run(prompt, &empty).logits, base);  // bit for bit

  // A FEATURE slot, a mask and a low-rank term on different layers.
  const edit::Fact f{"Spain", "capital", "Madrid", prompt, ed.target_token("Madrid")};
  edit::Operation op = ed.insert_feature(f, {"The capital of France is", "The currency of Spain is the"}, nullptr, {});
  FfnPatch p = op.ffn;
  p.layers[1].masked = {5, 17};
  FfnLayerPatch& L = p.layers[2];
  L.rank = 1;
  for (int e = 0; e < 256; ++e) L.A.push_back(0.01f * static_cast<float>(e % 7));
  for (int j = 0; j < 1024; ++j) L.B.push_back(j % 3 == 0 ? 0.02f : 0.0f);
  const auto patched = ed.run(prompt, &p).logits;
  EXPECT_TRUE(edit::Editor::wins(patched, f.target_token, 0.5));
  EXPECT_FALSE(edit::Editor::wins(base, f.target_token, 0.0));

  // Same function after baking into the weights (compile to GGUF, reload).
  const fs::path d = tmpdir("mat");
  const std::string out = (d / "edited.gguf").string();
  compile::write_model(m->source(), edit::materialize(m->source(), p), out);
  auto m2 = Model::load(out);
  edit::Editor ed2(*m2, pool);
  const auto compiled = ed2.run(prompt, nullptr).logits;
  double mx = 0;
  for (size_t i = 0; i < compiled.size(); ++i) mx = std::max(mx, double(std::fabs(compiled[i] - patched[i])));
  EXPECT_LT(mx, 2e-3);
  // The compiled model is not the base: a patch for the base is refused there.
  EXPECT_FALSE(edit::base_id(*m2, out) == edit::base_id(*m, facts_gguf()));
  fs::remove_all(d);
}

TEST(EditPatch, SaveLoadStackAndRefuseOtherBase) {
  LARQL_REQUIRE_FIXTURES();
  auto m = Model::load(facts_gguf());
  auto pool = std::make_shared<ThreadPool>(2);
  edit::Workspace ws(*m, pool, facts_gguf());
  const fs::path d = tmpdir("stack");
  const std::string path = (d / "a.vlp").string();
  ws.begin(path);
  edit::Editor& ed = ws.editor();
  const edit::Fact f{"Spain", "capital", "Madrid", "The capital of Spain is", ed.target_token("Madrid")};
  ws.add(ed.insert_knn(f, {}));
  ws.add(ed.insert_feature(f, {"The capital of France is"}, ws.stack().ffn().get(), {}));
  ws.save();
  const edit::Patch back = edit::load_patch(path);
  ASSERT_EQ(back.ops.size(), 2u);
  EXPECT_EQ(back.ops[1].ffn.layers.begin()->second.slots[0].gate, ws.stack().patches[0].ops[1].ffn.layers.begin()->second.slots[0].gate);
  EXPECT_EQ(back.ops[0].knn[0].key, ws.stack().patches[0].ops[0].knn[0].key);

  edit::Workspace ws2(*m, pool, facts_gguf());
  ws2.apply(path);
  EXPECT_THROW(ws2.apply(path), Error);  // already applied
  EXPECT_EQ(ws2.stack().knn().size(), 1u);
  ASSERT_TRUE(ws2.stack().ffn());
  ws2.remove(path);
  EXPECT_FALSE(ws2.stack().ffn());
  EXPECT_TRUE(ws2.stack().knn().empty());

  // Another base (Q8_0 weights differ): refused with a clear message.
  auto q8 = Model::load(test::fixtures_dir() + "/models/facts/facts-Q8_0.gguf");
  edit::Workspace ws3(*q8, pool, "q8");
  try {
    ws3.apply(path);
    FAIL() << "applied a patch to another base";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("another model"), std::string::npos) << e.what();
  }
  fs::remove_all(d);
}
