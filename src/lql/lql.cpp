#include "lql/lql.h"

#include <nlohmann/json.hpp>

#include "lql/binder.h"
#include "lql/executor.h"
#include "lql/parser.h"
#include "util/error.h"

namespace larql::lql {

std::vector<Result> run(Context& ctx, const std::string& script) {
  std::vector<Result> out;
  for (const Statement& st : parse(script)) out.push_back(execute(bind(st, ctx), ctx));
  return out;
}

std::string run_text(Context& ctx, const std::string& script) {
  std::string s;
  for (const Result& r : run(ctx, script)) s += (s.empty() ? "" : "\n") + render_text(r);
  return s;
}

}  // namespace larql::lql

namespace larql {

std::string run_lql_json(lql::Context& ctx, const std::string& script, int line, int col) {
  std::string out;
  size_t i = 0;
  try {
    for (const lql::Statement& st : lql::parse(script, line, col)) {
      out += lql::to_json(lql::execute(lql::bind(st, ctx), ctx)).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
      ++i;
    }
  } catch (const std::exception& e) {
    out += nlohmann::json{{"error", e.what()}, {"statement", i}}.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  }
  return out;
}

}  // namespace larql
