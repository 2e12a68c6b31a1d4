// Computing edits on a loaded Model (docs/editing.md): KNN keys, FEATURE slots
// and MEMIT low-rank down updates, each verified by running the patched
// forward. Supports SiLU-gated dense FFNs with RMS norm (the Llama family and
// its relatives); anything else is refused with an error.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "edit/patch.h"

namespace larql {
class Model;
class ThreadPool;
}

namespace larql::edit {

struct EditOptions {
  Mode mode = Mode::Feature;
  std::optional<int64_t> layer;     // FEATURE/KNN layer, MEMIT last layer (AT LAYER)
  std::optional<double> alpha;      // fixed scale: skips the balancing search
  double confidence = 1;
  double margin = 1.0;              // logit margin the target must win by
  float knn_threshold = 0.9f;
  int64_t memit_layers = 2;         // MEMIT spreads over this many layers ending at `layer`
  double memit_lambda = 1.0;        // weight of the covariance term
};

// The last position of one forward pass, per layer.
struct RunCapture {
  std::vector<float> logits;
  std::vector<std::vector<float>> ffn_in;   // normalized FFN input h
  std::vector<std::vector<float>> resid;    // residual after the layer's FFN
};

class Editor {
 public:
  Editor(const Model& m, std::shared_ptr<ThreadPool> pool);
  const Model& model() const { return m_; }

  std::vector<int32_t> encode(const std::string& text) const;
  int32_t target_token(const std::string& target) const;  // first token of " " + target
  std::vector<int32_t> target_tokens(const std::string& target) const;  // every token of " " + target
  // What each target token of f is keyed on: the prompt, then the prompt
  // followed by the target's first 1, 2, ... tokens (one per f.steps()).
  std::vector<std::vector<int32_t>> step_contexts(const Fact& f) const;
  RunCapture run(const std::string& prompt, const FfnPatch* patch) const;
  RunCapture run(const std::vector<int32_t>& tokens, const FfnPatch* patch) const;
  // Hidden vector act(gate·h)⊙(up·h) of a layer for FFN input h (masked as `patch` masks it).
  std::vector<float> hidden(int64_t layer, const float* h, const FfnPatch* patch) const;
  // Residual direction that raises `target` over the current top tokens (through the final norm and head).
  std::vector<float> target_direction(const std::vector<float>& logits, int32_t target) const;
  // True when target is top-1 by at least `margin` logits.
  static bool wins(const std::vector<float>& logits, int32_t target, double margin);

  Operation insert_knn(const Fact& f, const EditOptions& o) const;
  // decoys: prompts (other facts) the feature must stay silent on.
  Operation insert_feature(const Fact& f, const std::vector<std::string>& decoys, const FfnPatch* current,
                           const EditOptions& o) const;
  // MEMIT over several facts at once; covariance from cov_lines (plain text, one document a line).
  Operation insert_memit(const std::vector<Fact>& facts, const std::vector<std::string>& cov_lines,
                         const FfnPatch* current, const EditOptions& o);
  // Masks the features that write the fact's target on its prompt until it is no longer top-1.
  Operation delete_fact(const Fact& f, const FfnPatch* current) const;

  int64_t default_layer(Mode m) const;

 private:
  const Model& m_;
  std::shared_ptr<ThreadPool> pool_;
  std::map<int64_t, std::vector<double>> cov_;  // MEMIT covariance per layer (F×F, mean of a·aᵀ)
  const std::vector<double>& covariance(int64_t layer, const std::vector<std::string>& lines);
};

// Dense symmetric positive-definite solve in double: X = M⁻¹ Y (M n×n row-major,
// Y n×k row-major); M is overwritten by its Cholesky factor. Throws when M is not SPD.
void cholesky_solve(std::vector<double>& M, int64_t n, std::vector<double>& Y, int64_t k);

}  // namespace larql::edit
