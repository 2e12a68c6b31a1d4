// Each subcommand registers itself on the root CLI11 app and returns a runner
// invoked when it was chosen. Runners throw larql::Error on bad input.
#pragma once
#include <cstdint>
#include <functional>
#include <string>

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
Runner add_serve(CLI::App& app);
Runner add_extract(CLI::App& app);
Runner add_verify(CLI::App& app);
Runner add_compile(CLI::App& app);  // cmd_compile.cpp
Runner add_lql(CLI::App& app);
Runner add_repl(CLI::App& app);
Runner add_edit_eval(CLI::App& app);  // cmd_edit.cpp (issue 8)
// Gate-KNN latency per layer of a vindex (bench --vindex).
int bench_vindex(const std::string& path, int64_t k, int reps, int threads, bool json);

}  // namespace larql::cli
