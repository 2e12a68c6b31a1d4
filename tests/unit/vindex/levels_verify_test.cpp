// Levels, atomic output, verify on corruption, malformed vindexes, probes.
#include <gtest/gtest.h>

#include <fstream>

#include <nlohmann/json.hpp>

#include "engine/model.h"
#include "model/model_source.h"
#include "tokenizer/tokenizer.h"
#include "util/error.h"
#include "vindex_test_util.h"

using namespace larql;
using namespace larql::vindex;
namespace fs = std::filesystem;

namespace {

const char* kFacts = "facts/facts-Q8_0.gguf";

std::string fresh(const std::string& name) {
  const std::string p = test::vindex_tmp_root() + "/" + name;
  fs::remove_all(p);
  return p;
}

std::string copy_of(const std::string& dir, const std::string& name) {
  const std::string p = fresh(name);
  fs::copy(dir, p, fs::copy_options::recursive);
  return p;
}

void flip_byte(const fs::path& f, uint64_t at) {
  std::fstream s(f, std::ios::in | std::ios::out | std::ios::binary);
  s.seekg(static_cast<std::streamoff>(at));
  char c;
  s.get(c);
  s.seekp(static_cast<std::streamoff>(at));
  s.put(static_cast<char>(c ^ 0x5a));
}

std::string open_error(const std::string& dir) {
  try {
    Vindex::open(dir);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST(VindexLevels, BrowseHasNoInference) {
  LARQL_REQUIRE_FIXTURES();
  ExtractOptions o;
  o.level = Level::Browse;
  o.n_clusters = 4;
  auto v = Vindex::open(test::extracted(kFacts, "browse", o));
  EXPECT_FALSE(v->manifest().has_inference());
  EXPECT_EQ(v->manifest().find("blk.0.attn_q.weight"), nullptr);
  EXPECT_THROW(v->model_source(), Error);
  std::vector<float> q(static_cast<size_t>(v->n_embd()), 1.0f);
  EXPECT_EQ(v->gate_knn(0, q.data(), 3).size(), 3u);
  EXPECT_EQ(v->down_meta({0, -1, 0}).size(), 10u);
  EXPECT_EQ(v->clusters().size(), 4u);
}

TEST(VindexLevels, InferenceHasNoMeta) {
  LARQL_REQUIRE_FIXTURES();
  ExtractOptions o;
  o.level = Level::Inference;
  auto v = Vindex::open(test::extracted(kFacts, "inf", o));
  EXPECT_TRUE(v->down_meta({0, -1, 0}).empty());
  EXPECT_TRUE(v->clusters().empty());
  EXPECT_EQ(v->cluster_of({0, -1, 0}), -1);
  EXPECT_EQ(v->label({0, -1, 0}), "");
  // The model source outlives the Vindex object.
  auto src = v->model_source();
  v.reset();
  auto m = Model::from_source(std::move(src));
  EXPECT_GT(m->hparams().n_vocab, 0);
}

TEST(VindexExtract, RefusesExistingAndCleansUpOnFailure) {
  LARQL_REQUIRE_FIXTURES();
  const std::string model = test::fixtures_dir() + "/models/" + kFacts;
  const std::string out = fresh("fail.vindex");
  fs::create_directories(out);
  EXPECT_THROW(extract(model, out, {}), Error);
  fs::remove_all(out);
  // A bad probe file is found only after the layers are written: nothing may remain.
  const std::string probes = test::vindex_tmp_root() + "/bad-probes.txt";
  std::ofstream(probes) << "capital: no placeholder here\nentities: France\n";
  ExtractOptions o;
  o.probes_file = probes;
  o.progress = false;
  EXPECT_THROW(extract(model, out, o), Error);
  EXPECT_FALSE(fs::exists(out));
  for (const auto& e : fs::directory_iterator(test::vindex_tmp_root()))
    EXPECT_EQ(e.path().filename().string().find("fail.vindex.tmp"), std::string::npos) << e.path();
  o.probes_file = "/nonexistent/probes.txt";
  EXPECT_THROW(extract(model, out, o), Error);
  EXPECT_THROW(extract("/nonexistent.gguf", out, {}), Error);
  EXPECT_FALSE(fs::exists(out));
}

TEST(VindexVerify, DetectsCorruption) {
  LARQL_REQUIRE_FIXTURES();
  const std::string base = test::facts_vindex();
  EXPECT_TRUE(verify(base).ok());
  EXPECT_GE(verify(base).files_checked, 5);
  const std::string c = copy_of(base, "corrupt.vindex");
  flip_byte(fs::path(c) / "layers/blk.001.bin", 12345);
  auto r = verify(c);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.problems[0].find("layers/blk.001.bin"), std::string::npos);
  EXPECT_NE(r.problems[0].find("checksum mismatch"), std::string::npos);
  EXPECT_THROW(Vindex::open(c, true), Error);
  EXPECT_NO_THROW(Vindex::open(c, false));  // sizes still fine: only a verified open notices
  // Truncated file: caught on every open (size check).
  fs::resize_file(fs::path(c) / "model.bin", 100);
  EXPECT_NE(open_error(c).find("model.bin"), std::string::npos);
  EXPECT_FALSE(verify(c).ok());
  fs::remove(fs::path(c) / "model.bin");
  EXPECT_NE(open_error(c).find("missing"), std::string::npos);
  EXPECT_FALSE(verify("/nonexistent").ok());
  EXPECT_NE(open_error("/nonexistent").find("not a vindex"), std::string::npos);
}

TEST(VindexOpen, RejectsBadManifests) {
  LARQL_REQUIRE_FIXTURES();
  const std::string base = test::facts_vindex();
  auto rewrite = [&](const std::string& name, auto&& fn) {
    const std::string c = copy_of(base, name);
    std::ifstream in(fs::path(c) / "index.json");
    nlohmann::json j = nlohmann::json::parse(in);
    fn(j);
    std::ofstream(fs::path(c) / "index.json") << j.dump();
    return open_error(c);
  };
  EXPECT_NE(rewrite("bad1.vindex", [](auto& j) { j["tensors"][3]["offset"] = 1u << 30; }).find("outside"), std::string::npos);
  EXPECT_NE(rewrite("bad2.vindex", [](auto& j) { j["tensors"][3]["file"] = "nope.bin"; }).find("unlisted"), std::string::npos);
  EXPECT_NE(rewrite("bad3.vindex", [](auto& j) { j["tensors"].push_back(j["tensors"][0]); }).find("twice"), std::string::npos);
  EXPECT_NE(rewrite("bad4.vindex", [](auto& j) { j["files"][1]["bytes"] = 7; }).find("bytes"), std::string::npos);
  EXPECT_NE(rewrite("bad5.vindex", [](auto& j) {
              for (auto& t : j["tensors"])
                if (t["name"] == "blk.1.ffn_down_feat") t["name"] = "blk.1.ffn_down_x";
            }).find("ffn_down_feat"), std::string::npos);
  // A key matrix smaller than the feature count (would read out of bounds).
  EXPECT_NE(rewrite("bad7.vindex", [](auto& j) {
              for (auto& t : j["tensors"])
                if (t["name"] == "blk.2.ffn_gate.weight") {
                  t["ne"][1] = 10;
                  t["n_bytes"] = 10 * t["ne"][0].template get<int64_t>() * 4;
                }
            }).find("ffn_gate.weight' has an unexpected shape"), std::string::npos);
  EXPECT_NE(rewrite("bad8.vindex", [](auto& j) {
              for (auto& t : j["tensors"])
                if (t["name"] == "blk.0.ffn_down_feat") t["type"] = "I32";
            }).find("ffn_down_feat"), std::string::npos);
  const std::string c = copy_of(base, "bad6.vindex");
  std::ofstream(fs::path(c) / "index.json") << "{ not json";
  EXPECT_NE(open_error(c).find("JSON"), std::string::npos);
  EXPECT_FALSE(verify(c).ok());
}

// Probe labels from the facts model's own relations: features that fire on
// "The capital of X is" prompts get labelled "capital".
TEST(VindexProbes, LabelsFromTemplates) {
  LARQL_REQUIRE_FIXTURES();
  const std::string probes = test::vindex_tmp_root() + "/probes.txt";
  std::ofstream(probes) << "# relation: template\n"
                           "capital: The capital of {X} is\n"
                           "language: The official language of {X} is\n"
                           "entities: France, Germany, Japan, Italy, Spain, Egypt\n";
  ExtractOptions o;
  o.probes_file = probes;
  o.down_top_k = 3;
  o.n_clusters = 4;
  auto v = Vindex::open(test::extracted("facts/facts-F32.gguf", "probes", o));
  const auto& pl = v->probe_labels();
  ASSERT_FALSE(pl.empty());
  bool cap = false, lang = false;
  for (const auto& p : pl) {
    EXPECT_GE(p.hits, 3);  // fired on at least half of the 6 prompts
    EXPECT_GT(p.score, 0.0f);
    cap |= p.relation == "capital";
    lang |= p.relation == "language";
    EXPECT_EQ(v->label(p.addr), p.relation);
  }
  EXPECT_TRUE(cap);
  EXPECT_TRUE(lang);
  EXPECT_TRUE(v->manifest().has_probes);
}
