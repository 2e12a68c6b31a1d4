#include "engine/family.h"

#include <cmath>

#include "util/error.h"

namespace larql {

bool Family::layer_is_swa(int64_t il, int64_t window) const {
  if (window <= 0) return false;
  switch (swa_pattern) {
    case 1: return true;
    case 2: return il % 2 == 0;
    case 6: return (il + 1) % 6 != 0;
    default: return false;
  }
}

Family family_for(const HParams& hp) {
  Family f;
  f.arch = hp.arch;
  f.attn_scale = 1.0f / std::sqrt(static_cast<float>(hp.head_dim_k));
  const std::string& a = hp.arch;
  if (a == "llama") {
    if (hp.n_expert > 0) {  // Mixtral: softmax over all experts, top-k renormalised
      f.moe = true;
      f.moe_norm_topk = true;
    }
  } else if (a == "qwen2" || a == "qwen2moe") {
    f.rope_mode = ops::RopeMode::Neox;
    f.qkv_bias = true;
    if (a == "qwen2moe") {  // top-k softmax weights are used as they are, plus a gated shared expert
      f.moe = true;
      f.shared_expert = SharedExpert::SigmoidGated;
    }
  } else if (a == "qwen3" || a == "qwen3moe") {
    f.rope_mode = ops::RopeMode::Neox;
    f.qk_norm = true;
    if (a == "qwen3moe") {
      f.moe = true;
      f.moe_norm_topk = true;
    }
  } else if (a == "deepseek2") {
    if (hp.kv_lora_rank <= 0 || hp.rope_dim <= 0 || hp.rope_dim > hp.head_dim_k || hp.head_dim_v <= 0)
      throw Error("deepseek2: kv_lora_rank, rope.dimension_count (<= key_length) and value_length must be positive");
    f.mla = true;
    f.moe = hp.n_expert > 0;
    f.first_moe_layer = hp.n_layer_dense_lead;
    f.gating = hp.expert_gating_func == 2 ? Gating::Sigmoid : Gating::Softmax;  // 0 (unset, V2 files) = softmax
    f.moe_norm_topk = hp.expert_weights_norm;
    f.moe_scale = static_cast<float>(hp.expert_weights_scale);
    f.moe_selection_bias = f.gating == Gating::Sigmoid;
    f.shared_expert = hp.n_expert_shared > 0 ? SharedExpert::Plain : SharedExpert::None;
    f.expert_groups = hp.n_expert_groups;
    f.expert_groups_used = hp.n_expert_groups_used;
    f.group_score = f.gating == Gating::Sigmoid ? GroupScore::Top2Sum : GroupScore::Max;
    // YaRN: the attention scale carries mscale^2; rope itself stays unscaled (see mla.cpp).
    float mscale = 1.0f;
    if ((hp.rope_scaling == "yarn" || hp.rope_scaling == "linear") && hp.rope_scale > 0)
      mscale = 1.0f + static_cast<float>(hp.rope_yarn_log_mul * std::log(hp.rope_scale));
    f.attn_scale = mscale * mscale / std::sqrt(static_cast<float>(hp.head_dim_k));
  } else if (a == "gemma2" || a == "gemma3") {
    f.rope_mode = ops::RopeMode::Neox;
    f.ffn = FFNKind::GeGLU;
    f.sandwich_norm = true;
    f.scale_embeddings = true;
    if (a == "gemma2") {
      f.scale_q_before_kq = true;
      f.swa_pattern = 2;
    } else {
      f.qk_norm = true;
      f.swa_pattern = 6;
      f.rope_base_swa = 10000.0f;
    }
  } else if (a == "phi3") {
    f.rope_mode = ops::RopeMode::Neox;
    f.fused_qkv = true;
    f.fused_gate_up = true;
    f.swa_pattern = 1;
    f.scale_q_before_kq = true;  // llama.cpp scales q after rope, then uses kq_scale 1
  } else if (a == "gpt2") {
    f.norm = NormKind::Layer;
    f.rope = false;
    f.learned_positions = true;
    f.ffn = FFNKind::GELU;
    f.fused_qkv = true;
    f.biases = true;
    f.gelu_fp16_table = true;
  } else if (a == "gpt-oss") {
    // Sliding (even) and full (odd) layers alternate; YaRN rope comes from the
    // metadata (Session::rope_config); biases on q/k/v/o.
    f.rope_mode = ops::RopeMode::Neox;
    f.qkv_bias = true;
    f.swa_pattern = 2;
    f.attn_sinks = true;
    f.moe = true;
    f.gating = Gating::SoftmaxSelected;
    f.router_bias = true;
    f.expert_biases = true;
    f.ffn = FFNKind::SwiGLUClamped;
    f.ffn_norm_is_post_attention = true;
    if (hp.n_expert <= 0) throw Error("gpt-oss: expert_count must be positive");
  } else {
    throw Error("architecture '" + a + "' is not supported by the engine yet");
  }
  if (f.moe) {
    if (hp.n_expert_used <= 0 || hp.n_expert_used > hp.n_expert || hp.n_ff_exp <= 0)
      throw Error(a + ": expert_used_count must be in 1..expert_count and expert_feed_forward_length positive");
    if (f.expert_groups > 1 && (hp.n_expert % f.expert_groups != 0 || f.expert_groups_used <= 0 ||
                                f.expert_groups_used > f.expert_groups ||
                                f.expert_groups_used * (hp.n_expert / f.expert_groups) < hp.n_expert_used))
      throw Error(a + ": expert_group_count must divide expert_count and the used groups must hold expert_used_count experts");
    if (f.shared_expert == SharedExpert::SigmoidGated && hp.n_ff_shexp <= 0)
      throw Error(a + ": expert_shared_feed_forward_length is missing");
  }
  return f;
}

}  // namespace larql
