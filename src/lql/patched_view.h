// The read side of edits for LQL (docs/editing.md "Reading edits"): WALK,
// SELECT and DESCRIBE go through an EditView, which answers exactly as the
// Analyzer does while no patch is applied, and otherwise overlays the
// composed patch stack (edit/overlay.h): FEATURE slots appear as their own
// features labelled with the fact and the patch, DELETE-masked features are
// left out, MEMIT's low-rank term changes the down columns (and what a
// feature writes, where the column moved by >= edit::kRelabelChange).
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "edit/overlay.h"
#include "lql/analysis.h"

namespace larql::lql {

struct Context;

// One live inserted fact of the stack (FEATURE, MEMIT or KNN), for DESCRIBE.
struct LiveEdit {
  edit::Fact fact;
  edit::Mode mode = edit::Mode::Feature;
  std::string patch;       // file name, or "(session)"
  std::string where;       // "L3:29" (FEATURE slots), "L1-2" (MEMIT), "L3 lookup" (KNN)
};

class EditView {
 public:
  explicit EditView(Context& ctx);
  ~EditView();
  bool active() const { return !view_.empty() || !live_.empty(); }
  Analyzer& analyzer() { return an_; }
  const edit::PatchView& patch() const { return view_; }
  const std::vector<LiveEdit>& live() const { return live_; }

  // Gate scores for a residual entering layer l's FFN (masked features: 0).
  void gate_scores(int64_t l, const float* residual, std::vector<float>& s);
  // Top-k features by gate score, masked ones left out (vindex: PatchedStore::gate_knn).
  std::vector<vindex::FeatureHit> gate_knn(int64_t l, const float* residual, int64_t k);
  void activations(int64_t l, const float* residual, std::vector<float>& a);
  // Top features by |activation| x |patched down|, masked ones left out.
  std::vector<FeatureScore> top_features(int64_t l, const std::vector<float>& a, int64_t k);
  const std::vector<float>& down_norms(int64_t l);
  void down(int64_t l, int64_t f, float* out);
  std::vector<vindex::TokenScore> writes(int64_t l, int64_t f, int64_t k);
  std::string label(int64_t l, int64_t f) const;
  bool masked(int64_t l, int64_t f) const { return view_.masked(l, f); }
  bool is_slot(int64_t l, int64_t f) const { return view_.slot(l, f) != nullptr; }
  // Features whose stored labels were replaced (MEMIT columns moved >= kRelabelChange), so far.
  int64_t relabelled() const { return relabelled_; }
  // Notes for a result: which edits the view shows (empty when inactive).
  std::vector<std::string> notes() const;

 private:
  Context& ctx_;
  Analyzer& an_;
  edit::PatchView view_;
  std::unique_ptr<edit::PatchedStore> store_;  // over the vindex, when there is one
  std::vector<LiveEdit> live_;
  std::vector<std::vector<float>> dn_;         // patched down norms per layer, lazily
  std::vector<std::vector<float>> change_;     // MEMIT relative column change per layer, lazily
  int64_t relabelled_ = 0;
  void ffn_input(int64_t l, const float* residual, float* h) const;
  float change(int64_t l, int64_t f);
  std::vector<vindex::TokenScore> project(const float* v, int64_t k);
};

}  // namespace larql::lql
