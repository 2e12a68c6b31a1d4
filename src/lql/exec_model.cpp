// WALK, INFER [COMPARE], EXPLAIN INFER: statements that run the prompt
// through the model and read the FFN features it fires.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <map>

#include "engine/model.h"
#include "lql/exec_internal.h"
#include "lql/patched_view.h"
#include "util/error.h"

namespace larql::lql {

namespace {

float dot(const float* a, const float* b, int64_t n) {
  double s = 0;
  for (int64_t i = 0; i < n; ++i) s += static_cast<double>(a[i]) * b[i];
  return static_cast<float>(s);
}

}  // namespace

Result exec_walk(const Bound& b, Context& ctx) {
  const Statement& st = *b.st;
  Analyzer& an = ctx.analyzer();
  EditView ev(ctx);  // applied patches: inserted features listed, masked ones left out
  const std::vector<int32_t> ids = an.encode(st.text);
  ForwardTrace t;
  if (an.has_model()) t = an.forward(ids);
  Result r;
  r.add_column("layer", ColType::Int);
  r.add_column("feature", ColType::Int);
  r.add_column("gate", ColType::Float, 3);
  r.add_column("activation", ColType::Float, 3);
  r.add_column("label", ColType::Text);
  r.add_column("writes", ColType::Text);
  std::vector<float> s, a;
  for (int64_t l = b.lo; l <= b.hi; ++l) {
    std::vector<vindex::FeatureHit> hits;
    if (an.has_model()) {
      const float* res = t.at(t.attn_resid, l, t.n_tok - 1);
      hits = ev.gate_knn(l, res, b.top);
      ev.activations(l, res, a);
    } else {
      an.embedding_scores(l, ids.back(), s);
      for (int32_t f : top_k(s, b.top)) hits.push_back({{l, -1, f}, s[static_cast<size_t>(f)]});
    }
    for (const vindex::FeatureHit& h : hits) {
      const int64_t f = h.addr.feature;
      r.rows.push_back({l, f, static_cast<double>(h.score), a.empty() ? Cell() : Cell(static_cast<double>(a[static_cast<size_t>(f)])),
                        ev.label(l, f), tokens_text(an, ev.writes(l, f, 3), 3)});
    }
  }
  r.header.push_back("walk \"" + st.text + "\": top " + std::to_string(b.top) + " features by gate score per layer (" +
                     (an.has_model() ? "residual at the last token" : "token embedding, no inference weights") + ")");
  for (std::string& n : ev.notes()) r.notes.push_back(std::move(n));
  return r;
}

Result exec_infer(const Bound& b, Context& ctx) {
  const Statement& st = *b.st;
  Analyzer& an = ctx.analyzer();
  const std::vector<int32_t> ids = an.encode(st.text);
  ForwardTrace t = an.forward(ids);
  const std::vector<float> p = softmax_probs(t.logits);
  Result r;
  r.add_column("rank", ColType::Int);
  r.add_column("token", ColType::Text);
  r.add_column("prob", ColType::Float, 4);
  r.add_column("logit", ColType::Float, 3);
  std::vector<float> base_logits, bp;
  if (st.compare) {
    // COMPARE: the current model (a vindex, later with its patches) against
    // its source model file, token by token.
    std::string src = ctx.vindex ? ctx.vindex->manifest().provenance.source_path : "";
    if (src.empty() || !std::filesystem::exists(src)) {
      r.notes.push_back(ctx.vindex ? "COMPARE: source model \"" + src + "\" not found; nothing to compare"
                                   : "COMPARE: a model file has no base to compare against (USE a vindex)");
    } else {
      auto base = Model::load(src);
      Analyzer ban(base.get(), nullptr, ctx.n_threads);
      base_logits = ban.forward(ids).logits;
      bp = softmax_probs(base_logits);
      r.add_column("base_prob", ColType::Float, 4);
      r.add_column("base_rank", ColType::Int);
    }
  }
  for (int32_t tok : top_k(t.logits, b.top)) {
    // Reserved up front: GCC 12 warns (falsely) when a vector of variants holding strings regrows.
    Row row;
    row.reserve(6);
    row.emplace_back(Cell(rank_of(t.logits, tok)));
    row.emplace_back(std::in_place_type<std::string>, an.piece(tok));
    row.emplace_back(Cell(static_cast<double>(p[static_cast<size_t>(tok)])));
    row.emplace_back(Cell(static_cast<double>(t.logits[static_cast<size_t>(tok)])));
    if (!bp.empty()) {
      row.push_back(static_cast<double>(bp[static_cast<size_t>(tok)]));
      row.push_back(rank_of(base_logits, tok));
    }
    r.rows.push_back(std::move(row));
  }
  if (!bp.empty()) {
    double kl = 0, maxd = 0;
    for (size_t i = 0; i < p.size(); ++i) {
      if (bp[i] > 0 && p[i] > 0) kl += bp[i] * std::log(static_cast<double>(bp[i]) / p[i]);
      maxd = std::max(maxd, std::fabs(static_cast<double>(base_logits[i]) - t.logits[i]));
    }
    const bool same_top = top_k(base_logits, 1) == top_k(t.logits, 1);
    r.notes.push_back("vs source " + std::filesystem::path(ctx.vindex->manifest().provenance.source_path).filename().string() +
                      ": max |dlogit| " + fmt("%.2e", maxd) + ", KL(base||this) " + fmt("%.2e", std::max(0.0, kl)) +
                      ", top-1 " + (same_top ? "agrees" : "differs") + " (no patches applied)");
  }
  r.header.push_back("infer \"" + st.text + "\" (" + std::to_string(ids.size()) + " tokens)");
  return r;
}

Result exec_explain(const Bound& b, Context& ctx) {
  const Statement& st = *b.st;
  Analyzer& an = ctx.analyzer();
  const std::vector<int32_t> ids = an.encode(st.text);
  ForwardTrace t = an.forward(ids);
  const int32_t pred = top_k(t.logits, 1)[0];
  const std::vector<float> p = softmax_probs(t.logits);
  const int64_t E = an.n_embd();
  std::vector<float> head, a, dv(static_cast<size_t>(E));
  an.head_row(pred, head);
  const float inv = an.final_inv_rms(t.at(t.ffn_resid, an.n_layer() - 1, t.n_tok - 1));
  Result r;
  r.header.push_back("explain \"" + st.text + "\" -> " + an.piece(pred) + fmt(" (p=%.4f)", p[static_cast<size_t>(pred)]));
  r.add_column("layer", ColType::Int);
  r.add_column("feature", ColType::Int);
  r.add_column("activation", ColType::Float, 3);
  r.add_column("contribution", ColType::Float, 3);
  r.add_column("logit_effect", ColType::Float, 3);
  r.add_column("label", ColType::Text);
  r.add_column("writes", ColType::Text);
  for (int64_t l = b.lo; l <= b.hi; ++l) {
    an.activations(l, t.at(t.attn_resid, l, t.n_tok - 1), a);
    for (const FeatureScore& fs : an.top_features(l, a, b.top)) {
      an.down(l, fs.feature, dv.data());
      // Direct effect on the predicted token's logit through the final norm (linearised).
      const double eff = static_cast<double>(fs.activation) * dot(head.data(), dv.data(), E) * inv;
      r.rows.push_back({l, fs.feature, static_cast<double>(fs.activation), static_cast<double>(fs.contribution), eff,
                        an.label(l, fs.feature), tokens_text(an, an.writes(l, fs.feature, 3), 3)});
    }
  }
  r.notes.push_back("contribution = |activation| x |down|; logit_effect = activation x (head[" + an.piece(pred) +
                    "] . norm_w . down) / rms(final residual)");
  return r;
}

}  // namespace larql::lql
