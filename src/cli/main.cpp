// larql: one binary, thin subcommands over the library.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "util/error.h"

int main(int argc, char** argv) {
  CLI::App app{"larql: run language models fast on CPUs, and query them like a database"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "larql 0.1.0");
  // Runners in registration order; the chosen subcommand is found by name after parsing.
  std::map<std::string, larql::cli::Runner> cmds;
  auto reg = [&](const char* name, larql::cli::Runner r) { cmds[name] = std::move(r); };
  reg("info", larql::cli::add_info(app));
  reg("tokenize", larql::cli::add_tokenize(app));
  reg("detokenize", larql::cli::add_detokenize(app));
  reg("synth", larql::cli::add_synth(app));
  reg("logits", larql::cli::add_logits(app));
  reg("perplexity", larql::cli::add_perplexity(app));
  reg("run", larql::cli::add_run(app));
  reg("chat", larql::cli::add_chat(app));
  reg("bench", larql::cli::add_bench(app));
  reg("serve", larql::cli::add_serve(app));
  reg("extract", larql::cli::add_extract(app));
  reg("verify", larql::cli::add_verify(app));
  reg("compile", larql::cli::add_compile(app));
  reg("lql", larql::cli::add_lql(app));
  reg("repl", larql::cli::add_repl(app));
  reg("edit-eval", larql::cli::add_edit_eval(app));
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  try {
    for (CLI::App* sub : app.get_subcommands()) {
      auto it = cmds.find(sub->get_name());
      if (it != cmds.end()) return it->second();
    }
  } catch (const larql::Error& e) {
    std::fprintf(stderr, "larql: error: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "larql: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
