// Binding: checks a parsed statement against what is loaded (a vindex, a
// model, or nothing), resolves defaults, layer ranges, TOP/LIMIT bounds, the
// FOR token and SELECT columns, and reports problems as
// "line:col: <statement>: <what>" before anything runs.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "lql/ast.h"
#include "lql/result.h"

namespace larql::lql {

struct Context;

struct Bound {
  const Statement* st = nullptr;
  int64_t lo = 0, hi = -1;       // resolved inclusive layer range
  int64_t top = 0;               // resolved TOP (or LIMIT for SHOW FEATURES)
  int32_t for_token = -1;        // TRACE FOR
  std::string for_piece;         // its text
  bool for_multi = false;        // FOR text was several tokens; the first is followed
  std::vector<Column> schema;    // SELECT / SHOW FEATURES: the full table's columns
  std::vector<int> projection;   // SELECT: schema indexes to output, in order
};

// The columns of SELECT ... FROM <table> (EDGES, FEATURES, ENTITIES).
std::vector<Column> table_schema(const std::string& table, bool nearest);

Bound bind(const Statement& st, Context& ctx);

}  // namespace larql::lql
