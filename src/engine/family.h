// What distinguishes one model family's forward pass from another's: a small
// table of switches read by the single forward spine (forward.cpp).
#pragma once
#include <string>

#include "kernels/ops.h"
#include "model/hparams.h"

namespace larql {

enum class NormKind { RMS, Layer };
enum class FFNKind { SwiGLU, GeGLU, GELU,   // gate/up gated, or gpt2's single up + GELU
                     SwiGLUClamped };        // gpt-oss: min(g,7) * sigmoid(1.702 min(g,7)) * (clamp(u,-7,7) + 1)
enum class Gating { Softmax, Sigmoid,         // router scores: softmax over all experts, or per-expert sigmoid (DeepSeek V3)
                    SoftmaxSelected };        // gpt-oss: top-k of the raw logits, softmax over the k chosen
enum class SharedExpert { None, Plain, SigmoidGated };  // deepseek2: always added; qwen2moe: scaled by sigmoid(w . x)
enum class GroupScore { Max, Top2Sum };       // DeepSeek group-limited routing: V2 ranks groups by their best expert, V3 by the sum of two

struct Family {
  std::string arch;
  NormKind norm = NormKind::RMS;
  bool rope = true;                 // false: learned absolute positions (gpt2)
  ops::RopeMode rope_mode = ops::RopeMode::Norm;
  FFNKind ffn = FFNKind::SwiGLU;
  bool fused_qkv = false;           // one attn_qkv matrix (phi3, gpt2)
  bool fused_gate_up = false;       // ffn_up holds [gate | up] (phi3)
  bool qkv_bias = false;            // qwen2
  bool qk_norm = false;             // qwen3, gemma3: per-head RMSNorm of q and k before rope
  bool sandwich_norm = false;       // gemma2/3: post_attention_norm, post_ffw_norm
  bool scale_embeddings = false;    // gemma: x *= sqrt(n_embd)
  bool learned_positions = false;   // gpt2
  bool biases = false;              // gpt2: every linear and norm has a bias
  bool scale_q_before_kq = false;   // gemma2: q *= attn_scale before the product (kq_scale 1)
  float attn_scale = 0;             // multiplier for q·k
  int swa_pattern = 0;              // 0: none; 2: even layers sliding (gemma2); 6: 5 local : 1 global (gemma3); 1: all layers (phi3)
  float rope_base_swa = 0;
  bool gelu_fp16_table = false;     // gpt2: GELU through llama.cpp's fp16 table; gemma: exact tanh form (HF, ik_llama.cpp)          // rope base of sliding layers (gemma3: 10000), 0 = same as global

  // Mixture of experts: layers >= first_moe_layer route each row to its top-k experts (engine/moe.cpp).
  bool moe = false;
  int64_t first_moe_layer = 0;      // deepseek2's leading dense layers
  Gating gating = Gating::Softmax;
  bool moe_norm_topk = false;       // renormalise the k selected weights to sum 1 (mixtral, qwen3moe, DeepSeek V3)
  float moe_scale = 1.0f;           // routed scaling factor (DeepSeek)
  bool moe_selection_bias = false;  // exp_probs_b added to the scores for selection only (DeepSeek V3)
  SharedExpert shared_expert = SharedExpert::None;
  int64_t expert_groups = 0;        // > 1: pick expert_groups_used groups first, then top-k inside them
  int64_t expert_groups_used = 0;
  GroupScore group_score = GroupScore::Max;
  // DeepSeek multi-head latent attention (engine/mla.cpp): the cache holds the
  // normalised KV latent and the shared rope key, not per-head K/V.
  bool mla = false;
  // gpt-oss: a learned per-head logit in every softmax denominator (attn_sinks),
  // a router bias, per-expert biases on gate/up/down, and the pre-FFN norm
  // stored as post_attention_norm.
  bool attn_sinks = false;
  bool router_bias = false;
  bool expert_biases = false;
  bool ffn_norm_is_post_attention = false;

  bool layer_is_swa(int64_t il, int64_t window) const;
  bool layer_is_moe(int64_t il) const { return moe && il >= first_moe_layer; }
};

// Family switches for a model; throws larql::Error for architectures the engine cannot run.
Family family_for(const HParams& hp);

}  // namespace larql
