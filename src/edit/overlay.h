// The patched read view (docs/editing.md "Reading edits"): what SELECT, WALK
// and DESCRIBE see once a patch stack is applied. The base vindex is never
// written; the overlay answers per feature from the composed FfnPatch:
//   - a FEATURE slot replaces feature s: its gate/up/down are the slot's, its
//     label names the fact and the patch;
//   - a masked feature (DELETE) never fires: scores 0, left out of gate KNN;
//   - a MEMIT low-rank term A·Bᵀ changes every down column f by A·B[:,f];
//     down() returns the effective column, and down_meta() is recomputed
//     (through a projector) for features whose column moved by at least
//     kRelabelChange of its norm; smaller changes keep the stored labels.
// PatchView holds the math (usable on a Model without a vindex);
// PatchedStore is the FeatureStore over a base vindex store.
#pragma once
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "edit/patch.h"
#include "vindex/vindex.h"

namespace larql::edit {

// Relative down-column change above which what a feature writes is recomputed.
inline constexpr float kRelabelChange = 0.05f;

class PatchView {
 public:
  // An empty view (no edits) when the stack has no FFN patch.
  PatchView() = default;
  explicit PatchView(const PatchStack& stack);
  bool empty() const { return !ffn_; }
  const FfnPatch* ffn() const { return ffn_.get(); }

  const FfnSlot* slot(int64_t layer, int64_t f) const;    // null when not a slot
  bool masked(int64_t layer, int64_t f) const;            // masked by a DELETE (and not a slot)
  // "FEATURE Spain/capital→Madrid [spain.vlp]" for a slot, else "".
  std::string slot_label(int64_t layer, int64_t f) const;
  const Fact* slot_fact(int64_t layer, int64_t f) const;  // the fact a slot was written for (null: none)
  int64_t rank(int64_t layer) const;                      // MEMIT rank at the layer (0: none)
  // Features of the layer whose activation is patched (slots and masks), sorted.
  std::vector<int64_t> touched(int64_t layer) const;

  // h: the layer's FFN input (after its norm), n_embd floats; scores/a: n_ff
  // floats (a patch index outside them throws larql::Error).
  // Gate scores: slot features get g_s·h, masked ones 0.
  void patch_scores(int64_t layer, const float* h, float* scores, int64_t n_embd, int64_t n_ff) const;
  // Post-activation values: masked ones 0, slots silu(g_s·h)·(u_s·h).
  void patch_activations(int64_t layer, const float* h, float* a, int64_t n_embd, int64_t n_ff) const;
  // base: the stored down column of f; out: what the patched model writes per unit activation.
  void patch_down(int64_t layer, int64_t f, const float* base, float* out, int64_t n_embd, int64_t n_ff) const;

 private:
  std::shared_ptr<const FfnPatch> ffn_;
  std::map<std::pair<int64_t, int64_t>, std::string> labels_;  // (layer, feature) -> slot label
  std::map<std::pair<int64_t, int64_t>, Fact> facts_;          // copies: the stack may recompose
};

// A FeatureStore over a base store with a patch stack applied.
class PatchedStore : public vindex::FeatureStore {
 public:
  using Projector = std::function<std::vector<vindex::TokenScore>(const float* v, int64_t k)>;
  // base must outlive the store; project turns a down vector into its top
  // tokens (Vindex::project_to_vocab); without it patched features have no down_meta.
  PatchedStore(const vindex::FeatureStore& base, PatchView view, Projector project = {});
  const PatchView& view() const { return view_; }
  // |A·B[:,f]| / |d_f| of the MEMIT term (0 without one).
  float lowrank_change(const vindex::FeatureAddr& a) const;

  const vindex::Manifest& manifest() const override { return base_.manifest(); }
  int64_t n_features(int64_t layer, int64_t expert = -1) const override { return base_.n_features(layer, expert); }
  void gate(const vindex::FeatureAddr& a, float* out) const override;
  void up(const vindex::FeatureAddr& a, float* out) const override;
  void down(const vindex::FeatureAddr& a, float* out) const override;
  void gate_scores(int64_t layer, int64_t expert, const float* q, float* scores) const override;
  std::vector<vindex::FeatureHit> gate_knn(int64_t layer, const float* q, int64_t k, bool abs = false,
                                           int64_t expert = -1) const override;
  std::vector<vindex::TokenScore> down_meta(const vindex::FeatureAddr& a) const override;
  const std::vector<vindex::Cluster>& clusters() const override { return base_.clusters(); }
  int64_t cluster_of(const vindex::FeatureAddr& a) const override;
  const std::vector<vindex::ProbeLabel>& probe_labels() const override { return base_.probe_labels(); }
  std::string label(const vindex::FeatureAddr& a) const override;

 private:
  const vindex::FeatureStore& base_;
  PatchView view_;
  Projector project_;
  bool dense(const vindex::FeatureAddr& a) const { return a.expert < 0; }  // patches edit dense FFNs only
};

}  // namespace larql::edit
