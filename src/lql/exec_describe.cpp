// DESCRIBE "entity": what the model stores about an entity.
//  - With relation templates (Context::templates, e.g. a vindex's probes.txt):
//    the entity is put in each relation's prompts, the model's answer is the
//    edge target, and the FFN features with the largest direct effect on it
//    in the chosen layers are listed with their labels.
//  - Without: the entity alone is run through the model; the strongest
//    features (activation x |down|) at its last token in the chosen layers
//    vote for the tokens they write, grouped by the features' relation labels.
// With patches applied (EditView), features are read through the overlay and
// an "edit" column marks the edges an inserted fact of this entity gives.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <map>

#include "lql/exec_internal.h"
#include "lql/patched_view.h"
#include "tokenizer/tokenizer.h"
#include "util/error.h"

namespace larql::lql {

namespace {

// Facts are words: skip punctuation-only targets.
bool wordlike(const std::string& s) {
  for (unsigned char c : s)
    if (std::isalnum(c) || c >= 0x80) return true;
  return false;
}

// The live inserted fact about (entity, relation), as "FEATURE capital→Madrid [spain.vlp] L3:29", or "".
std::string edit_of(const EditView& ev, const std::string& entity, const std::string& relation) {
  std::string out;
  for (const LiveEdit& e : ev.live())
    if (e.fact.entity == entity && e.fact.relation == relation) {
      std::string mode = edit::mode_name(e.mode);
      for (char& c : mode) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      out = mode + " " + e.fact.relation + "\xE2\x86\x92" + e.fact.target + " [" + e.patch + "] " + e.where;  // the latest wins
    }
  return out;
}

Result describe_features(const Bound& b, Context& ctx) {
  const Statement& st = *b.st;
  Analyzer& an = ctx.analyzer();
  EditView ev(ctx);
  const std::vector<int32_t> ids = an.encode(st.text);
  const std::string self = an.piece(ids.back());
  const int64_t per_layer = st.option == "VERBOSE" ? 48 : 24;
  const size_t max_rows = st.option == "BRIEF" ? 5 : st.option == "VERBOSE" ? 40 : 12;
  ForwardTrace t;
  if (an.has_model()) t = an.forward(ids);
  struct Edge { std::string relation, target; double score = 0; int64_t layer = 0; float best = 0; int64_t n = 0; };
  std::map<std::pair<std::string, std::string>, Edge> edges;
  std::vector<float> a;
  for (int64_t l = b.lo; l <= b.hi; ++l) {
    if (an.has_model()) ev.activations(l, t.at(t.attn_resid, l, t.n_tok - 1), a);
    else an.embedding_scores(l, ids.back(), a);
    for (const FeatureScore& fs : ev.top_features(l, a, per_layer)) {
      std::vector<vindex::TokenScore> w = ev.writes(l, fs.feature, 3);
      if (w.empty() || w[0].score <= 0) continue;
      const edit::Fact* fact = ev.patch().slot_fact(l, fs.feature);
      std::string rel = fact ? fact->relation : an.label(l, fs.feature);  // a slot votes under its fact's relation
      if (rel.empty()) rel = "?";
      for (const vindex::TokenScore& ts : w) {
        const std::string tgt = an.piece(ts.token);
        if (ts.score <= 0 || !wordlike(tgt) || tgt == self) continue;
        // A feature's vote for a token: its contribution, scaled by how much
        // of the feature's top write this token gets.
        const double v = fs.contribution * ts.score / w[0].score;
        Edge& e = edges[{rel, tgt}];
        e.relation = rel;
        e.target = tgt;
        e.score += v;
        ++e.n;
        if (v > e.best) { e.best = static_cast<float>(v); e.layer = l; }
      }
    }
  }
  std::vector<Edge> list;
  for (auto& [k, e] : edges) list.push_back(e);
  std::sort(list.begin(), list.end(), [](const Edge& x, const Edge& y) { return x.score != y.score ? x.score > y.score : x.target < y.target; });
  // Group by relation: relations in order of their best edge, edges by score within.
  std::map<std::string, size_t> first;
  for (size_t i = 0; i < list.size(); ++i) first.emplace(list[i].relation, i);
  if (list.size() > max_rows) list.resize(max_rows);
  std::stable_sort(list.begin(), list.end(), [&](const Edge& x, const Edge& y) { return first[x.relation] < first[y.relation]; });
  Result r;
  int64_t lmin = b.hi, lmax = b.lo;
  for (const Edge& e : list) { lmin = std::min(lmin, e.layer); lmax = std::max(lmax, e.layer); }
  r.header.push_back(st.text + " — " + std::to_string(edges.size()) + " edges, layers " +
                     (list.empty() ? std::to_string(b.lo) + "-" + std::to_string(b.hi) : std::to_string(lmin) + "-" + std::to_string(lmax)));
  r.add_column("relation", ColType::Text);
  r.add_column("target", ColType::Text);
  r.add_column("score", ColType::Float, 2);
  r.add_column("layer", ColType::Int);
  r.add_column("features", ColType::Int);
  if (ev.active()) r.add_column("edit", ColType::Text);
  for (const Edge& e : list) {
    Row row{e.relation, e.target, e.score, e.layer, e.n};
    if (ev.active()) row.emplace_back(edit_of(ev, st.text, e.relation));
    r.rows.push_back(std::move(row));
  }
  if (!an.has_model()) r.notes.push_back("browse-only vindex: features ranked by gate score of the token embedding (no forward pass)");
  r.notes.push_back("features: top " + std::to_string(per_layer) + " per layer " + std::to_string(b.lo) + "-" + std::to_string(b.hi) +
                    " by activation x |down|, at the last token of \"" + st.text + "\"");
  for (std::string& n : ev.notes()) r.notes.push_back(std::move(n));
  return r;
}

// Features of layers [lo, hi] with the largest direct effect on `target`'s
// logit at the last position (linearised through the final norm).
std::string effect_features(EditView& ev, const ForwardTrace& t, int32_t target, int64_t lo, int64_t hi, size_t k,
                            int64_t& best_layer) {
  Analyzer& an = ev.analyzer();
  const int64_t E = an.n_embd();
  std::vector<float> head, a, dv(static_cast<size_t>(E));
  an.head_row(target, head);
  const float inv = an.final_inv_rms(t.at(t.ffn_resid, an.n_layer() - 1, t.n_tok - 1));
  struct Hit { int64_t layer, f; double eff; };
  std::vector<Hit> hits;
  for (int64_t l = lo; l <= hi; ++l) {
    ev.activations(l, t.at(t.attn_resid, l, t.n_tok - 1), a);
    for (size_t f = 0; f < a.size(); ++f) {
      if (a[f] == 0) continue;  // masked features too
      ev.down(l, static_cast<int64_t>(f), dv.data());
      double d = 0;
      for (int64_t i = 0; i < E; ++i) d += static_cast<double>(head[static_cast<size_t>(i)]) * dv[static_cast<size_t>(i)];
      hits.push_back({l, static_cast<int64_t>(f), a[f] * d * inv});
    }
  }
  std::sort(hits.begin(), hits.end(), [](const Hit& x, const Hit& y) { return x.eff != y.eff ? x.eff > y.eff : x.f < y.f; });
  std::string s;
  best_layer = hits.empty() ? lo : hits[0].layer;
  for (size_t i = 0; i < hits.size() && i < k; ++i) {
    const std::string lab = ev.label(hits[i].layer, hits[i].f);
    s += (i ? ", " : "") + std::string("L") + std::to_string(hits[i].layer) + ":" + std::to_string(hits[i].f) +
         (lab.empty() ? "" : "(" + lab + ")");
  }
  return s;
}

// Mean next-token probabilities over a relation's prompts for one entity.
std::vector<double> relation_probs(Analyzer& an, const std::vector<std::string>& tmpls, const std::string& entity,
                                   std::vector<ForwardTrace>* traces) {
  std::vector<double> mean;
  for (const std::string& tmpl : tmpls) {
    std::string p = tmpl;
    p.replace(p.find("{X}"), 3, entity);
    ForwardTrace t = an.forward(an.encode(p));
    const std::vector<float> pr = softmax_probs(t.logits);
    if (mean.empty()) mean.assign(pr.size(), 0.0);
    for (size_t i = 0; i < pr.size(); ++i) mean[i] += pr[i] / static_cast<double>(tmpls.size());
    if (traces) traces->push_back(std::move(t));
  }
  return mean;
}

// The target word: the token, continued greedily while the model spells the
// same word ("Ber" + "lin").
std::string whole_word(Analyzer& an, std::vector<int32_t> toks, int32_t tgt) {
  std::string word = an.tokenizer().token_to_piece(tgt);
  for (int i = 0; i < 4; ++i) {
    toks.push_back(tgt);
    ForwardTrace t = an.forward(toks);
    tgt = top_k(t.logits, 1)[0];
    const std::string piece = an.tokenizer().token_to_piece(tgt);
    if (piece.empty() || !std::isalpha(static_cast<unsigned char>(piece[0]))) break;
    word += piece;
  }
  const size_t a = word.find_first_not_of(' ');
  return a == std::string::npos ? word : word.substr(a);
}

Result describe_templates(const Bound& b, Context& ctx) {
  const Statement& st = *b.st;
  Analyzer& an = ctx.analyzer();
  EditView ev(ctx);
  const bool verbose = st.option == "VERBOSE", brief = st.option == "BRIEF";
  const double min_spec = verbose ? -1.0 : 0.5;  // below this the answer is not about this entity
  std::vector<std::string> order, others;
  std::map<std::string, std::vector<std::string>> by_rel;
  for (const auto& [rel, tmpl] : ctx.templates) {
    if (!by_rel.count(rel)) order.push_back(rel);
    by_rel[rel].push_back(tmpl);
  }
  for (const std::string& e : ctx.contrast)
    if (e != st.text) others.push_back(e);
  struct Edge { std::string rel, target, also, features; double prob, spec; int64_t layer; };
  std::vector<Edge> edges;
  for (const std::string& rel : order) {
    std::vector<ForwardTrace> traces;
    const std::vector<double> mean = relation_probs(an, by_rel[rel], st.text, &traces);
    std::vector<float> mf(mean.begin(), mean.end());
    const std::vector<int32_t> top = top_k(mf, 3);
    const int32_t tgt = top[0];
    const std::string piece = an.piece(tgt);
    if (!wordlike(piece)) continue;
    // Specificity: how much more this entity gets the answer than the contrast entities.
    double base = 0;
    for (const std::string& o : others) {
      std::vector<double>& cp = ctx.contrast_probs[{rel, o}];
      if (cp.empty()) cp = relation_probs(an, by_rel[rel], o, nullptr);
      base += cp[static_cast<size_t>(tgt)] / static_cast<double>(others.size());
    }
    const double spec = mean[static_cast<size_t>(tgt)] - base;
    if (spec < min_spec) continue;
    // The prompt that believes the target most explains it.
    size_t bi = 0;
    double bp = -1;
    for (size_t i = 0; i < traces.size(); ++i) {
      const double p = softmax_probs(traces[i].logits)[static_cast<size_t>(tgt)];
      if (p > bp) { bp = p; bi = i; }
    }
    Edge e{rel, whole_word(an, traces[bi].tokens, tgt), "", "", mean[static_cast<size_t>(tgt)], spec, 0};
    for (size_t i = 1; i < top.size(); ++i) e.also += (i > 1 ? "/" : "") + an.piece(top[i]);
    e.features = effect_features(ev, traces[bi], tgt, b.lo, b.hi, brief ? 1 : 3, e.layer);
    edges.push_back(std::move(e));
  }
  std::stable_sort(edges.begin(), edges.end(), [](const Edge& x, const Edge& y) { return x.spec > y.spec; });
  Result r;
  int64_t lmin = b.hi, lmax = b.lo;
  for (const Edge& e : edges) { lmin = std::min(lmin, e.layer); lmax = std::max(lmax, e.layer); }
  if (edges.empty()) { lmin = b.lo; lmax = b.hi; }
  r.header.push_back(st.text + " — " + std::to_string(edges.size()) + " edges, layers " + std::to_string(lmin) + "-" + std::to_string(lmax));
  r.add_column("relation", ColType::Text);
  r.add_column("target", ColType::Text);
  r.add_column("prob", ColType::Float, 3);
  r.add_column("specific", ColType::Float, 3);
  r.add_column("layer", ColType::Int);
  r.add_column("features", ColType::Text);
  if (verbose) r.add_column("also", ColType::Text);
  if (ev.active()) r.add_column("edit", ColType::Text);
  for (const Edge& e : edges) {
    Row row;
    row.reserve(7);
    row.emplace_back(e.rel);
    row.emplace_back(e.target);
    row.emplace_back(e.prob);
    row.emplace_back(e.spec);
    row.emplace_back(e.layer);
    row.emplace_back(e.features);
    if (verbose) row.emplace_back(e.also);
    if (ev.active()) row.emplace_back(edit_of(ev, st.text, e.rel));
    r.rows.push_back(std::move(row));
  }
  r.notes.push_back("from " + std::to_string(ctx.templates.size()) + " relation templates; prob: mean over a relation's prompts; specific: prob minus the mean over " +
                    std::to_string(others.size()) + " contrast entities" + (verbose ? "" : " (edges under 0.5 hidden; VERBOSE shows all)"));
  r.notes.push_back("layer, features: the FFN features (layer:feature) with the largest direct effect on the target, layers " +
                    std::to_string(b.lo) + "-" + std::to_string(b.hi));
  if (ev.active()) r.notes.push_back("edit: the live inserted fact about " + st.text + " and that relation (mechanism, patch, where)");
  for (std::string& n : ev.notes()) r.notes.push_back(std::move(n));
  return r;
}

}  // namespace

Result exec_describe(const Bound& b, Context& ctx) {
  if (!ctx.templates.empty() && ctx.analyzer().has_model()) return describe_templates(b, ctx);
  return describe_features(b, ctx);
}

}  // namespace larql::lql
