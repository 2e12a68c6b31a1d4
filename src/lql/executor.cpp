#include "lql/executor.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <map>

#include "engine/model.h"
#include "lql/exec_internal.h"
#include "util/error.h"
#include "vindex/vindex.h"

namespace larql::lql {

namespace fs = std::filesystem;

std::string fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

namespace {

const HParams& hparams(Context& ctx) { return ctx.model ? ctx.model->hparams() : ctx.vindex->manifest().hparams; }

Result use(const Statement& st, Context& ctx) {
  Result r;
  if (st.kind == Kind::Use) {
    if (!vindex::is_vindex(st.path)) {
      if (fs::is_regular_file(st.path) || fs::is_directory(st.path))
        throw Error(std::to_string(st.line) + ":" + std::to_string(st.col) + ": USE: \"" + st.path +
                    "\" is not a vindex (no index.json); for a model file write USE MODEL \"" + st.path + "\"");
      throw Error(std::to_string(st.line) + ":" + std::to_string(st.col) + ": USE: \"" + st.path + "\" does not exist");
    }
    auto vx = vindex::Vindex::open(st.path);
    std::unique_ptr<Model> m;
    if (vx->manifest().has_inference()) m = vx->load_model();
    ctx.clear();
    const std::string probes = (fs::path(st.path) / "probes.txt").string();
    if (ctx.templates.empty() && fs::is_regular_file(probes)) ctx.load_templates(probes);
    ctx.vindex = std::move(vx);
    ctx.model = std::move(m);
  } else {
    auto m = Model::load(st.path);
    ctx.clear();
    ctx.model = std::move(m);
  }
  ctx.source = st.path;
  const HParams& hp = hparams(ctx);
  std::string what = ctx.vindex ? std::string("vindex (level ") + vindex::level_name(ctx.vindex->manifest().level) + ")" : "model";
  r.header.push_back("Using " + what + " " + fs::path(st.path).filename().string() + ": " + hp.arch + ", " +
                     std::to_string(hp.n_layer) + " layers, " + std::to_string(hp.n_embd) + " hidden, " +
                     std::to_string(hp.n_ff) + " features per layer, vocab " + std::to_string(hp.n_vocab));
  if (!ctx.model) r.notes.push_back("no inference weights: INFER, TRACE and EXPLAIN are unavailable; DESCRIBE and WALK use embeddings");
  return r;
}

Result extract(const Statement& st) {
  vindex::ExtractOptions opt;
  if (!st.option.empty()) opt.level = vindex::level_from_name(st.option == "BROWSE" ? "browse" : st.option == "INFERENCE" ? "inference" : "all");
  opt.progress = false;
  vindex::ExtractStats s = vindex::extract(st.path, st.path2, opt);
  Result r;
  r.header.push_back("Extracted " + st.path + " into " + st.path2);
  r.notes.push_back(fmt("%.1f MB", static_cast<double>(s.bytes) / 1e6) + fmt(" in %.2f s", s.seconds));
  return r;
}

Result stats(Context& ctx) {
  const HParams& hp = hparams(ctx);
  Result r;
  r.add_column("property", ColType::Text);
  r.add_column("value", ColType::Text);
  auto row = [&](const std::string& k, const std::string& v) { r.rows.push_back({k, v}); };
  row("source", fs::path(ctx.source).filename().string());
  row("family", hp.arch);
  row("layers", std::to_string(hp.n_layer));
  row("hidden", std::to_string(hp.n_embd));
  row("features per layer", std::to_string(hp.n_ff));
  row("vocab", std::to_string(hp.n_vocab));
  int64_t total = 0;
  Analyzer& an = ctx.analyzer();
  for (int64_t l = 0; l < an.n_layer(); ++l) total += an.n_features(l);
  row("features total", std::to_string(total));
  if (ctx.vindex) {
    const vindex::Manifest& m = ctx.vindex->manifest();
    row("level", vindex::level_name(m.level));
    row("down_meta tokens", std::to_string(m.down_top_k));
    row("relation clusters", std::to_string(m.n_clusters));
    row("probe labels", std::to_string(ctx.vindex->probe_labels().size()));
    uint64_t bytes = 0;
    for (const vindex::FileEntry& f : m.files) bytes += f.bytes;
    row("files", std::to_string(m.files.size()) + fmt(" (%.1f MB)", static_cast<double>(bytes) / 1e6));
  } else {
    row("level", "model file (no vindex)");
  }
  row("inference", ctx.model ? "yes" : "no");
  return r;
}

Result show_layers(Context& ctx) {
  Analyzer& an = ctx.analyzer();
  Result r;
  r.add_column("layer", ColType::Int);
  r.add_column("features", ColType::Int);
  r.add_column("experts", ColType::Int);
  r.add_column("top_cluster", ColType::Text);
  for (int64_t l = 0; l < an.n_layer(); ++l) {
    Cell top;
    int64_t experts = 0;
    if (ctx.vindex) {
      const auto& infos = ctx.vindex->manifest().layers;
      if (l < static_cast<int64_t>(infos.size())) experts = infos[static_cast<size_t>(l)].n_experts;
      std::map<int64_t, int64_t> counts;
      for (int64_t f = 0; f < an.n_features(l); ++f) {
        const int64_t c = ctx.vindex->cluster_of({l, -1, f});
        if (c >= 0) ++counts[c];
      }
      int64_t best = -1, n = 0;
      for (auto [c, k] : counts)
        if (k > n) { best = c; n = k; }
      const auto& cl = ctx.vindex->clusters();
      if (best >= 0 && best < static_cast<int64_t>(cl.size()))
        top = cl[static_cast<size_t>(best)].label + " (" + std::to_string(n) + ")";
    }
    r.rows.push_back({l, an.n_features(l), experts, top});
  }
  return r;
}

Result show_relations(const Bound& b, Context& ctx) {
  const vindex::Vindex& vx = *ctx.vindex;
  const auto& clusters = vx.clusters();
  Result r;
  r.add_column("cluster", ColType::Int);
  r.add_column("label", ColType::Text);
  r.add_column("features", ColType::Int);
  r.add_column("top_tokens", ColType::Text);
  std::vector<int64_t> at(clusters.size(), 0);
  const bool one = b.st->at_layer;
  if (one)
    for (int64_t f = 0; f < vx.n_features(b.lo); ++f) {
      const int64_t c = vx.cluster_of({b.lo, -1, f});
      if (c >= 0 && c < static_cast<int64_t>(at.size())) ++at[static_cast<size_t>(c)];
    }
  Analyzer& an = ctx.analyzer();
  for (size_t i = 0; i < clusters.size(); ++i) {
    const vindex::Cluster& c = clusters[i];
    const int64_t n = one ? at[i] : c.size;
    if (one && n == 0) continue;
    r.rows.push_back({c.id, c.label, n, tokens_text(an, c.top_tokens, 5)});
  }
  if (clusters.empty()) r.notes.push_back("this vindex was extracted without relation clusters");
  std::map<std::string, int64_t> probes;
  for (const vindex::ProbeLabel& p : vx.probe_labels())
    if (!one || p.addr.layer == b.lo) ++probes[p.relation];
  if (!probes.empty()) {
    std::string s = "probe relations:";
    for (auto& [rel, n] : probes) s += " " + rel + " (" + std::to_string(n) + ")";
    r.notes.push_back(s);
  }
  return r;
}

Result show_models(Context& ctx) {
  Result r;
  r.add_column("name", ColType::Text);
  r.add_column("kind", ColType::Text);
  r.add_column("loaded", ColType::Text);
  std::vector<std::pair<std::string, std::string>> found;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(".", ec)) {
    const std::string p = e.path().filename().string();
    if (vindex::is_vindex(e.path().string())) found.push_back({p, "vindex"});
    else if (e.is_regular_file() && e.path().extension() == ".gguf") found.push_back({p, "gguf"});
  }
  std::sort(found.begin(), found.end());
  const std::string cur = fs::path(ctx.source).filename().string();
  if (!ctx.source.empty()) r.rows.push_back({ctx.source, ctx.vindex ? "vindex" : "model", "yes"});
  for (auto& [n, k] : found)
    if (n != cur) r.rows.push_back({n, k, ""});
  return r;
}

}  // namespace

std::string tokens_text(Analyzer& an, const std::vector<vindex::TokenScore>& ts, size_t n) {
  std::string s;
  for (size_t i = 0; i < ts.size() && i < n; ++i) s += (i ? "/" : "") + an.piece(ts[i].token);
  return s;
}

Result execute(const Bound& b, Context& ctx) {
  const Statement& st = *b.st;
  Result r;
  switch (st.kind) {
    case Kind::Use: case Kind::UseModel: r = use(st, ctx); break;
    case Kind::Extract: r = extract(st); break;
    case Kind::Stats: r = stats(ctx); break;
    case Kind::ShowLayers: r = show_layers(ctx); break;
    case Kind::ShowRelations: r = show_relations(b, ctx); break;
    case Kind::ShowModels: r = show_models(ctx); break;
    case Kind::ShowPatches: r = exec_patch(b, ctx); break;
    case Kind::ShowFeatures: case Kind::Select: r = exec_select(b, ctx); break;
    case Kind::Describe: r = exec_describe(b, ctx); break;
    case Kind::Walk: r = exec_walk(b, ctx); break;
    case Kind::Infer: case Kind::ExplainInfer: case Kind::Trace: {
      // Which edit (if any) produced the answer: notes from the edit hook (exec_edit.cpp).
      if (ctx.edits) ctx.analyzer().take_edit_notes();
      r = st.kind == Kind::Infer ? exec_infer(b, ctx) : st.kind == Kind::Trace ? exec_trace(b, ctx) : exec_explain(b, ctx);
      if (ctx.edits)
        for (std::string& n : ctx.analyzer().take_edit_notes()) r.notes.push_back(std::move(n));
      break;
    }
    default: r = exec_edit(b, ctx); break;
  }
  r.statement = st.to_string();
  r.kind = kind_name(st.kind);
  return r;
}

}  // namespace larql::lql
