// Patch statements (issue 8, docs/editing.md): BEGIN / SAVE / APPLY / REMOVE
// PATCH, SHOW PATCHES, DIFF of two vindexes and COMPILE CURRENT INTO ...
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <set>

#include "compile/compile.h"
#include "edit/materialize.h"
#include "edit/workspace.h"
#include "engine/model.h"
#include "lql/exec_internal.h"
#include "util/error.h"
#include "vindex/vindex.h"

namespace larql::lql {

namespace {

[[noreturn]] void fail(const Statement& st, const std::string& what) {
  throw Error(std::to_string(st.line) + ":" + std::to_string(st.col) + ": " + kind_name(st.kind) + ": " + what);
}

Result message(const std::string& m) {
  Result r;
  r.notes.push_back(m);
  return r;
}

// DIFF: every feature whose gate/up rows changed becomes a FEATURE slot with
// b's vectors; down columns that changed alone become an exact low-rank term
// (A = the column's change, B = the unit vector of the feature).
Result diff(const Statement& st, Context& ctx) {
  std::unique_ptr<vindex::Vindex> a, b;
  try {
    a = vindex::Vindex::open(st.path);
    b = vindex::Vindex::open(st.path2);
  } catch (const Error& e) {
    fail(st, e.what());
  }
  const vindex::Manifest &ma = a->manifest(), &mb = b->manifest();
  if (ma.hparams.n_layer != mb.hparams.n_layer || ma.hparams.n_embd != mb.hparams.n_embd || ma.hparams.n_ff != mb.hparams.n_ff)
    fail(st, "the two vindexes have different shapes");
  const int64_t E = ma.hparams.n_embd;
  Result r;
  r.add_column("layer", ColType::Int);
  r.add_column("features_changed", ColType::Int);
  r.add_column("down_only", ColType::Int);
  r.add_column("max_abs_diff", ColType::Float, 6);
  edit::Operation op;
  op.mode = edit::Mode::Feature;
  op.facts.push_back({"(diff)", "(diff)", st.path2, "", -1});
  std::vector<float> ga(E), gb(E), ua(E), ub(E), da(E), db(E);
  for (int64_t l = 0; l < ma.hparams.n_layer; ++l) {
    if (a->n_features(l) != b->n_features(l)) fail(st, "layer " + std::to_string(l) + " has different feature counts");
    int64_t changed = 0, down_only = 0;
    double mx = 0;
    FfnLayerPatch L;
    for (int64_t f = 0; f < a->n_features(l); ++f) {
      const vindex::FeatureAddr ad{l, -1, f};
      a->gate(ad, ga.data()); b->gate(ad, gb.data());
      a->up(ad, ua.data()); b->up(ad, ub.data());
      a->down(ad, da.data()); b->down(ad, db.data());
      bool gu = false, dn = false;
      for (int64_t e = 0; e < E; ++e) {
        gu |= ga[e] != gb[e] || ua[e] != ub[e];
        dn |= da[e] != db[e];
        mx = std::max({mx, double(std::fabs(ga[e] - gb[e])), double(std::fabs(ua[e] - ub[e])), double(std::fabs(da[e] - db[e]))});
      }
      if (gu) {
        ++changed;
        L.slots.push_back({f, gb, ub, db});
      } else if (dn) {
        ++down_only;
        ++L.rank;
        for (int64_t e = 0; e < E; ++e) L.A.push_back(db[e] - da[e]);
        std::vector<float> unit(static_cast<size_t>(a->n_features(l)), 0.0f);
        unit[static_cast<size_t>(f)] = 1.0f;
        L.B.insert(L.B.end(), unit.begin(), unit.end());
      }
    }
    if (changed || down_only) op.ffn.layers[l] = std::move(L), op.layers.push_back(l);
    r.rows.push_back({l, changed, down_only, mx});
  }
  if (!st.save.empty()) {
    if (!ctx.allow_writes) fail(st, "writing files is disabled here");
    auto m = a->load_model();
    edit::Patch p;
    p.base = edit::base_id(*m, st.path);
    p.description = "DIFF " + st.path + " -> " + st.path2;
    if (!op.layers.empty()) p.ops.push_back(std::move(op));
    edit::save_patch(p, st.save);
    r.notes.push_back("wrote " + st.save);
  }
  return r;
}

Result compile_current(const Statement& st, Context& ctx) {
  if (!ctx.allow_writes) fail(st, "writing files is disabled here");
  edit::Workspace& ws = edit_workspace(st, ctx);
  compile::Options opt;
  opt.format = st.kind == Kind::CompileVindex ? compile::Format::Vindex
               : st.option == "SAFETENSORS"   ? compile::Format::Safetensors
                                              : compile::Format::GGUF;
  if (std::filesystem::exists(st.path)) fail(st, "\"" + st.path + "\" exists; choose a new path");
  std::string list;
  int64_t knn = 0;
  for (const edit::Patch& p : ws.stack().patches) {
    list += (list.empty() ? "" : ", ") + (p.path.empty() ? std::string("(session)") : p.path);
    for (const edit::Operation& o : p.ops) knn += o.mode == edit::Mode::KNN && o.op == "insert" ? 1 : 0;
  }
  opt.note = "larql edits: " + (list.empty() ? std::string("none") : list);
  compile::Overrides ov;
  if (const FfnPatch* f = ws.stack().ffn().get()) ov = edit::materialize(ctx.model->source(), *f);
  compile::Result cr = compile::write_model(ctx.model->source(), ov, st.path, opt);
  Result r;
  r.add_column("output", ColType::Text);
  r.add_column("format", ColType::Text);
  r.add_column("tensors_changed", ColType::Int);
  r.add_column("bytes", ColType::Int);
  r.rows.push_back({st.path, std::string(compile::format_name(opt.format)), cr.tensors_changed, static_cast<int64_t>(cr.bytes)});
  if (knn) r.notes.push_back(std::to_string(knn) + " KNN insert(s) not compiled (KNN is a lookup, not a weight change)");
  for (const std::string& n : cr.notes) r.notes.push_back(n);
  return r;
}

}  // namespace

Result exec_patch(const Bound& b, Context& ctx) {
  const Statement& st = *b.st;
  switch (st.kind) {
    case Kind::BeginPatch: {
      edit_workspace(st, ctx).begin(st.path);
      sync_edits(ctx);
      return message("editing into patch " + st.path);
    }
    case Kind::SavePatch: {
      if (!ctx.allow_writes) fail(st, "writing files is disabled here");
      edit::Workspace& ws = edit_workspace(st, ctx);
      std::string p;
      try {
        p = ws.save();
      } catch (const Error& e) {
        fail(st, e.what());
      }
      return message("saved " + p + " (" + std::to_string(ws.open_patch().ops.size()) + " operations)");
    }
    case Kind::ApplyPatch: {
      edit::Workspace& ws = edit_workspace(st, ctx);
      try {
        ws.apply(st.path);
      } catch (const Error& e) {
        fail(st, e.what());
      }
      sync_edits(ctx);
      return message("applied " + st.path + " (" + std::to_string(ws.stack().patches.size()) + " patches in the stack)");
    }
    case Kind::RemovePatch: {
      edit::Workspace& ws = edit_workspace(st, ctx);
      try {
        ws.remove(st.path);
      } catch (const Error& e) {
        fail(st, e.what());
      }
      sync_edits(ctx);
      return message("removed " + st.path);
    }
    case Kind::ShowPatches: {
      Result r;
      r.add_column("patch", ColType::Text);
      r.add_column("operations", ColType::Int);
      r.add_column("facts", ColType::Text);
      r.add_column("open", ColType::Text);
      if (!ctx.edits || ctx.edits->stack().patches.empty()) {
        r.notes.push_back("no patches applied");
        return r;
      }
      edit::Workspace& ws = *ctx.edits;
      for (const edit::Patch& p : ws.stack().patches) {
        std::string facts;
        for (const edit::Operation& o : p.ops)
          for (const edit::Fact& f : o.facts)
            facts += (facts.empty() ? "" : "; ") + std::string(o.op == "delete" ? "-" : "+") + f.entity + "/" + f.relation +
                     (f.target.empty() ? "" : "=" + f.target) + " [" + edit::mode_name(o.mode) + "]";
        const bool open = ws.has_open() && &p == &ctx.edits->open_patch();
        r.rows.push_back({p.path.empty() ? std::string("(session)") : p.path, static_cast<int64_t>(p.ops.size()), facts,
                          std::string(open ? "yes" : "")});
      }
      return r;
    }
    case Kind::Diff: return diff(st, ctx);
    case Kind::CompileVindex: case Kind::CompileModel: return compile_current(st, ctx);
    default: fail(st, "not an editing statement");
  }
}

}  // namespace larql::lql
