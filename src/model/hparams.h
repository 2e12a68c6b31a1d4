// Model hyperparameters, read from GGUF metadata ("<arch>.<key>") or a Hugging
// Face config.json, in one arch-neutral struct. Families differ in data
// (which keys and tensors exist), not in code paths.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace larql {
namespace gguf { class File; class Writer; }

struct HParams {
  std::string arch;          // GGUF architecture name: llama, qwen2, qwen3, gemma2, gemma3, phi3, gpt2, qwen2moe, qwen3moe, deepseek2, gpt-oss
  std::string name;          // general.name
  int64_t n_vocab = 0;
  int64_t n_ctx = 0;         // training context length
  int64_t n_embd = 0;
  int64_t n_layer = 0;
  int64_t n_ff = 0;          // dense FFN width (leading dense layers for MoE)
  int64_t n_head = 0;
  int64_t n_head_kv = 0;
  int64_t head_dim_k = 0;    // attention.key_length (defaults to n_embd / n_head)
  int64_t head_dim_v = 0;    // attention.value_length
  int64_t rope_dim = 0;      // rope.dimension_count (defaults to head_dim_k)
  double rope_base = 10000.0;
  double rope_base_local = 0;   // gemma3 local layers (0 = same as rope_base)
  std::string rope_scaling;     // "", "linear", "yarn", "llama3"
  double rope_scale = 1.0;
  int64_t rope_orig_ctx = 0;        // rope.scaling.original_context_length
  double rope_yarn_log_mul = 0;     // rope.scaling.yarn_log_multiplier (deepseek2)
  double norm_eps = 1e-5;
  bool use_layernorm = false;   // gpt2: LayerNorm with bias instead of RMSNorm
  int64_t sliding_window = 0;
  double attn_softcap = 0;      // gemma2
  double final_softcap = 0;     // gemma2
  // Mixture of experts.
  int64_t n_expert = 0;
  int64_t n_expert_used = 0;
  int64_t n_ff_exp = 0;
  int64_t n_expert_shared = 0;
  int64_t n_ff_shexp = 0;
  int64_t n_layer_dense_lead = 0;
  double expert_weights_scale = 1.0;
  bool expert_weights_norm = false;
  int expert_gating_func = 0;   // 0 unset, 1 softmax, 2 sigmoid
  int64_t n_expert_groups = 0;      // DeepSeek group-limited routing (expert_group_count; HF n_group)
  int64_t n_expert_groups_used = 0; // expert_group_used_count; HF topk_group
  // DeepSeek MLA.
  int64_t q_lora_rank = 0;
  int64_t kv_lora_rank = 0;
  bool tied_output = false;     // no output.weight: the head reuses token_embd

  bool is_moe() const { return n_expert > 0; }
  int64_t q_dim() const { return n_head * head_dim_k; }
  int64_t kv_dim() const { return n_head_kv * head_dim_k; }
};

HParams hparams_from_gguf(const gguf::File& f);
// Writes the <arch>.* keys for `hp` (used by synth and by conversion).
void hparams_to_gguf(const HParams& hp, gguf::Writer& w);
// Maps a Hugging Face config.json to HParams (llama/mistral/qwen2/qwen3/gemma2/gemma3/phi3/gpt2/mixtral/qwen2_moe/qwen3_moe/deepseek_v2/v3).
HParams hparams_from_hf_config(const nlohmann::json& cfg);

// One tensor a family expects in a GGUF file.
struct TensorSpec {
  std::string name;             // "blk.3.attn_q.weight"
  std::vector<int64_t> ne;      // GGML order: ne[0] = input features
  bool is_norm_or_bias = false; // 1-D tensors: kept F32 by quantizers
  bool optional = false;
};

// The tensors of a model with these hyperparameters, in the order llama.cpp's converter writes them.
std::vector<TensorSpec> tensor_specs(const HParams& hp);
// Architectures LARQL knows the tensor layout of.
const std::vector<std::string>& known_architectures();

}  // namespace larql
