// larql perplexity MODEL -f text.txt [--ctx N] [--chunks N]
//
// Same convention as llama.cpp's perplexity tool: the whole file is tokenized
// once (with BOS), cut into chunks of n_ctx tokens, each chunk's first token
// is replaced by BOS, and only the second half of each chunk is scored
// (logits at positions n_ctx/2 .. n_ctx-2 predict the next token).
#include <CLI/CLI.hpp>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli/commands.h"
#include "cli/model_path.h"
#include "engine/session.h"
#include "util/error.h"

namespace larql::cli {

Runner add_perplexity(CLI::App& app) {
  auto* sub = app.add_subcommand("perplexity", "Perplexity of a text file (llama.cpp's chunking convention)");
  struct Opts {
    std::string model, file;
    int64_t ctx = 512;
    int64_t chunks = 0;
    int threads = 0;
    bool json = false;
  };
  auto o = std::make_shared<Opts>();
  sub->add_option("MODEL", o->model, "GGUF file or safetensors folder")->required();
  sub->add_option("-f,--file", o->file, "Text file")->required();
  sub->add_option("-c,--ctx", o->ctx, "Chunk length in tokens")->default_val(512);
  sub->add_option("--chunks", o->chunks, "Evaluate at most this many chunks (0 = all)");
  sub->add_option("-t,--threads", o->threads, "Threads (default: all cores)");
  sub->add_flag("--json", o->json, "Print one JSON object");
  return [=]() {
    std::ifstream in(o->file, std::ios::binary);
    if (!in) throw Error("cannot read '" + o->file + "'");
    std::stringstream ss;
    ss << in.rdbuf();
    auto model = load_model(o->model);
    pack_experts(*model);
    const Tokenizer& tok = model->tokenizer();
    std::vector<int32_t> tokens = tok.encode(ss.str(), true, false);
    const int64_t n_ctx = o->ctx;
    if (n_ctx < 4) throw Error("--ctx must be at least 4");
    if (static_cast<int64_t>(tokens.size()) < 2 * n_ctx)
      throw Error("need at least " + std::to_string(2 * n_ctx) + " tokens for a context of " + std::to_string(n_ctx) +
                  ", the file has " + std::to_string(tokens.size()));
    int64_t n_chunks = static_cast<int64_t>(tokens.size()) / n_ctx;
    if (o->chunks > 0) n_chunks = std::min(n_chunks, o->chunks);
    SessionOptions so;
    so.n_threads = o->threads;
    so.n_ctx = n_ctx;
    Session s(*model, so);
    const int64_t V = model->hparams().n_vocab, first = n_ctx / 2;
    double nll = 0, nll2 = 0;
    int64_t count = 0;
    std::vector<float> logits;
    for (int64_t c = 0; c < n_chunks; ++c) {
      std::vector<int32_t> chunk(tokens.begin() + c * n_ctx, tokens.begin() + (c + 1) * n_ctx);
      if (tok.add_bos() && tok.bos_id() >= 0) chunk[0] = tok.bos_id();
      s.reset();
      s.eval(chunk.data(), n_ctx, true, logits);
      for (int64_t i = first; i < n_ctx - 1; ++i) {
        const float* l = logits.data() + i * V;
        float mx = l[0];
        for (int64_t k = 1; k < V; ++k) mx = std::max(mx, l[k]);
        double sum = 0;
        for (int64_t k = 0; k < V; ++k) sum += std::exp(static_cast<double>(l[k] - mx));
        const double v = -(static_cast<double>(l[chunk[static_cast<size_t>(i + 1)]] - mx) - std::log(sum));
        nll += v;
        nll2 += v * v;
        ++count;
      }
      if (!o->json) {
        std::printf("[%lld]%.4f ", static_cast<long long>(c + 1), std::exp(nll / static_cast<double>(count)));
        std::fflush(stdout);
      }
    }
    const double mean = nll / static_cast<double>(count);
    const double var = nll2 / static_cast<double>(count) - mean * mean;
    const double err = count > 1 ? std::sqrt(std::max(0.0, var) / static_cast<double>(count - 1)) : 0;
    const double ppl = std::exp(mean);
    if (o->json) {
      nlohmann::json j = {{"ppl", ppl}, {"ppl_error", ppl * err}, {"chunks", n_chunks}, {"ctx", n_ctx},
                          {"tokens_scored", count}, {"tokens_in_file", tokens.size()}};
      std::printf("%s\n", j.dump().c_str());
    } else {
      std::printf("\nFinal estimate: PPL = %.4f +/- %.5f (%lld chunks of %lld tokens, %lld tokens scored)\n", ppl,
                  ppl * err, static_cast<long long>(n_chunks), static_cast<long long>(n_ctx),
                  static_cast<long long>(count));
    }
    return 0;
  };
}

}  // namespace larql::cli
