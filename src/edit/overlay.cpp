#include "edit/overlay.h"

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "util/error.h"

namespace larql::edit {

namespace {
// Slots are SiLU-gated (the editor writes only SwiGLU families), as in engine/ffn_patch.cpp.
inline float silu(float x) { return x / (1.0f + std::exp(-x)); }
inline double dot(const float* a, const float* b, int64_t n) {
  double s = 0;
  for (int64_t i = 0; i < n; ++i) s += static_cast<double>(a[i]) * b[i];
  return s;
}
// The patch must fit the arrays it is applied to (a patch for another shape is refused).
void check(const FfnLayerPatch& L, int64_t layer, int64_t E, int64_t F) {
  const std::string at = "patched view, layer " + std::to_string(layer) + ": ";
  for (int64_t m : L.masked)
    if (m < 0 || m >= F) throw Error(at + "masked feature " + std::to_string(m) + " out of range (" + std::to_string(F) + " features)");
  for (const FfnSlot& s : L.slots)
    if (s.feature < 0 || s.feature >= F || s.gate.size() != static_cast<size_t>(E) || s.up.size() != static_cast<size_t>(E) ||
        s.down.size() != static_cast<size_t>(E))
      throw Error(at + "slot " + std::to_string(s.feature) + " does not fit " + std::to_string(F) + " features of " + std::to_string(E) + " values");
  if (L.A.size() != static_cast<size_t>(L.rank * E) || L.B.size() != static_cast<size_t>(L.rank * F))
    throw Error(at + "low-rank term does not fit rank " + std::to_string(L.rank));
}
std::string short_patch(const std::string& p) {
  if (p.empty() || p[0] == '(') return p;  // "(session)"
  return std::filesystem::path(p).filename().string();
}
}  // namespace

PatchView::PatchView(const PatchStack& stack) : ffn_(stack.ffn()) {
  if (!ffn_) return;
  // Later refs on the same slot win, as FfnPatch::merge lets later slots win.
  for (const EditRef& r : stack.refs()) {
    if (r.mode != Mode::Feature || !r.fact || !slot(r.layer, r.feature)) continue;
    labels_[{r.layer, r.feature}] = "FEATURE " + r.fact->entity + "/" + r.fact->relation + "\xE2\x86\x92" + r.fact->target +
                                    " [" + short_patch(r.patch) + "]";
    facts_[{r.layer, r.feature}] = *r.fact;
  }
}

const FfnSlot* PatchView::slot(int64_t layer, int64_t f) const {
  if (!ffn_) return nullptr;
  auto it = ffn_->layers.find(layer);
  if (it == ffn_->layers.end()) return nullptr;
  for (const FfnSlot& s : it->second.slots)
    if (s.feature == f) return &s;
  return nullptr;
}

bool PatchView::masked(int64_t layer, int64_t f) const {
  if (!ffn_) return false;
  auto it = ffn_->layers.find(layer);
  if (it == ffn_->layers.end()) return false;
  const std::vector<int64_t>& m = it->second.masked;
  return std::binary_search(m.begin(), m.end(), f) && !slot(layer, f);
}

std::string PatchView::slot_label(int64_t layer, int64_t f) const {
  auto it = labels_.find({layer, f});
  if (it != labels_.end()) return it->second;
  return slot(layer, f) ? "FEATURE (unnamed edit)" : "";
}

const Fact* PatchView::slot_fact(int64_t layer, int64_t f) const {
  auto it = facts_.find({layer, f});
  return it == facts_.end() ? nullptr : &it->second;
}

int64_t PatchView::rank(int64_t layer) const {
  if (!ffn_) return 0;
  auto it = ffn_->layers.find(layer);
  return it == ffn_->layers.end() ? 0 : it->second.rank;
}

std::vector<int64_t> PatchView::touched(int64_t layer) const {
  std::vector<int64_t> out;
  if (!ffn_) return out;
  auto it = ffn_->layers.find(layer);
  if (it == ffn_->layers.end()) return out;
  out = it->second.masked;
  for (const FfnSlot& s : it->second.slots) out.push_back(s.feature);
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

void PatchView::patch_scores(int64_t layer, const float* h, float* scores, int64_t E, int64_t F) const {
  if (!ffn_ || !ffn_->layers.count(layer)) return;
  const FfnLayerPatch& L = ffn_->layers.at(layer);
  check(L, layer, E, F);
  for (int64_t m : L.masked) scores[m] = 0;
  for (const FfnSlot& s : L.slots) scores[s.feature] = static_cast<float>(dot(s.gate.data(), h, E));
}

void PatchView::patch_activations(int64_t layer, const float* h, float* a, int64_t E, int64_t F) const {
  if (!ffn_ || !ffn_->layers.count(layer)) return;
  const FfnLayerPatch& L = ffn_->layers.at(layer);
  check(L, layer, E, F);
  for (int64_t m : L.masked) a[m] = 0;
  for (const FfnSlot& s : L.slots)
    a[s.feature] = silu(static_cast<float>(dot(s.gate.data(), h, E))) * static_cast<float>(dot(s.up.data(), h, E));
}

void PatchView::patch_down(int64_t layer, int64_t f, const float* base, float* out, int64_t E, int64_t F) const {
  const FfnSlot* s = slot(layer, f);
  if (s) {  // the slot's own down vector replaces the column
    std::copy(s->down.begin(), s->down.end(), out);
    return;
  }
  std::copy(base, base + E, out);
  if (!ffn_ || !ffn_->layers.count(layer) || masked(layer, f)) return;
  // Low-rank: out += Σ_j A_j · B[j][f] (the term reads the masked hidden vector, so masked columns get nothing).
  const FfnLayerPatch& L = ffn_->layers.at(layer);
  if (f < 0 || f >= F) throw Error("patched view: feature " + std::to_string(f) + " out of range");
  check(L, layer, E, F);
  for (int64_t j = 0; j < L.rank; ++j) {
    const float b = L.B[static_cast<size_t>(j * F + f)];
    if (b == 0) continue;
    const float* col = L.A.data() + j * E;
    for (int64_t i = 0; i < E; ++i) out[i] += b * col[i];
  }
}

PatchedStore::PatchedStore(const vindex::FeatureStore& base, PatchView view, Projector project)
    : base_(base), view_(std::move(view)), project_(std::move(project)) {
  if (view_.ffn()) {
    int64_t n_ff = 0;
    for (int64_t l = 0; l < base_.n_layers(); ++l) n_ff = std::max(n_ff, base_.n_features(l));
    view_.ffn()->validate(base_.n_layers(), base_.n_embd(), n_ff);
  }
}

void PatchedStore::gate(const vindex::FeatureAddr& a, float* out) const {
  const FfnSlot* s = dense(a) ? view_.slot(a.layer, a.feature) : nullptr;
  if (!s) return base_.gate(a, out);
  base_.n_features(a.layer);  // range check of the layer
  std::copy(s->gate.begin(), s->gate.end(), out);
}

void PatchedStore::up(const vindex::FeatureAddr& a, float* out) const {
  const FfnSlot* s = dense(a) ? view_.slot(a.layer, a.feature) : nullptr;
  if (!s) return base_.up(a, out);
  std::copy(s->up.begin(), s->up.end(), out);
}

void PatchedStore::down(const vindex::FeatureAddr& a, float* out) const {
  const int64_t E = n_embd();
  if (!dense(a) || view_.empty()) return base_.down(a, out);
  std::vector<float> b(static_cast<size_t>(E));
  base_.down(a, b.data());  // also checks the address
  view_.patch_down(a.layer, a.feature, b.data(), out, E, base_.n_features(a.layer));
}

float PatchedStore::lowrank_change(const vindex::FeatureAddr& a) const {
  if (!dense(a) || view_.rank(a.layer) == 0 || view_.slot(a.layer, a.feature)) return 0;
  const int64_t E = n_embd();
  std::vector<float> b(static_cast<size_t>(E)), p(b.size());
  base_.down(a, b.data());
  view_.patch_down(a.layer, a.feature, b.data(), p.data(), E, base_.n_features(a.layer));
  double d = 0, n = 0;
  for (size_t i = 0; i < b.size(); ++i) d += (p[i] - b[i]) * static_cast<double>(p[i] - b[i]), n += static_cast<double>(b[i]) * b[i];
  return n > 0 ? static_cast<float>(std::sqrt(d / n)) : (d > 0 ? 1.0f : 0.0f);
}

void PatchedStore::gate_scores(int64_t layer, int64_t expert, const float* q, float* scores) const {
  base_.gate_scores(layer, expert, q, scores);
  if (expert < 0) view_.patch_scores(layer, q, scores, n_embd(), n_features(layer));
}

std::vector<vindex::FeatureHit> PatchedStore::gate_knn(int64_t layer, const float* q, int64_t k, bool abs,
                                                      int64_t expert) const {
  const int64_t n = n_features(layer, expert);
  std::vector<float> s(static_cast<size_t>(n));
  gate_scores(layer, expert, q, s.data());
  std::vector<int64_t> idx;
  idx.reserve(s.size());
  for (int64_t i = 0; i < n; ++i)
    if (expert >= 0 || !view_.masked(layer, i)) idx.push_back(i);  // a deleted feature is no longer a key
  auto key = [&](int64_t i) { return abs ? std::fabs(s[static_cast<size_t>(i)]) : s[static_cast<size_t>(i)]; };
  k = std::clamp<int64_t>(k, 0, static_cast<int64_t>(idx.size()));
  std::partial_sort(idx.begin(), idx.begin() + k, idx.end(),
                    [&](int64_t x, int64_t y) { return key(x) != key(y) ? key(x) > key(y) : x < y; });
  std::vector<vindex::FeatureHit> out;
  for (int64_t j = 0; j < k; ++j) out.push_back({{layer, expert, idx[static_cast<size_t>(j)]}, s[static_cast<size_t>(idx[static_cast<size_t>(j)])]});
  return out;
}

std::vector<vindex::TokenScore> PatchedStore::down_meta(const vindex::FeatureAddr& a) const {
  std::vector<vindex::TokenScore> m = base_.down_meta(a);
  if (!dense(a) || view_.empty()) return m;
  const bool slot = view_.slot(a.layer, a.feature) != nullptr;
  if (!slot && lowrank_change(a) < kRelabelChange) return m;
  if (!project_) return {};  // stored labels describe a column that no longer exists
  std::vector<float> d(static_cast<size_t>(n_embd()));
  down(a, d.data());
  return project_(d.data(), std::max<int64_t>(static_cast<int64_t>(m.size()), manifest().down_top_k > 0 ? manifest().down_top_k : 10));
}

int64_t PatchedStore::cluster_of(const vindex::FeatureAddr& a) const {
  if (dense(a) && view_.slot(a.layer, a.feature)) return -1;  // clusters were computed on the base columns
  return base_.cluster_of(a);
}

std::string PatchedStore::label(const vindex::FeatureAddr& a) const {
  if (dense(a)) {
    std::string s = view_.slot_label(a.layer, a.feature);
    if (!s.empty()) return s;
  }
  return base_.label(a);
}

}  // namespace larql::edit
