// config.json from HParams: the inverse of hparams_from_hf_config for the
// families LARQL loads, so a compiled folder reloads with the same hparams.
#include <nlohmann/json.hpp>

#include "compile/hf_out.h"
#include "util/error.h"

namespace larql::compile::detail {

using json = nlohmann::json;

namespace {

// HF model_type and class name per GGUF architecture.
std::pair<std::string, std::string> hf_class(const HParams& hp) {
  const std::string& a = hp.arch;
  if (a == "llama") return hp.n_expert ? std::pair{"mixtral", "MixtralForCausalLM"} : std::pair{"llama", "LlamaForCausalLM"};
  if (a == "qwen2") return {"qwen2", "Qwen2ForCausalLM"};
  if (a == "qwen3") return {"qwen3", "Qwen3ForCausalLM"};
  if (a == "qwen2moe") return {"qwen2_moe", "Qwen2MoeForCausalLM"};
  if (a == "qwen3moe") return {"qwen3_moe", "Qwen3MoeForCausalLM"};
  if (a == "gemma2") return {"gemma2", "Gemma2ForCausalLM"};
  if (a == "gemma3") return {"gemma3_text", "Gemma3ForCausalLM"};
  if (a == "phi3") return {"phi3", "Phi3ForCausalLM"};
  if (a == "gpt2") return {"gpt2", "GPT2LMHeadModel"};
  if (a == "deepseek2") return {"deepseek_v3", "DeepseekV3ForCausalLM"};
  if (a == "gpt-oss") return {"gpt_oss", "GptOssForCausalLM"};
  throw Error("compile: no Hugging Face config mapping for architecture '" + a + "'");
}

const char* dtype_name(GGMLType t) {
  return t == GGMLType::BF16 ? "bfloat16" : t == GGMLType::F16 ? "float16" : "float32";
}

}  // namespace

json hf_config(const HParams& hp, GGMLType dtype, int32_t bos, int32_t eos) {
  const auto [mt, cls] = hf_class(hp);
  json c;
  c["model_type"] = mt;
  c["architectures"] = json::array({cls});
  c["torch_dtype"] = dtype_name(dtype);
  c["vocab_size"] = hp.n_vocab;
  c["tie_word_embeddings"] = hp.tied_output;
  if (bos >= 0) c["bos_token_id"] = bos;
  if (eos >= 0) c["eos_token_id"] = eos;
  if (hp.arch == "gpt2") {
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
  if (hp.use_layernorm) throw Error("compile: " + hp.arch + " with LayerNorm has no Hugging Face config mapping");
  c["hidden_size"] = hp.n_embd;
  c["num_hidden_layers"] = hp.n_layer;
  c["num_attention_heads"] = hp.n_head;
  c["num_key_value_heads"] = hp.n_head_kv;
  c["max_position_embeddings"] = hp.n_ctx;
  c["intermediate_size"] = hp.n_ff > 0 && hp.arch != "gpt-oss" ? hp.n_ff : hp.n_ff_exp;
  c["rms_norm_eps"] = hp.norm_eps;
  c["rope_theta"] = hp.rope_base;
  if (hp.arch == "deepseek2") {
    c["q_lora_rank"] = hp.q_lora_rank > 0 ? json(hp.q_lora_rank) : json(nullptr);
    c["kv_lora_rank"] = hp.kv_lora_rank;
    c["qk_nope_head_dim"] = hp.head_dim_k - hp.rope_dim;
    c["qk_rope_head_dim"] = hp.rope_dim;
    c["v_head_dim"] = hp.head_dim_v;
    c["first_k_dense_replace"] = hp.n_layer_dense_lead;
    c["routed_scaling_factor"] = hp.expert_weights_scale;
    c["norm_topk_prob"] = hp.expert_weights_norm;
    c["scoring_func"] = hp.expert_gating_func == 2 ? "sigmoid" : "softmax";
    c["topk_method"] = hp.n_expert_groups > 1 ? "noaux_tc" : "greedy";
    if (hp.n_expert_groups > 1) {
      c["n_group"] = hp.n_expert_groups;
      c["topk_group"] = hp.n_expert_groups_used;
    }
    c["n_shared_experts"] = hp.n_expert_shared;
  } else {
    if (hp.head_dim_v != hp.head_dim_k || hp.rope_dim != hp.head_dim_k)
      throw Error("compile: " + hp.arch + " with value/rope dims unlike the key dim has no Hugging Face config mapping");
    c["head_dim"] = hp.head_dim_k;
  }
  if (hp.sliding_window) c["sliding_window"] = hp.sliding_window;
  if (hp.attn_softcap) c["attn_logit_softcapping"] = hp.attn_softcap;
  if (hp.final_softcap) c["final_logit_softcapping"] = hp.final_softcap;
  if (hp.arch == "gemma3") c["rope_local_base_freq"] = hp.rope_base_local ? hp.rope_base_local : 10000.0;
  if (hp.arch == "phi3" && hp.rope_orig_ctx) c["original_max_position_embeddings"] = hp.rope_orig_ctx;
  if (hp.rope_scaling == "linear" || hp.rope_scaling == "yarn") {
    json rs = {{"rope_type", hp.rope_scaling}, {"factor", hp.rope_scale}};
    if (hp.rope_scaling == "yarn") {
      rs["original_max_position_embeddings"] = hp.rope_orig_ctx;
      if (hp.arch == "gpt-oss") {  // the engine's betas; no "truncate": transformers then rounds the dims like llama.cpp
        rs["beta_fast"] = 32.0;
        rs["beta_slow"] = 1.0;
      }
      if (hp.arch == "deepseek2") rs["mscale_all_dim"] = hp.rope_yarn_log_mul / 0.1;
    }
    c["rope_scaling"] = rs;
  } else if (!hp.rope_scaling.empty()) {
    throw Error("compile: rope scaling '" + hp.rope_scaling + "' has no Hugging Face config mapping here");
  }
  if (hp.arch == "gpt-oss") {
    // GptOssConfig: windows on even layers, fixed SwiGLU clamp; experts are the only FFN.
    json lt = json::array();
    for (int64_t i = 0; i < hp.n_layer; ++i) lt.push_back(i % 2 == 0 ? "sliding_attention" : "full_attention");
    c["layer_types"] = lt;
    c["attention_bias"] = true;
    c["hidden_act"] = "silu";
    c["swiglu_limit"] = 7.0;
    c["num_local_experts"] = hp.n_expert;
    c["num_experts_per_tok"] = hp.n_expert_used;
    c["experts_per_token"] = hp.n_expert_used;
    return c;
  }
  if (hp.n_expert) {
    c[hp.arch == "llama" ? "num_local_experts" : hp.arch == "deepseek2" ? "n_routed_experts" : "num_experts"] = hp.n_expert;
    c["num_experts_per_tok"] = hp.n_expert_used;
    c["moe_intermediate_size"] = hp.n_ff_exp;
    if (hp.n_ff_shexp) c["shared_expert_intermediate_size"] = hp.n_ff_shexp;
    if (hp.arch == "qwen3moe" || hp.arch == "qwen2moe") c["norm_topk_prob"] = hp.expert_weights_norm;
  }
  return c;
}

}  // namespace larql::compile::detail
