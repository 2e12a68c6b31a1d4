// gpt-oss from Hugging Face safetensors: config.json -> HParams, the name table, and the
// fused-expert assembly (MXFP4 re-packing, gate/up de-interleaving) against hand-computed
// values. The MXFP4 values are decoded here from the OCP E2M1 table and the HF packing
// (element 2k in the low nibble of byte k), then compared with LARQL's GGML decoder.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <functional>
#include <nlohmann/json.hpp>

#include "model/hf_gpt_oss.h"
#include "model/hf_names.h"
#include "model/hparams.h"
#include "tensor/quants.h"
#include "util/error.h"

using namespace larql;
using nlohmann::json;
using safetensors::TensorInfo;

namespace {

// OCP MX spec E2M1: sign bit 3, then exponent/mantissa.
const float kE2M1[16] = {0, 0.5f, 1, 1.5f, 2, 3, 4, 6, -0.0f, -0.5f, -1, -1.5f, -2, -3, -4, -6};

json oss_config() {  // openai/gpt-oss-20b's config.json (as published), fewer layers
  return json::parse(R"({
    "architectures": ["GptOssForCausalLM"], "model_type": "gpt_oss", "attention_bias": true,
    "experts_per_token": 4, "head_dim": 64, "hidden_act": "silu", "hidden_size": 2880,
    "initial_context_length": 4096, "intermediate_size": 2880,
    "layer_types": ["sliding_attention", "full_attention", "sliding_attention", "full_attention"],
    "max_position_embeddings": 131072, "num_attention_heads": 64, "num_experts_per_tok": 4,
    "num_hidden_layers": 4, "num_key_value_heads": 8, "num_local_experts": 32,
    "quantization_config": {"modules_to_not_convert": ["model.layers.*.self_attn", "model.layers.*.mlp.router",
                            "model.embed_tokens", "lm_head"], "quant_method": "mxfp4"},
    "rms_norm_eps": 1e-05,
    "rope_scaling": {"beta_fast": 32.0, "beta_slow": 1.0, "factor": 32.0, "original_max_position_embeddings": 4096,
                     "rope_type": "yarn", "truncate": false},
    "rope_theta": 150000, "sliding_window": 128, "swiglu_limit": 7.0, "tie_word_embeddings": false,
    "vocab_size": 201088})");
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TensorInfo info(const std::string& name, const std::string& dtype, std::vector<int64_t> shape, const std::vector<uint8_t>& b) {
  TensorInfo t;
  t.name = name;
  t.dtype = dtype;
  if (dtype == "F32") t.type = GGMLType::F32;
  t.shape = std::move(shape);
  t.n_bytes = b.size();
  t.data = b.data();
  return t;
}

// HF code of element i of block (e, row): distinct per position so misplacement shows.
uint8_t code(int64_t e, int64_t row, int i) { return static_cast<uint8_t>((e * 5 + row * 3 + i * 7 + i / 16) & 15); }
uint8_t scale_of(int64_t e, int64_t row) { return static_cast<uint8_t>(120 + e * 4 + row); }

}  // namespace

TEST(HfGptOss, ConfigOfTheReleasedModel) {
  const HParams hp = hparams_from_hf_config(oss_config());
  EXPECT_EQ(hp.arch, "gpt-oss");
  EXPECT_EQ(hp.n_embd, 2880);
  EXPECT_EQ(hp.n_layer, 4);
  EXPECT_EQ(hp.n_head, 64);
  EXPECT_EQ(hp.n_head_kv, 8);
  EXPECT_EQ(hp.head_dim_k, 64);
  EXPECT_EQ(hp.n_expert, 32);
  EXPECT_EQ(hp.n_expert_used, 4);
  EXPECT_EQ(hp.n_ff_exp, 2880);
  EXPECT_EQ(hp.sliding_window, 128);
  EXPECT_EQ(hp.rope_scaling, "yarn");
  EXPECT_DOUBLE_EQ(hp.rope_scale, 32.0);
  EXPECT_EQ(hp.rope_orig_ctx, 4096);
  EXPECT_DOUBLE_EQ(hp.rope_base, 150000.0);
  EXPECT_DOUBLE_EQ(hp.norm_eps, 1e-5);
  EXPECT_FALSE(hp.tied_output);
  EXPECT_EQ(hp.n_vocab, 201088);
}

TEST(HfGptOss, RopeParametersAndDefaults) {
  json c = oss_config();
  c.erase("rope_scaling");
  c.erase("rope_theta");
  c.erase("sliding_window");
  c.erase("num_experts_per_tok");  // older exports: experts_per_token only
  c["rope_parameters"] = {{"rope_type", "yarn"}, {"factor", 16.0}, {"original_max_position_embeddings", 2048}, {"rope_theta", 5e5}};
  const HParams hp = hparams_from_hf_config(c);
  EXPECT_EQ(hp.rope_scaling, "yarn");
  EXPECT_DOUBLE_EQ(hp.rope_scale, 16.0);
  EXPECT_EQ(hp.rope_orig_ctx, 2048);
  EXPECT_DOUBLE_EQ(hp.rope_base, 5e5);
  EXPECT_EQ(hp.sliding_window, 128);  // GptOssConfig default
  EXPECT_EQ(hp.n_expert_used, 4);
}

TEST(HfGptOss, UnsupportedConfigsAreRefused) {
  auto err = [](const std::function<void(json&)>& edit) {
    json c = oss_config();
    edit(c);
    return error_of([&] { hparams_from_hf_config(c); });
  };
  EXPECT_NE(err([](json& c) { c["layer_types"][1] = "sliding_attention"; }).find("layer_types[1]"), std::string::npos);
  EXPECT_NE(err([](json& c) { c["layer_types"].erase(3); }).find("'layer_types'"), std::string::npos);
  EXPECT_NE(err([](json& c) { c["swiglu_limit"] = 8.0; }).find("swiglu_limit"), std::string::npos);
  EXPECT_NE(err([](json& c) { c["rope_scaling"]["beta_fast"] = 16; }).find("beta_fast"), std::string::npos);
  EXPECT_NE(err([](json& c) { c["quantization_config"]["quant_method"] = "fp8"; }).find("quant_method"), std::string::npos);
  EXPECT_NE(err([](json& c) { c["sliding_window"] = 0; }).find("sliding_window"), std::string::npos);
  EXPECT_NE(err([](json& c) { c["num_local_experts"] = 0; }).find("num_local_experts"), std::string::npos);
}

TEST(HfGptOss, NameTable) {
  auto g = [](const std::string& hf) {
    auto m = hf::map_tensor_name("gpt-oss", hf, 4);
    return m ? m->gguf : std::string("(none)");
  };
  EXPECT_EQ(g("model.layers.3.post_attention_layernorm.weight"), "blk.3.post_attention_norm.weight");
  EXPECT_EQ(g("model.layers.0.input_layernorm.weight"), "blk.0.attn_norm.weight");
  EXPECT_EQ(g("model.layers.1.self_attn.sinks"), "blk.1.attn_sinks.weight");
  EXPECT_EQ(g("model.layers.1.self_attn.q_proj.bias"), "blk.1.attn_q.bias");
  EXPECT_EQ(g("model.layers.1.mlp.router.weight"), "blk.1.ffn_gate_inp.weight");
  EXPECT_EQ(g("model.layers.1.mlp.router.bias"), "blk.1.ffn_gate_inp.bias");
  EXPECT_EQ(g("model.layers.2.mlp.experts.down_proj_bias"), "blk.2.ffn_down_exps.bias");
  auto m = hf::map_tensor_name("gpt-oss", "model.layers.2.mlp.experts.gate_up_proj_scales", 4);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->kind, hf::Mapped::Kind::Fused);
  EXPECT_EQ(m->xform, hf::Xform::OssScales);
  EXPECT_EQ(m->gguf, "blk.2.ffn_gate_up_exps");
  EXPECT_EQ(hf::hf_name_for("gpt-oss", "blk.2.ffn_up_exps.weight"), "model.layers.2.mlp.experts.gate_up_proj_blocks");
  EXPECT_EQ(hf::hf_name_for("gpt-oss", "blk.2.ffn_gate_exps.bias"), "model.layers.2.mlp.experts.gate_up_proj_bias");
  EXPECT_EQ(hf::hf_name_for("gpt-oss", "blk.0.attn_sinks.weight"), "model.layers.0.self_attn.sinks");
}

TEST(HfGptOss, Mxfp4BlockRepackDecodesToTheHfValues) {
  uint8_t hf16[16], g17[17], back[16], s = 0;
  for (int k = 0; k < 16; ++k) hf16[k] = static_cast<uint8_t>(code(1, 2, 2 * k) | (code(1, 2, 2 * k + 1) << 4));
  hf::mxfp4_block_hf_to_ggml(hf16, 125, g17);
  float y[32];
  dequantize_row(GGMLType::MXFP4, g17, y, 32);
  for (int i = 0; i < 32; ++i) EXPECT_EQ(y[i], kE2M1[code(1, 2, i)] * 0.25f) << "element " << i;  // 2^(125-127)
  hf::mxfp4_block_ggml_to_hf(g17, back, &s);
  EXPECT_EQ(s, 125);
  EXPECT_EQ(std::memcmp(back, hf16, 16), 0);
}

TEST(HfGptOss, FusedMxfp4GateUpSplitsEvenAndOddRows) {
  const int64_t E = 2, R = 4, G = 2;  // 2 experts, F = 2, hidden 64
  std::vector<uint8_t> blocks(E * R * G * 16), scales(E * R * G);
  for (int64_t e = 0; e < E; ++e)
    for (int64_t r = 0; r < R; ++r)
      for (int64_t g = 0; g < G; ++g) {
        scales[(e * R + r) * G + g] = scale_of(e, r);
        for (int k = 0; k < 16; ++k)
          blocks[((e * R + r) * G + g) * 16 + k] =
              static_cast<uint8_t>(code(e, r, int(g * 32 + 2 * k)) | (code(e, r, int(g * 32 + 2 * k + 1)) << 4));
      }
  const std::string X = "model.layers.0.mlp.experts.";
  TensorInfo b = info(X + "gate_up_proj_blocks", "U8", {E, R, G, 16}, blocks);
  TensorInfo s = info(X + "gate_up_proj_scales", "U8", {E, R, G}, scales);
  auto out = hf::build_oss_experts("blk.0.ffn_gate_up_exps", {&b, &s, nullptr, nullptr}, E);
  ASSERT_EQ(out.size(), 2u);
  for (int part = 0; part < 2; ++part) {
    const hf::OssTensor& t = out[static_cast<size_t>(part)];
    EXPECT_EQ(t.gguf, part == 0 ? "blk.0.ffn_gate_exps.weight" : "blk.0.ffn_up_exps.weight");
    EXPECT_EQ(t.type, GGMLType::MXFP4);
    EXPECT_EQ(t.ne, (std::vector<int64_t>{G * 32, R / 2, E}));
    std::vector<float> y(static_cast<size_t>(G * 32));
    for (int64_t e = 0; e < E; ++e)
      for (int64_t r = 0; r < R / 2; ++r) {
        dequantize_row(GGMLType::MXFP4, t.bytes.data() + (e * (R / 2) + r) * G * 17, y.data(), G * 32);
        const int64_t hr = 2 * r + part;  // HF row: gate even, up odd
        for (int i = 0; i < G * 32; ++i)
          ASSERT_EQ(y[size_t(i)], kE2M1[code(e, hr, i)] * std::ldexp(1.0f, scale_of(e, hr) - 127))
              << "part " << part << " expert " << e << " row " << r << " element " << i;
      }
  }
}

TEST(HfGptOss, DenseExpertsAndBiases) {
  const int64_t E = 2, in = 3, R = 4;
  std::vector<float> w(E * in * R), bias(E * R);
  for (int64_t e = 0; e < E; ++e)
    for (int64_t i = 0; i < in; ++i)
      for (int64_t c = 0; c < R; ++c) w[(e * in + i) * R + c] = float(100 * e + 10 * i + c);
  for (int64_t e = 0; e < E; ++e)
    for (int64_t c = 0; c < R; ++c) bias[e * R + c] = float(10 * e + c);
  std::vector<uint8_t> wb(w.size() * 4), bb(bias.size() * 4);
  std::memcpy(wb.data(), w.data(), wb.size());
  std::memcpy(bb.data(), bias.data(), bb.size());
  TensorInfo tw = info("gate_up_proj", "F32", {E, in, R}, wb), tb = info("gate_up_proj_bias", "F32", {E, R}, bb);
  auto out = hf::build_oss_experts("blk.5.ffn_gate_up_exps", {nullptr, nullptr, &tw, &tb}, E);
  ASSERT_EQ(out.size(), 4u);
  auto at = [](const hf::OssTensor& t, size_t i) { float f; std::memcpy(&f, t.bytes.data() + 4 * i, 4); return f; };
  for (int part = 0; part < 2; ++part) {
    const hf::OssTensor& t = out[size_t(part)];
    EXPECT_EQ(t.ne, (std::vector<int64_t>{in, R / 2, E}));
    for (int64_t e = 0; e < E; ++e)
      for (int64_t r = 0; r < R / 2; ++r)
        for (int64_t i = 0; i < in; ++i) EXPECT_EQ(at(t, size_t((e * 2 + r) * in + i)), float(100 * e + 10 * i + 2 * r + part));
    const hf::OssTensor& tbias = out[size_t(2 + part)];
    EXPECT_EQ(tbias.gguf, part == 0 ? "blk.5.ffn_gate_exps.bias" : "blk.5.ffn_up_exps.bias");
    EXPECT_EQ(tbias.ne, (std::vector<int64_t>{R / 2, E}));
    for (int64_t e = 0; e < E; ++e)
      for (int64_t r = 0; r < R / 2; ++r) EXPECT_EQ(at(tbias, size_t(e * 2 + r)), float(10 * e + 2 * r + part));
  }
  // down_proj [E, F, H] -> GGML [F, H, E] (row per output of H).
  TensorInfo td = info("down_proj", "F32", {E, in, R}, wb);
  auto down = hf::build_oss_experts("blk.5.ffn_down_exps", {nullptr, nullptr, &td, nullptr}, E);
  ASSERT_EQ(down.size(), 1u);
  EXPECT_EQ(down[0].gguf, "blk.5.ffn_down_exps.weight");
  EXPECT_EQ(down[0].ne, (std::vector<int64_t>{in, R, E}));
  EXPECT_EQ(at(down[0], size_t((1 * R + 3) * in + 2)), float(100 + 20 + 3));
}

TEST(HfGptOss, BadPartsAreClearErrors) {
  std::vector<uint8_t> blocks(2 * 4 * 1 * 16), scales(2 * 4 * 1), half(2 * 2 * 1);
  TensorInfo b = info("X.gate_up_proj_blocks", "U8", {2, 4, 1, 16}, blocks);
  TensorInfo s = info("X.gate_up_proj_scales", "U8", {2, 4, 1}, scales);
  TensorInfo s_bad = info("X.gate_up_proj_scales", "U8", {2, 2, 1}, half);
  TensorInfo b_i8 = info("X.gate_up_proj_blocks", "I8", {2, 4, 1, 16}, blocks);
  TensorInfo b3 = info("X.gate_up_proj_blocks", "U8", {2, 4, 16}, scales);
  TensorInfo b_odd = info("X.gate_up_proj_blocks", "U8", {2, 3, 1, 16}, blocks);
  TensorInfo s_odd = info("X.gate_up_proj_scales", "U8", {2, 3, 1}, scales);
  auto err = [](const std::string& base, hf::OssParts p, int64_t n) { return error_of([&] { hf::build_oss_experts(base, p, n); }); };
  const std::string gu = "blk.0.ffn_gate_up_exps";
  EXPECT_NE(err(gu, {&b, nullptr, nullptr, nullptr}, 2).find("has no 'X.gate_up_proj_scales'"), std::string::npos);
  EXPECT_NE(err(gu, {nullptr, &s, nullptr, nullptr}, 2).find("have no 'X.gate_up_proj_blocks'"), std::string::npos);
  EXPECT_NE(err(gu, {&b, &s_bad, nullptr, nullptr}, 2).find("X.gate_up_proj_scales' have shape [2, 2, 1]"), std::string::npos);
  EXPECT_NE(err(gu, {&b_i8, &s, nullptr, nullptr}, 2).find("expected U8"), std::string::npos);
  EXPECT_NE(err(gu, {&b3, &s, nullptr, nullptr}, 2).find("expected [experts, rows, blocks, 16]"), std::string::npos);
  EXPECT_NE(err(gu, {&b_odd, &s_odd, nullptr, nullptr}, 2).find("must be even"), std::string::npos);
  EXPECT_NE(err(gu, {&b, &s, nullptr, nullptr}, 3).find("3 experts of config.json"), std::string::npos);
  EXPECT_NE(err(gu, {&b, &s, &b, nullptr}, 2).find("both hold the same experts"), std::string::npos);
}
