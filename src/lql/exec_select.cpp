// SELECT ... FROM FEATURES | EDGES | ENTITIES, SHOW FEATURES, and the
// relational tail (WHERE, ORDER BY, LIMIT, projection) shared by them.
#include <algorithm>
#include <cctype>
#include <cmath>

#include "lql/exec_internal.h"
#include "lql/patched_view.h"
#include "util/error.h"

namespace larql::lql {

bool like(const std::string& t, const std::string& p) {
  // Iterative wildcard match with backtracking to the last '%'.
  size_t i = 0, j = 0, star = std::string::npos, mark = 0;
  auto eq = [](char a, char b) { return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b)); };
  while (i < t.size()) {
    if (j < p.size() && (p[j] == '_' || (p[j] != '%' && eq(p[j], t[i])))) { ++i; ++j; }
    else if (j < p.size() && p[j] == '%') { star = j++; mark = i; }
    else if (star != std::string::npos) { j = star + 1; i = ++mark; }
    else return false;
  }
  while (j < p.size() && p[j] == '%') ++j;
  return j == p.size();
}

namespace {

Cell value_cell(const Value& v) { return v.is_string ? Cell(v.s) : Cell(v.n); }

bool holds(const Cell& c, const Condition& cond) {
  if (std::holds_alternative<std::monostate>(c)) return false;  // null matches nothing
  if (cond.op == "LIKE") return like(std::get<std::string>(c), cond.values[0].s);
  if (cond.op == "IN") {
    for (const Value& v : cond.values)
      if (compare_cells(c, value_cell(v)) == 0) return true;
    return false;
  }
  const int k = compare_cells(c, value_cell(cond.values[0]));
  if (cond.op == "=") return k == 0;
  if (cond.op == "!=") return k != 0;
  if (cond.op == "<") return k < 0;
  if (cond.op == ">") return k > 0;
  if (cond.op == "<=") return k <= 0;
  return k >= 0;
}

// Would a row at this layer pass the WHERE conditions on `layer`? (Pushdown:
// whole layers are skipped before their features are read.)
bool layer_wanted(const Statement& st, int64_t layer) {
  for (const Condition& c : st.where)
    if (c.column == "layer" && !holds(Cell(layer), c)) return false;
  return true;
}

std::vector<float> query_residuals(Analyzer& an, const std::string& text, int64_t lo, int64_t hi, bool& from_embedding) {
  // Per layer, the residual entering its FFN at the last token of `text`.
  std::vector<int32_t> ids = an.encode(text);
  const int64_t E = an.n_embd();
  std::vector<float> q(static_cast<size_t>((hi + 1) * E));
  from_embedding = !an.has_model();
  if (from_embedding) {
    for (int64_t l = lo; l <= hi; ++l) an.embedding(ids.back(), q.data() + l * E);
    return q;
  }
  ForwardTrace t = an.forward(ids);
  for (int64_t l = lo; l <= hi; ++l) {
    const float* r = t.at(t.attn_resid, l, t.n_tok - 1);
    std::copy(r, r + E, q.begin() + l * E);
  }
  return q;
}

}  // namespace

void apply_relational(Result& r, const Statement& st, const std::vector<int>& projection) {
  if (!st.where.empty()) {
    std::vector<Row> kept;
    for (Row& row : r.rows) {
      bool ok = true;
      for (const Condition& c : st.where) {
        const int i = r.col(c.column);
        if (i < 0 || !holds(row[static_cast<size_t>(i)], c)) { ok = false; break; }
      }
      if (ok) kept.push_back(std::move(row));
    }
    r.rows = std::move(kept);
  }
  if (!st.order_by.empty()) {
    const int i = r.col(st.order_by);
    if (i >= 0)
      std::stable_sort(r.rows.begin(), r.rows.end(), [&](const Row& a, const Row& b) {
        const int k = compare_cells(a[static_cast<size_t>(i)], b[static_cast<size_t>(i)]);
        return st.order_desc ? k > 0 : k < 0;
      });
  }
  if (st.limit && static_cast<int64_t>(r.rows.size()) > *st.limit) r.rows.resize(static_cast<size_t>(*st.limit));
  if (projection.empty()) return;
  std::vector<Column> cols;
  for (int i : projection) cols.push_back(r.columns[static_cast<size_t>(i)]);
  for (Row& row : r.rows) {
    Row out;
    for (int i : projection) out.push_back(row[static_cast<size_t>(i)]);
    row = std::move(out);
  }
  r.columns = std::move(cols);
}

Result exec_select(const Bound& b, Context& ctx) {
  const Statement& st = *b.st;
  Analyzer& an = ctx.analyzer();
  EditView ev(ctx);  // applied patches: slots listed as edits, masked features left out
  Result r;
  r.columns = b.schema;
  const bool show = st.kind == Kind::ShowFeatures;
  const std::string table = show ? "FEATURES" : st.from;
  const bool nearest = !st.nearest.empty();
  int64_t lo = show ? st.feature_layer : b.lo, hi = show ? st.feature_layer : b.hi;
  if (nearest && st.nearest_layer >= 0) lo = hi = st.nearest_layer;
  const int64_t E = an.n_embd();
  const int64_t k_tokens = 5;

  if (table == "ENTITIES") {
    std::vector<float> q(static_cast<size_t>(E)), e(static_cast<size_t>(E));
    double qn = 0;
    if (nearest) {
      an.embedding(an.encode(st.nearest).back(), q.data());
      for (float x : q) qn += static_cast<double>(x) * x;
    }
    for (int32_t t = 0; t < an.n_vocab(); ++t) {
      Row row;
      row.emplace_back(static_cast<int64_t>(t));
      row.emplace_back(an.piece(t));
      if (nearest) {
        an.embedding(t, e.data());
        double d = 0, en = 0;
        for (int64_t i = 0; i < E; ++i) { d += static_cast<double>(q[static_cast<size_t>(i)]) * e[static_cast<size_t>(i)]; en += static_cast<double>(e[static_cast<size_t>(i)]) * e[static_cast<size_t>(i)]; }
        row.push_back(qn > 0 && en > 0 ? d / std::sqrt(qn * en) : 0.0);
      }
      r.rows.push_back(std::move(row));
    }
  } else {
    bool from_emb = false;
    std::vector<float> q;
    if (nearest) q = query_residuals(an, st.nearest, lo, hi, from_emb);
    if (from_emb) r.notes.push_back("no inference weights: NEAREST TO uses the token embedding");
    std::vector<float> scores;
    for (int64_t l = lo; l <= hi; ++l) {
      if (!layer_wanted(st, l)) continue;
      if (nearest) ev.gate_scores(l, q.data() + l * E, scores);
      const std::vector<float>& dn = ev.down_norms(l);
      for (int64_t f = 0; f < an.n_features(l); ++f) {
        if (ev.masked(l, f)) continue;  // deleted: no longer stored knowledge
        std::vector<vindex::TokenScore> w = ev.writes(l, f, k_tokens);
        const std::string lab = ev.label(l, f);
        const int64_t cl = an.vindex() && !ev.is_slot(l, f) ? an.vindex()->cluster_of({l, -1, f}) : -1;
        const edit::Fact* fact = ev.patch().slot_fact(l, f);
        if (table == "FEATURES") {
          // Built cell by cell: GCC 12 warns falsely on variant initializer lists here.
          Row row;
          row.reserve(8);
          row.emplace_back(l);
          row.emplace_back(f);
          row.emplace_back(lab);
          if (cl >= 0) row.emplace_back(cl); else row.emplace_back();
          if (w.empty()) { row.emplace_back(); row.emplace_back(); }
          else { row.emplace_back(an.piece(w[0].token)); row.emplace_back(static_cast<double>(w[0].score)); }
          row.emplace_back(static_cast<double>(dn[static_cast<size_t>(f)]));
          if (nearest) row.emplace_back(static_cast<double>(scores[static_cast<size_t>(f)]));
          r.rows.push_back(std::move(row));
        } else {
          for (size_t i = 0; i < w.size(); ++i) {
            Row row;
            row.reserve(8);
            if (nearest) row.emplace_back(st.nearest);
            else if (fact) row.emplace_back(fact->entity);  // an inserted edge names its entity
            else row.emplace_back();
            row.emplace_back(lab);
            row.emplace_back(an.piece(w[i].token));
            row.emplace_back(l);
            row.emplace_back(f);
            row.emplace_back(static_cast<int64_t>(i));
            row.emplace_back(static_cast<double>(w[i].score));
            if (nearest) row.emplace_back(static_cast<double>(scores[static_cast<size_t>(f)]));
            r.rows.push_back(std::move(row));
          }
        }
      }
    }
  }
  // NEAREST without ORDER BY: best matches first.
  if (nearest && st.order_by.empty()) {
    const size_t i = r.columns.size() - 1;
    std::stable_sort(r.rows.begin(), r.rows.end(), [&](const Row& a, const Row& c) { return compare_cells(a[i], c[i]) > 0; });
  }
  if (table != "ENTITIES")
    for (std::string& n : ev.notes()) r.notes.push_back(std::move(n));
  if (show) {
    Statement s2 = st;
    s2.limit = b.top;
    apply_relational(r, s2, {});
  } else {
    apply_relational(r, st, b.projection);
  }
  return r;
}

}  // namespace larql::lql
