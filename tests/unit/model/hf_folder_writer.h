// Test helper: turns a fixture GGUF (as llama.cpp's converter lays it out) back
// into the Hugging Face safetensors folder it would have been converted from:
// config.json, model.safetensors (or shards + model.safetensors.index.json),
// tokenizer.json and tokenizer_config.json.
//
// It inverts the converter on its own, from the HF conventions (names of the
// transformers model classes, rotary halves in Q/K, Gemma's (1 + w) norms,
// per-expert tensors, GPT-2's Conv1D [in, out] weights). It deliberately does not
// use src/model/hf_names.*, so a wrong entry there cannot cancel itself out.
// Reusable from other tests: write_hf_folder_from_gguf(gguf, dir, sharded).
#pragma once
#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "../tokenizer/hf_convert.h"
#include "format/gguf.h"
#include "format/safetensors.h"
#include "model/hparams.h"
#include "util/error.h"
#include "util/half.h"

namespace larql::test {

struct HfFolderOptions {
  bool sharded = false;       // 3 shards + model.safetensors.index.json
  std::string dtype = "F32";  // dtype of every tensor written: F32, F16 or BF16
  // Gemma 3 only: Gemma3ForConditionalGeneration layout ("language_model." prefix,
  // text_config, a vision tower and projector that the loader must skip).
  bool gemma3_multimodal = false;
  std::string chat_template = "{{ bos_token }}{% for m in messages %}{{ m['content'] }}{% endfor %}";
};

// A fresh directory under the system temp dir, removed with its contents on destruction.
class TempDir {
 public:
  explicit TempDir(const std::string& tag) {
    std::random_device rd;
    path_ = std::filesystem::temp_directory_path() / ("larql-" + tag + "-" + std::to_string(rd()) + std::to_string(rd()));
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string str() const { return path_.string(); }
  std::string operator/(const std::string& f) const { return (path_ / f).string(); }

 private:
  std::filesystem::path path_;
};

namespace hfw {

inline void write_text(const std::string& path, const std::string& text) {
  std::ofstream f(path, std::ios::binary);
  f << text;
  if (!f) throw Error("cannot write '" + path + "'");
}

// HF name of a per-layer GGUF tensor ("attn_q.weight" in layer il). Experts: see expert_names().
inline std::string hf_layer_name(const std::string& arch, int64_t il, const std::string& t) {
  const std::string L = "model.layers." + std::to_string(il) + ".";
  if (arch == "gpt2") {
    static const std::map<std::string, std::string> g = {
        {"attn_norm", "ln_1"}, {"attn_qkv", "attn.c_attn"}, {"attn_output", "attn.c_proj"},
        {"ffn_norm", "ln_2"},  {"ffn_up", "mlp.c_fc"},      {"ffn_down", "mlp.c_proj"}};
    const size_t dot = t.find('.');
    return "transformer.h." + std::to_string(il) + "." + g.at(t.substr(0, dot)) + t.substr(dot);
  }
  const bool gemma = arch == "gemma2" || arch == "gemma3";
  std::map<std::string, std::string> m = {
      {"attn_norm.weight", "input_layernorm.weight"},
      {"ffn_norm.weight", gemma ? "pre_feedforward_layernorm.weight" : "post_attention_layernorm.weight"},
      {"post_attention_norm.weight", "post_attention_layernorm.weight"},
      {"post_ffw_norm.weight", "post_feedforward_layernorm.weight"},
      {"attn_q.weight", "self_attn.q_proj.weight"},   {"attn_q.bias", "self_attn.q_proj.bias"},
      {"attn_k.weight", "self_attn.k_proj.weight"},   {"attn_k.bias", "self_attn.k_proj.bias"},
      {"attn_v.weight", "self_attn.v_proj.weight"},   {"attn_v.bias", "self_attn.v_proj.bias"},
      {"attn_output.weight", "self_attn.o_proj.weight"},
      {"attn_q_norm.weight", "self_attn.q_norm.weight"}, {"attn_k_norm.weight", "self_attn.k_norm.weight"},
      {"attn_qkv.weight", "self_attn.qkv_proj.weight"},
      {"ffn_gate.weight", "mlp.gate_proj.weight"},    {"ffn_up.weight", arch == "phi3" ? "mlp.gate_up_proj.weight" : "mlp.up_proj.weight"},
      {"ffn_down.weight", "mlp.down_proj.weight"},
      {"ffn_gate_inp.weight", arch == "llama" ? "block_sparse_moe.gate.weight" : "mlp.gate.weight"},
      {"ffn_gate_inp_shexp.weight", "mlp.shared_expert_gate.weight"},
      {"exp_probs_b.bias", "mlp.gate.e_score_correction_bias"},
      {"attn_q_a.weight", "self_attn.q_a_proj.weight"}, {"attn_q_a_norm.weight", "self_attn.q_a_layernorm.weight"},
      {"attn_q_b.weight", "self_attn.q_b_proj.weight"}, {"attn_kv_a_mqa.weight", "self_attn.kv_a_proj_with_mqa.weight"},
      {"attn_kv_a_norm.weight", "self_attn.kv_a_layernorm.weight"}, {"attn_kv_b.weight", "self_attn.kv_b_proj.weight"},
  };
  const std::string shared = arch == "qwen2moe" ? "mlp.shared_expert." : "mlp.shared_experts.";
  m["ffn_gate_shexp.weight"] = shared + "gate_proj.weight";
  m["ffn_up_shexp.weight"] = shared + "up_proj.weight";
  m["ffn_down_shexp.weight"] = shared + "down_proj.weight";
  auto it = m.find(t);
  if (it == m.end()) throw Error("hf_folder_writer: no HF name for '" + t + "' (" + arch + ")");
  return L + it->second;
}

// HF names of the experts of a stacked GGUF expert tensor.
inline std::vector<std::string> expert_names(const std::string& arch, int64_t il, const std::string& t, int64_t n) {
  const std::string L = "model.layers." + std::to_string(il) + ".";
  std::string w;
  if (arch == "llama") w = t == "ffn_gate_exps.weight" ? "w1" : t == "ffn_down_exps.weight" ? "w2" : "w3";
  else w = t == "ffn_gate_exps.weight" ? "gate_proj" : t == "ffn_down_exps.weight" ? "down_proj" : "up_proj";
  const std::string base = arch == "llama" ? "block_sparse_moe.experts." : "mlp.experts.";
  std::vector<std::string> out;
  for (int64_t e = 0; e < n; ++e) out.push_back(L + base + std::to_string(e) + "." + w + ".weight");
  return out;
}

inline std::string hf_global_name(const std::string& arch, const std::string& t) {
  if (arch == "gpt2") {
    static const std::map<std::string, std::string> g = {
        {"token_embd.weight", "transformer.wte.weight"}, {"position_embd.weight", "transformer.wpe.weight"},
        {"output_norm.weight", "transformer.ln_f.weight"}, {"output_norm.bias", "transformer.ln_f.bias"},
        {"output.weight", "lm_head.weight"}};
    return g.at(t);
  }
  static const std::map<std::string, std::string> m = {
      {"token_embd.weight", "model.embed_tokens.weight"}, {"output_norm.weight", "model.norm.weight"},
      {"output.weight", "lm_head.weight"}};
  return m.at(t);
}

inline nlohmann::json make_config(const gguf::File& f, const HParams& hp) {
  using nlohmann::json;
  json c;
  const std::string& a = hp.arch;
  c["torch_dtype"] = "float32";
  c["vocab_size"] = hp.n_vocab;
  c["tie_word_embeddings"] = hp.tied_output;
  if (a == "gpt2") {
    c["model_type"] = "gpt2";
    c["architectures"] = {"GPT2LMHeadModel"};
    c["n_embd"] = hp.n_embd;
    c["n_layer"] = hp.n_layer;
    c["n_head"] = hp.n_head;
    c["n_positions"] = hp.n_ctx;
    c["n_ctx"] = hp.n_ctx;
    c["n_inner"] = hp.n_ff;
    c["layer_norm_epsilon"] = hp.norm_eps;
    c["activation_function"] = "gelu_new";
    return c;
  }
  static const std::map<std::string, std::pair<const char*, const char*>> types = {
      {"llama", {"llama", "LlamaForCausalLM"}},         {"qwen2", {"qwen2", "Qwen2ForCausalLM"}},
      {"qwen3", {"qwen3", "Qwen3ForCausalLM"}},         {"qwen2moe", {"qwen2_moe", "Qwen2MoeForCausalLM"}},
      {"qwen3moe", {"qwen3_moe", "Qwen3MoeForCausalLM"}}, {"gemma2", {"gemma2", "Gemma2ForCausalLM"}},
      {"gemma3", {"gemma3_text", "Gemma3ForCausalLM"}}, {"phi3", {"phi3", "Phi3ForCausalLM"}},
      {"deepseek2", {"deepseek_v3", "DeepseekV3ForCausalLM"}}};
  auto [mt, cls] = types.at(a);
  c["model_type"] = a == "llama" && hp.n_expert ? "mixtral" : mt;
  c["architectures"] = {a == "llama" && hp.n_expert ? "MixtralForCausalLM" : cls};
  if (a == "deepseek2" && hp.expert_gating_func != 2) {
    c["model_type"] = "deepseek_v2";
    c["architectures"] = {"DeepseekV2ForCausalLM"};
  }
  c["hidden_size"] = hp.n_embd;
  c["num_hidden_layers"] = hp.n_layer;
  c["num_attention_heads"] = hp.n_head;
  c["num_key_value_heads"] = hp.n_head_kv;
  c["intermediate_size"] = hp.n_ff;
  c["max_position_embeddings"] = hp.n_ctx;
  c["rms_norm_eps"] = hp.norm_eps;
  c["rope_theta"] = hp.rope_base;
  c["rope_scaling"] = nullptr;
  if (hp.head_dim_k != hp.n_embd / hp.n_head || a == "qwen3" || a == "gemma2" || a == "gemma3") c["head_dim"] = hp.head_dim_k;
  if (!hp.rope_scaling.empty()) c["rope_scaling"] = {{"rope_type", hp.rope_scaling}, {"factor", hp.rope_scale}};
  if (a == "qwen2" || a == "qwen3") {
    c["use_sliding_window"] = false;
    c["sliding_window"] = 4096;  // present in real Qwen configs, unused: must not reach HParams
  }
  if (a == "phi3") c["sliding_window"] = hp.sliding_window ? json(hp.sliding_window) : json();
  if (a == "gemma2" || a == "gemma3") {
    c["sliding_window"] = hp.sliding_window;
    c["query_pre_attn_scalar"] = hp.head_dim_k;
    c["hidden_activation"] = "gelu_pytorch_tanh";
  }
  if (a == "gemma2") {
    c["attn_logit_softcapping"] = hp.attn_softcap;
    c["final_logit_softcapping"] = hp.final_softcap;
  }
  if (a == "gemma3") {
    c["rope_local_base_freq"] = 10000.0;  // llama.cpp's fixed local-layer base
    c["sliding_window_pattern"] = 6;
    c["final_logit_softcapping"] = nullptr;
    c["attn_logit_softcapping"] = nullptr;
  }
  if (a == "llama" && hp.n_expert) {
    c["num_local_experts"] = hp.n_expert;
    c["num_experts_per_tok"] = hp.n_expert_used;
    c["sliding_window"] = nullptr;
  }
  if (a == "qwen2moe" || a == "qwen3moe") {
    c["num_experts"] = hp.n_expert;
    c["num_experts_per_tok"] = hp.n_expert_used;
    c["moe_intermediate_size"] = hp.n_ff_exp;
    c["norm_topk_prob"] = a == "qwen3moe";
    if (hp.n_ff_shexp) c["shared_expert_intermediate_size"] = hp.n_ff_shexp;
  }
  if (a == "deepseek2") {
    c["q_lora_rank"] = hp.q_lora_rank ? json(hp.q_lora_rank) : json();
    c["kv_lora_rank"] = hp.kv_lora_rank;
    c["qk_rope_head_dim"] = hp.rope_dim;
    c["qk_nope_head_dim"] = hp.head_dim_k - hp.rope_dim;
    c["v_head_dim"] = hp.head_dim_v;
    c["first_k_dense_replace"] = hp.n_layer_dense_lead;
    c["n_routed_experts"] = hp.n_expert;
    c["num_experts_per_tok"] = hp.n_expert_used;
    c["moe_intermediate_size"] = hp.n_ff_exp;
    c["n_shared_experts"] = hp.n_expert_shared;
    c["routed_scaling_factor"] = hp.expert_weights_scale;
    c["norm_topk_prob"] = hp.expert_weights_norm;
    c["scoring_func"] = hp.expert_gating_func == 2 ? "sigmoid" : "softmax";
    c["topk_method"] = hp.expert_gating_func == 2 ? "noaux_tc" : "greedy";
  }
  (void)f;
  return c;
}

// One tensor to write: HF name, HF shape (outermost first), F32 values.
struct HfTensor {
  std::string name;
  std::vector<int64_t> shape;
  std::vector<float> v;
};

inline std::vector<float> f32_values(const gguf::TensorInfo& t) {
  if (t.type != GGMLType::F32) throw Error("hf_folder_writer: '" + t.name + "' is not F32 (use the -F32 fixtures)");
  std::vector<float> v(t.n_elements);
  std::memcpy(v.data(), t.data, t.n_bytes);
  return v;
}

// llama.cpp permutes Q/K rows (HF row h*d + j*d/2 + i -> GGUF row h*d + 2i + j); this undoes it.
inline std::vector<float> unpermute_rows(const std::vector<float>& g, int64_t rows, int64_t heads) {
  const int64_t cols = static_cast<int64_t>(g.size()) / rows, d = rows / heads, half = d / 2;
  std::vector<float> out(g.size());
  for (int64_t h = 0; h < heads; ++h)
    for (int64_t i = 0; i < half; ++i)
      for (int64_t j = 0; j < 2; ++j)
        std::copy_n(g.begin() + (h * d + 2 * i + j) * cols, cols, out.begin() + (h * d + j * half + i) * cols);
  return out;
}

inline std::vector<HfTensor> hf_tensors(const gguf::File& f, const HParams& hp) {
  std::vector<HfTensor> out;
  const std::string& a = hp.arch;
  const bool gemma = a == "gemma2" || a == "gemma3";
  for (const auto& t : f.tensors()) {
    std::vector<float> v = f32_values(t);
    std::vector<int64_t> shape(t.ne, t.ne + t.n_dims);
    std::reverse(shape.begin(), shape.end());  // GGML ne [in, out] -> torch [out, in]
    const std::string& n = t.name;
    if (n.rfind("blk.", 0) != 0) {
      if (gemma && n == "output_norm.weight")
        for (float& x : v) x -= 1.0f;
      out.push_back({hf_global_name(a, n), shape, std::move(v)});
      continue;
    }
    const size_t dot = n.find('.', 4);
    const int64_t il = std::stoll(n.substr(4, dot - 4));
    const std::string rest = n.substr(dot + 1);
    if (rest.find("_exps.") != std::string::npos) {
      const int64_t X = t.ne[2], per = t.ne[0] * t.ne[1];
      auto names = expert_names(a, il, rest, X);
      for (int64_t e = 0; e < X; ++e)
        out.push_back({names[static_cast<size_t>(e)], {t.ne[1], t.ne[0]},
                       std::vector<float>(v.begin() + e * per, v.begin() + (e + 1) * per)});
      continue;
    }
    if (a == "llama" && (rest == "attn_q.weight" || rest == "attn_q.bias"))
      v = unpermute_rows(v, shape[0], hp.n_head);
    if (a == "llama" && (rest == "attn_k.weight" || rest == "attn_k.bias"))
      v = unpermute_rows(v, shape[0], hp.n_head_kv);
    if (gemma && rest.size() > 11 && rest.compare(rest.size() - 11, 11, "norm.weight") == 0)
      for (float& x : v) x -= 1.0f;  // HF Gemma stores w, computes x * (1 + w)
    if (a == "gpt2" && shape.size() == 2) {
      // Conv1D stores [in, out].
      const int64_t outn = shape[0], in = shape[1];
      std::vector<float> tr(v.size());
      for (int64_t o = 0; o < outn; ++o)
        for (int64_t i = 0; i < in; ++i) tr[static_cast<size_t>(i * outn + o)] = v[static_cast<size_t>(o * in + i)];
      v = std::move(tr);
      shape = {in, outn};
    }
    if (rest == "ffn_gate_inp_shexp.weight") shape = {1, shape[0]};  // nn.Linear(E, 1)
    out.push_back({hf_layer_name(a, il, rest), shape, std::move(v)});
  }
  return out;
}

inline std::vector<uint8_t> encode_as(const std::vector<float>& v, const std::string& dtype) {
  std::vector<uint8_t> b;
  if (dtype == "F32") {
    b.resize(v.size() * 4);
    std::memcpy(b.data(), v.data(), b.size());
    return b;
  }
  b.resize(v.size() * 2);
  for (size_t i = 0; i < v.size(); ++i) {
    const uint16_t h = dtype == "F16" ? fp32_to_fp16(v[i]) : fp32_to_bf16(v[i]);
    std::memcpy(b.data() + 2 * i, &h, 2);
  }
  return b;
}

inline void write_tokenizer(const gguf::File& f, const std::string& dir, const HfFolderOptions& o) {
  const GgufVocab voc = read_gguf_vocab(f);
  const std::string model = f.get_string("tokenizer.ggml.model");
  ojson tj;
  if (model == "llama") tj = hf_spm_bpe(voc, false);
  else if (model == "gpt2") tj = hf_byte_level_bpe(voc, byte_level(true), false);
  else throw Error("hf_folder_writer: tokenizer model '" + model + "' not supported");
  write_text(dir + "/tokenizer.json", tj.dump());
  nlohmann::json tc = {{"add_bos_token", f.get_bool("tokenizer.ggml.add_bos_token", model == "llama")},
                       {"add_eos_token", f.get_bool("tokenizer.ggml.add_eos_token", false)},
                       {"chat_template", o.chat_template},
                       {"model_max_length", 2048}};
  if (voc.bos >= 0) tc["bos_token"] = voc.tokens[static_cast<size_t>(voc.bos)];
  if (voc.eos >= 0) tc["eos_token"] = voc.tokens[static_cast<size_t>(voc.eos)];
  if (voc.unk >= 0) tc["unk_token"] = voc.tokens[static_cast<size_t>(voc.unk)];
  write_text(dir + "/tokenizer_config.json", tc.dump(2));
}

}  // namespace hfw

// Writes the HF folder for `gguf_path` into `out_dir` (created if needed) and
// returns the config.json it wrote. The GGUF must hold F32 tensors.
inline nlohmann::json write_hf_folder_from_gguf(const std::string& gguf_path, const std::string& out_dir,
                                                const HfFolderOptions& o) {
  namespace fs = std::filesystem;
  fs::create_directories(out_dir);
  auto f = gguf::File::open(gguf_path);
  const HParams hp = hparams_from_gguf(*f);
  nlohmann::json cfg = hfw::make_config(*f, hp);
  std::vector<hfw::HfTensor> ts = hfw::hf_tensors(*f, hp);
  if (o.gemma3_multimodal) {
    if (hp.arch != "gemma3") throw Error("hf_folder_writer: gemma3_multimodal needs a gemma3 model");
    for (auto& t : ts) {
      if (t.name == "lm_head.weight") continue;
      t.name = "language_model." + t.name;
    }
    ts.push_back({"vision_tower.vision_model.embeddings.patch_embedding.weight", {4, 3, 2, 2}, std::vector<float>(48, 0.5f)});
    ts.push_back({"multi_modal_projector.mm_input_projection_weight", {8, hp.n_embd}, std::vector<float>(8 * hp.n_embd, 0.25f)});
    nlohmann::json text = cfg;
    cfg = {{"model_type", "gemma3"},
           {"architectures", {"Gemma3ForConditionalGeneration"}},
           {"text_config", text},
           {"vision_config", {{"model_type", "siglip_vision_model"}, {"hidden_size", 8}}},
           {"mm_tokens_per_image", 256}};
  }
  std::sort(ts.begin(), ts.end(), [](const auto& x, const auto& y) { return x.name < y.name; });
  hfw::write_text(out_dir + "/config.json", cfg.dump(2));

  std::vector<std::vector<uint8_t>> bytes;
  for (const auto& t : ts) bytes.push_back(hfw::encode_as(t.v, o.dtype));
  const size_t n_shards = o.sharded ? 3 : 1;
  nlohmann::json weight_map = nlohmann::json::object();
  uint64_t total = 0;
  for (size_t s = 0; s < n_shards; ++s) {
    const std::string file = o.sharded ? "model-0000" + std::to_string(s + 1) + "-of-0000" + std::to_string(n_shards) + ".safetensors"
                                       : "model.safetensors";
    std::vector<safetensors::TensorToWrite> w;
    for (size_t i = s * ts.size() / n_shards; i < (s + 1) * ts.size() / n_shards; ++i) {
      w.push_back({ts[i].name, o.dtype, ts[i].shape, bytes[i].data(), bytes[i].size()});
      weight_map[ts[i].name] = file;
      total += bytes[i].size();
    }
    safetensors::write_file(out_dir + "/" + file, w, {{"format", "pt"}});
  }
  if (o.sharded)
    hfw::write_text(out_dir + "/model.safetensors.index.json",
                    nlohmann::json{{"metadata", {{"total_size", total}}}, {"weight_map", weight_map}}.dump(2));
  hfw::write_tokenizer(*f, out_dir, o);
  return cfg;
}

inline nlohmann::json write_hf_folder_from_gguf(const std::string& gguf_path, const std::string& out_dir, bool sharded) {
  HfFolderOptions o;
  o.sharded = sharded;
  return write_hf_folder_from_gguf(gguf_path, out_dir, o);
}

}  // namespace larql::test
