// COMPILE to a Hugging Face folder: it loads through LARQL's HF path with the
// source's hparams, tokenization and logits (bit-exact for F32 sources).
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "compile_test_util.h"
#include "format/safetensors.h"
#include "model/model_source.h"
#include "tokenizer/tokenizer.h"

namespace larql {
namespace {

using test::compile_tmp;

std::string to_hf(const std::string& src_path, GGMLType dtype = GGMLType::F32) {
  auto src = open_model(src_path);
  compile::Options o;
  o.format = compile::Format::Safetensors;
  o.safetensors_dtype = dtype;
  const std::string out = compile_tmp() + "/" + std::filesystem::path(src_path).stem().string() + "-" +
                          ggml_type_name(static_cast<uint32_t>(dtype)) + ".hf";
  if (std::filesystem::exists(out)) return out;  // made by an earlier test of this process
  compile::write_model(*src, {}, out, o);
  return out;
}

std::vector<std::string> facts_prompts() {
  std::ifstream f(test::fixtures_dir() + "/reference/facts-prompts.txt");
  std::vector<std::string> out;
  for (std::string line; std::getline(f, line);)
    if (line.rfind("text: ", 0) == 0) out.push_back(line.substr(6));
  return out;
}

class HFRoundTrip : public ::testing::TestWithParam<std::pair<std::string, float>> {};

TEST_P(HFRoundTrip, LoadsWithSameLogits) {
  LARQL_REQUIRE_FIXTURES();
  const auto& [stem, tol] = GetParam();
  const std::string sp = test::synth_model(stem);
  const std::string out = to_hf(sp);
  ASSERT_TRUE(std::filesystem::exists(out + "/config.json"));
  ASSERT_TRUE(std::filesystem::exists(out + "/tokenizer.json"));
  auto hf = Model::load(out);  // the Hugging Face path
  auto src = Model::load(sp);
  const HParams &a = src->hparams(), &b = hf->hparams();
  EXPECT_EQ(a.arch, b.arch);
  EXPECT_EQ(a.n_layer, b.n_layer);
  EXPECT_EQ(a.n_head_kv, b.n_head_kv);
  EXPECT_EQ(a.n_vocab, b.n_vocab);
  EXPECT_EQ(a.tied_output, b.tied_output);
  EXPECT_EQ(a.n_expert, b.n_expert);
  // Tokenizer: the fixture's llama.cpp token ids for the synthetic vocabulary.
  std::ifstream f(test::fixtures_dir() + "/reference/tok512-tokenizer-tests.json");
  const auto j = nlohmann::json::parse(f);
  for (const auto& t : j["tests"]) {
    const std::string text = t["text"].get<std::string>();
    EXPECT_EQ(hf->tokenizer().encode(text, false, false), t["ids_no_bos"].get<std::vector<int32_t>>()) << "'" << text << "'";
  }
  const auto toks = test::probe_tokens(*src);
  const auto la = test::logits_of(*src, toks), lb = test::logits_of(*hf, toks);
  if (tol == 0) EXPECT_TRUE(test::bit_equal(la, lb)) << "max diff " << test::max_abs_diff(la, lb);
  else EXPECT_LE(test::max_abs_diff(la, lb), tol);
}

// Gemma stores norm multipliers 1 + w: writing w and adding 1 back may move a value by an ulp.
INSTANTIATE_TEST_SUITE_P(Synthetic, HFRoundTrip,
                         ::testing::Values(std::pair<std::string, float>{"tiny-llama-gqa-F32", 0},
                                           std::pair<std::string, float>{"tiny-qwen2-F32", 0},
                                           std::pair<std::string, float>{"tiny-qwen3-F32", 0},
                                           std::pair<std::string, float>{"tiny-gemma3-F32", 1e-4f},
                                           std::pair<std::string, float>{"tiny-mixtral-8x2-F32", 0},
                                           std::pair<std::string, float>{"tiny-qwen2moe-4x2-F32", 0},
                                           std::pair<std::string, float>{"tiny-deepseek2-mla-F32", 0},
                                           std::pair<std::string, float>{"tiny-phi3-F32", 0},
                                           std::pair<std::string, float>{"tiny-gpt2-F32", 0}),
                         [](const auto& info) {
                           std::string n = info.param.first;
                           for (auto& c : n)
                             if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                           return n;
                         });

TEST(HFOutput, FactsModelSameTokensAndLogits) {
  LARQL_REQUIRE_FIXTURES();
  const std::string sp = test::facts_model("F32");
  const std::string out = to_hf(sp);
  auto hf = Model::load(out);
  auto src = Model::load(sp);
  EXPECT_EQ(hf->tokenizer().bos_id(), src->tokenizer().bos_id());
  EXPECT_EQ(hf->tokenizer().add_bos(), src->tokenizer().add_bos());
  for (const auto& p : facts_prompts()) {
    const auto ta = src->tokenizer().encode(p, true, false), tb = hf->tokenizer().encode(p, true, false);
    ASSERT_EQ(ta, tb) << "'" << p << "'";
    EXPECT_EQ(src->tokenizer().decode(ta, true), hf->tokenizer().decode(tb, true));
    EXPECT_TRUE(test::bit_equal(test::logits_of(*src, ta), test::logits_of(*hf, tb))) << "'" << p << "'";
  }
  // Q/K are stored in HF's rotary-halves layout (un-permuted), not as in the GGUF.
  auto st = safetensors::Folder::open(out);
  const auto* q = st->find_tensor("model.layers.0.self_attn.q_proj.weight");
  ASSERT_NE(q, nullptr);
  const auto& gq = src->source().require("blk.0.attn_q.weight");
  EXPECT_NE(0, std::memcmp(q->data, gq.data, gq.n_bytes));
  ASSERT_NE(st->find_tensor("lm_head.weight"), nullptr);
}

TEST(HFOutput, HalfPrecisionDtypes) {
  LARQL_REQUIRE_FIXTURES();
  const std::string sp = test::facts_model("F32");
  auto src = Model::load(sp);
  const auto toks = src->tokenizer().encode("The capital of France is", true, false);
  const auto ref = test::logits_of(*src, toks);
  for (GGMLType dt : {GGMLType::F16, GGMLType::BF16}) {
    auto hf = Model::load(to_hf(sp, dt));
    EXPECT_EQ(hf->source().require("blk.0.ffn_down.weight").type, dt);
    const auto l = test::logits_of(*hf, toks);
    // Same greedy token on the last position; rounding changes the values a little.
    const size_t V = static_cast<size_t>(src->hparams().n_vocab), last = l.size() - V;
    auto argmax = [&](const std::vector<float>& v) { return std::max_element(v.begin() + last, v.end()) - v.begin(); };
    EXPECT_EQ(argmax(ref), argmax(l));
    EXPECT_LT(test::max_abs_diff(ref, l), dt == GGMLType::F16 ? 0.05f : 0.5f);
  }
}

TEST(HFOutput, BackToGGUFIsTheSameModel) {
  LARQL_REQUIRE_FIXTURES();
  // GGUF -> HF -> GGUF (metadata synthesized from config.json + tokenizer.json).
  const std::string sp = test::facts_model("F32");
  const std::string hf = to_hf(sp);
  auto hsrc = open_model(hf);
  const std::string out = compile_tmp() + "/facts-from-hf.gguf";
  auto res = compile::write_model(*hsrc, {}, out);
  auto a = Model::load(sp), b = Model::load(out);
  for (const TensorRef* t : a->source().tensors()) {
    const TensorRef& u = b->source().require(t->name);
    ASSERT_EQ(t->n_bytes, u.n_bytes) << t->name;
    EXPECT_EQ(0, std::memcmp(t->data, u.data, t->n_bytes)) << t->name;
  }
  for (const auto& p : facts_prompts()) {
    const auto ta = a->tokenizer().encode(p, true, false);
    ASSERT_EQ(ta, b->tokenizer().encode(p, true, false)) << "'" << p << "'";
  }
}

}  // namespace
}  // namespace larql
