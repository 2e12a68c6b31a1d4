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
// Editing (issue 8): INSERT/DELETE/UPDATE (exec_edit.cpp), patches, DIFF, COMPILE (exec_patch.cpp).
Result exec_edit(const Bound& b, Context& ctx);
Result exec_patch(const Bound& b, Context& ctx);
}  // namespace larql::lql
namespace larql::edit { class Workspace; }
namespace larql::lql {
edit::Workspace& edit_workspace(const Statement& st, Context& ctx);  // created on first use; needs a model
void sync_edits(Context& ctx);  // points the analyzer at the composed patch

// WHERE (all conditions), ORDER BY, LIMIT and projection over a full table.
void apply_relational(Result& r, const Statement& st, const std::vector<int>& projection);
bool like(const std::string& text, const std::string& pattern);  // SQL LIKE: % and _, ASCII case-insensitive
std::string fmt(const char* f, double v);
std::string tokens_text(Analyzer& an, const std::vector<vindex::TokenScore>& ts, size_t n);

}  // namespace larql::lql
