#include "lql/binder.h"

#include "engine/model.h"
#include "lql/analysis.h"
#include "lql/context.h"
#include "tokenizer/tokenizer.h"
#include "util/error.h"
#include "vindex/vindex.h"

namespace larql::lql {

namespace {

[[noreturn]] void fail(const Statement& st, int line, int col, const std::string& msg) {
  throw Error(std::to_string(line) + ":" + std::to_string(col) + ": " + kind_name(st.kind) + ": " + msg);
}
[[noreturn]] void fail(const Statement& st, const std::string& msg) { fail(st, st.line, st.col, msg); }

enum class Needs { Nothing, Anything, Model, Vindex };

Needs needs(Kind k) {
  switch (k) {
    case Kind::Use: case Kind::UseModel: case Kind::Extract: case Kind::ShowModels: return Needs::Nothing;
    case Kind::ShowRelations: return Needs::Vindex;
    case Kind::Infer: case Kind::ExplainInfer: case Kind::Trace: return Needs::Model;
    default: return Needs::Anything;
  }
}

void check_layers(const Statement& st, const LayerRange& r, int64_t n_layer, Bound& b) {
  if (!r.set() || r.all) {
    b.lo = 0;
    b.hi = n_layer - 1;
    return;
  }
  if (r.hi >= n_layer)
    fail(st, "layer " + std::to_string(r.hi) + " is out of range: the model has " + std::to_string(n_layer) +
                 " layers (0-" + std::to_string(n_layer - 1) + ")");
  b.lo = r.lo;
  b.hi = r.hi;
}

void check_where(const Statement& st, const std::vector<Condition>& where, const std::vector<Column>& schema) {
  for (const Condition& c : where) {
    int idx = -1;
    for (size_t i = 0; i < schema.size(); ++i)
      if (schema[i].name == c.column) idx = static_cast<int>(i);
    if (idx < 0) {
      std::string names;
      for (const Column& col : schema) names += (names.empty() ? "" : ", ") + col.name;
      fail(st, c.line, c.col, "unknown column '" + c.column + "' (columns: " + names + ")");
    }
    const bool text = schema[static_cast<size_t>(idx)].type == ColType::Text;
    if (c.op == "LIKE" && !text) fail(st, c.line, c.col, "LIKE needs a text column; '" + c.column + "' is numeric");
    for (const Value& v : c.values)
      if (v.is_string != text)
        fail(st, c.line, c.col, "column '" + c.column + "' is " + (text ? "text" : "numeric") + " but compared with " +
                                    (v.is_string ? "a string" : "a number"));
  }
}

}  // namespace

std::vector<Column> table_schema(const std::string& table, bool nearest) {
  std::vector<Column> s;
  if (table == "FEATURES") {
    s = {{"layer", ColType::Int}, {"feature", ColType::Int}, {"label", ColType::Text}, {"cluster", ColType::Int},
         {"top_token", ColType::Text}, {"top_score", ColType::Float, 2}, {"down_norm", ColType::Float, 3}};
    if (nearest) s.push_back({"score", ColType::Float, 3});
  } else if (table == "EDGES") {
    s = {{"entity", ColType::Text}, {"relation", ColType::Text}, {"target", ColType::Text}, {"layer", ColType::Int},
         {"feature", ColType::Int}, {"rank", ColType::Int}, {"weight", ColType::Float, 2}};
    if (nearest) s.push_back({"score", ColType::Float, 3});
  } else {
    s = {{"token_id", ColType::Int}, {"token", ColType::Text}};
    if (nearest) s.push_back({"similarity", ColType::Float, 4});
  }
  return s;
}

Bound bind(const Statement& st, Context& ctx) {
  Bound b;
  b.st = &st;
  if (is_edit(st.kind)) {  // executed by exec_edit.cpp / exec_patch.cpp
    if (st.kind == Kind::Diff) return b;
    if (!ctx.vindex && !ctx.model) fail(st, "nothing loaded: USE \"name.vindex\" or USE MODEL \"file.gguf\" first");
    if (!ctx.model) fail(st, "edits run the model, but the vindex has no inference weights (extracted WITH BROWSE); re-extract or USE MODEL");
    return b;
  }
  const Needs need = needs(st.kind);
  if (!ctx.allow_writes && (st.kind == Kind::Extract || !st.save.empty()))
    fail(st, "writing files is disabled here");
  if (need == Needs::Nothing) return b;
  if (!ctx.vindex && !ctx.model) fail(st, "nothing loaded: USE \"name.vindex\" or USE MODEL \"file.gguf\" first");
  if (need == Needs::Vindex && !ctx.vindex) fail(st, "needs a vindex (USE \"name.vindex\"); a model file has no relation clusters");
  if (need == Needs::Model && !ctx.model)
    fail(st, "runs the model, but the vindex has no inference weights (extracted WITH BROWSE); re-extract or USE MODEL");
  Analyzer& an = ctx.analyzer();
  const int64_t L = an.n_layer();
  check_layers(st, st.layers, L, b);

  auto top = [&](int64_t def, int64_t max, const char* what) {
    b.top = st.top ? *st.top : def;
    if (b.top < 1 || b.top > max) fail(st, std::string("TOP must be 1-") + std::to_string(max) + " (" + what + ")");
  };
  switch (st.kind) {
    case Kind::ShowRelations: case Kind::ShowFeatures: {
      const int64_t layer = st.kind == Kind::ShowFeatures ? st.feature_layer : st.layers.lo;
      if (layer >= L) fail(st, "layer " + std::to_string(layer) + " is out of range (0-" + std::to_string(L - 1) + ")");
      if (st.kind == Kind::ShowFeatures) {
        b.schema = table_schema("FEATURES", false);
        check_where(st, st.where, b.schema);
        b.top = st.limit ? *st.limit : 20;
      }
      break;
    }
    case Kind::Describe: {
      if (st.text.empty()) fail(st, "the entity is empty");
      // Default: the upper half of the layers, where facts are written.
      if (!st.layers.set()) b.lo = L / 2;
      break;
    }
    case Kind::Walk: top(5, 1000, "features per layer"); break;
    case Kind::Infer: top(5, an.n_vocab(), "tokens"); break;
    case Kind::ExplainInfer: top(5, 1000, "features per layer"); break;
    case Kind::Trace: {
      if (!st.for_token.empty()) {
        std::vector<int32_t> ids = an.tokenizer().encode(st.for_token, false, false);
        if (ids.empty()) fail(st, "FOR \"" + st.for_token + "\" gives no tokens");
        b.for_token = ids[0];
        b.for_multi = ids.size() > 1;
        b.for_piece = an.piece(ids[0]);
      }
      break;
    }
    case Kind::Select: {
      const bool nearest = !st.nearest.empty();
      b.schema = table_schema(st.from, nearest);
      if (st.nearest_layer >= L) fail(st, "NEAREST TO ... AT LAYER " + std::to_string(st.nearest_layer) + " is out of range (0-" + std::to_string(L - 1) + ")");
      check_where(st, st.where, b.schema);
      auto find = [&](const std::string& n) {
        for (size_t i = 0; i < b.schema.size(); ++i)
          if (b.schema[i].name == n) return static_cast<int>(i);
        fail(st, "unknown column '" + n + "' in " + st.from);
      };
      if (!st.order_by.empty()) find(st.order_by);
      if (st.columns.empty())
        for (size_t i = 0; i < b.schema.size(); ++i) b.projection.push_back(static_cast<int>(i));
      for (const std::string& c : st.columns) b.projection.push_back(find(c));
      if (st.limit && *st.limit < 0) fail(st, "LIMIT must not be negative");
      break;
    }
    default: break;
  }
  return b;
}

}  // namespace larql::lql
