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

struct LayerWeights {
  Vec attn_norm, attn_norm_b;
  WeightView wq, wk, wv, wqkv, wo;
  Vec bq, bk, bv, bqkv, bo;
  Vec q_norm, k_norm;
  Vec post_attn_norm;
  Vec ffn_norm, ffn_norm_b;
  WeightView ffn_gate, ffn_up, ffn_down;
  Vec ffn_up_b, ffn_down_b;
  Vec post_ffw_norm;
};

struct ModelWeights {
  WeightView token_embd;
  WeightView position_embd;
  Vec output_norm, output_norm_b;
  WeightView output;  // the token embedding when tied
  Vec rope_freqs;     // Llama 3.1-style per-frequency rope factors (optional)
  std::vector<LayerWeights> layers;
};

// Binds and checks every tensor the family needs (shape and presence).
ModelWeights bind_weights(const ModelSource& src, const HParams& hp, const Family& fam);

}  // namespace larql
