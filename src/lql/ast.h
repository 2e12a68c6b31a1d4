// LQL syntax tree: one flat Statement per `;`-terminated statement. Fields a
// statement kind does not use stay at their defaults; to_string() prints the
// canonical form (keywords upper-case, strings double-quoted), which parses
// back to the same tree.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace larql::lql {

enum class Kind {
  Use, UseModel, Extract,
  ShowLayers, ShowRelations, ShowFeatures, ShowPatches, ShowModels, Stats,
  Describe, Walk, Select, Infer, ExplainInfer, Trace,
  // Editing statements: parsed now, executed by a later issue (8).
  Insert, Delete, Update, BeginPatch, SavePatch, ApplyPatch, RemovePatch, Diff, CompileVindex, CompileModel,
};

const char* kind_name(Kind k);
bool is_edit(Kind k);

struct Value {
  bool is_string = false;
  std::string s;  // is_string
  double n = 0;   // number
  std::string to_string() const;
};

// col OP value(s); op is one of = != < > <= >= LIKE IN.
struct Condition {
  std::string column;
  std::string op;
  std::vector<Value> values;  // one, or the IN list
  int line = 0, col = 0;
};

// Inclusive layer range; `all` for ALL LAYERS. Unset: lo < 0.
struct LayerRange {
  int64_t lo = -1, hi = -1;
  bool all = false;
  bool set() const { return all || lo >= 0; }
};

struct Statement {
  Kind kind = Kind::Stats;
  int line = 0, col = 0;             // where the statement starts
  std::string path;                  // USE/EXTRACT source/patch file/DIFF a/COMPILE out
  std::string path2;                 // EXTRACT INTO/DIFF b/DIFF INTO PATCH
  std::string text;                  // DESCRIBE entity, WALK/INFER/TRACE prompt
  std::string for_token;             // TRACE FOR
  std::string save;                  // TRACE SAVE
  std::string option;                // WITH level, BRIEF|VERBOSE, MODE, FORMAT
  LayerRange layers;                 // AT LAYER n (lo=hi=n), LAYERS a-b, ALL LAYERS
  bool at_layer = false;             // written as AT LAYER n
  std::optional<int64_t> top, limit;
  int64_t feature_layer = -1;        // SHOW FEATURES n
  bool compare = false, decompose = false, positions_all = false, positions_set = false;
  // SELECT
  std::vector<std::string> columns;  // empty = *
  std::string from;                  // EDGES | FEATURES | ENTITIES
  std::string nearest;               // NEAREST TO "x"
  int64_t nearest_layer = -1;        // ... AT LAYER n
  std::vector<Condition> where;
  std::string order_by;
  bool order_desc = false;
  // INSERT / UPDATE
  std::vector<std::string> insert_columns;
  std::vector<Value> insert_values;
  std::optional<double> confidence, alpha;
  std::vector<std::pair<std::string, Value>> sets;

  std::string to_string() const;
};

}  // namespace larql::lql
