#include "lql/patched_view.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>

#include "edit/workspace.h"
#include "engine/model.h"
#include "kernels/matmul.h"
#include "kernels/ops.h"
#include "lql/context.h"
#include "util/error.h"
#include "util/thread_pool.h"

namespace larql::lql {

namespace {
std::string short_patch(const std::string& p) {
  if (p.empty() || p[0] == '(') return p;
  return std::filesystem::path(p).filename().string();
}
std::string layer_span(int64_t a, int64_t b) { return "L" + std::to_string(a) + (a == b ? "" : "-" + std::to_string(b)); }
}  // namespace

EditView::EditView(Context& ctx) : ctx_(ctx), an_(ctx.analyzer()) {
  edit::Workspace* ws = ctx.edits.get();
  if (!ws || ws->stack().empty()) return;
  const edit::PatchStack& st = ws->stack();
  view_ = edit::PatchView(st);
  if (ctx.vindex && !view_.empty())
    store_ = std::make_unique<edit::PatchedStore>(*ctx.vindex, view_, [vx = ctx.vindex.get()](const float* v, int64_t k) {
      return vx->project_to_vocab(v, k);
    });
  // Live facts: FEATURE slots and MEMIT columns from the refs (one fact may own several), KNN entries.
  std::map<const edit::Fact*, size_t> at;
  std::map<const edit::Fact*, std::pair<int64_t, int64_t>> span;
  for (const edit::EditRef& r : st.refs()) {
    if (!r.fact) continue;
    auto [it, fresh] = at.emplace(r.fact, live_.size());
    if (fresh) live_.push_back({*r.fact, r.mode, short_patch(r.patch), ""});
    LiveEdit& e = live_[it->second];
    if (r.mode == edit::Mode::Feature) {
      e.where += (e.where.empty() ? "" : ",") + std::string("L") + std::to_string(r.layer) + ":" + std::to_string(r.feature);
    } else {
      auto [s, none] = span.emplace(r.fact, std::make_pair(r.layer, r.layer));
      s->second.first = std::min(s->second.first, r.layer);
      s->second.second = std::max(s->second.second, r.layer);
      e.where = layer_span(s->second.first, s->second.second);
    }
  }
  for (const edit::KnnEntry& k : st.knn()) {
    std::string patch;
    for (const edit::Workspace::Row& r : ws->rows())
      if (r.op == "insert" && r.mode == edit::Mode::KNN && r.fact.entity == k.fact.entity && r.fact.relation == k.fact.relation)
        patch = short_patch(r.patch);
    live_.push_back({k.fact, edit::Mode::KNN, patch, "L" + std::to_string(k.layer) + " lookup"});
  }
}

EditView::~EditView() = default;

void EditView::ffn_input(int64_t l, const float* residual, float* h) const {
  if (ctx_.vindex) return ctx_.vindex->ffn_input(l, residual, h);
  // Edits exist only on RMS-norm models (edit/editor.h), as exec_edit.cpp normalizes.
  const Model& m = *ctx_.model;
  ops::rms_norm(residual, m.weights().layers.at(static_cast<size_t>(l)).ffn_norm.ptr(), static_cast<float>(m.hparams().norm_eps),
                an_.n_embd(), h);
}

void EditView::gate_scores(int64_t l, const float* residual, std::vector<float>& s) {
  an_.gate_scores(l, residual, s);
  if (view_.empty()) return;
  std::vector<float> h(static_cast<size_t>(an_.n_embd()));
  ffn_input(l, residual, h.data());
  view_.patch_scores(l, h.data(), s.data(), an_.n_embd(), static_cast<int64_t>(s.size()));
}

std::vector<vindex::FeatureHit> EditView::gate_knn(int64_t l, const float* residual, int64_t k) {
  if (store_) {
    std::vector<float> h(static_cast<size_t>(an_.n_embd()));
    ffn_input(l, residual, h.data());
    return store_->gate_knn(l, h.data(), k);
  }
  std::vector<float> s;
  gate_scores(l, residual, s);
  std::vector<vindex::FeatureHit> out;
  for (int32_t f : top_k(s, k + static_cast<int64_t>(view_.touched(l).size())))
    if (!masked(l, f) && static_cast<int64_t>(out.size()) < k) out.push_back({{l, -1, f}, s[static_cast<size_t>(f)]});
  return out;
}

void EditView::activations(int64_t l, const float* residual, std::vector<float>& a) {
  an_.activations(l, residual, a);
  if (view_.empty()) return;
  std::vector<float> h(static_cast<size_t>(an_.n_embd()));
  ffn_input(l, residual, h.data());
  view_.patch_activations(l, h.data(), a.data(), an_.n_embd(), static_cast<int64_t>(a.size()));
}

void EditView::down(int64_t l, int64_t f, float* out) {
  if (view_.empty()) return an_.down(l, f, out);
  std::vector<float> b(static_cast<size_t>(an_.n_embd()));
  an_.down(l, f, b.data());  // checks the address
  view_.patch_down(l, f, b.data(), out, an_.n_embd(), an_.n_features(l));
}

const std::vector<float>& EditView::down_norms(int64_t l) {
  if (view_.empty() || (view_.rank(l) == 0 && view_.touched(l).empty())) return an_.down_norms(l);
  if (dn_.empty()) dn_.resize(static_cast<size_t>(an_.n_layer()));
  std::vector<float>& dn = dn_.at(static_cast<size_t>(l));
  if (dn.empty()) {
    dn = an_.down_norms(l);
    std::vector<float> v(static_cast<size_t>(an_.n_embd()));
    // Only slots and (with a low-rank term) every column differ from the base.
    std::vector<int64_t> fs = view_.touched(l);
    if (view_.rank(l) > 0) {
      fs.resize(dn.size());
      for (size_t f = 0; f < fs.size(); ++f) fs[f] = static_cast<int64_t>(f);
    }
    for (int64_t f : fs) {
      down(l, f, v.data());
      double s = 0;
      for (float x : v) s += static_cast<double>(x) * x;
      dn[static_cast<size_t>(f)] = static_cast<float>(std::sqrt(s));
    }
  }
  return dn;
}

std::vector<FeatureScore> EditView::top_features(int64_t l, const std::vector<float>& a, int64_t k) {
  if (view_.empty()) return an_.top_features(l, a, k);
  const std::vector<float>& dn = down_norms(l);
  std::vector<FeatureScore> all;
  for (size_t f = 0; f < a.size() && f < dn.size(); ++f)
    if (!masked(l, static_cast<int64_t>(f))) all.push_back({l, static_cast<int64_t>(f), a[f], std::fabs(a[f]) * dn[f]});
  k = std::min<int64_t>(k, static_cast<int64_t>(all.size()));
  std::partial_sort(all.begin(), all.begin() + k, all.end(), [](const FeatureScore& x, const FeatureScore& y) {
    return x.contribution != y.contribution ? x.contribution > y.contribution : x.feature < y.feature;
  });
  all.resize(static_cast<size_t>(k));
  return all;
}

float EditView::change(int64_t l, int64_t f) {
  if (view_.rank(l) == 0 || is_slot(l, f)) return 0;
  if (change_.empty()) change_.resize(static_cast<size_t>(an_.n_layer()));
  std::vector<float>& c = change_.at(static_cast<size_t>(l));
  if (c.empty()) {
    const int64_t E = an_.n_embd(), F = an_.n_features(l);
    c.assign(static_cast<size_t>(F), 0.f);
    std::vector<float> b(static_cast<size_t>(E)), p(b.size());
    for (int64_t i = 0; i < F; ++i) {
      an_.down(l, i, b.data());
      view_.patch_down(l, i, b.data(), p.data(), E, F);
      double d = 0, n = 0;
      for (size_t e = 0; e < b.size(); ++e) d += (p[e] - b[e]) * static_cast<double>(p[e] - b[e]), n += static_cast<double>(b[e]) * b[e];
      c[static_cast<size_t>(i)] = n > 0 ? static_cast<float>(std::sqrt(d / n)) : (d > 0 ? 1.f : 0.f);
    }
  }
  return c.at(static_cast<size_t>(f));
}

std::vector<vindex::TokenScore> EditView::writes(int64_t l, int64_t f, int64_t k) {
  if (view_.empty() || masked(l, f)) return an_.writes(l, f, k);
  if (!is_slot(l, f)) {
    if (change(l, f) < edit::kRelabelChange) return an_.writes(l, f, k);
    ++relabelled_;
  }
  std::vector<float> v(static_cast<size_t>(an_.n_embd()));
  down(l, f, v.data());
  return project(v.data(), k);
}

std::vector<vindex::TokenScore> EditView::project(const float* v, int64_t k) {
  if (ctx_.vindex) return ctx_.vindex->project_to_vocab(v, k);
  // head · (norm_w ⊙ v), soft-capped, as down_meta is computed.
  const Model& m = *ctx_.model;
  const ModelWeights& W = m.weights();
  std::vector<float> x(v, v + an_.n_embd());
  for (size_t i = 0; i < x.size() && i < W.output_norm.v.size(); ++i) x[i] *= W.output_norm.v[i];
  std::vector<float> logits(static_cast<size_t>(an_.n_vocab()));
  matmul(W.output, x.data(), 1, logits.data(), ThreadPool::global());
  const double cap = m.hparams().final_softcap;
  if (cap > 0)
    for (float& y : logits) y = static_cast<float>(std::tanh(y / cap) * cap);
  std::vector<vindex::TokenScore> out;
  for (int32_t t : top_k(logits, k)) out.push_back({t, logits[static_cast<size_t>(t)]});
  return out;
}

std::string EditView::label(int64_t l, int64_t f) const {
  const std::string s = view_.slot_label(l, f);
  return s.empty() ? an_.label(l, f) : s;
}

std::vector<std::string> EditView::notes() const {
  if (!active()) return {};
  int64_t slots = 0, masks = 0, memit_layers = 0;
  if (const FfnPatch* p = view_.ffn())
    for (const auto& [l, L] : p->layers) {
      slots += static_cast<int64_t>(L.slots.size());
      for (int64_t m : L.masked) masks += view_.masked(l, m) ? 1 : 0;
      memit_layers += L.rank > 0 ? 1 : 0;
    }
  std::vector<std::string> out;
  out.push_back("patched view: " + std::to_string(live_.size()) + " inserted fact(s), " + std::to_string(slots) +
                " FEATURE slot(s) labelled \"FEATURE entity/relation\xE2\x86\x92target [patch]\", " + std::to_string(masks) +
                " deleted (masked) feature(s) left out");
  if (memit_layers > 0)
    out.push_back("MEMIT low-rank term on " + std::to_string(memit_layers) + " layer(s): down columns include it; what a feature writes is recomputed where its column moved >= " +
                  std::to_string(static_cast<int>(edit::kRelabelChange * 100)) + "%" +
                  (relabelled_ > 0 ? " (" + std::to_string(relabelled_) + " features in this result)" : "") +
                  ", smaller moves keep the stored labels");
  return out;
}

}  // namespace larql::lql
