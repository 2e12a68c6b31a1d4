// Per-family tensor layout (names and GGML shapes), as llama.cpp's converter writes them.
#include <algorithm>

#include "model/hparams.h"
#include "util/error.h"

namespace larql {

namespace {

class Specs {
 public:
  explicit Specs(std::vector<TensorSpec>& out) : out_(out) {}
  void mat(const std::string& name, int64_t n_in, int64_t n_out) { out_.push_back({name, {n_in, n_out}, false, false}); }
  void mat3(const std::string& name, int64_t n_in, int64_t n_out, int64_t n_exp) {
    out_.push_back({name, {n_in, n_out, n_exp}, false, false});
  }
  void vec(const std::string& name, int64_t n) { out_.push_back({name, {n}, true, false}); }
  // A per-expert bias [n, n_exp] (gpt-oss): kept F32 like 1-D biases.
  void bias2(const std::string& name, int64_t n, int64_t n_exp) { out_.push_back({name, {n, n_exp}, true, false}); }

 private:
  std::vector<TensorSpec>& out_;
};

std::string blk(int64_t i, const char* t) { return "blk." + std::to_string(i) + "." + t; }

}  // namespace

const std::vector<std::string>& known_architectures() {
  static const std::vector<std::string> a = {"llama", "qwen2", "qwen3", "gemma2", "gemma3", "phi3",
                                             "gpt2", "qwen2moe", "qwen3moe", "deepseek2", "gpt-oss"};
  return a;
}

std::vector<TensorSpec> tensor_specs(const HParams& hp) {
  const auto& known = known_architectures();
  if (std::find(known.begin(), known.end(), hp.arch) == known.end())
    throw Error("unknown architecture '" + hp.arch + "'");
  std::vector<TensorSpec> out;
  Specs s(out);
  const int64_t E = hp.n_embd, V = hp.n_vocab;
  const bool gpt2 = hp.arch == "gpt2";
  const bool gemma = hp.arch == "gemma2" || hp.arch == "gemma3";
  const bool qk_norm = hp.arch == "qwen3" || hp.arch == "qwen3moe" || hp.arch == "gemma3";
  const bool oss = hp.arch == "gpt-oss";
  const bool qkv_bias = hp.arch == "qwen2" || hp.arch == "qwen2moe" || oss;

  s.mat("token_embd.weight", E, V);
  if (gpt2) s.mat("position_embd.weight", E, hp.n_ctx);
  s.vec("output_norm.weight", E);
  if (gpt2) s.vec("output_norm.bias", E);
  if (!hp.tied_output) s.mat("output.weight", E, V);

  for (int64_t i = 0; i < hp.n_layer; ++i) {
    s.vec(blk(i, "attn_norm.weight"), E);
    if (gpt2) s.vec(blk(i, "attn_norm.bias"), E);
    // Attention.
    if (hp.arch == "deepseek2") {
      const int64_t qk = hp.head_dim_k, nope = hp.head_dim_k - hp.rope_dim;
      if (hp.q_lora_rank > 0) {
        s.mat(blk(i, "attn_q_a.weight"), E, hp.q_lora_rank);
        s.vec(blk(i, "attn_q_a_norm.weight"), hp.q_lora_rank);
        s.mat(blk(i, "attn_q_b.weight"), hp.q_lora_rank, hp.n_head * qk);
      } else {
        s.mat(blk(i, "attn_q.weight"), E, hp.n_head * qk);
      }
      s.mat(blk(i, "attn_kv_a_mqa.weight"), E, hp.kv_lora_rank + hp.rope_dim);
      s.vec(blk(i, "attn_kv_a_norm.weight"), hp.kv_lora_rank);
      s.mat(blk(i, "attn_kv_b.weight"), hp.kv_lora_rank, hp.n_head * (nope + hp.head_dim_v));
      s.mat(blk(i, "attn_output.weight"), hp.n_head * hp.head_dim_v, E);
    } else if (gpt2 || hp.arch == "phi3") {
      s.mat(blk(i, "attn_qkv.weight"), E, hp.q_dim() + 2 * hp.kv_dim());
      if (gpt2) s.vec(blk(i, "attn_qkv.bias"), hp.q_dim() + 2 * hp.kv_dim());
      s.mat(blk(i, "attn_output.weight"), hp.q_dim(), E);
      if (gpt2) s.vec(blk(i, "attn_output.bias"), E);
    } else {
      s.mat(blk(i, "attn_q.weight"), E, hp.q_dim());
      s.mat(blk(i, "attn_k.weight"), E, hp.kv_dim());
      s.mat(blk(i, "attn_v.weight"), E, hp.n_head_kv * hp.head_dim_v);
      if (qkv_bias) {
        s.vec(blk(i, "attn_q.bias"), hp.q_dim());
        s.vec(blk(i, "attn_k.bias"), hp.kv_dim());
        s.vec(blk(i, "attn_v.bias"), hp.n_head_kv * hp.head_dim_v);
      }
      if (qk_norm) {
        s.vec(blk(i, "attn_q_norm.weight"), hp.head_dim_k);
        s.vec(blk(i, "attn_k_norm.weight"), hp.head_dim_k);
      }
      s.mat(blk(i, "attn_output.weight"), hp.n_head * hp.head_dim_v, E);
      if (oss) {
        s.vec(blk(i, "attn_output.bias"), E);
        s.vec(blk(i, "attn_sinks.weight"), hp.n_head);
      }
    }
    if (gemma) s.vec(blk(i, "post_attention_norm.weight"), E);
    // FFN (gpt-oss names its pre-FFN norm post_attention_norm).
    s.vec(blk(i, oss ? "post_attention_norm.weight" : "ffn_norm.weight"), E);
    if (gpt2) s.vec(blk(i, "ffn_norm.bias"), E);
    const bool moe_layer = hp.n_expert > 0 && i >= hp.n_layer_dense_lead;
    if (!moe_layer) {
      if (gpt2) {
        s.mat(blk(i, "ffn_up.weight"), E, hp.n_ff);
        s.vec(blk(i, "ffn_up.bias"), hp.n_ff);
        s.mat(blk(i, "ffn_down.weight"), hp.n_ff, E);
        s.vec(blk(i, "ffn_down.bias"), E);
      } else if (hp.arch == "phi3") {
        s.mat(blk(i, "ffn_up.weight"), E, 2 * hp.n_ff);
        s.mat(blk(i, "ffn_down.weight"), hp.n_ff, E);
      } else {
        s.mat(blk(i, "ffn_gate.weight"), E, hp.n_ff);
        s.mat(blk(i, "ffn_up.weight"), E, hp.n_ff);
        s.mat(blk(i, "ffn_down.weight"), hp.n_ff, E);
      }
    } else {
      const int64_t F = hp.n_ff_exp, X = hp.n_expert;
      s.mat(blk(i, "ffn_gate_inp.weight"), E, X);
      if (hp.arch == "deepseek2" && hp.expert_gating_func == 2) s.vec(blk(i, "exp_probs_b.bias"), X);
      s.mat3(blk(i, "ffn_gate_exps.weight"), E, F, X);
      s.mat3(blk(i, "ffn_up_exps.weight"), E, F, X);
      s.mat3(blk(i, "ffn_down_exps.weight"), F, E, X);
      if (oss) {
        s.vec(blk(i, "ffn_gate_inp.bias"), X);
        s.bias2(blk(i, "ffn_gate_exps.bias"), F, X);
        s.bias2(blk(i, "ffn_up_exps.bias"), F, X);
        s.bias2(blk(i, "ffn_down_exps.bias"), E, X);
      }
      if (hp.arch == "qwen2moe") {
        s.vec(blk(i, "ffn_gate_inp_shexp.weight"), E);
        s.mat(blk(i, "ffn_gate_shexp.weight"), E, hp.n_ff_shexp);
        s.mat(blk(i, "ffn_up_shexp.weight"), E, hp.n_ff_shexp);
        s.mat(blk(i, "ffn_down_shexp.weight"), hp.n_ff_shexp, E);
      } else if (hp.arch == "deepseek2" && hp.n_expert_shared > 0) {
        const int64_t SF = F * hp.n_expert_shared;
        s.mat(blk(i, "ffn_gate_shexp.weight"), E, SF);
        s.mat(blk(i, "ffn_up_shexp.weight"), E, SF);
        s.mat(blk(i, "ffn_down_shexp.weight"), SF, E);
      }
    }
    if (gemma) s.vec(blk(i, "post_ffw_norm.weight"), E);
  }
  return out;
}

}  // namespace larql
