// Each subcommand registers itself on the root CLI11 app and returns a runner
// invoked when it was chosen. Runners throw larql::Error on bad input.
#pragma once
#include <functional>

namespace CLI { class App; }

namespace larql::cli {

using Runner = std::function<int()>;
Runner add_info(CLI::App& app);
Runner add_tokenize(CLI::App& app);
Runner add_detokenize(CLI::App& app);
Runner add_synth(CLI::App& app);
Runner add_logits(CLI::App& app);
Runner add_perplexity(CLI::App& app);
Runner add_run(CLI::App& app);
Runner add_chat(CLI::App& app);
Runner add_bench(CLI::App& app);

}  // namespace larql::cli
