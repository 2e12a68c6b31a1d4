// larql run MODEL ["prompt"] and larql chat MODEL: generation and multi-turn chat.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>
#include <unistd.h>
#include <nlohmann/json.hpp>

#include "chat/chat.h"
#include "cli/commands.h"
#include "cli/model_path.h"
#include "engine/expert_cache.h"
#include "engine/generate.h"
#include "kernels/numerics.h"
#include "util/error.h"

namespace larql::cli {

std::vector<int32_t> parse_token_list(const std::string& s, int64_t n_vocab);

namespace {

struct GenOpts {
  std::string model, prompt, prompt_ids, chat_template, system, kv = "f32", numerics = "llama.cpp";
  int64_t n_predict = 128;
  int64_t ctx = 0;
  int threads = 0;
  bool greedy = false, json = false, no_stream = false;
  std::vector<std::string> stop;
  SamplingParams sp;
  std::string seed = "";
  double ram_budget = 0;  // GiB; 0 = experts read through the mapping
  std::string expert_policy = "lfu";
};

void add_generation_options(CLI::App* sub, GenOpts& o) {
  sub->add_option("-n,--n-predict", o.n_predict, "Tokens to generate (-1: until end of generation)")->default_val(128);
  sub->add_option("--temp", o.sp.temperature, "Temperature (0 = greedy)")->default_val(0.8);
  sub->add_option("--top-k", o.sp.top_k, "Top-k (0 = off)")->default_val(40);
  sub->add_option("--top-p", o.sp.top_p, "Top-p (1 = off)")->default_val(0.95);
  sub->add_option("--min-p", o.sp.min_p, "Min-p (0 = off)")->default_val(0.05);
  sub->add_option("--repeat-penalty", o.sp.repeat_penalty, "Repetition penalty (1 = off)")->default_val(1.0);
  sub->add_option("--repeat-last-n", o.sp.repeat_last_n, "Tokens the penalties look back over")->default_val(64);
  sub->add_option("--frequency-penalty", o.sp.frequency_penalty, "Frequency penalty")->default_val(0.0);
  sub->add_option("--presence-penalty", o.sp.presence_penalty, "Presence penalty")->default_val(0.0);
  sub->add_option("--seed", o.seed, "Random seed (default: random)");
  sub->add_flag("--greedy", o.greedy, "Always take the most likely token");
  sub->add_option("--stop", o.stop, "Stop string (repeatable)");
  sub->add_option("-c,--ctx", o.ctx, "Context length in tokens (default: min(model, 4096))");
  sub->add_option("-t,--threads", o.threads, "Threads (default: all cores)");
  sub->add_option("--kv", o.kv, "KV cache type: f32|f16")->default_val("f32");
  sub->add_option("--numerics", o.numerics,
                  "Operation order to reproduce bit for bit: llama.cpp (default, fast) or ik_llama.cpp (scalar)")
      ->default_val("llama.cpp");
  sub->add_option("--ram-budget", o.ram_budget, "MoE: keep resident memory under this many GiB (expert cache; docs/moe.md)");
  sub->add_option("--expert-policy", o.expert_policy, "MoE --ram-budget eviction: lru|lfu")->default_val("lfu");
}

// Where routed experts come from: with --ram-budget, an expert cache sized for
// one session of o.ctx tokens and prompts of up to n_batch tokens in one step
// (run: the prompt; chat: 512); otherwise packed copies when they fit in RAM.
void prepare_experts(Model& m, const GenOpts& o, int64_t n_batch) {
  if (o.ram_budget <= 0) {
    pack_experts(m);  // fits in RAM: the packed expert kernels
    return;
  }
  const KVType kv = o.kv == "f16" ? KVType::F16 : KVType::F32;
  const BudgetPlan p = enable_ram_budget(m, o.ram_budget, parse_expert_policy(o.expert_policy), o.ctx, 1, kv,
                                         std::max<int64_t>(n_batch, 1));
  std::fprintf(stderr, "larql: %s, policy %s\n", p.describe().c_str(), o.expert_policy.c_str());
}

KVType kv_type_from(const GenOpts& o) {
  set_numerics(parse_numerics(o.numerics));  // every generating command passes here
  if (o.kv == "f32") return KVType::F32;
  if (o.kv == "f16") return KVType::F16;
  throw Error("--kv must be f32 or f16");
}

SamplingParams sampling_from(const GenOpts& o) {
  SamplingParams sp = o.sp;
  sp.greedy = o.greedy;
  if (o.seed.empty()) {
    sp.seed = SamplingParams::kRandomSeed;
  } else {
    try {
      sp.seed = std::stoull(o.seed);
    } catch (const std::exception&) {
      throw Error("--seed must be a non-negative integer");
    }
  }
  return sp;
}

Session make_session(const Model& m, const GenOpts& o) {
  SessionOptions so;
  so.n_threads = o.threads;
  so.n_ctx = o.ctx;
  so.kv_type = kv_type_from(o);
  return Session(m, so);
}

int chat_loop(const Model& model, const GenOpts& o) {
  std::string tmpl = chat::select_chat_template(o.chat_template, model.source().chat_template());
  const Tokenizer& tok = model.tokenizer();
  const std::string bos = tok.bos_id() >= 0 ? tok.token_to_piece(tok.bos_id()) : "";
  const std::string eos = tok.eos_id() >= 0 ? tok.token_to_piece(tok.eos_id()) : "";
  SessionOptions so;
  so.n_threads = o.threads;
  so.n_ctx = o.ctx;
  so.kv_type = kv_type_from(o);
  Session s(model, so);
  std::vector<int32_t> cached;
  std::vector<chat::Message> msgs;
  if (!o.system.empty()) msgs.push_back({"system", o.system});
  GenerateOptions go;
  go.n_predict = o.n_predict;
  go.sampling = sampling_from(o);
  go.stop_strings = o.stop;
  const bool tty = ::isatty(0);
  std::string line;
  for (;;) {
    if (tty) std::fprintf(stderr, "\n> ");
    if (!std::getline(std::cin, line)) break;
    if (line == "/exit" || line == "/quit") break;
    if (line.empty()) continue;
    msgs.push_back({"user", line});
    std::string text = chat::render_chat(tmpl, msgs, true, bos, eos);
    // The template writes BOS itself when the model wants it, so no special tokens are added here.
    std::vector<int32_t> prompt = tok.encode(text, false, true);
    if (static_cast<int64_t>(prompt.size()) + 8 > s.n_ctx()) {
      std::fprintf(stderr, "larql: the conversation no longer fits the %lld-token context; start a new chat\n",
                   static_cast<long long>(s.n_ctx()));
      return 1;
    }
    auto r = generate(s, prompt, go, [](const std::string& t) {
      std::fwrite(t.data(), 1, t.size(), stdout);
      std::fflush(stdout);
      return true;
    }, &cached);
    std::printf("\n");
    std::fflush(stdout);
    msgs.push_back({"assistant", r.text});
  }
  return 0;
}

}  // namespace

Runner add_run(CLI::App& app) {
  auto* sub = app.add_subcommand("run", "Generate text from a prompt (no prompt: interactive chat)");
  auto o = std::make_shared<GenOpts>();
  sub->add_option("MODEL", o->model, "GGUF file or safetensors folder")->required();
  sub->add_option("PROMPT", o->prompt, "Prompt text (BOS added as the model's tokenizer says)");
  sub->add_option("--prompt-ids", o->prompt_ids, "Token ids instead of text, comma-separated, used as given");
  sub->add_flag("--json", o->json, "Print one JSON object with ids, text and timings");
  sub->add_option("--chat-template", o->chat_template, "Chat mode: built-in name or Jinja file");
  sub->add_option("--system", o->system, "Chat mode: system message");
  add_generation_options(sub, *o);
  return [=]() {
    auto model = load_model(o->model);
    if (o->prompt.empty() && o->prompt_ids.empty()) {
      prepare_experts(*model, *o, 512);
      return chat_loop(*model, *o);
    }
    const Tokenizer& tok = model->tokenizer();
    std::vector<int32_t> prompt = !o->prompt_ids.empty() ? parse_token_list(o->prompt_ids, model->hparams().n_vocab)
                                                         : tok.encode(o->prompt, true, true);
    prepare_experts(*model, *o, static_cast<int64_t>(prompt.size()));
    Session s = make_session(*model, *o);
    GenerateOptions go;
    go.n_predict = o->n_predict;
    go.sampling = sampling_from(*o);
    go.stop_strings = o->stop;
    auto r = generate(s, prompt, go, [&](const std::string& t) {
      if (!o->json) {
        std::fwrite(t.data(), 1, t.size(), stdout);
        std::fflush(stdout);
      }
      return true;
    });
    const double pp = r.prefill_ms > 0 ? 1000.0 * static_cast<double>(r.n_prompt) / r.prefill_ms : 0;
    const int64_t n_dec = static_cast<int64_t>(r.tokens.size()) - 1;
    const double tg = r.decode_ms > 0 && n_dec > 0 ? 1000.0 * static_cast<double>(n_dec) / r.decode_ms : 0;
    if (o->json) {
      nlohmann::json j = {{"prompt_ids", prompt},
                          {"generated_ids", r.tokens},
                          {"text", r.text},
                          {"finish_reason", r.finish_reason},
                          {"timings",
                           {{"prompt_tokens", r.n_prompt}, {"prompt_ms", r.prefill_ms}, {"prompt_tok_s", pp},
                            {"generated_tokens", r.tokens.size()}, {"decode_ms", r.decode_ms}, {"decode_tok_s", tg}}}};
      std::printf("%s\n", j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
    } else {
      std::printf("\n");
      std::fprintf(stderr, "[prompt %lld tokens, %.1f tok/s | generated %zu tokens, %.1f tok/s | %s]\n",
                   static_cast<long long>(r.n_prompt), pp, r.tokens.size(), tg, r.finish_reason.c_str());
    }
    return 0;
  };
}

Runner add_chat(CLI::App& app) {
  auto* sub = app.add_subcommand("chat", "Multi-turn chat using the model's chat template (reads stdin; /exit ends)");
  auto o = std::make_shared<GenOpts>();
  sub->add_option("MODEL", o->model, "GGUF file or safetensors folder")->required();
  sub->add_option("--chat-template", o->chat_template, "Built-in template name or Jinja file (overrides the model's)");
  sub->add_option("--system", o->system, "System message");
  add_generation_options(sub, *o);
  return [=]() {
    auto model = load_model(o->model);
    prepare_experts(*model, *o, 512);
    return chat_loop(*model, *o);
  };
}

}  // namespace larql::cli
