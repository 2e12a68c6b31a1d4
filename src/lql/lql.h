// LQL, the query language over a model (docs/lql.md): parse → bind → execute.
#pragma once
#include <string>
#include <vector>

#include "lql/context.h"
#include "lql/result.h"

namespace larql::lql {

// Runs every statement of a script in order, stopping at the first error
// (which is thrown as larql::Error "line:col: ...").
std::vector<Result> run(Context& ctx, const std::string& script);

// Results as text: each statement's table, separated by blank lines.
std::string run_text(Context& ctx, const std::string& script);

}  // namespace larql::lql

namespace larql {

// One JSON object per statement, one per line (JSON Lines). An error ends
// the output with {"error": "...", "statement": <index>} and does not throw:
// the same objects are served by /v1/lql.
std::string run_lql_json(lql::Context& ctx, const std::string& script, int line = 1, int col = 1);

}  // namespace larql
