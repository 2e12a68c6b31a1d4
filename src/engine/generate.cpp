#include "engine/generate.h"

#include <chrono>

#include "engine/text_stream.h"
#include "util/error.h"

namespace larql {

GenerateResult generate(Session& s, const std::vector<int32_t>& prompt, const GenerateOptions& opt,
                        const std::function<bool(const std::string&)>& on_text,
                        std::vector<int32_t>* session_tokens) {
  using clock = std::chrono::steady_clock;
  const Model& model = s.model();
  const Tokenizer& tok = model.tokenizer();
  const int64_t V = model.hparams().n_vocab;
  GenerateResult r;
  r.n_prompt = static_cast<int64_t>(prompt.size());
  if (prompt.empty()) throw Error("the prompt is empty");
  if (r.n_prompt > s.n_ctx())
    throw Error("the prompt has " + std::to_string(r.n_prompt) + " tokens, more than the " +
                std::to_string(s.n_ctx()) + "-token context (use --ctx to enlarge it)");

  // Reuse the cached prefix; always re-evaluate at least the last prompt token for its logits.
  std::vector<int32_t> local;
  std::vector<int32_t>& hist = session_tokens ? *session_tokens : local;
  size_t keep = 0;
  if (session_tokens) {
    while (keep < hist.size() && keep + 1 < prompt.size() && hist[keep] == prompt[keep] &&
           static_cast<int64_t>(keep) < s.n_past())
      ++keep;
  }
  s.truncate(static_cast<int64_t>(keep));
  hist.resize(keep);
  r.n_reused = static_cast<int64_t>(keep);

  Sampler sampler(opt.sampling);
  for (int32_t t : prompt) sampler.accept(t);  // penalties see the prompt, as in llama.cpp
  StopChecker stop = StopChecker::for_tokenizer(tok, opt.stop_strings);
  TextStream stream(tok, true);
  stream.continue_text();

  std::vector<float> logits;
  auto t0 = clock::now();
  s.eval(prompt.data() + keep, static_cast<int64_t>(prompt.size() - keep), false, logits);
  hist.insert(hist.end(), prompt.begin() + static_cast<long>(keep), prompt.end());
  auto t1 = clock::now();
  r.prefill_ms = std::chrono::duration<double, std::milli>(t1 - t0).count();

  auto emit = [&](const std::string& text) {
    if (text.empty()) return true;
    r.text += text;
    return on_text ? on_text(text) : true;
  };
  bool go = true;
  r.finish_reason = "length";
  for (int64_t i = 0; go && (opt.n_predict < 0 || i < opt.n_predict); ++i) {
    const int32_t next = sampler.sample(logits.data(), static_cast<int32_t>(V));
    sampler.accept(next);
    r.tokens.push_back(next);
    if (!opt.ignore_eog && stop.check_token(next)) {
      r.finish_reason = "eog";
      break;
    }
    go = emit(stop.push(stream.push(next)));
    if (stop.stopped()) {
      r.finish_reason = "stop";
      break;
    }
    if (!go) {
      r.finish_reason = "cancelled";
      break;
    }
    if (opt.n_predict >= 0 && i + 1 >= opt.n_predict) break;
    if (s.n_past() >= s.n_ctx()) {
      r.finish_reason = "context";
      break;
    }
    s.eval(&next, 1, false, logits);
    hist.push_back(next);
  }
  if (!stop.stopped() || r.finish_reason == "eog") {
    std::string tail = stop.push(stream.flush());
    tail += stop.finish();
    emit(tail);
  }
  r.decode_ms = std::chrono::duration<double, std::milli>(clock::now() - t1).count();
  return r;
}

}  // namespace larql
