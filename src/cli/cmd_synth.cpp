// larql synth --arch A --preset P --type T -o out.gguf [--seed N] [--layers N]
#include <CLI/CLI.hpp>
#include <cstdio>

#include "cli/commands.h"
#include "synth/synth.h"
#include "util/progress.h"

namespace larql::cli {

Runner add_synth(CLI::App& app) {
  std::string preset_help = "Named shape:";
  for (const auto& p : synth::presets()) preset_help += "\n  " + p.name + " (" + (p.arch == "*" ? std::string("any arch") : p.arch) + "): " + p.description;
  auto* sub = app.add_subcommand("synth", "Write a random-weight GGUF model with a real architecture's shapes");
  struct Opts { synth::Options s; std::string type = "f32"; bool quiet = false; };
  auto o = std::make_shared<Opts>();
  sub->add_option("--arch", o->s.arch, "llama|qwen2|qwen3|gemma2|gemma3|phi3|gpt2|mixtral|qwen3moe|deepseek2|gpt-oss")->required();
  sub->add_option("--preset", o->s.preset, preset_help)->default_val("tiny");
  sub->add_option("--type", o->type, "f32|f16|bf16|q8_0|q4_0|q4_k_m|q6_k")->default_val("f32");
  sub->add_option("-o,--output", o->s.out, "Output .gguf path")->required();
  sub->add_option("--seed", o->s.seed, "Random seed")->default_val(42);
  sub->add_option("--layers", o->s.layers, "Override the preset's layer count");
  sub->add_option("-t,--threads", o->s.threads, "Threads (default: all cores)");
  sub->add_flag("-q,--quiet", o->quiet, "No progress bar");
  return [=]() {
    o->s.type = synth::parse_file_type(o->type);
    ProgressBar bar("synth", !o->quiet);
    auto r = synth::synthesize(o->s, [&](size_t d, size_t t, const std::string& n) { bar.update(d, t, n); });
    bar.finish();
    std::printf("wrote %s: %s %s %s, %llu parameters, %.2f GB, %.1f s\n", o->s.out.c_str(), o->s.arch.c_str(),
                o->s.preset.c_str(), synth::file_type_name(o->s.type).c_str(),
                static_cast<unsigned long long>(r.n_params), static_cast<double>(r.file_bytes) / 1e9, r.seconds);
    return 0;
  };
}

}  // namespace larql::cli
