// Per-statement executors (executor.cpp dispatches) and shared table helpers.
#pragma once
#include "lql/analysis.h"
#include "lql/binder.h"
#include "lql/context.h"
#include "lql/result.h"

namespace larql::lql {

Result exec_select(const Bound& b, Context& ctx);        // SELECT, SHOW FEATURES
Result exec_describe(const Bound& b, Context& ctx);
Result exec_walk(const Bound& b, Context& ctx);
Result exec_infer(const Bound& b, Context& ctx);
Result exec_explain(const Bound& b, Context& ctx);
Result exec_trace(const Bound& b, Context& ctx);

// WHERE (all conditions), ORDER BY, LIMIT and projection over a full table.
void apply_relational(Result& r, const Statement& st, const std::vector<int>& projection);
bool like(const std::string& text, const std::string& pattern);  // SQL LIKE: % and _, ASCII case-insensitive
std::string fmt(const char* f, double v);
std::string tokens_text(Analyzer& an, const std::vector<vindex::TokenScore>& ts, size_t n);

}  // namespace larql::lql
