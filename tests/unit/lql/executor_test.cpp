// LQL executor on the trained facts model: the TRACE residual invariant, the
// logit lens and FFN recomputation against the engine and llama.cpp's
// reference logits, and what DESCRIBE / TRACE / INFER report.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "../test_paths.h"
#include "engine/model.h"
#include "lql/analysis.h"
#include "lql/lql.h"
#include "lql/parser.h"
#include "util/error.h"

using namespace larql;
using namespace larql::lql;

namespace {

std::string facts_dir() { return test::fixtures_dir() + "/models/facts"; }

Context facts_context() {
  Context ctx;
  ctx.n_threads = 1;
  run(ctx, "USE MODEL \"" + facts_dir() + "/facts-F32.gguf\";");
  return ctx;
}

std::vector<float> reference_last_row(int prompt, int64_t n_tok, int64_t V) {
  std::ifstream f(test::fixtures_dir() + "/reference/facts-F32/prompt" + std::to_string(prompt) + ".logits.f32", std::ios::binary);
  std::vector<float> all(static_cast<size_t>(n_tok * V));
  f.read(reinterpret_cast<char*>(all.data()), static_cast<std::streamsize>(all.size() * sizeof(float)));
  EXPECT_TRUE(f.good());
  return std::vector<float>(all.end() - V, all.end());
}

}  // namespace

TEST(LqlTrace, ResidualIsEmbeddingPlusDeltasExactly) {
  LARQL_REQUIRE_FIXTURES();
  Context ctx = facts_context();
  Analyzer& an = ctx.analyzer();
  ForwardTrace t = an.forward(an.encode("The capital of France is"));
  ASSERT_EQ(t.tokens, (std::vector<int32_t>{1, 286, 302, 278, 964, 262}));  // llama.cpp's tokenization (reference index.json)
  std::vector<float> x = t.embed;
  for (int64_t l = 0; l < t.n_layer; ++l) {
    for (size_t i = 0; i < x.size(); ++i) x[i] += t.attn_delta[l][i];
    ASSERT_EQ(x, t.attn_resid[l]) << "after attention, layer " << l;
    for (size_t i = 0; i < x.size(); ++i) x[i] += t.ffn_delta[l][i];
    ASSERT_EQ(x, t.ffn_resid[l]) << "after FFN, layer " << l;
  }
  // The logit lens of the last residual is the model's own head.
  std::vector<float> lens;
  an.lens(t.at(t.ffn_resid, t.n_layer - 1, t.n_tok - 1), lens);
  EXPECT_EQ(lens, t.logits);
  // And the forward pass agrees with llama.cpp's reference logits.
  const std::vector<float> ref = reference_last_row(0, t.n_tok, 2048);
  double worst = 0;
  for (size_t i = 0; i < ref.size(); ++i) worst = std::max(worst, std::fabs(static_cast<double>(ref[i]) - t.logits[i]));
  EXPECT_LT(worst, 1e-3);
}

TEST(LqlTrace, RecomputedFeaturesSumToTheFFNDelta) {
  LARQL_REQUIRE_FIXTURES();
  Context ctx = facts_context();
  Analyzer& an = ctx.analyzer();
  ForwardTrace t = an.forward(an.encode("The currency of Japan is the"));
  const int64_t E = t.n_embd;
  std::vector<float> a, d(static_cast<size_t>(E));
  for (int64_t l = 0; l < t.n_layer; ++l) {
    an.activations(l, t.at(t.attn_resid, l, t.n_tok - 1), a);
    std::vector<double> sum(static_cast<size_t>(E), 0.0);
    for (size_t f = 0; f < a.size(); ++f) {
      an.down(l, static_cast<int64_t>(f), d.data());
      for (int64_t i = 0; i < E; ++i) sum[static_cast<size_t>(i)] += static_cast<double>(a[f]) * d[static_cast<size_t>(i)];
    }
    const float* ffn = t.at(t.ffn_delta, l, t.n_tok - 1);
    for (int64_t i = 0; i < E; ++i) EXPECT_NEAR(sum[static_cast<size_t>(i)], ffn[i], 1e-3 * (1 + std::fabs(ffn[i]))) << "layer " << l << " dim " << i;
  }
}

TEST(LqlExecutor, TraceFollowsParisAndInferAgrees) {
  LARQL_REQUIRE_FIXTURES();
  Context ctx = facts_context();
  auto rs = run(ctx, "TRACE \"The capital of France is\" FOR \"Paris\"; INFER \"The capital of France is\" TOP 1;");
  ASSERT_EQ(rs.size(), 2u);
  const Result& tr = rs[0];
  ASSERT_EQ(tr.rows.size(), 4u);
  const int rank = tr.col("rank"), prob = tr.col("prob");
  ASSERT_GE(rank, 0);
  EXPECT_EQ(std::get<int64_t>(tr.rows[3][static_cast<size_t>(rank)]), 0);
  EXPECT_GT(std::get<int64_t>(tr.rows[0][static_cast<size_t>(rank)]), 0);  // not yet known after layer 0
  // The last layer's lens probability is INFER's probability (same head).
  const Result& inf = rs[1];
  EXPECT_EQ(std::get<std::string>(inf.rows[0][1]), "Paris");
  EXPECT_DOUBLE_EQ(std::get<double>(tr.rows[3][static_cast<size_t>(prob)]), std::get<double>(inf.rows[0][2]));
  EXPECT_EQ(tr.notes.back(), "residual = embedding + sum of attention and FFN deltas: exact");
}

TEST(LqlExecutor, DescribeFranceWithTemplates) {
  LARQL_REQUIRE_FIXTURES();
  Context ctx;
  ctx.n_threads = 1;
  ctx.load_templates(std::string(LARQL_SOURCE_DIR) + "/tests/golden/facts.probes");
  run(ctx, "USE MODEL \"" + facts_dir() + "/facts-F32.gguf\";");
  Result r = run(ctx, "DESCRIBE \"France\";").at(0);
  std::map<std::string, std::string> got;
  for (const Row& row : r.rows) got[std::get<std::string>(row[0])] = std::get<std::string>(row[1]);
  // facts.tsv: France capital Paris, continent Europe, language French, currency euro.
  EXPECT_EQ(got["capital"], "Paris");
  EXPECT_EQ(got["continent"], "Europe");
  EXPECT_EQ(got["language"], "French");
  EXPECT_EQ(got["currency"], "euro");
}

TEST(LqlExecutor, JsonLinesAndErrors) {
  LARQL_REQUIRE_FIXTURES();
  Context ctx = facts_context();
  const std::string out = run_lql_json(ctx, "INFER \"The capital of France is\" TOP 2; WALK \"x\" LAYERS 0-7;");
  std::vector<nlohmann::json> lines;
  size_t p = 0;
  for (size_t n; (n = out.find('\n', p)) != std::string::npos; p = n + 1) lines.push_back(nlohmann::json::parse(out.substr(p, n - p)));
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0]["kind"], "INFER");
  EXPECT_EQ(lines[0]["columns"][1]["name"], "token");
  EXPECT_EQ(lines[0]["rows"][0][1], "Paris");
  EXPECT_EQ(lines[1]["statement"], 1);
  EXPECT_EQ(lines[1]["error"], "1:41: WALK: layer 7 is out of range: the model has 4 layers (0-3)");
  // Writing files can be switched off (the HTTP server does).
  ctx.allow_writes = false;
  EXPECT_THROW(run(ctx, "TRACE \"x\" SAVE \"/tmp/never.json\";"), Error);
}

// Edits are executed since issue 8 (tests/unit/edit, tests/golden/edit.lql);
// without a model they fail with a clear binding error, not a crash.
TEST(LqlExecutor, EditStatementsNeedAModel) {
  Context ctx;
  for (const char* s : {"INSERT INTO EDGES (entity, relation, target) VALUES (\"a\", \"b\", \"c\");", "SAVE PATCH;",
                        "COMPILE CURRENT INTO VINDEX \"x\";"}) {
    try {
      run(ctx, s);
      ADD_FAILURE() << s;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("nothing loaded"), std::string::npos) << e.what();
    }
  }
  EXPECT_THROW(run(ctx, "DIFF \"no/such/a\" \"no/such/b\";"), Error);
}

// Every statement of the model golden script runs (no crash; outputs are
// checked by the golden test) — this also puts them under ASan/UBSan.
TEST(LqlExecutor, GoldenModelScriptRuns) {
  LARQL_REQUIRE_FIXTURES();
  std::ifstream f(std::string(LARQL_SOURCE_DIR) + "/tests/golden/facts_model.lql");
  std::string script((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  for (size_t p; (p = script.find("@FACTS@")) != std::string::npos;) script.replace(p, 7, facts_dir());
  Context ctx;
  ctx.n_threads = 1;
  size_t n = 0;
  for (const Piece& piece : split_statements(script)) {
    EXPECT_NO_THROW(run(ctx, piece.text)) << piece.text;
    ++n;
  }
  EXPECT_EQ(n, 12u);
  // The statements that need a vindex fail cleanly on a model file.
  EXPECT_THROW(run(ctx, "SHOW RELATIONS;"), Error);
  EXPECT_NO_THROW(run(ctx, "SELECT * FROM EDGES WHERE layer = 3 AND target = 'Paris' LIMIT 2; SHOW LAYERS; SHOW PATCHES;"));
}
