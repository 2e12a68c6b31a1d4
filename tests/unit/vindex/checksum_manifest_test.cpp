// XXH64 against libxxhash-generated vectors; manifest JSON validation.
#include <gtest/gtest.h>

#include <cstring>
#include <nlohmann/json.hpp>

#include "util/error.h"
#include "vindex/manifest.h"
#include "vindex/vindex.h"

using namespace larql;
using namespace larql::vindex;

namespace {
uint64_t h(const std::string& s, uint64_t seed = 0) {
  return xxh64(reinterpret_cast<const uint8_t*>(s.data()), s.size(), seed);
}
}  // namespace

// Reference values from the system libxxhash 0.8.1 (XXH64 via ctypes).
TEST(VindexXXH64, MatchesLibxxhash) {
  EXPECT_EQ(h(""), 0xef46db3751d8e999ULL);
  EXPECT_EQ(h("abc"), 0x44bc2cf5ad770999ULL);
  EXPECT_EQ(h("xxhash"), 0x32dd38952c4bc720ULL);
  EXPECT_EQ(h("Nobody inspects the spammish repetition"), 0xfbcea83c8a378bf1ULL);
  std::string big;
  for (int r = 0; r < 3; ++r)
    for (int i = 0; i < 256; ++i) big.push_back(static_cast<char>(i));
  big += "xyz";
  EXPECT_EQ(h(big), 0xe921a1b45bd779f8ULL);
  EXPECT_EQ(h(""), 0xef46db3751d8e999ULL);
  EXPECT_EQ(h("", 12345), 0x95584af7701f808dULL);
  EXPECT_EQ(h("abc", 12345), 0x01700e64f6f23509ULL);
  EXPECT_EQ(h(big, 12345), 0x6b1b5d671fb93b43ULL);
}

TEST(VindexManifest, LevelNames) {
  EXPECT_EQ(level_from_name("browse"), Level::Browse);
  EXPECT_EQ(level_from_name("inference"), Level::Inference);
  EXPECT_EQ(level_from_name("all"), Level::All);
  EXPECT_THROW(level_from_name("full"), Error);
}

// Guards the field list in manifest.cpp: a new HParams field must be added
// there (LARQL_HP_FIELDS), then this size updated.
TEST(VindexManifest, HParamsRoundTripEveryField) {
  HParams hp;
  hp.arch = "llama"; hp.name = "x"; hp.n_vocab = 7; hp.n_ctx = 8; hp.n_embd = 9; hp.n_layer = 2; hp.n_ff = 11;
  hp.n_head = 3; hp.n_head_kv = 1; hp.head_dim_k = 3; hp.head_dim_v = 4; hp.rope_dim = 2; hp.rope_base = 5e5;
  hp.rope_base_local = 1e4; hp.rope_scaling = "yarn"; hp.rope_scale = 4; hp.rope_orig_ctx = 99;
  hp.rope_yarn_log_mul = 0.1; hp.norm_eps = 1e-6; hp.use_layernorm = true; hp.sliding_window = 5;
  hp.attn_softcap = 50; hp.final_softcap = 30; hp.n_expert = 8; hp.n_expert_used = 2; hp.n_ff_exp = 16;
  hp.n_expert_shared = 1; hp.n_ff_shexp = 17; hp.n_layer_dense_lead = 1; hp.expert_weights_scale = 2.5;
  hp.expert_weights_norm = true; hp.expert_gating_func = 2; hp.n_expert_groups = 4; hp.n_expert_groups_used = 2;
  hp.q_lora_rank = 12; hp.kv_lora_rank = 13; hp.tied_output = true;
  nlohmann::json j = hparams_to_json(hp);
  HParams back = hparams_from_json(j);
  EXPECT_EQ(hparams_to_json(back), j);
  EXPECT_EQ(j.size(), 37u) << "HParams fields serialized";
  EXPECT_EQ(sizeof(HParams), 360u) << "HParams changed: add the new field to LARQL_HP_FIELDS in src/vindex/manifest.cpp";
}

namespace {
nlohmann::json minimal_manifest() {
  Manifest m;
  m.family = "llama";
  m.hparams.arch = "llama";
  m.hparams.n_layer = 1;
  m.hparams.n_embd = 4;
  m.tokenizer_kind = "gguf";
  m.layers.push_back({0, 2, 0, 0});
  m.tensors.push_back({"blk.0.ffn_down_feat", "layers/blk.000.bin", 0, 32, GGMLType::F32, {4, 2}});
  m.files.push_back({"layers/blk.000.bin", 32, "0000000000000000"});
  return manifest_to_json(m);
}
std::string error_of(const nlohmann::json& j) {
  try {
    manifest_from_json(j);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}
}  // namespace

TEST(VindexManifest, RoundTripAndRejects) {
  nlohmann::json j = minimal_manifest();
  Manifest m = manifest_from_json(j);
  EXPECT_EQ(m.tensors.size(), 1u);
  EXPECT_EQ(m.tensors[0].ne, (std::vector<int64_t>{4, 2}));
  EXPECT_EQ(manifest_to_json(m), j);

  auto bad = j; bad["version"] = 99;
  EXPECT_NE(error_of(bad).find("version 99"), std::string::npos);
  bad = j; bad["format"] = "gguf";
  EXPECT_NE(error_of(bad).find("format"), std::string::npos);
  bad = j; bad["tensors"][0]["n_bytes"] = 31;
  EXPECT_NE(error_of(bad).find("n_bytes"), std::string::npos);
  bad = j; bad["tensors"][0]["type"] = "Q9_X";
  EXPECT_NE(error_of(bad).find("unknown type"), std::string::npos);
  bad = j; bad["tensors"][0]["file"] = "../etc/passwd";
  EXPECT_NE(error_of(bad).find("relative path"), std::string::npos);
  bad = j; bad["tensors"][0]["ne"] = {4, -2};
  EXPECT_NE(error_of(bad).find("non-positive"), std::string::npos);
  bad = j; bad["tensors"][0]["ne"] = {4, 2, 1, 1, 1};
  EXPECT_NE(error_of(bad).find("1..4"), std::string::npos);
  bad = j; bad["tensors"][0]["ne"] = {4, 4611686018427387904LL, 4};
  EXPECT_NE(error_of(bad).find("overflow"), std::string::npos);
  bad = j; bad["layers"] = nlohmann::json::array();
  EXPECT_NE(error_of(bad).find("n_layer"), std::string::npos);
  bad = j; bad["layers"][0]["n_features"] = "two";
  EXPECT_NE(error_of(bad).find("wrong type"), std::string::npos);
  bad = j; bad.erase("files");
  EXPECT_NE(error_of(bad).find("files"), std::string::npos);
  bad = j; bad["tokenizer"] = "spm";
  EXPECT_NE(error_of(bad).find("tokenizer"), std::string::npos);
}
