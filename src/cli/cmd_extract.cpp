// larql extract MODEL -o NAME.vindex [--level ...]   and   larql verify NAME.vindex
#include <CLI/CLI.hpp>
#include <cstdio>

#include "cli/commands.h"
#include "util/error.h"
#include "vindex/vindex.h"

namespace larql::cli {

Runner add_extract(CLI::App& app) {
  auto* sub = app.add_subcommand("extract", "Extract a model into a vindex directory (queryable FFN features + inference weights)");
  struct Opts {
    std::string model, out, level = "all", probes;
    int64_t down_top = 10, clusters = 32;
    int threads = 0;
    bool quiet = false;
  };
  auto o = std::make_shared<Opts>();
  sub->add_option("MODEL", o->model, "GGUF file or safetensors folder")->required();
  sub->add_option("-o,--output", o->out, "Output directory, e.g. NAME.vindex (must not exist)")->required();
  sub->add_option("--level", o->level, "browse | inference | all")->default_val("all");
  sub->add_option("--down-top", o->down_top, "Tokens per feature in down_meta (0 = none)")->default_val(10);
  sub->add_option("--clusters", o->clusters, "Relation clusters over down directions (0 = none)")->default_val(32);
  sub->add_option("--probes", o->probes, "Probe template file ('relation: text with {X}' lines + 'entities: a, b')");
  sub->add_option("-t,--threads", o->threads, "Threads (default: all cores)");
  sub->add_flag("-q,--quiet", o->quiet, "No progress bar or summary");
  return [=]() {
    vindex::ExtractOptions opt;
    opt.level = vindex::level_from_name(o->level);
    opt.down_top_k = o->down_top;
    opt.n_clusters = o->clusters;
    opt.probes_file = o->probes;
    opt.n_threads = o->threads;
    opt.progress = !o->quiet;
    auto st = vindex::extract(o->model, o->out, opt);
    if (!o->quiet)
      std::fprintf(stderr, "extracted %s -> %s: %.1f MiB in %.2f s\n", o->model.c_str(), o->out.c_str(),
                   static_cast<double>(st.bytes) / (1024.0 * 1024.0), st.seconds);
    return 0;
  };
}

Runner add_verify(CLI::App& app) {
  auto* sub = app.add_subcommand("verify", "Check a vindex's files against the checksums in its index.json");
  auto path = std::make_shared<std::string>();
  sub->add_option("VINDEX", *path, "Vindex directory")->required();
  return [=]() {
    auto r = vindex::verify(*path);
    for (const auto& p : r.problems) std::fprintf(stderr, "larql: verify: %s\n", p.c_str());
    if (!r.ok()) {
      std::fprintf(stderr, "larql: verify: %s FAILED (%zu problem%s)\n", path->c_str(), r.problems.size(),
                   r.problems.size() == 1 ? "" : "s");
      return 1;
    }
    std::printf("%s: OK (%lld files)\n", path->c_str(), static_cast<long long>(r.files_checked));
    return 0;
  };
}

}  // namespace larql::cli
