// FEATURE inserts: one SwiGLU feature written into the weakest slot of a layer.
//   gate g: the minimum-norm vector with g·h_fact = T and g·h_decoy = −τ for
//           every decoy (ridge on the Gram matrix), so the feature fires on the
//           fact's prompt and its pre-activation is negative on the others;
//   up   u = g / T, so act = silu(g·h)·(g·h)/T ≈ T on the prompt and ≈ 0 where g·h ≤ −τ;
//   down d = α·(target direction), α from a search that runs the patched
//           forward until the target wins by the margin (smallest such α on a
//           geometric grid).
// A whole-word target repeats this once per target token (see below).
#include <algorithm>
#include <cmath>

#include "edit/editor.h"
#include "engine/model.h"
#include "kernels/matmul.h"
#include "util/error.h"

namespace larql::edit {

namespace {
constexpr double kFire = 8.0;    // pre-activation on the fact's prompt
constexpr double kSilent = 4.0;  // minus this on the decoys
constexpr double kRidge = 1e-2;
}  // namespace

namespace {
// Minimum-norm gate g with g·X[0] = kFire and g·X[i] = −kSilent for the rest
// (ridge solve on the Gram matrix X Xᵀ + λI).
std::vector<float> solve_gate(const std::vector<const std::vector<float>*>& X, int64_t E) {
  const int64_t n = static_cast<int64_t>(X.size());
  std::vector<double> G(static_cast<size_t>(n * n)), y(static_cast<size_t>(n), -kSilent);
  y[0] = kFire;
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j) {
      double s = 0;
      for (int64_t e = 0; e < E; ++e) s += double((*X[i])[e]) * (*X[j])[e];
      G[static_cast<size_t>(i * n + j)] = s + (i == j ? kRidge : 0.0);
    }
  cholesky_solve(G, n, y, 1);
  std::vector<float> g(static_cast<size_t>(E), 0.0f);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t e = 0; e < E; ++e) g[static_cast<size_t>(e)] += static_cast<float>(y[static_cast<size_t>(i)] * (*X[i])[e]);
  return g;
}
}  // namespace

// Whole-word targets get one feature per target token t_k, keyed on the
// prompt followed by t_1..t_{k-1}; every step's context is a decoy of the
// others, so each feature fires only where its token is next.
Operation Editor::insert_feature(const Fact& f, const std::vector<std::string>& decoys, const FfnPatch* current,
                                 const EditOptions& o) const {
  const HParams& hp = m_.hparams();
  const int64_t E = hp.n_embd, F = hp.n_ff;
  const int64_t layer = o.layer ? *o.layer : default_layer(Mode::Feature);
  if (layer < 0 || layer >= hp.n_layer) throw Error("AT LAYER " + std::to_string(layer) + " is out of range");
  if (m_.family().layer_is_moe(layer)) throw Error("layer " + std::to_string(layer) + " is a mixture-of-experts layer; FEATURE edits need a dense FFN");

  const std::vector<std::vector<int32_t>> ctx = step_contexts(f);
  const std::vector<int32_t> toks = f.steps();
  const size_t S = ctx.size();
  // The FFN input at `layer` does not depend on this edit's slots (they act
  // after it), so every step's key can be taken on the current patch.
  std::vector<std::vector<float>> keys;
  for (const auto& c : ctx) keys.push_back(run(c, current).ffn_in[static_cast<size_t>(layer)]);
  // Decoy inputs; also the sample that ranks slots by how much they matter.
  std::vector<std::vector<float>> D;
  std::vector<double> use(static_cast<size_t>(F), 0.0);
  for (const std::string& p : decoys) {
    if (p == f.prompt) continue;
    D.push_back(run(p, current).ffn_in[static_cast<size_t>(layer)]);
    const std::vector<float> a = hidden(layer, D.back().data(), nullptr);
    for (int64_t j = 0; j < F; ++j) use[static_cast<size_t>(j)] += std::fabs(a[static_cast<size_t>(j)]);
  }
  const WeightView& W = m_.weights().layers[static_cast<size_t>(layer)].ffn_down;
  std::vector<double> dn(static_cast<size_t>(F), 0.0);
  std::vector<float> row(static_cast<size_t>(F));
  for (int64_t e = 0; e < E; ++e) {
    weight_row(W, e, row.data());
    for (int64_t j = 0; j < F; ++j) dn[static_cast<size_t>(j)] += double(row[static_cast<size_t>(j)]) * row[static_cast<size_t>(j)];
  }

  Operation op;
  op.mode = Mode::Feature;
  op.facts = {f};
  op.layers = {layer};
  op.confidence = o.confidence;
  FfnPatch mine;  // this edit's slots so far, one per step
  for (size_t k = 0; k < S; ++k) {
    std::vector<const std::vector<float>*> X = {&keys[k]};
    for (size_t j = 0; j < S; ++j)
      if (j != k) X.push_back(&keys[j]);
    for (const auto& d : D) X.push_back(&d);
    FfnSlot slot;
    slot.gate = solve_gate(X, E);
    slot.up = slot.gate;
    for (float& v : slot.up) v = static_cast<float>(v / kFire);

    // Slot: the feature with the least use × down norm, not already patched.
    auto taken_in = [&](const FfnPatch* p, int64_t j) {
      if (!p || !p->layers.count(layer)) return false;
      const FfnLayerPatch& L = p->layers.at(layer);
      for (const FfnSlot& s : L.slots) if (s.feature == j) return true;
      return std::binary_search(L.masked.begin(), L.masked.end(), j);
    };
    int64_t best = -1;
    double best_s = 0;
    for (int64_t j = 0; j < F; ++j) {
      const double s = (use[static_cast<size_t>(j)] + 1e-6) * std::sqrt(dn[static_cast<size_t>(j)]);
      if (!taken_in(current, j) && !taken_in(&mine, j) && (best < 0 || s < best_s)) best = j, best_s = s;
    }
    if (best < 0) throw Error("layer " + std::to_string(layer) + " has no free feature slot left");
    slot.feature = best;

    FfnPatch cur = current ? *current : FfnPatch{};
    cur.merge(mine);
    const RunCapture c = run(ctx[k], &cur);
    std::vector<float> d = target_direction(c.logits, toks[k]);
    auto with_alpha = [&](double alpha) {
      FfnPatch p = cur;
      FfnSlot s = slot;
      s.down.resize(static_cast<size_t>(E));
      // act ≈ kFire on the key: alpha is the residual change there.
      for (int64_t e = 0; e < E; ++e) s.down[static_cast<size_t>(e)] = static_cast<float>(alpha / kFire) * d[static_cast<size_t>(e)];
      FfnPatch one;
      one.layers[layer].slots.push_back(s);
      p.merge(one);
      return std::make_pair(p, one);
    };
    // The residual's size bounds the search: a write much larger than the
    // residual itself is no longer an edit but a takeover.
    double rn = 0;
    for (float v : c.resid[static_cast<size_t>(layer)]) rn += double(v) * v;
    const double cap = 4.0 * std::sqrt(rn);
    double alpha = o.alpha ? *o.alpha : 0.05 * std::sqrt(rn);
    bool ok = o.alpha.has_value();
    for (int i = 0; !ok && i < 80 && alpha <= cap; ++i) {
      auto [p, one] = with_alpha(alpha);
      const std::vector<float> lg = run(ctx[k], &p).logits;
      if (wins(lg, toks[k], o.margin * o.confidence)) { ok = true; break; }
      // Steer away from whichever tokens now compete, and push a little harder.
      const std::vector<float> d2 = target_direction(lg, toks[k]);
      double nn = 0;
      for (int64_t e = 0; e < E; ++e) d[static_cast<size_t>(e)] += d2[static_cast<size_t>(e)], nn += double(d[e]) * d[e];
      for (float& v : d) v = static_cast<float>(v / std::sqrt(nn));
      alpha *= 1.12;
    }
    if (!ok)
      throw Error("FEATURE insert of " + f.entity + " / " + f.relation + " -> " + f.target + " at layer " + std::to_string(layer) +
                  (k ? " (target token " + std::to_string(k + 1) + " of " + std::to_string(S) + ")" : std::string()) +
                  ": the target does not win within a write of 4x the residual norm; try another AT LAYER or MODE MEMIT");
    if (k == 0) op.alpha = alpha;
    mine.merge(with_alpha(alpha).second);
  }
  op.ffn = std::move(mine);
  return op;
}

}  // namespace larql::edit
