// Editing statements (issue 8, docs/editing.md): INSERT / DELETE / UPDATE on
// EDGES, patch management (BEGIN, SAVE, APPLY, REMOVE, SHOW PATCHES), DIFF and
// COMPILE. Edits live in Context::edits (edit::Workspace); the analyzer runs
// every forward with the composed patch and labels answers with the edit
// that produced them. The base vindex/model is never written.
#include <cmath>
#include <filesystem>

#include "compile/compile.h"
#include "edit/evaluate.h"
#include "edit/materialize.h"
#include "edit/workspace.h"
#include "engine/model.h"
#include "kernels/ops.h"
#include "lql/exec_internal.h"
#include "tokenizer/tokenizer.h"
#include "util/error.h"
#include "util/thread_pool.h"
#include "vindex/vindex.h"

namespace larql::lql {

namespace {

[[noreturn]] void fail(const Statement& st, const std::string& what) {
  throw Error(std::to_string(st.line) + ":" + std::to_string(st.col) + ": " + kind_name(st.kind) + ": " + what);
}

// Templates for canonical prompts: templates.tsv rows, else the probe-format ones.
std::vector<edit::TemplateRow> templates_of(const Context& ctx) {
  if (!ctx.template_rows.empty()) return ctx.template_rows;
  std::vector<edit::TemplateRow> out;
  for (const auto& [rel, t] : ctx.templates) {
    std::string s = t;
    const size_t x = s.find("{X}");
    if (x != std::string::npos) s.replace(x, 3, "{s}");
    out.push_back({rel, s + " {o}", "train"});
  }
  return out;
}

}  // namespace

edit::Workspace& edit_workspace(const Statement& st, Context& ctx) {
  if (!ctx.model) fail(st, "edits need inference weights: USE a vindex extracted with inference weights, or USE MODEL");
  if (!ctx.edits) {
    const int nt = ctx.n_threads > 0 ? ctx.n_threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    ctx.edits = std::make_unique<edit::Workspace>(*ctx.model, std::make_shared<ThreadPool>(nt), ctx.source);
  }
  ctx.edits->templates = templates_of(ctx);
  return *ctx.edits;
}

// Points the analyzer at the composed patch and the KNN/labelling hook.
void sync_edits(Context& ctx) {
  edit::Workspace* ws = ctx.edits.get();
  if (!ws || ws->stack().empty()) {
    ctx.analyzer().set_edits(nullptr, nullptr);
    return;
  }
  ctx.analyzer().set_edits(ws->stack().ffn(), [ws](ForwardTrace& t, std::vector<std::string>& notes) {
    const Model& m = ws->model();
    const int64_t E = t.n_embd, last = t.n_tok - 1;
    std::vector<std::vector<float>> resid, ffn_in;
    for (int64_t l = 0; l < t.n_layer; ++l) {
      const float* r = t.at(t.ffn_resid, l, last);
      resid.emplace_back(r, r + E);
      ffn_in.emplace_back(static_cast<size_t>(E));
      ops::rms_norm(t.at(t.attn_resid, l, last), m.weights().layers[static_cast<size_t>(l)].ffn_norm.ptr(),
                    static_cast<float>(m.hparams().norm_eps), E, ffn_in.back().data());
    }
    float cos = 0;
    const edit::KnnEntry* hit = edit::knn_match(ws->stack().knn(), resid, &cos);
    if (hit) edit::knn_apply(*hit, t.logits);
    const int32_t top = top_k(t.logits, 1)[0];
    for (std::string& s : ws->explain(ffn_in, hit, cos, m.tokenizer().token_to_piece(top))) notes.push_back(std::move(s));
  });
}

namespace {

struct Where {
  std::string entity, relation, target;
};
Where where_of(const Statement& st, const std::vector<Condition>& conds) {
  Where w;
  for (const Condition& c : conds) {
    if (c.op != "=" || c.values.size() != 1 || !c.values[0].is_string)
      fail(st, "WHERE supports column = \"text\" on entity, relation and target");
    if (c.column == "entity") w.entity = c.values[0].s;
    else if (c.column == "relation") w.relation = c.values[0].s;
    else if (c.column == "target") w.target = c.values[0].s;
    else fail(st, "unknown column '" + c.column + "' (entity, relation, target)");
  }
  if (w.entity.empty() || w.relation.empty()) fail(st, "WHERE needs entity = \"...\" AND relation = \"...\"");
  return w;
}

edit::Fact fact_of(const Statement& st, edit::Workspace& ws, const std::string& e, const std::string& r, const std::string& t) {
  try {
    return edit::make_fact(ws.editor(), e, r, t, ws.templates);
  } catch (const Error& err) {
    fail(st, std::string(err.what()) + "; templates come from `larql lql --templates templates.tsv` or the vindex's probes.txt");
  }
}

// Decoys for a FEATURE insert: the entity's other relations and the relation's contrast entities.
std::vector<std::string> decoys(const Context& ctx, edit::Workspace& ws, const edit::Fact& f) {
  std::vector<std::string> out;
  for (const edit::TemplateRow& t : ws.templates)
    if (t.relation != f.relation && edit::find_template({t}, t.relation, "train")) out.push_back(edit::prompt_of(t.text, f.entity, "x"));
  if (const edit::TemplateRow* t = edit::find_template(ws.templates, f.relation, "train"))
    for (const std::string& c : ctx.contrast)
      if (c != f.entity) out.push_back(edit::prompt_of(t->text, c, "x"));
  for (const edit::Workspace::Row& r : ws.rows())
    if (r.fact.entity != f.entity || r.fact.relation != f.relation) out.push_back(r.fact.prompt);
  return out;
}

Result insert_row(const Statement& st, Context& ctx, edit::Workspace& ws, const edit::Fact& f, edit::Mode mode) {
  edit::EditOptions o;
  o.mode = mode;
  if (st.at_layer) o.layer = st.layers.lo;
  if (st.alpha) o.alpha = *st.alpha;
  if (st.confidence) {
    if (*st.confidence <= 0) fail(st, "CONFIDENCE must be positive");
    o.confidence = *st.confidence;
  }
  if (o.layer && (*o.layer < 0 || *o.layer >= ws.model().hparams().n_layer))
    fail(st, "AT LAYER " + std::to_string(*o.layer) + " is out of range (0-" + std::to_string(ws.model().hparams().n_layer - 1) + ")");
  edit::Operation op;
  const FfnPatch* cur = ws.stack().ffn().get();
  if (mode == edit::Mode::KNN) op = ws.editor().insert_knn(f, o);
  else if (mode == edit::Mode::Feature) op = ws.editor().insert_feature(f, decoys(ctx, ws, f), cur, o);
  else {
    const std::string cov = !st.path.empty() ? st.path : ws.covariance_file;
    if (cov.empty()) fail(st, "MODE MEMIT needs a covariance text: INSERT ... MODE MEMIT COVARIANCE \"text.txt\"");
    ws.covariance_file = cov;
    op = ws.editor().insert_memit({f}, edit::read_lines(cov), cur, o);
  }
  const double alpha = op.alpha;
  std::string where;
  for (const auto& [il, L] : op.ffn.layers)  // a whole-word target has one feature per token
    for (size_t k = 0; k < L.slots.size(); ++k)
      where += (k ? "," : "layer " + std::to_string(il) + (L.slots.size() > 1 ? " features " : " feature ")) +
               std::to_string(L.slots[k].feature);
  if (mode == edit::Mode::Memit) where = "layers " + std::to_string(op.layers.front()) + "-" + std::to_string(op.layers.back());
  if (mode == edit::Mode::KNN) where = "layer " + std::to_string(op.layers.front()) + " (lookup)";
  ws.add(std::move(op));
  if (mode == edit::Mode::Feature) edit::rebalance(ws.editor(), ws.stack(), o.margin);
  sync_edits(ctx);
  // Verify on the patched forward, as INFER will see it.
  std::vector<float> logits = edit::logits_with_knn(ws.editor(), f.prompt, ws.stack().ffn().get(), ws.stack().knn());
  const int32_t top = top_k(logits, 1)[0];
  Result r;
  r.add_column("entity", ColType::Text);
  r.add_column("relation", ColType::Text);
  r.add_column("target", ColType::Text);
  r.add_column("mode", ColType::Text);
  r.add_column("where", ColType::Text);
  r.add_column("alpha", ColType::Float, 3);
  r.add_column("top1", ColType::Text);
  r.rows.push_back({f.entity, f.relation, f.target, std::string(edit::mode_name(mode)), where, alpha, ctx.analyzer().piece(top)});
  r.notes.push_back("prompt \"" + f.prompt + "\"; patch " + (ws.open_patch().path.empty() ? "(session, unsaved)" : ws.open_patch().path));
  // Whole-word check: the greedy continuation over as many tokens as the target has.
  const int64_t n = static_cast<int64_t>(f.steps().size());
  const std::string cont = edit::greedy_text(ws.editor(), f.prompt, n, ws.stack().ffn().get(), ws.stack().knn());
  r.notes.push_back("greedy continuation (" + std::to_string(n) + (n > 1 ? " tokens" : " token") + "): \"" + cont + "\"" +
                    (cont.rfind(" " + f.target, 0) == 0 ? "" : " (not yet the whole target)"));
  return r;
}

Result do_delete(const Statement& st, Context& ctx, const Where& w, bool quiet_base = false) {
  edit::Workspace& ws = edit_workspace(st, ctx);
  bool inserted = false;
  for (const edit::Workspace::Row& r : ws.rows())
    inserted |= r.op == "insert" && r.fact.entity == w.entity && r.fact.relation == w.relation && (w.target.empty() || r.fact.target == w.target);
  Result r;
  r.add_column("entity", ColType::Text);
  r.add_column("relation", ColType::Text);
  r.add_column("removed", ColType::Text);
  if (inserted) {
    edit::Operation op;
    op.op = "delete";
    op.mode = edit::Mode::Mask;
    op.cancels = true;
    op.facts.push_back({w.entity, w.relation, w.target, "", -1});
    ws.add(std::move(op));
    r.rows.push_back({w.entity, w.relation, std::string("earlier insert")});
  } else if (!quiet_base) {
    // A fact the model itself knows: mask the features that write it.
    edit::Fact f = fact_of(st, ws, w.entity, w.relation, w.target.empty() ? "x" : w.target);
    const std::vector<float> logits = ws.editor().run(f.prompt, ws.stack().ffn().get()).logits;
    if (w.target.empty()) f.target_token = top_k(logits, 1)[0], f.target = ctx.analyzer().piece(f.target_token);
    if (top_k(logits, 1)[0] != f.target_token) fail(st, "the model does not answer \"" + f.target + "\" to \"" + f.prompt + "\"; nothing to delete");
    edit::Operation op = ws.editor().delete_fact(f, ws.stack().ffn().get());
    int64_t n = 0;
    for (const auto& [il, L] : op.ffn.layers) n += static_cast<int64_t>(L.masked.size());
    ws.add(std::move(op));
    r.rows.push_back({w.entity, w.relation, std::to_string(n) + " features masked (" + f.target + ")"});
  }
  sync_edits(ctx);
  return r;
}

}  // namespace

Result exec_edit(const Bound& b, Context& ctx) {
  const Statement& st = *b.st;
  switch (st.kind) {
    case Kind::Insert: {
      std::string e, rel, t;
      for (size_t i = 0; i < st.insert_columns.size(); ++i) {
        const std::string& c = st.insert_columns[i];
        const Value& v = st.insert_values[i];
        if (!v.is_string) fail(st, "value for '" + c + "' must be a string");
        if (c == "entity") e = v.s;
        else if (c == "relation") rel = v.s;
        else if (c == "target") t = v.s;
        else fail(st, "unknown column '" + c + "' (entity, relation, target)");
      }
      if (e.empty() || rel.empty() || t.empty()) fail(st, "needs entity, relation and target");
      edit::Workspace& ws = edit_workspace(st, ctx);
      const edit::Fact f = fact_of(st, ws, e, rel, t);
      return insert_row(st, ctx, ws, f, st.option.empty() ? edit::Mode::Feature : edit::mode_from_name(st.option));
    }
    case Kind::Delete: return do_delete(st, ctx, where_of(st, st.where));
    case Kind::Update: {
      const Where w = where_of(st, st.where);
      std::string target, mode = "feature";
      for (const auto& [col, v] : st.sets) {
        if (col == "target" && v.is_string) target = v.s;
        else if (col == "mode" && v.is_string) mode = v.s;
        else fail(st, "SET supports target = \"...\" and mode = \"feature|memit|knn\"");
      }
      if (target.empty()) fail(st, "SET target = \"...\" is required");
      edit::Workspace& ws = edit_workspace(st, ctx);
      do_delete(st, ctx, w, true);
      Result r = insert_row(st, ctx, ws, fact_of(st, ws, w.entity, w.relation, target), edit::mode_from_name(mode));
      r.notes.insert(r.notes.begin(), "UPDATE = DELETE (of an earlier insert) + INSERT");
      return r;
    }
    default: break;
  }
  return exec_patch(b, ctx);
}

}  // namespace larql::lql
