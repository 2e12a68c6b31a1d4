// The generation loop shared by `run`, `chat` and (later) the server:
// prefill the prompt in one batch, then sample, stream text, and stop on an
// end-of-generation token, a stop string, the token limit or a full context.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "engine/sampling.h"
#include "engine/session.h"
#include "engine/stop.h"

namespace larql {

struct GenerateOptions {
  int64_t n_predict = 128;               // < 0: until EOG or the context is full
  SamplingParams sampling;
  std::vector<std::string> stop_strings;
  bool ignore_eog = false;
};

struct GenerateResult {
  std::vector<int32_t> tokens;           // generated ids (including a final EOG id)
  std::string text;                      // streamed text (stop string and EOG excluded)
  std::string finish_reason;             // "eog", "stop", "length", "context"
  int64_t n_prompt = 0;
  int64_t n_reused = 0;                  // prompt tokens whose KV cache was kept
  double prefill_ms = 0, decode_ms = 0;
};

// Evaluates `prompt` starting after the longest prefix already in the session
// (so multi-turn chat reuses its KV cache), then generates. on_text receives
// each newly completed piece of text; returning false stops generation.
GenerateResult generate(Session& session, const std::vector<int32_t>& prompt, const GenerateOptions& opt,
                        const std::function<bool(const std::string&)>& on_text = nullptr,
                        std::vector<int32_t>* session_tokens = nullptr);

}  // namespace larql
