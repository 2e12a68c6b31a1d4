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
    if (hp.n_expert > 0) throw Error("mixture-of-experts llama models (Mixtral) are not supported yet");
  } else if (a == "qwen2") {
    f.rope_mode = ops::RopeMode::Neox;
    f.qkv_bias = true;
  } else if (a == "qwen3") {
    f.rope_mode = ops::RopeMode::Neox;
    f.qk_norm = true;
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
  } else {
    throw Error("architecture '" + a + "' is not supported by the dense engine yet");
  }
  return f;
}

}  // namespace larql
