#include "lql/ast.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace larql::lql {

const char* kind_name(Kind k) {
  switch (k) {
    case Kind::Use: return "USE";
    case Kind::UseModel: return "USE MODEL";
    case Kind::Extract: return "EXTRACT";
    case Kind::ShowLayers: return "SHOW LAYERS";
    case Kind::ShowRelations: return "SHOW RELATIONS";
    case Kind::ShowFeatures: return "SHOW FEATURES";
    case Kind::ShowPatches: return "SHOW PATCHES";
    case Kind::ShowModels: return "SHOW MODELS";
    case Kind::Stats: return "STATS";
    case Kind::Describe: return "DESCRIBE";
    case Kind::Walk: return "WALK";
    case Kind::Select: return "SELECT";
    case Kind::Infer: return "INFER";
    case Kind::ExplainInfer: return "EXPLAIN INFER";
    case Kind::Trace: return "TRACE";
    case Kind::Insert: return "INSERT";
    case Kind::Delete: return "DELETE";
    case Kind::Update: return "UPDATE";
    case Kind::BeginPatch: return "BEGIN PATCH";
    case Kind::SavePatch: return "SAVE PATCH";
    case Kind::ApplyPatch: return "APPLY PATCH";
    case Kind::RemovePatch: return "REMOVE PATCH";
    case Kind::Diff: return "DIFF";
    case Kind::CompileVindex: return "COMPILE INTO VINDEX";
    case Kind::CompileModel: return "COMPILE INTO MODEL";
  }
  return "?";
}

bool is_edit(Kind k) { return k >= Kind::Insert; }

namespace {
std::string quote(const std::string& s) {
  std::string o = "\"";
  for (char c : s) {
    if (c == '"') o += "\"\"";
    else if (c == '\\') o += "\\\\";
    else if (c == '\n') o += "\\n";
    else if (c == '\t') o += "\\t";
    else o += c;
  }
  return o + "\"";
}
std::string range(const LayerRange& r) {
  if (r.lo == r.hi) return std::to_string(r.lo);
  return std::to_string(r.lo) + "-" + std::to_string(r.hi);
}
std::string conds(const std::vector<Condition>& cs) {
  std::string o;
  for (size_t i = 0; i < cs.size(); ++i) {
    const Condition& c = cs[i];
    if (i) o += " AND ";
    o += c.column + " " + c.op + " ";
    if (c.op == "IN") {
      o += "(";
      for (size_t j = 0; j < c.values.size(); ++j) o += (j ? ", " : "") + c.values[j].to_string();
      o += ")";
    } else {
      o += c.values.at(0).to_string();
    }
  }
  return o;
}
}  // namespace

std::string Value::to_string() const {
  if (is_string) return quote(s);
  if (std::isfinite(n) && n == std::floor(n) && std::fabs(n) < 1e15) return std::to_string(static_cast<int64_t>(n));
  // Shortest form that reads back as the same double.
  char buf[64];
  for (int prec = 15; prec <= 17; ++prec) {
    std::snprintf(buf, sizeof buf, "%.*g", prec, n);
    if (std::strtod(buf, nullptr) == n) break;
  }
  return buf;
}

std::string Statement::to_string() const {
  std::string o;
  auto layer_clause = [&]() {
    if (layers.all) o += " ALL LAYERS";
    else if (at_layer) o += " AT LAYER " + std::to_string(layers.lo);
    else if (layers.set()) o += " LAYERS " + range(layers);
  };
  auto num = [](double d) { Value v; v.n = d; return v.to_string(); };
  switch (kind) {
    case Kind::Use: o = "USE " + quote(path); break;
    case Kind::UseModel: o = "USE MODEL " + quote(path); break;
    case Kind::Extract:
      o = "EXTRACT MODEL " + quote(path) + " INTO " + quote(path2);
      if (!option.empty()) o += " WITH " + option;
      break;
    case Kind::ShowRelations: o = "SHOW RELATIONS"; layer_clause(); break;
    case Kind::ShowFeatures:
      o = "SHOW FEATURES " + std::to_string(feature_layer);
      if (!where.empty()) o += " WHERE " + conds(where);
      if (limit) o += " LIMIT " + std::to_string(*limit);
      break;
    case Kind::Describe:
      o = "DESCRIBE " + quote(text);
      layer_clause();
      if (!option.empty()) o += " " + option;
      break;
    case Kind::Select:
      o = "SELECT ";
      if (columns.empty()) o += "*";
      for (size_t i = 0; i < columns.size(); ++i) o += (i ? ", " : "") + columns[i];
      o += " FROM " + from;
      if (!nearest.empty() || nearest_layer >= 0) {
        o += " NEAREST TO " + quote(nearest);
        if (nearest_layer >= 0) o += " AT LAYER " + std::to_string(nearest_layer);
      }
      if (!where.empty()) o += " WHERE " + conds(where);
      if (!order_by.empty()) o += " ORDER BY " + order_by + (order_desc ? " DESC" : " ASC");
      if (limit) o += " LIMIT " + std::to_string(*limit);
      break;
    case Kind::Walk: case Kind::Infer: case Kind::ExplainInfer: case Kind::Trace:
      o = std::string(kind_name(kind)) + " " + quote(text);
      if (top) o += " TOP " + std::to_string(*top);
      if (!for_token.empty()) o += " FOR " + quote(for_token);
      if (decompose) o += " DECOMPOSE";
      if (layers.set()) o += " LAYERS " + range(layers);
      if (positions_set) o += positions_all ? " POSITIONS ALL" : " POSITIONS LAST";
      if (compare) o += " COMPARE";
      if (!save.empty()) o += " SAVE " + quote(save);
      break;
    case Kind::Insert:
      o = "INSERT INTO EDGES (";
      for (size_t i = 0; i < insert_columns.size(); ++i) o += (i ? ", " : "") + insert_columns[i];
      o += ") VALUES (";
      for (size_t i = 0; i < insert_values.size(); ++i) o += (i ? ", " : "") + insert_values[i].to_string();
      o += ")";
      layer_clause();
      if (confidence) o += " CONFIDENCE " + num(*confidence);
      if (alpha) o += " ALPHA " + num(*alpha);
      if (!option.empty()) o += " MODE " + option;
      if (!path.empty()) o += " COVARIANCE " + quote(path);
      break;
    case Kind::Delete: o = "DELETE FROM EDGES WHERE " + conds(where); break;
    case Kind::Update:
      o = "UPDATE EDGES SET ";
      for (size_t i = 0; i < sets.size(); ++i) o += (i ? ", " : "") + sets[i].first + " = " + sets[i].second.to_string();
      o += " WHERE " + conds(where);
      break;
    case Kind::BeginPatch: case Kind::ApplyPatch: case Kind::RemovePatch:
      o = std::string(kind_name(kind)) + " " + quote(path);
      break;
    case Kind::Diff:
      o = "DIFF " + quote(path) + " " + quote(path2);
      if (!save.empty()) o += " INTO PATCH " + quote(save);
      break;
    case Kind::CompileVindex: o = "COMPILE CURRENT INTO VINDEX " + quote(path); break;
    case Kind::CompileModel:
      o = "COMPILE CURRENT INTO MODEL " + quote(path);
      if (!option.empty()) o += " FORMAT " + option;
      break;
    default: o = kind_name(kind); break;
  }
  return o + ";";
}

}  // namespace larql::lql
