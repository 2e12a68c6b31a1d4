// open_hf_model on Hugging Face folders rebuilt from the fixture GGUFs
// (hf_folder_writer.h): every tensor of the GGUF must come back under its name,
// with its shape and its bits; hparams and tokenization must match the GGUF's.
// Separate tests check the transforms against HF semantics directly (rotate-half
// RoPE, Conv1D, (1 + w) norms, expert naming) and the errors on bad folders.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

#include "../test_paths.h"
#include "format/gguf.h"
#include "format/safetensors.h"
#include "hf_folder_writer.h"
#include "kernels/ops.h"
#include "model/hf_names.h"
#include "model/model_source.h"
#include "tokenizer/tokenizer.h"
#include "util/error.h"
#include "util/half.h"

using namespace larql;
using namespace larql::test;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

std::string fixture(const std::string& rel) { return fixtures_dir() + "/models/" + rel; }

const std::vector<std::string> kModels = {
    "synthetic/tiny-llama-gqa-F32.gguf",    "synthetic/tiny-qwen2-F32.gguf",      "synthetic/tiny-qwen3-F32.gguf",
    "synthetic/tiny-gemma3-F32.gguf",       "synthetic/tiny-phi3-F32.gguf",       "synthetic/tiny-gpt2-F32.gguf",
    "synthetic/tiny-mixtral-8x2-F32.gguf",  "synthetic/tiny-qwen2moe-4x2-F32.gguf", "synthetic/tiny-deepseek2-mla-F32.gguf",
    "facts/facts-F32.gguf",
};

float decode(GGMLType t, const uint8_t* p) {
  if (t == GGMLType::F32) {
    float f;
    std::memcpy(&f, p, 4);
    return f;
  }
  uint16_t h;
  std::memcpy(&h, p, 2);
  return t == GGMLType::F16 ? fp16_to_fp32(h) : bf16_to_fp32(h);
}
std::vector<float> values(const TensorRef& r) {
  const size_t es = r.type == GGMLType::F32 ? 4 : 2;
  std::vector<float> v(r.n_bytes / es);
  for (size_t i = 0; i < v.size(); ++i) v[i] = decode(r.type, r.data + i * es);
  return v;
}
float round_to(const std::string& dtype, float x) {
  if (dtype == "F16") return fp16_to_fp32(fp32_to_fp16(x));
  if (dtype == "BF16") return bf16_to_fp32(fp32_to_bf16(x));
  return x;
}
int64_t ulp_distance(float a, float b) {
  int32_t ia, ib;
  std::memcpy(&ia, &a, 4);
  std::memcpy(&ib, &b, 4);
  return std::llabs(static_cast<int64_t>(ia) - ib);
}

// Address ranges of the process's mappings of *.safetensors files (Linux).
std::vector<std::pair<uintptr_t, uintptr_t>> safetensors_mappings() {
  std::vector<std::pair<uintptr_t, uintptr_t>> out;
  std::ifstream maps("/proc/self/maps");
  std::string line;
  while (std::getline(maps, line)) {
    if (line.size() < 12 || line.compare(line.size() - 12, 12, ".safetensors") != 0) continue;
    uintptr_t b = 0, e = 0;
    char dash;
    std::istringstream(line) >> std::hex >> b >> dash >> e;
    out.emplace_back(b, e);
  }
  return out;
}
bool in_mapping(const TensorRef& r, const std::vector<std::pair<uintptr_t, uintptr_t>>& maps) {
  const auto p = reinterpret_cast<uintptr_t>(r.data);
  for (auto [b, e] : maps)
    if (p >= b && p + r.n_bytes <= e) return true;
  return false;
}

bool is_gemma_norm(const HParams& hp, const std::string& n) {
  return (hp.arch == "gemma2" || hp.arch == "gemma3") && n.size() > 11 && n.compare(n.size() - 11, 11, "norm.weight") == 0;
}
// Tensors the converter rewrites (so the loader must copy them).
bool is_transformed(const HParams& hp, const std::string& n) {
  if (is_gemma_norm(hp, n) || n.find("_exps.") != std::string::npos) return true;
  if (hp.arch == "llama" && (n.find(".attn_q.") != std::string::npos || n.find(".attn_k.") != std::string::npos)) return true;
  if (hp.arch == "gpt2")
    for (const char* t : {"attn_qkv.weight", "attn_output.weight", "ffn_up.weight", "ffn_down.weight"})
      if (n.find(t) != std::string::npos) return true;
  return false;
}

void expect_same_hparams(const HParams& a, const HParams& b, const std::string& what) {
  SCOPED_TRACE(what);
  EXPECT_EQ(a.arch, b.arch);
  EXPECT_EQ(a.n_vocab, b.n_vocab);
  EXPECT_EQ(a.n_ctx, b.n_ctx);
  EXPECT_EQ(a.n_embd, b.n_embd);
  EXPECT_EQ(a.n_layer, b.n_layer);
  EXPECT_EQ(a.n_ff, b.n_ff);
  EXPECT_EQ(a.n_head, b.n_head);
  EXPECT_EQ(a.n_head_kv, b.n_head_kv);
  EXPECT_EQ(a.head_dim_k, b.head_dim_k);
  EXPECT_EQ(a.head_dim_v, b.head_dim_v);
  EXPECT_EQ(a.rope_dim, b.rope_dim);
  EXPECT_EQ(a.rope_base, b.rope_base);
  EXPECT_EQ(a.rope_scaling, b.rope_scaling);
  EXPECT_EQ(a.rope_scale, b.rope_scale);
  EXPECT_EQ(a.rope_orig_ctx, b.rope_orig_ctx);
  // The deepseek2 fixture carries yarn_log_multiplier 0.1 without YaRN scaling (it only acts
  // through log(1 / freq_scale), 0 then); a converted config has no such value to give.
  if (!a.rope_scaling.empty()) {
    EXPECT_EQ(a.rope_yarn_log_mul, b.rope_yarn_log_mul);
  }
  EXPECT_EQ(a.norm_eps, b.norm_eps);
  EXPECT_EQ(a.use_layernorm, b.use_layernorm);
  EXPECT_EQ(a.sliding_window, b.sliding_window);
  EXPECT_EQ(a.attn_softcap, b.attn_softcap);
  EXPECT_EQ(a.final_softcap, b.final_softcap);
  EXPECT_EQ(a.n_expert, b.n_expert);
  EXPECT_EQ(a.n_expert_used, b.n_expert_used);
  EXPECT_EQ(a.n_ff_exp, b.n_ff_exp);
  EXPECT_EQ(a.n_expert_shared, b.n_expert_shared);
  EXPECT_EQ(a.n_ff_shexp, b.n_ff_shexp);
  EXPECT_EQ(a.n_layer_dense_lead, b.n_layer_dense_lead);
  EXPECT_EQ(a.expert_weights_scale, b.expert_weights_scale);
  EXPECT_EQ(a.expert_weights_norm, b.expert_weights_norm);
  EXPECT_EQ(a.expert_gating_func, b.expert_gating_func);
  EXPECT_EQ(a.q_lora_rank, b.q_lora_rank);
  EXPECT_EQ(a.kv_lora_rank, b.kv_lora_rank);
  EXPECT_EQ(a.tied_output, b.tied_output);
}

// The HF source must hold exactly the GGUF's tensors, same shapes, same values
// (rounded to `dtype` where the folder was written in F16/BF16).
void expect_same_tensors(const ModelSource& gg, const ModelSource& hf, const std::string& dtype) {
  const HParams& hp = gg.hparams();
  std::set<std::string> want, got;
  for (const TensorRef* t : gg.tensors()) want.insert(t->name);
  for (const TensorRef* t : hf.tensors()) got.insert(t->name);
  EXPECT_EQ(want, got);
  const auto maps = safetensors_mappings();
  for (const TensorRef* g : gg.tensors()) {
    SCOPED_TRACE(g->name);
    const TensorRef* h = hf.find(g->name);
    ASSERT_NE(h, nullptr);
    EXPECT_EQ(h->ne, g->ne);
    const bool norm = is_gemma_norm(hp, g->name);
    EXPECT_EQ(h->type, norm || dtype == "F32" ? GGMLType::F32 : dtype == "F16" ? GGMLType::F16 : GGMLType::BF16);
    // Zero-copy exactly where the converter does nothing but rename.
    EXPECT_EQ(in_mapping(*h, maps), !is_transformed(hp, g->name));
    const std::vector<float> gv = values(*g), hv = values(*h);
    ASSERT_EQ(gv.size(), hv.size());
    int64_t bad = 0, worst = 0;
    for (size_t i = 0; i < gv.size(); ++i) {
      float expect = round_to(dtype, gv[i]);
      if (norm) {
        // HF stores w = m - 1; the converter adds 1 (in half precision for F16 weights).
        expect = round_to(dtype, gv[i] - 1.0f) + 1.0f;
        if (dtype == "F16") expect = round_to("F16", expect);
      }
      const int64_t d = ulp_distance(expect, hv[i]);
      worst = std::max(worst, d);
      bad += d > (norm && dtype == "F32" ? 1 : 0);
    }
    EXPECT_EQ(bad, 0) << "values differ, worst by " << worst << " ulp";
  }
}

std::vector<std::string> sample_texts() {
  return {"",
          "Hello",
          " Once upon a time, there was a little girl named Lily.",
          "The capital of France is",
          "Zo\xC3\xAB saw a big red ball\n\tin the park  ",
          "<s>special</s> 12345 caf\xC3\xA9 \xE4\xB8\xAD\xE6\x96\x87 \xF0\x9F\x99\x82"};
}

void check_model(const std::string& rel, const HfFolderOptions& opt) {
  SCOPED_TRACE(rel + (opt.sharded ? " (sharded)" : "") + " " + opt.dtype);
  TempDir dir("hf");
  write_hf_folder_from_gguf(fixture(rel), dir.str(), opt);
  auto gg = open_gguf_model(fixture(rel));
  auto hf = open_model(dir.str());  // dispatch on a folder goes to open_hf_model
  expect_same_hparams(gg->hparams(), hf->hparams(), "hparams");
  expect_same_tensors(*gg, *hf, opt.dtype);
  EXPECT_EQ(hf->chat_template(), opt.chat_template);
  EXPECT_GT(hf->file_bytes(), 0u);
  auto tg = gg->tokenizer(), th = hf->tokenizer();
  EXPECT_EQ(th->n_vocab(), tg->n_vocab());
  EXPECT_EQ(th->bos_id(), tg->bos_id());
  EXPECT_EQ(th->eos_id(), tg->eos_id());
  for (const auto& s : sample_texts()) {
    EXPECT_EQ(th->encode(s, true, true), tg->encode(s, true, true)) << s;
    EXPECT_EQ(th->encode(s, false, false), tg->encode(s, false, false)) << s;
  }
}

}  // namespace

TEST(HFSource, EveryFixtureRoundTrips) {
  LARQL_REQUIRE_FIXTURES();
  for (const auto& m : kModels) check_model(m, HfFolderOptions{});
}

TEST(HFSource, ShardedFolders) {
  LARQL_REQUIRE_FIXTURES();
  HfFolderOptions o;
  o.sharded = true;
  for (const char* m : {"synthetic/tiny-mixtral-8x2-F32.gguf", "facts/facts-F32.gguf"}) check_model(m, o);
  TempDir dir("hf");
  write_hf_folder_from_gguf(fixture("synthetic/tiny-qwen2-F32.gguf"), dir.str(), true);
  EXPECT_EQ(safetensors::Folder::open(dir.str())->shard_count(), 3u);
  EXPECT_TRUE(fs::exists(dir / "model.safetensors.index.json"));
  EXPECT_FALSE(fs::exists(dir / "model.safetensors"));
}

// F16 and BF16 weights stay F16/BF16 (views, or reordered copies); gemma norms become F32.
TEST(HFSource, HalfPrecisionFolders) {
  LARQL_REQUIRE_FIXTURES();
  const std::pair<const char*, const char*> cases[] = {
      {"synthetic/tiny-qwen2-F32.gguf", "BF16"},      {"synthetic/tiny-llama-gqa-F32.gguf", "F16"},
      {"synthetic/tiny-gemma3-F32.gguf", "F16"},      {"synthetic/tiny-gemma3-F32.gguf", "BF16"},
      {"synthetic/tiny-mixtral-8x2-F32.gguf", "BF16"}, {"synthetic/tiny-gpt2-F32.gguf", "F16"},
      {"synthetic/tiny-deepseek2-mla-F32.gguf", "BF16"}};
  for (const auto& [m, dt] : cases) {
    HfFolderOptions o;
    o.dtype = dt;
    check_model(m, o);
  }
}

TEST(HFSource, Gemma3ConditionalGenerationLayout) {
  LARQL_REQUIRE_FIXTURES();
  HfFolderOptions o;
  o.gemma3_multimodal = true;
  check_model("synthetic/tiny-gemma3-F32.gguf", o);
}

// The synthetic vocabulary's reference ids (llama-tokenize) through tokenizer.json.
TEST(HFSource, TokenizerMatchesLlamaCppReference) {
  LARQL_REQUIRE_FIXTURES();
  TempDir dir("hf");
  write_hf_folder_from_gguf(fixture("synthetic/tiny-qwen3-F32.gguf"), dir.str(), false);
  auto tok = open_hf_model(dir.str())->tokenizer();
  std::ifstream f(fixtures_dir() + "/reference/tok512-tokenizer-tests.json");
  const json ref = json::parse(f);
  ASSERT_GE(ref["tests"].size(), 16u);
  for (const auto& t : ref["tests"])
    EXPECT_EQ(tok->encode(t["text"].get<std::string>(), false, false), t["ids_no_bos"].get<std::vector<int32_t>>())
        << t["text"];
}

// --- the transforms against HF semantics, on the tensors as stored in the folder ---

namespace {

std::vector<float> hf_values(const safetensors::Folder& f, const std::string& name) {
  const safetensors::TensorInfo* t = f.find_tensor(name);
  if (!t) throw Error("test: no HF tensor " + name);
  std::vector<float> v(t->n_elements);
  std::memcpy(v.data(), t->data, t->n_bytes);
  return v;
}

std::vector<float> random_vec(size_t n, uint32_t seed) {
  std::mt19937 g(seed);
  std::normal_distribution<float> d(0, 1);
  std::vector<float> v(n);
  for (float& x : v) x = d(g);
  return v;
}

// y = W x for a GGML-layout matrix (ne [in, out]).
std::vector<float> matvec(const std::vector<float>& w, const std::vector<float>& x) {
  const size_t in = x.size(), out = w.size() / in;
  std::vector<float> y(out, 0);
  for (size_t o = 0; o < out; ++o)
    for (size_t i = 0; i < in; ++i) y[o] += w[o * in + i] * x[i];
  return y;
}

}  // namespace

// HF Llama applies RoPE with rotate_half (pairs (i, i + d/2): ggml's NeoX mode) to
// q_proj/k_proj outputs; GGUF llama uses adjacent pairs. After the loader's
// permutation, every query-key score must be the same as HF's.
TEST(HFSource, LlamaPermutationPreservesRotateHalfAttentionScores) {
  LARQL_REQUIRE_FIXTURES();
  TempDir dir("hf");
  write_hf_folder_from_gguf(fixture("synthetic/tiny-llama-gqa-F32.gguf"), dir.str(), false);
  auto folder = safetensors::Folder::open(dir.str());
  auto src = open_hf_model(dir.str());
  const HParams& hp = src->hparams();
  const int64_t d = hp.head_dim_k, H = hp.n_head, HKV = hp.n_head_kv;
  const auto x1 = random_vec(static_cast<size_t>(hp.n_embd), 1), x2 = random_vec(static_cast<size_t>(hp.n_embd), 2);
  for (int64_t il = 0; il < hp.n_layer; ++il) {
    const std::string L = "model.layers." + std::to_string(il) + ".self_attn.";
    auto q_hf = matvec(hf_values(*folder, L + "q_proj.weight"), x1);
    auto k_hf = matvec(hf_values(*folder, L + "k_proj.weight"), x2);
    auto q_gg = matvec(values(src->require("blk." + std::to_string(il) + ".attn_q.weight")), x1);
    auto k_gg = matvec(values(src->require("blk." + std::to_string(il) + ".attn_k.weight")), x2);
    const int64_t pq = 7, pk = 3;
    ops::rope(q_hf.data(), H, d, d, pq, 10000.0f, 1.0f, ops::RopeMode::Neox);
    ops::rope(k_hf.data(), HKV, d, d, pk, 10000.0f, 1.0f, ops::RopeMode::Neox);
    ops::rope(q_gg.data(), H, d, d, pq, 10000.0f, 1.0f, ops::RopeMode::Norm);
    ops::rope(k_gg.data(), HKV, d, d, pk, 10000.0f, 1.0f, ops::RopeMode::Norm);
    for (int64_t h = 0; h < H; ++h) {
      const int64_t kh = h / (H / HKV);
      double s_hf = 0, s_gg = 0;
      for (int64_t i = 0; i < d; ++i) {
        s_hf += q_hf[static_cast<size_t>(h * d + i)] * k_hf[static_cast<size_t>(kh * d + i)];
        s_gg += q_gg[static_cast<size_t>(h * d + i)] * k_gg[static_cast<size_t>(kh * d + i)];
      }
      EXPECT_NEAR(s_hf, s_gg, 1e-5 * (1 + std::fabs(s_hf))) << "layer " << il << " head " << h;
    }
    // The permutation is not the identity: without it the scores differ.
    auto q_raw = matvec(hf_values(*folder, L + "q_proj.weight"), x1);
    ops::rope(q_raw.data(), H, d, d, pq, 10000.0f, 1.0f, ops::RopeMode::Norm);
    double s_wrong = 0, s_hf = 0;
    for (int64_t i = 0; i < d; ++i) {
      s_wrong += q_raw[static_cast<size_t>(i)] * k_gg[static_cast<size_t>(i)];
      s_hf += q_hf[static_cast<size_t>(i)] * k_hf[static_cast<size_t>(i)];
    }
    EXPECT_GT(std::fabs(s_wrong - s_hf), 1e-4);
  }
}

// GPT-2 Conv1D: y = x W + b with W stored [in, out].
TEST(HFSource, Gpt2Conv1DWeightsComputeTheSameProducts) {
  LARQL_REQUIRE_FIXTURES();
  TempDir dir("hf");
  write_hf_folder_from_gguf(fixture("synthetic/tiny-gpt2-F32.gguf"), dir.str(), false);
  auto folder = safetensors::Folder::open(dir.str());
  auto src = open_hf_model(dir.str());
  const std::pair<const char*, const char*> pairs[] = {{"attn.c_attn.weight", "attn_qkv.weight"},
                                                       {"attn.c_proj.weight", "attn_output.weight"},
                                                       {"mlp.c_fc.weight", "ffn_up.weight"},
                                                       {"mlp.c_proj.weight", "ffn_down.weight"}};
  for (const auto& [hf, gg] : pairs) {
    const safetensors::TensorInfo* t = folder->find_tensor(std::string("transformer.h.1.") + hf);
    ASSERT_NE(t, nullptr) << hf;
    const int64_t in = t->shape[0], out = t->shape[1];
    const auto w = hf_values(*folder, t->name);
    const auto x = random_vec(static_cast<size_t>(in), 3);
    std::vector<float> y_hf(static_cast<size_t>(out), 0);
    for (int64_t i = 0; i < in; ++i)
      for (int64_t o = 0; o < out; ++o) y_hf[static_cast<size_t>(o)] += x[static_cast<size_t>(i)] * w[static_cast<size_t>(i * out + o)];
    const auto y = matvec(values(src->require(std::string("blk.1.") + gg)), x);
    for (int64_t o = 0; o < out; ++o) EXPECT_FLOAT_EQ(y[static_cast<size_t>(o)], y_hf[static_cast<size_t>(o)]) << gg;
  }
}

// HF Gemma: RMSNorm output * (1 + w); every gemma norm, Q/K norms included.
TEST(HFSource, GemmaNormsAreOnePlusWeight) {
  LARQL_REQUIRE_FIXTURES();
  TempDir dir("hf");
  write_hf_folder_from_gguf(fixture("synthetic/tiny-gemma3-F32.gguf"), dir.str(), false);
  auto folder = safetensors::Folder::open(dir.str());
  auto src = open_hf_model(dir.str());
  const std::pair<const char*, const char*> pairs[] = {
      {"model.norm.weight", "output_norm.weight"},
      {"model.layers.2.input_layernorm.weight", "blk.2.attn_norm.weight"},
      {"model.layers.2.post_attention_layernorm.weight", "blk.2.post_attention_norm.weight"},
      {"model.layers.2.pre_feedforward_layernorm.weight", "blk.2.ffn_norm.weight"},
      {"model.layers.2.post_feedforward_layernorm.weight", "blk.2.post_ffw_norm.weight"},
      {"model.layers.2.self_attn.q_norm.weight", "blk.2.attn_q_norm.weight"},
      {"model.layers.2.self_attn.k_norm.weight", "blk.2.attn_k_norm.weight"}};
  for (const auto& [hf, gg] : pairs) {
    const auto w = hf_values(*folder, hf), m = values(src->require(gg));
    ASSERT_EQ(w.size(), m.size());
    for (size_t i = 0; i < w.size(); ++i) EXPECT_EQ(m[i], 1.0f + w[i]) << gg;
  }
}

// Mixtral: w1 = gate, w2 = down, w3 = up; expert e is slice e of the stacked tensor.
TEST(HFSource, MixtralExpertsStackInOrder) {
  LARQL_REQUIRE_FIXTURES();
  TempDir dir("hf");
  write_hf_folder_from_gguf(fixture("synthetic/tiny-mixtral-8x2-F32.gguf"), dir.str(), false);
  auto folder = safetensors::Folder::open(dir.str());
  auto src = open_hf_model(dir.str());
  for (const auto& [w, gg] : std::vector<std::pair<std::string, std::string>>{
           {"w1", "ffn_gate_exps"}, {"w2", "ffn_down_exps"}, {"w3", "ffn_up_exps"}}) {
    const auto all = values(src->require("blk.0." + gg + ".weight"));
    for (int e = 0; e < 8; ++e) {
      const auto part = hf_values(*folder, "model.layers.0.block_sparse_moe.experts." + std::to_string(e) + "." + w + ".weight");
      ASSERT_EQ(all.size(), part.size() * 8);
      EXPECT_TRUE(std::equal(part.begin(), part.end(), all.begin() + static_cast<long>(e * part.size()))) << gg << " " << e;
    }
  }
}

// --- names ---

TEST(HFNames, RealCheckpointNames) {
  struct Case {
    const char* arch;
    const char* hf;
    const char* gguf;  // "" = skipped
    hf::Xform xf;
  };
  const Case cases[] = {
      {"llama", "model.layers.31.self_attn.q_proj.weight", "blk.31.attn_q.weight", hf::Xform::PermuteQ},
      {"llama", "model.layers.0.self_attn.k_proj.weight", "blk.0.attn_k.weight", hf::Xform::PermuteK},
      {"llama", "model.layers.0.post_attention_layernorm.weight", "blk.0.ffn_norm.weight", hf::Xform::None},
      {"llama", "model.layers.0.self_attn.rotary_emb.inv_freq", "", hf::Xform::None},
      {"llama", "lm_head.weight", "output.weight", hf::Xform::None},
      {"llama", "model.layers.3.block_sparse_moe.gate.weight", "blk.3.ffn_gate_inp.weight", hf::Xform::None},
      {"qwen2", "model.layers.5.self_attn.q_proj.bias", "blk.5.attn_q.bias", hf::Xform::None},
      {"qwen3", "model.layers.1.self_attn.k_norm.weight", "blk.1.attn_k_norm.weight", hf::Xform::None},
      {"qwen2moe", "model.layers.2.mlp.shared_expert_gate.weight", "blk.2.ffn_gate_inp_shexp.weight", hf::Xform::Squeeze},
      {"qwen2moe", "model.layers.2.mlp.shared_expert.down_proj.weight", "blk.2.ffn_down_shexp.weight", hf::Xform::None},
      {"qwen3moe", "model.layers.2.mlp.gate.weight", "blk.2.ffn_gate_inp.weight", hf::Xform::None},
      {"gemma2", "model.layers.4.post_attention_layernorm.weight", "blk.4.post_attention_norm.weight", hf::Xform::NormPlusOne},
      {"gemma2", "model.layers.4.pre_feedforward_layernorm.weight", "blk.4.ffn_norm.weight", hf::Xform::NormPlusOne},
      {"gemma2", "lm_head.weight", "", hf::Xform::None},
      {"gemma3", "language_model.model.layers.0.self_attn.q_norm.weight", "blk.0.attn_q_norm.weight", hf::Xform::NormPlusOne},
      {"gemma3", "model.language_model.embed_tokens.weight", "token_embd.weight", hf::Xform::None},
      {"gemma3", "vision_tower.vision_model.post_layernorm.weight", "", hf::Xform::None},
      {"gemma3", "multi_modal_projector.mm_soft_emb_norm.weight", "", hf::Xform::None},
      {"phi3", "model.layers.0.self_attn.qkv_proj.weight", "blk.0.attn_qkv.weight", hf::Xform::None},
      {"phi3", "model.layers.0.mlp.gate_up_proj.weight", "blk.0.ffn_up.weight", hf::Xform::None},
      {"gpt2", "h.11.attn.c_attn.weight", "blk.11.attn_qkv.weight", hf::Xform::Transpose},
      {"gpt2", "transformer.h.0.mlp.c_proj.bias", "blk.0.ffn_down.bias", hf::Xform::None},
      {"gpt2", "h.0.attn.bias", "", hf::Xform::None},
      {"gpt2", "h.0.attn.masked_bias", "", hf::Xform::None},
      {"gpt2", "wpe.weight", "position_embd.weight", hf::Xform::None},
      {"deepseek2", "model.layers.0.self_attn.kv_a_proj_with_mqa.weight", "blk.0.attn_kv_a_mqa.weight", hf::Xform::None},
      {"deepseek2", "model.layers.0.self_attn.q_proj.weight", "blk.0.attn_q.weight", hf::Xform::None},
      {"deepseek2", "model.layers.9.mlp.gate.e_score_correction_bias", "blk.9.exp_probs_b.bias", hf::Xform::None},
      {"deepseek2", "model.layers.9.mlp.shared_experts.up_proj.weight", "blk.9.ffn_up_shexp.weight", hf::Xform::None},
      {"deepseek2", "model.layers.61.self_attn.q_a_proj.weight", "", hf::Xform::None},  // MTP layer of a 61-layer model
  };
  for (const auto& c : cases) {
    auto m = hf::map_tensor_name(c.arch, c.hf, c.arch == std::string("deepseek2") ? 61 : 32);
    ASSERT_TRUE(m.has_value()) << c.hf;
    if (*c.gguf == 0) {
      EXPECT_EQ(m->kind, hf::Mapped::Kind::Skip) << c.hf;
      continue;
    }
    EXPECT_EQ(m->kind, hf::Mapped::Kind::Tensor) << c.hf;
    EXPECT_EQ(m->gguf, c.gguf);
    EXPECT_EQ(m->xform, c.xf) << c.hf;
  }
  auto e = hf::map_tensor_name("qwen3moe", "model.layers.7.mlp.experts.127.down_proj.weight", 48);
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->kind, hf::Mapped::Kind::Expert);
  EXPECT_EQ(e->gguf, "blk.7.ffn_down_exps.weight");
  EXPECT_EQ(e->expert, 127);
  // Names that mean nothing for the family, or malformed.
  EXPECT_FALSE(hf::map_tensor_name("qwen2", "model.layers.0.self_attn.qkv_proj.weight", 4));
  EXPECT_FALSE(hf::map_tensor_name("llama", "model.layers.x.mlp.up_proj.weight", 4));
  EXPECT_FALSE(hf::map_tensor_name("llama", "model.layers.0.mlp.experts.1x.up_proj.weight", 4));
  EXPECT_THROW(hf::map_tensor_name("llama", "model.layers.4.mlp.up_proj.weight", 4), Error);
  EXPECT_THROW(hf::map_tensor_name("mamba", "model.norm.weight", 4), Error);
  EXPECT_EQ(hf::hf_name_for("llama", "blk.2.ffn_up_exps.weight"), "model.layers.2.block_sparse_moe.experts.0.w3.weight");
  EXPECT_EQ(hf::hf_name_for("gemma3", "blk.0.ffn_norm.weight"), "model.layers.0.pre_feedforward_layernorm.weight");
  EXPECT_EQ(hf::hf_name_for("gpt2", "output_norm.bias"), "ln_f.bias");
}

// --- config.json ---

TEST(HFConfig, Gemma3ConditionalGenerationUsesTextConfigAndDefaults) {
  // The shape of google/gemma-3-4b-it's config.json: most text settings left at their defaults.
  const json c = json::parse(R"({
    "architectures": ["Gemma3ForConditionalGeneration"], "model_type": "gemma3",
    "text_config": {"hidden_size": 2560, "intermediate_size": 10240, "model_type": "gemma3_text",
                    "num_hidden_layers": 34, "rope_scaling": {"factor": 8.0, "rope_type": "linear"},
                    "sliding_window": 1024},
    "vision_config": {"model_type": "siglip_vision_model"}})");
  HParams hp = hparams_from_hf_config(c);
  EXPECT_EQ(hp.arch, "gemma3");
  EXPECT_EQ(hp.n_embd, 2560);
  EXPECT_EQ(hp.n_layer, 34);
  EXPECT_EQ(hp.n_head, 8);
  EXPECT_EQ(hp.n_head_kv, 4);
  EXPECT_EQ(hp.head_dim_k, 256);
  EXPECT_EQ(hp.rope_base, 1e6);
  EXPECT_EQ(hp.rope_base_local, 1e4);
  EXPECT_EQ(hp.rope_scaling, "linear");
  EXPECT_EQ(hp.rope_scale, 8.0);
  EXPECT_EQ(hp.sliding_window, 1024);
  EXPECT_TRUE(hp.tied_output);
}

TEST(HFConfig, RopeScalingAndSlidingWindowAsTheConverterRecordsThem) {
  json q = {{"model_type", "qwen2"}, {"hidden_size", 64}, {"num_hidden_layers", 2}, {"num_attention_heads", 4},
            {"num_key_value_heads", 2}, {"intermediate_size", 128}, {"sliding_window", 32768},
            {"use_sliding_window", false},
            {"rope_scaling", {{"type", "yarn"}, {"factor", 4.0}, {"original_max_position_embeddings", 32768}}}};
  HParams hp = hparams_from_hf_config(q);
  EXPECT_EQ(hp.sliding_window, 0);
  EXPECT_EQ(hp.rope_scaling, "yarn");
  EXPECT_EQ(hp.rope_scale, 4.0);
  EXPECT_EQ(hp.rope_orig_ctx, 32768);
  EXPECT_FALSE(hp.tied_output);
  json l = q;
  l["model_type"] = "mistral";
  l["sliding_window"] = 4096;
  l["rope_scaling"] = {{"rope_type", "llama3"}, {"factor", 8.0}};
  hp = hparams_from_hf_config(l);
  EXPECT_EQ(hp.arch, "llama");
  EXPECT_EQ(hp.sliding_window, 0);
  EXPECT_EQ(hp.rope_scaling, "");  // carried by the rope_freqs tensor, as in the converter's GGUF
  l["rope_scaling"] = {{"type", "dynamic"}, {"factor", 2.0}};
  EXPECT_EQ(hparams_from_hf_config(l).rope_scaling, "");
  json d = {{"model_type", "deepseek_v3"}, {"hidden_size", 64}, {"num_hidden_layers", 2}, {"num_attention_heads", 4},
            {"intermediate_size", 128}, {"kv_lora_rank", 16}, {"qk_nope_head_dim", 8}, {"qk_rope_head_dim", 4},
            {"v_head_dim", 8}, {"n_routed_experts", 4}, {"num_experts_per_tok", 2}, {"moe_intermediate_size", 32},
            {"n_shared_experts", 1}, {"q_lora_rank", nullptr}, {"scoring_func", "sigmoid"},
            {"rope_scaling", {{"type", "yarn"}, {"factor", 40}, {"mscale_all_dim", 1.0}, {"original_max_position_embeddings", 4096}}}};
  hp = hparams_from_hf_config(d);
  EXPECT_EQ(hp.q_lora_rank, 0);
  EXPECT_EQ(hp.head_dim_k, 12);
  EXPECT_EQ(hp.rope_dim, 4);
  EXPECT_EQ(hp.expert_gating_func, 2);
  EXPECT_EQ(hp.n_expert_shared, 1);
  EXPECT_DOUBLE_EQ(hp.rope_yarn_log_mul, 0.1);
  EXPECT_EQ(hp.rope_orig_ctx, 4096);
  json g = {{"model_type", "gpt2"}, {"n_embd", 64}, {"n_layer", 2}, {"n_head", 4}, {"n_inner", nullptr}, {"n_positions", 128}};
  hp = hparams_from_hf_config(g);
  EXPECT_EQ(hp.n_ff, 256);
  EXPECT_TRUE(hp.tied_output);
  EXPECT_TRUE(hp.use_layernorm);
}

TEST(HFConfig, BadConfigsNameTheField) {
  auto msg = [](const json& c) {
    try {
      hparams_from_hf_config(c);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  const json ok = {{"model_type", "llama"}, {"hidden_size", 64}, {"num_hidden_layers", 2}, {"num_attention_heads", 4},
                   {"intermediate_size", 128}};
  EXPECT_NO_THROW(hparams_from_hf_config(ok));
  for (const char* k : {"hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size"}) {
    json c = ok;
    c.erase(k);
    EXPECT_NE(msg(c).find(k), std::string::npos) << msg(c);
    c[k] = "12";
    EXPECT_NE(msg(c).find(k), std::string::npos) << msg(c);
  }
  json c = ok;
  c["model_type"] = "mamba";
  EXPECT_NE(msg(c).find("model_type 'mamba'"), std::string::npos);
  c.erase("model_type");
  EXPECT_NE(msg(c).find("model_type"), std::string::npos);
  c = ok;
  c["num_key_value_heads"] = 3;
  EXPECT_NE(msg(c).find("num_key_value_heads"), std::string::npos);
  c = ok;
  c["hidden_size"] = 2.5;
  EXPECT_NE(msg(c).find("hidden_size"), std::string::npos);
  c = ok;
  c["num_local_experts"] = 4;
  EXPECT_NE(msg(c).find("num_experts_per_tok"), std::string::npos);
  c = {{"model_type", "deepseek_v2"}, {"hidden_size", 64}, {"num_hidden_layers", 2}, {"num_attention_heads", 4},
       {"intermediate_size", 128}};
  EXPECT_NE(msg(c).find("kv_lora_rank"), std::string::npos);
  EXPECT_THROW(hparams_from_hf_config(json::array()), Error);
}
