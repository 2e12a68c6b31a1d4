// Editing statements through the LQL executor (also runs them under ASan):
// INSERT labels answers, patches save/apply/remove, DIFF of a compiled vindex
// recovers the edit, the base model file is untouched.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "../test_paths.h"
#include "lql/context.h"
#include "lql/lql.h"
#include "util/error.h"

using namespace larql;
namespace fs = std::filesystem;

namespace {
std::string facts() { return test::fixtures_dir() + "/models/facts"; }
std::string all_notes(const std::vector<lql::Result>& rs) {
  std::string s;
  for (const lql::Result& r : rs)
    for (const std::string& n : r.notes) s += n + "\n";
  return s;
}
std::string file_bytes(const std::string& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}
}  // namespace

TEST(EditLql, InsertSaveApplyCompileDiff) {
  LARQL_REQUIRE_FIXTURES();
  const fs::path d = fs::temp_directory_path() / ("larql_edit_lql_" + std::to_string(::getpid()));
  fs::remove_all(d);
  fs::create_directories(d);
  const std::string model = facts() + "/facts-F32.gguf", vlp = (d / "p.vlp").string();
  const std::string before = file_bytes(model);
  lql::Context ctx;
  ctx.n_threads = 2;
  ctx.load_templates(facts() + "/templates.tsv");
  lql::run(ctx, "USE MODEL \"" + model + "\";");
  auto r = lql::run(ctx, "BEGIN PATCH \"" + vlp + "\"; INSERT INTO EDGES (entity, relation, target) VALUES (\"Spain\", \"capital\", \"Madrid\");"
                         "INSERT INTO EDGES (entity, relation, target) VALUES (\"cow\", \"sound\", \"moos\") MODE KNN; SAVE PATCH;");
  ASSERT_EQ(r.size(), 4u);
  r = lql::run(ctx, "INFER \"The capital of Spain is\" TOP 1; INFER \"A cow\" TOP 1;");
  const std::string notes = all_notes(r);
  EXPECT_NE(notes.find("FEATURE edit Spain / capital -> Madrid fired"), std::string::npos) << notes;
  EXPECT_NE(notes.find("lookup (KNN overlay), not a weight change"), std::string::npos) << notes;
  // A fresh context applies the saved patch and gets the same answer.
  lql::Context c2;
  c2.n_threads = 2;
  lql::run(c2, "USE MODEL \"" + model + "\";");
  EXPECT_THROW(lql::run(c2, "SAVE PATCH;"), Error);
  r = lql::run(c2, "APPLY PATCH \"" + vlp + "\"; INFER \"The capital of Spain is\" TOP 1; SHOW PATCHES;");
  EXPECT_NE(all_notes(r).find("FEATURE edit"), std::string::npos);
  EXPECT_EQ(r[2].rows.size(), 1u);
  r = lql::run(c2, "REMOVE PATCH \"" + vlp + "\"; INFER \"The capital of Spain is\" TOP 1;");
  EXPECT_EQ(all_notes(r).find("FEATURE edit"), std::string::npos);
  // COMPILE into a vindex and DIFF it against the base's vindex: on layer 3, one
  // slot per target token of " Madrid" (' M' ad ri d: a whole-word edit).
  const std::string base_vx = (d / "base.vindex").string(), out_vx = (d / "out.vindex").string();
  lql::run(ctx, "EXTRACT MODEL \"" + model + "\" INTO \"" + base_vx + "\"; COMPILE CURRENT INTO VINDEX \"" + out_vx + "\";");
  r = lql::run(ctx, "DIFF \"" + base_vx + "\" \"" + out_vx + "\" INTO PATCH \"" + (d / "diff.vlp").string() + "\";");
  ASSERT_EQ(r[0].rows.size(), 4u);
  for (int l = 0; l < 3; ++l) EXPECT_EQ(std::get<int64_t>(r[0].rows[l][1]), 0);
  EXPECT_EQ(std::get<int64_t>(r[0].rows[3][1]), 4);  // the FEATURE slots
  EXPECT_EQ(file_bytes(model), before);             // the base file is never written
  fs::remove_all(d);
}
