// larql: one binary, thin subcommands over the library.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <vector>

#include "cli/commands.h"
#include "util/error.h"

int main(int argc, char** argv) {
  CLI::App app{"larql: run language models fast on CPUs, and query them like a database"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "larql 0.1.0");
  std::vector<std::pair<CLI::App*, larql::cli::Runner>> cmds;
  auto reg = [&](larql::cli::Runner r) { cmds.emplace_back(app.get_subcommands().back(), std::move(r)); };
  reg(larql::cli::add_info(app));
  reg(larql::cli::add_tokenize(app));
  reg(larql::cli::add_detokenize(app));
  reg(larql::cli::add_synth(app));
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  try {
    for (auto& [sub, run] : cmds)
      if (sub->parsed()) return run();
  } catch (const larql::Error& e) {
    std::fprintf(stderr, "larql: error: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "larql: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
