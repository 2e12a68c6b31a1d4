// open_hf_model on edited folders: what it derives from config.json (Llama 3
// rope_freqs, Phi-3 LongRoPE factors, Gemma 3's trimmed embedding), chat
// template forms, and clear errors for broken folders.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>

#include "../test_paths.h"
#include "format/safetensors.h"
#include "hf_folder_writer.h"
#include "model/model_source.h"
#include "tokenizer/tokenizer.h"
#include "util/error.h"

using namespace larql;
using namespace larql::test;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

std::string fixture(const std::string& rel) { return fixtures_dir() + "/models/" + rel; }

// A folder built from a fixture, editable before it is written.
struct Folder {
  json config;
  std::vector<hfw::HfTensor> tensors;
  std::string dtype = "F32";
  std::function<void(std::vector<safetensors::TensorToWrite>&)> edit_raw;  // last-minute edits

  explicit Folder(const std::string& rel) : gguf(gguf::File::open(fixture(rel))) {
    const HParams hp = hparams_from_gguf(*gguf);
    config = hfw::make_config(*gguf, hp);
    tensors = hfw::hf_tensors(*gguf, hp);
  }
  hfw::HfTensor* find(const std::string& name) {
    for (auto& t : tensors)
      if (t.name == name) return &t;
    return nullptr;
  }
  void erase(const std::string& name) {
    std::erase_if(tensors, [&](const hfw::HfTensor& t) { return t.name == name; });
  }
  void write(const std::string& dir) {
    hfw::write_text(dir + "/config.json", config.dump());
    std::vector<std::vector<uint8_t>> bytes;
    std::vector<safetensors::TensorToWrite> w;
    for (const auto& t : tensors) bytes.push_back(hfw::encode_as(t.v, dtype));
    for (size_t i = 0; i < tensors.size(); ++i)
      w.push_back({tensors[i].name, dtype, tensors[i].shape, bytes[i].data(), bytes[i].size()});
    if (edit_raw) edit_raw(w);
    safetensors::write_file(dir + "/model.safetensors", w);
    hfw::write_tokenizer(*gguf, dir, HfFolderOptions{});
  }
  std::unique_ptr<gguf::File> gguf;
};

std::string load_error(Folder& f) {
  TempDir dir("hf-bad");
  f.write(dir.str());
  try {
    open_hf_model(dir.str());
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

#define EXPECT_ERROR_MENTIONS(folder, text)                                   \
  do {                                                                        \
    const std::string m_ = load_error(folder);                               \
    EXPECT_NE(m_.find(text), std::string::npos) << "error was: " << m_;     \
  } while (0)

}  // namespace

TEST(HFSourceEdge, Llama3RopeFreqs) {
  LARQL_REQUIRE_FIXTURES();
  Folder f("synthetic/tiny-llama-gqa-F32.gguf");
  f.config["rope_scaling"] = {{"rope_type", "llama3"},     {"factor", 8.0},
                              {"low_freq_factor", 1.0},    {"high_freq_factor", 4.0},
                              {"original_max_position_embeddings", 64}};
  TempDir dir("hf");
  f.write(dir.str());
  auto src = open_hf_model(dir.str());
  const TensorRef& r = src->require("rope_freqs.weight");
  ASSERT_EQ(r.ne, std::vector<int64_t>{32});
  const float* v = reinterpret_cast<const float*>(r.data);
  // Llama 3.1's rule, in double: wavelength 2*pi*base^(2i/d) against old_ctx/high and old_ctx/low.
  int n_one = 0, n_factor = 0, n_ramp = 0;
  for (int i = 0; i < 32; ++i) {
    const double wave = 2 * M_PI * std::pow(10000.0, 2.0 * i / 64);
    double want;
    if (wave < 64 / 4.0) want = 1, ++n_one;
    else if (wave > 64 / 1.0) want = 8, ++n_factor;
    else {
      const double s = (64 / wave - 1) / 3;
      want = 1 / ((1 - s) / 8 + s);
      ++n_ramp;
    }
    EXPECT_NEAR(v[i], want, 1e-5 * want) << i;
  }
  EXPECT_GT(n_one, 0);
  EXPECT_GT(n_factor, 0);
  EXPECT_GT(n_ramp, 0);
  EXPECT_EQ(src->hparams().rope_scaling, "");
  EXPECT_EQ(src->tensors().back()->name, "rope_freqs.weight");
}

TEST(HFSourceEdge, Phi3LongRopeFactors) {
  LARQL_REQUIRE_FIXTURES();
  Folder f("synthetic/tiny-phi3-F32.gguf");
  std::vector<double> lf, sf;
  for (int i = 0; i < 32; ++i) lf.push_back(1.0 + i * 0.25), sf.push_back(1.0 + i * 0.01);
  f.config["rope_scaling"] = {{"type", "longrope"}, {"long_factor", lf}, {"short_factor", sf}};
  f.config["original_max_position_embeddings"] = 256;
  TempDir dir("hf");
  f.write(dir.str());
  auto src = open_hf_model(dir.str());
  const float* l = reinterpret_cast<const float*>(src->require("rope_factors_long.weight").data);
  const float* s = reinterpret_cast<const float*>(src->require("rope_factors_short.weight").data);
  for (int i = 0; i < 32; ++i) {
    EXPECT_EQ(l[i], static_cast<float>(lf[static_cast<size_t>(i)]));
    EXPECT_EQ(s[i], static_cast<float>(sf[static_cast<size_t>(i)]));
  }
  EXPECT_EQ(src->hparams().rope_orig_ctx, 256);
  lf.pop_back();
  f.config["rope_scaling"]["long_factor"] = lf;
  EXPECT_ERROR_MENTIONS(f, "long_factor has 31 entries");
}

// Gemma 3 embeddings carry padding rows past the tokenizer's vocabulary; like the
// converter, the loader drops them (as a shorter view, no copy).
TEST(HFSourceEdge, Gemma3EmbeddingTrimmedToTokenizer) {
  LARQL_REQUIRE_FIXTURES();
  Folder f("synthetic/tiny-gemma3-F32.gguf");
  hfw::HfTensor* e = f.find("model.embed_tokens.weight");
  ASSERT_NE(e, nullptr);
  const std::vector<float> orig = e->v;
  e->shape[0] += 64;
  e->v.resize(e->v.size() + 64 * 256, 9.0f);
  f.config["vocab_size"] = 576;
  TempDir dir("hf");
  f.write(dir.str());
  auto src = open_hf_model(dir.str());
  EXPECT_EQ(src->hparams().n_vocab, 512);
  const TensorRef& r = src->require("token_embd.weight");
  EXPECT_EQ(r.ne, (std::vector<int64_t>{256, 512}));
  ASSERT_EQ(r.n_bytes, orig.size() * 4);
  EXPECT_EQ(std::memcmp(r.data, orig.data(), r.n_bytes), 0);
}

TEST(HFSourceEdge, ChatTemplateForms) {
  LARQL_REQUIRE_FIXTURES();
  TempDir dir("hf");
  write_hf_folder_from_gguf(fixture("synthetic/tiny-qwen2-F32.gguf"), dir.str(), false);
  auto set_tc = [&](const json& ct) {
    json tc = json::parse(std::ifstream(dir / "tokenizer_config.json"));
    if (ct.is_null()) tc.erase("chat_template");
    else tc["chat_template"] = ct;
    hfw::write_text(dir / "tokenizer_config.json", tc.dump());
  };
  set_tc(json::array({{{"name", "tool_use"}, {"template", "T"}}, {{"name", "default"}, {"template", "D"}}}));
  EXPECT_EQ(open_hf_model(dir.str())->chat_template(), "D");
  set_tc(json::array({{{"name", "rag"}, {"template", "R"}}}));
  EXPECT_EQ(open_hf_model(dir.str())->chat_template(), "");
  set_tc(nullptr);
  EXPECT_EQ(open_hf_model(dir.str())->chat_template(), "");
  hfw::write_text(dir / "chat_template.jinja", "{{ messages }}");
  EXPECT_EQ(open_hf_model(dir.str())->chat_template(), "{{ messages }}");
  // A single .safetensors file path works too (config.json beside it).
  EXPECT_EQ(open_hf_model(dir / "model.safetensors")->chat_template(), "{{ messages }}");
  set_tc(42);
  EXPECT_THROW(open_hf_model(dir.str()), Error);
}

TEST(HFSourceEdge, MissingFilesAndBadConfig) {
  LARQL_REQUIRE_FIXTURES();
  {
    TempDir dir("hf");
    write_hf_folder_from_gguf(fixture("synthetic/tiny-qwen2-F32.gguf"), dir.str(), false);
    fs::remove(dir / "tokenizer.json");
    auto src = open_hf_model(dir.str());  // weights load without a tokenizer
    EXPECT_THROW(src->tokenizer(), Error);
    fs::remove(dir / "config.json");
    try {
      open_hf_model(dir.str());
      ADD_FAILURE() << "no error without config.json";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("config.json"), std::string::npos) << e.what();
    }
  }
  Folder f("synthetic/tiny-qwen2-F32.gguf");
  f.config.erase("num_hidden_layers");
  EXPECT_ERROR_MENTIONS(f, "num_hidden_layers");
  Folder u("synthetic/tiny-qwen2-F32.gguf");
  u.config["model_type"] = "falcon";
  EXPECT_ERROR_MENTIONS(u, "model_type 'falcon'");
}

TEST(HFSourceEdge, MissingOrMisshapenTensors) {
  LARQL_REQUIRE_FIXTURES();
  Folder a("synthetic/tiny-qwen2-F32.gguf");
  a.erase("model.layers.1.self_attn.k_proj.weight");
  EXPECT_ERROR_MENTIONS(a, "lacks tensor 'model.layers.1.self_attn.k_proj.weight'");

  Folder b("synthetic/tiny-qwen2-F32.gguf");
  b.config["intermediate_size"] = 1024;
  EXPECT_ERROR_MENTIONS(b, "config.json implies [256, 1024]");

  Folder c("synthetic/tiny-qwen2-F32.gguf");
  c.config["vocab_size"] = 1000;
  EXPECT_ERROR_MENTIONS(c, "vocab_size 1000");

  Folder d("synthetic/tiny-qwen2-F32.gguf");
  d.erase("model.embed_tokens.weight");
  EXPECT_ERROR_MENTIONS(d, "model.embed_tokens.weight");

  Folder e("synthetic/tiny-qwen2-F32.gguf");
  e.config["tie_word_embeddings"] = false;
  EXPECT_ERROR_MENTIONS(e, "tie_word_embeddings=false but there is no lm_head.weight");

  Folder g("synthetic/tiny-mixtral-8x2-F32.gguf");
  g.erase("model.layers.1.block_sparse_moe.experts.3.w2.weight");
  EXPECT_ERROR_MENTIONS(g, "missing expert tensor 'model.layers.1.block_sparse_moe.experts.3.w2.weight'");

  Folder h("synthetic/tiny-mixtral-8x2-F32.gguf");
  hfw::HfTensor* t = h.find("model.layers.0.block_sparse_moe.experts.5.w1.weight");
  ASSERT_NE(t, nullptr);
  t->shape = {128, 512};
  EXPECT_ERROR_MENTIONS(h, "differ");

  Folder i("synthetic/tiny-mixtral-8x2-F32.gguf");
  hfw::HfTensor copy = *i.find("model.layers.0.block_sparse_moe.experts.0.w1.weight");
  copy.name = "model.layers.0.block_sparse_moe.experts.8.w1.weight";
  i.tensors.push_back(copy);
  EXPECT_ERROR_MENTIONS(i, "expert 8 but config.json has 8 experts");

  Folder j("synthetic/tiny-llama-gqa-F32.gguf");
  j.config["num_key_value_heads"] = 4;  // K has 128 rows: 2 heads, not 4
  EXPECT_ERROR_MENTIONS(j, "attn_k.weight");
}

TEST(HFSourceEdge, UnknownDuplicateAndUnsupportedTensors) {
  LARQL_REQUIRE_FIXTURES();
  Folder a("synthetic/tiny-qwen2-F32.gguf");
  a.tensors.push_back({"model.layers.0.mlp.extra_proj.weight", {2, 2}, {1, 2, 3, 4}});
  EXPECT_ERROR_MENTIONS(a, "'model.layers.0.mlp.extra_proj.weight' (model.safetensors) has no GGUF name");

  Folder b("synthetic/tiny-qwen2-F32.gguf");
  b.tensors.push_back({"model.layers.9.mlp.up_proj.weight", {2, 2}, {1, 2, 3, 4}});
  EXPECT_ERROR_MENTIONS(b, "layer 9");

  // Mapped but not part of this family (a llama with attention biases is not supported).
  Folder c("synthetic/tiny-llama-gqa-F32.gguf");
  c.tensors.push_back({"model.layers.0.self_attn.v_proj.bias", {128}, std::vector<float>(128, 0.f)});
  EXPECT_ERROR_MENTIONS(c, "is not part of a llama model");

  Folder d("synthetic/tiny-gpt2-F32.gguf");
  hfw::HfTensor dup = *d.find("transformer.h.0.ln_1.weight");
  dup.name = "h.0.ln_1.weight";
  d.tensors.push_back(dup);
  EXPECT_ERROR_MENTIONS(d, "both map to 'blk.0.attn_norm.weight'");

  Folder e("synthetic/tiny-qwen2-F32.gguf");
  e.edit_raw = [](std::vector<safetensors::TensorToWrite>& w) {
    for (auto& t : w)
      if (t.name == "model.layers.0.mlp.up_proj.weight") t.dtype = "I32";
  };
  EXPECT_ERROR_MENTIONS(e, "dtype I32");

  Folder g("synthetic/tiny-qwen2moe-4x2-F32.gguf");
  g.find("model.layers.0.mlp.shared_expert_gate.weight")->shape = {2, 128};
  EXPECT_ERROR_MENTIONS(g, "shared_expert_gate.weight' should be [1, n]");

  // The skipped kinds load fine.
  Folder s("synthetic/tiny-gpt2-F32.gguf");
  s.tensors.push_back({"transformer.h.0.attn.bias", {1, 1, 2, 2}, {1, 0, 1, 1}});
  s.tensors.push_back({"transformer.h.0.attn.masked_bias", {}, {-1e4f}});
  EXPECT_EQ(load_error(s), "no error");
}

TEST(HFSourceEdge, TruncatedShard) {
  LARQL_REQUIRE_FIXTURES();
  TempDir dir("hf");
  write_hf_folder_from_gguf(fixture("synthetic/tiny-qwen2-F32.gguf"), dir.str(), false);
  fs::resize_file(dir / "model.safetensors", fs::file_size(dir / "model.safetensors") - 100);
  EXPECT_THROW(open_hf_model(dir.str()), Error);
  EXPECT_THROW(open_hf_model(dir / "nonexistent"), Error);
}
