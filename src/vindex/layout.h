// Internal helpers shared by extraction and reading: which tensors hold a
// layer's feature keys/values, and the output-head projection.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "kernels/matmul.h"
#include "vindex/vindex.h"

namespace larql::vindex {

// Where one FFN's features live (dense: expert dimension absent).
struct FfnLayout {
  std::string gate;            // tensor whose rows are the keys
  int64_t gate_row0 = 0;       // first key row (phi3's fused gate|up: 0)
  std::string up;              // "" when the family has no separate up (gpt2)
  int64_t up_row0 = 0;
  std::string down;            // source down tensor (ne = [n_ff, n_embd(, n_expert)])
  std::string down_feat;       // vindex tensor: down columns as rows
  std::string meta_tok, meta_score, cluster;
  int64_t n_features = 0;      // per expert for MoE
  int64_t n_experts = 0;       // 0: dense
  bool present() const { return !gate.empty(); }
};

// shape(name) returns the tensor's ne, or empty when absent.
using ShapeFn = std::function<std::vector<int64_t>(const std::string&)>;
FfnLayout dense_layout(int64_t layer, const ShapeFn& shape);
FfnLayout expert_layout(int64_t layer, const ShapeFn& shape);

// A 2-D WeightView over rows [row0, row0 + n_rows) of a tensor.
WeightView make_view(GGMLType type, const uint8_t* data, int64_t n_in, int64_t row0, int64_t n_rows);

// Projects vectors into vocabulary space through the final norm weight and the
// output head (soft-capped), keeping the top k tokens of each.
class VocabProjector {
 public:
  VocabProjector(std::vector<float> norm_w, WeightView head, double final_softcap)
      : norm_w_(std::move(norm_w)), head_(head), softcap_(final_softcap) {}
  // vecs: n x n_embd. out: n lists of k.
  std::vector<std::vector<TokenScore>> top(const float* vecs, int64_t n, int64_t k, ThreadPool& pool) const;
  int64_t n_vocab() const { return head_.n_out; }

 private:
  std::vector<float> norm_w_;
  WeightView head_;
  double softcap_;
};

// Indices of the k largest values (by |v| when abs), best first; ties by index.
std::vector<int64_t> top_k_indices(const float* v, int64_t n, int64_t k, bool abs);

}  // namespace larql::vindex
