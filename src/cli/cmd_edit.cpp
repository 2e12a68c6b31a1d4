// larql edit-eval MODEL --facts facts.tsv --templates templates.tsv --mode feature|memit|knn
//                 [--count N] [--covariance text.txt] [--layer L] [--json] [--save-patch f.vlp]
//                 [--compiled] [--compiled-out f.gguf]
//
// Inserts the facts table's held-out facts (split heldout_fact) with one
// mechanism and prints efficacy, generalization (first token and whole word)
// and specificity (docs/editing.md);
// with --compiled also on the COMPILEd GGUF (edits baked in, loaded back, no patch).
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>

#include "cli/commands.h"
#include "cli/model_path.h"
#include "edit/evaluate.h"
#include "engine/model.h"
#include "util/error.h"
#include "util/thread_pool.h"

namespace larql::cli {

Runner add_edit_eval(CLI::App& app) {
  auto* sub = app.add_subcommand("edit-eval", "Measure knowledge-edit quality on a facts table (docs/editing.md)");
  struct Opts {
    std::string model, facts, templates, mode = "feature", covariance, save, compiled_out;
    int64_t count = -1, layer = -1, spec = 100, memit_layers = 2;
    double lambda = 1.0, margin = 1.0;
    int threads = 0;
    bool json = false, compiled = false;
  };
  auto o = std::make_shared<Opts>();
  sub->add_option("MODEL", o->model, "GGUF file, safetensors folder or vindex")->required();
  sub->add_option("--facts", o->facts, "facts.tsv (subject relation object split)")->required();
  sub->add_option("--templates", o->templates, "templates.tsv (relation template split)")->required();
  sub->add_option("--mode", o->mode, "feature | memit | knn")->default_val("feature");
  sub->add_option("--count", o->count, "held-out facts to insert (-1: all)")->default_val(-1);
  sub->add_option("--covariance", o->covariance, "MEMIT: text file for the activation covariance");
  sub->add_option("--layer", o->layer, "FEATURE/KNN layer, MEMIT last layer (default: per mode)");
  sub->add_option("--memit-layers", o->memit_layers, "MEMIT: layers in the range")->default_val(2);
  sub->add_option("--lambda", o->lambda, "MEMIT: covariance weight")->default_val(1.0);
  sub->add_option("--margin", o->margin, "logit margin the target must win by")->default_val(1.0);
  sub->add_option("--specificity", o->spec, "training-fact prompts for specificity")->default_val(100);
  sub->add_option("--save-patch", o->save, "write the inserted edits as a .vlp patch");
  sub->add_option("-t,--threads", o->threads, "Threads (default: all cores)");
  sub->add_flag("--compiled", o->compiled,
                "Also measure the compiled GGUF (materialized edits, written to a temporary file and loaded back)");
  sub->add_option("--compiled-out", o->compiled_out, "Like --compiled, keeping the compiled GGUF at this path");
  sub->add_flag("--json", o->json, "Print one JSON object");
  return [=]() {
    if (!o->compiled_out.empty() && std::filesystem::exists(o->compiled_out))  // before the slow inserts
      throw Error("--compiled-out: '" + o->compiled_out + "' exists; choose a new path");
    auto model = load_model(o->model);
    edit::EvalConfig cfg;
    cfg.opt.mode = edit::mode_from_name(o->mode);
    if (cfg.opt.mode == edit::Mode::Mask) throw Error("--mode must be feature, memit or knn");
    if (o->layer >= 0) cfg.opt.layer = o->layer;
    cfg.opt.memit_layers = o->memit_layers;
    cfg.opt.memit_lambda = o->lambda;
    cfg.opt.margin = o->margin;
    cfg.count = o->count;
    cfg.n_specificity = o->spec;
    cfg.facts = edit::load_facts_tsv(o->facts);
    cfg.templates = edit::load_templates_tsv(o->templates);
    if (cfg.opt.mode == edit::Mode::Memit) {
      if (o->covariance.empty()) throw Error("--mode memit needs --covariance text.txt");
      cfg.covariance_lines = edit::read_lines(o->covariance);
    }
    const int nt = o->threads > 0 ? o->threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    auto pool = std::make_shared<ThreadPool>(nt);
    edit::Editor ed(*model, pool);
    edit::EvalResult r = edit::evaluate(ed, cfg);
    if (o->compiled || !o->compiled_out.empty()) {
      std::string out = o->compiled_out;
      if (out.empty()) {  // unique per process and call; removed after measuring
        const auto ns = std::chrono::steady_clock::now().time_since_epoch().count();
        out = (std::filesystem::temp_directory_path() /
               ("larql-edit-eval-" + std::to_string(::getpid()) + "-" + std::to_string(ns) + ".gguf"))
                  .string();
      }
      edit::evaluate_compiled(ed, pool, cfg, out, !o->compiled_out.empty(), r);
    }
    if (!o->save.empty()) {
      r.patch.base = edit::base_id(*model, o->model);
      edit::save_patch(r.patch, o->save);
    }
    if (o->json) {
      std::printf("%s\n", r.to_json().c_str());
    } else {
      std::printf("mode %s, %lld edits (%.1f s)\n", r.mode.c_str(), static_cast<long long>(r.n_edits), r.seconds);
      std::printf("  efficacy        %6.1f%%  (before %.1f%%)\n", 100 * r.efficacy, 100 * r.efficacy_before);
      std::printf("  generalization  %6.1f%%  (before %.1f%%, %lld prompts)\n", 100 * r.generalization,
                  100 * r.generalization_before, static_cast<long long>(r.n_general));
      std::printf("  whole word      efficacy %.1f%% (before %.1f%%), generalization %.1f%% (before %.1f%%)\n",
                  100 * r.efficacy_word, 100 * r.efficacy_word_before, 100 * r.generalization_word,
                  100 * r.generalization_word_before);
      std::printf("  specificity     recall %.1f%% (unedited %.1f%%), mean KL %.4f over %lld prompts\n",
                  100 * r.recall_edited, 100 * r.recall_base, r.mean_kl, static_cast<long long>(r.n_spec));
      const edit::CompiledEval& c = r.compiled;
      if (c.measured) {
        std::printf("                  live / compiled GGUF (%lld tensors changed, %.1f s)\n",
                    static_cast<long long>(c.tensors_changed), c.seconds);
        std::printf("  efficacy        %6.1f%% / %.1f%%\n", 100 * r.efficacy, 100 * c.efficacy);
        std::printf("  generalization  %6.1f%% / %.1f%%\n", 100 * r.generalization, 100 * c.generalization);
        std::printf("  word efficacy   %6.1f%% / %.1f%%\n", 100 * r.efficacy_word, 100 * c.efficacy_word);
        std::printf("  word general.   %6.1f%% / %.1f%%\n", 100 * r.generalization_word, 100 * c.generalization_word);
        std::printf("  recall          %6.1f%% / %.1f%%\n", 100 * r.recall_edited, 100 * c.recall_edited);
        std::printf("  mean KL         %.2e / %.2e\n", r.mean_kl, c.mean_kl);
        if (!c.path.empty()) std::printf("  compiled model  %s\n", c.path.c_str());
      } else if (!c.note.empty()) {
        std::printf("  compiled        %s\n", c.note.c_str());
      }
    }
    return 0;
  };
}

}  // namespace larql::cli
