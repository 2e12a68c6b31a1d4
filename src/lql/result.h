// A statement's result: optional header lines, a table of typed columns, and
// notes. Renders as aligned text for people and as one JSON object for
// programs (the same object `larql lql --json` prints and /v1/lql will serve).
#pragma once
#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace larql::lql {

enum class ColType { Int, Float, Text };

struct Column {
  std::string name;
  ColType type = ColType::Text;
  int decimals = 3;  // Float: digits after the point in text output
};

using Cell = std::variant<std::monostate, int64_t, double, std::string>;  // monostate = null
using Row = std::vector<Cell>;

struct Result {
  std::string statement;             // canonical text of the statement
  std::string kind;                  // "DESCRIBE", "TRACE", ...
  std::vector<std::string> header;   // printed above the table
  std::vector<Column> columns;
  std::vector<Row> rows;
  std::vector<std::string> notes;    // printed below the table

  int col(const std::string& name) const;  // index or -1
  void add_column(std::string name, ColType t, int decimals = 3) { columns.push_back({std::move(name), t, decimals}); }
};

// Aligned table: text left-aligned, numbers right-aligned.
std::string render_text(const Result& r);
nlohmann::json to_json(const Result& r);

// Cell comparison for WHERE/ORDER BY: numbers numerically, text bytewise;
// null sorts first. Returns <0, 0, >0.
int compare_cells(const Cell& a, const Cell& b);
std::string cell_text(const Cell& c, const Column& col);

}  // namespace larql::lql
