// larql logits MODEL --tokens 1,2,3 --out FILE | --json --top K
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <numeric>

#include "cli/commands.h"
#include "cli/model_path.h"
#include "engine/session.h"
#include "kernels/numerics.h"
#include "util/error.h"

namespace larql::cli {

std::vector<int32_t> parse_token_list(const std::string& s, int64_t n_vocab);

Runner add_logits(CLI::App& app) {
  auto* sub = app.add_subcommand("logits", "Write the logits of every position for a list of token ids");
  struct Opts {
    std::string model, tokens, out, kv = "f32", numerics = "llama.cpp";
    bool json = false;
    int top = 5, threads = 0;
  };
  auto o = std::make_shared<Opts>();
  sub->add_option("MODEL", o->model, "GGUF file or safetensors folder")->required();
  sub->add_option("--tokens", o->tokens, "Token ids, comma-separated, used as given (no BOS added)")->required();
  sub->add_option("--out", o->out, "Write float32 logits, row-major [n_tokens, n_vocab]");
  sub->add_flag("--json", o->json, "Print the top-K tokens per position as JSON instead");
  sub->add_option("--top", o->top, "K for --json")->default_val(5);
  sub->add_option("--kv", o->kv, "KV cache type: f32|f16")->default_val("f32");
  sub->add_option("-t,--threads", o->threads, "Threads (default: all cores)");
  sub->add_option("--numerics", o->numerics,
                  "Operation order to reproduce bit for bit: llama.cpp (default, fast) or ik_llama.cpp (scalar)")
      ->default_val("llama.cpp");
  return [=]() {
    if (o->out.empty() && !o->json) throw Error("logits: give --out FILE or --json");
    set_numerics(parse_numerics(o->numerics));
    if (o->kv != "f32" && o->kv != "f16") throw Error("--kv must be f32 or f16");
    auto model = load_model(o->model);
    auto toks = parse_token_list(o->tokens, model->hparams().n_vocab);
    if (toks.empty()) throw Error("--tokens is empty");
    SessionOptions so;
    so.n_threads = o->threads;
    so.kv_type = o->kv == "f16" ? KVType::F16 : KVType::F32;
    so.n_ctx = std::max<int64_t>(static_cast<int64_t>(toks.size()), 512);
    Session s(*model, so);
    std::vector<float> logits;
    s.eval(toks.data(), static_cast<int64_t>(toks.size()), true, logits);
    const int64_t V = model->hparams().n_vocab;
    if (!o->out.empty()) {
      FILE* f = std::fopen(o->out.c_str(), "wb");
      if (!f) throw Error("cannot write '" + o->out + "'");
      bool ok = std::fwrite(logits.data(), sizeof(float), logits.size(), f) == logits.size();
      ok = std::fclose(f) == 0 && ok;
      if (!ok) throw Error("writing '" + o->out + "' failed");
    }
    if (o->json) {
      nlohmann::json j = nlohmann::json::array();
      const int k = std::clamp<int>(o->top, 1, static_cast<int>(V));
      std::vector<int32_t> idx(static_cast<size_t>(V));
      for (size_t t = 0; t < toks.size(); ++t) {
        const float* l = logits.data() + t * V;
        std::iota(idx.begin(), idx.end(), 0);
        std::partial_sort(idx.begin(), idx.begin() + k, idx.end(), [&](int32_t a, int32_t b) {
          return l[a] > l[b] || (l[a] == l[b] && a < b);
        });
        nlohmann::json row = {{"position", t}, {"token", toks[t]}, {"top", nlohmann::json::array()}};
        for (int i = 0; i < k; ++i)
          row["top"].push_back({{"id", idx[static_cast<size_t>(i)]},
                                {"piece", model->tokenizer().token_to_piece(idx[static_cast<size_t>(i)])},
                                {"logit", l[idx[static_cast<size_t>(i)]]}});
        j.push_back(row);
      }
      std::printf("%s\n", j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
    }
    return 0;
  };
}

}  // namespace larql::cli
