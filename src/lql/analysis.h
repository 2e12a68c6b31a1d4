// The numerical side of LQL: forward passes that record every layer's
// residual, attention delta and FFN delta; FFN feature activations recomputed
// from a residual (norm, gate/up, activation); down vectors and what they
// write; the logit lens. Works from a Model (USE MODEL, or a vindex with
// inference weights) and uses the vindex for stored labels and down_meta.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "vindex/vindex.h"

namespace larql {
class FfnPatch;
class Model;
class Tokenizer;
class ThreadPool;
}  // namespace larql

namespace larql::lql {

// One prompt's forward pass, layer by layer, every position. Invariant
// (tested): embed + Σ deltas, added in forward order, equals each recorded
// residual bit for bit.
struct ForwardTrace {
  std::vector<int32_t> tokens;
  int64_t n_tok = 0, n_embd = 0, n_layer = 0;
  std::vector<float> embed;                                // [n_tok, E]
  std::vector<std::vector<float>> attn_delta, attn_resid;  // per layer [n_tok, E]
  std::vector<std::vector<float>> ffn_delta, ffn_resid;    // per layer [n_tok, E]
  std::vector<float> logits;                               // last position [n_vocab]
  const float* at(const std::vector<std::vector<float>>& v, int64_t layer, int64_t pos) const {
    return v[static_cast<size_t>(layer)].data() + pos * n_embd;
  }
};

struct FeatureScore {
  int64_t layer = 0, feature = 0;
  float activation = 0;    // post-activation value a_f
  float contribution = 0;  // |a_f| * ||down_f||
};

class Analyzer {
 public:
  Analyzer(const Model* model, const vindex::Vindex* vx, int n_threads);
  bool has_model() const { return model_ != nullptr; }
  const vindex::Vindex* vindex() const { return vx_; }
  const Tokenizer& tokenizer() const;
  int64_t n_layer() const { return n_layer_; }
  int64_t n_embd() const { return n_embd_; }
  int64_t n_vocab() const;
  int64_t n_features(int64_t layer) const;

  // Prompt → ids with the model's BOS convention.
  std::vector<int32_t> encode(const std::string& text) const;
  // A token's display text (surrounding whitespace trimmed).
  std::string piece(int32_t id) const;

  ForwardTrace forward(const std::vector<int32_t>& tokens);
  // Post-activation FFN values of a layer for a residual entering the FFN.
  void activations(int64_t layer, const float* residual, std::vector<float>& a) const;
  // Browse-only fallback: gate scores of ffn_input(embedding of `token`).
  void embedding_scores(int64_t layer, int32_t token, std::vector<float>& s) const;
  // Gate scores (pre-activation, the KNN keys) of a layer for a residual entering the FFN.
  void gate_scores(int64_t layer, const float* residual, std::vector<float>& s) const;
  // Raw token embedding row.
  void embedding(int32_t token, float* out) const;
  // Top features of a layer by contribution.
  std::vector<FeatureScore> top_features(int64_t layer, const std::vector<float>& a, int64_t k);

  const std::vector<float>& down_norms(int64_t layer);
  void down(int64_t layer, int64_t f, float* out);
  // What a feature writes: down_meta when stored, else projected here.
  std::vector<vindex::TokenScore> writes(int64_t layer, int64_t f, int64_t k);
  std::string label(int64_t layer, int64_t f) const;  // "" when unlabelled

  // Logit lens: final norm, output head, soft-cap (as the model's head does).
  void lens(const float* residual, std::vector<float>& logits) const;
  // Direct effect on token t's logit of adding v to a residual whose final-norm
  // scale is inv_rms: (head_t ⊙ norm_w) · v * inv_rms (no soft-cap).
  float final_inv_rms(const float* residual) const;
  void head_row(int32_t token, std::vector<float>& out) const;  // head_t ⊙ norm_w

  // Edits (issue 8, lql/exec_edit.cpp): an FFN patch run in every forward and
  // a hook that sees each trace after it (KNN overlay, which edit answered);
  // the hook's notes accumulate until taken.
  using EditHook = std::function<void(ForwardTrace&, std::vector<std::string>& notes)>;
  void set_edits(std::shared_ptr<const FfnPatch> ffn, EditHook hook);
  std::vector<std::string> take_edit_notes() { return std::exchange(edit_notes_, {}); }

 private:
  const Model* model_;
  const vindex::Vindex* vx_;
  int64_t n_layer_ = 0, n_embd_ = 0;
  int n_threads_ = 0;
  std::shared_ptr<ThreadPool> pool_;              // one pool for every forward pass and product
  std::vector<std::vector<float>> down_norms_;  // per layer, lazily
  std::vector<std::vector<float>> down_mat_;    // model-only: [E, F] per layer, lazily
  const std::vector<float>& down_matrix(int64_t layer);
  std::shared_ptr<const FfnPatch> edit_ffn_;
  EditHook edit_hook_;
  std::vector<std::string> edit_notes_;
};

// Softmax probabilities of logits (double accumulation) and a token's rank (0 = top).
std::vector<float> softmax_probs(const std::vector<float>& logits);
int64_t rank_of(const std::vector<float>& logits, int32_t token);
std::vector<int32_t> top_k(const std::vector<float>& v, int64_t k);

}  // namespace larql::lql
