// A model's tensors bound to the roles the forward spine uses. Matrices stay
// views into the mapped file; 1-D tensors (norms, biases) are decoded to float
// once at load.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "engine/family.h"
#include "kernels/matmul.h"
#include "model/model_source.h"

namespace larql {

struct Vec {
  std::vector<float> v;
  const float* ptr() const { return v.empty() ? nullptr : v.data(); }
};

// A 3-D expert tensor [n_in, n_out, n_expert]: expert e is the WeightView of
// its n_out rows, expert_bytes further into the mapping than expert e-1.
struct ExpertWeights {
  WeightView w;  // expert 0
  int64_t n_expert = 0;
  uint64_t expert_bytes = 0;
  // Row-interleaved copies, one per expert (repack_experts); empty when not packed.
  std::vector<const repack::Packed*> packed;
  WeightView at(int64_t e) const {
    WeightView v = w;
    v.data += static_cast<uint64_t>(e) * expert_bytes;
    v.packed = static_cast<size_t>(e) < packed.size() ? packed[static_cast<size_t>(e)] : nullptr;
    return v;
  }
  bool valid() const { return w.valid(); }
};

struct LayerWeights {
  Vec attn_norm, attn_norm_b;
  WeightView wq, wk, wv, wqkv, wo;
  Vec bq, bk, bv, bqkv, bo;
  Vec q_norm, k_norm;
  Vec attn_sinks;  // gpt-oss: one softmax-denominator logit per query head
  Vec post_attn_norm;
  Vec ffn_norm, ffn_norm_b;
  WeightView ffn_gate, ffn_up, ffn_down;
  Vec ffn_up_b, ffn_down_b;
  Vec post_ffw_norm;
  // Mixture of experts.
  WeightView ffn_gate_inp;  // router [n_embd -> n_expert]
  Vec exp_probs_b;          // DeepSeek V3 selection bias
  ExpertWeights gate_exps, up_exps, down_exps;
  Vec ffn_gate_inp_b;       // gpt-oss router bias [n_expert]
  Vec gate_exps_b, up_exps_b, down_exps_b;  // gpt-oss per-expert biases [n_expert][n_ff_exp | n_embd]
  Vec ffn_gate_inp_shexp;   // qwen2moe shared-expert gate
  WeightView ffn_gate_shexp, ffn_up_shexp, ffn_down_shexp;
  // DeepSeek MLA.
  WeightView wq_a, wq_b, wkv_a, wkv_b;
  Vec wkb;  // W_kb as floats, [head][nope][kv_lora] (absorbed decode reads it every step)
  Vec q_a_norm, kv_a_norm;
};

struct ModelWeights {
  // Row-interleaved copies of the plain quantized matrices (kernels/repack.h),
  // pointed to by their views' `packed`; empty with LARQL_REPACK=0 or without AVX-512 VNNI.
  std::vector<std::shared_ptr<const repack::Packed>> packed;
  std::vector<std::shared_ptr<uint8_t>> packed_arenas;  // alloc_arena buffers the small matrices and experts were packed into
  WeightView token_embd;
  WeightView position_embd;
  Vec output_norm, output_norm_b;
  WeightView output;  // the token embedding when tied
  Vec rope_freqs;     // Llama 3.1-style per-frequency rope factors (optional)
  std::vector<LayerWeights> layers;
};

// Binds and checks every tensor the family needs (shape and presence).
ModelWeights bind_weights(const ModelSource& src, const HParams& hp, const Family& fam);

// Routed-expert bytes repack_experts() would copy (0 when packing is off or
// nothing is packable).
uint64_t packable_expert_bytes(const ModelWeights& m);
// Row-interleaved copies of every packable routed-expert tensor (decode then
// streams experts at the packed kernels' speed instead of ggml's per-row
// vec_dot order; the sequential order's values, not MUL_MAT_ID's bits), with
// the mapped source pages dropped as each tensor is copied. Off when
// LARQL_EXPERT_REPACK=0 or repack::enabled() is false. Returns bytes packed.
uint64_t repack_experts(ModelWeights& m);

}  // namespace larql
