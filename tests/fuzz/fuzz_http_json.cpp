// libFuzzer target for the server's request handling without a model: any
// bytes as a request body go through every route's parser. Every rejection
// must be an ApiError with a 4xx status and a JSON-serialisable error object;
// accepted requests must satisfy the documented limits.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "server/api.h"
#include "server/path_policy.h"

using namespace larql::server;

namespace {

void check_error(const ApiError& e) {
  if (e.status < 400 || e.status >= 500) std::abort();
  (void)json::parse(dump(error_body(e)));  // always valid JSON, even with invalid UTF-8 in the message
}

template <class F>
void route(F&& f) {
  try {
    f();
  } catch (const ApiError& e) {
    check_error(e);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string body(reinterpret_cast<const char*>(data), size);
  json j;
  try {
    j = parse_body(body);
  } catch (const ApiError& e) {
    check_error(e);
    j = json::object();
  }
  for (bool chat : {false, true})
    route([&] {
      CompletionRequest r = parse_completion(j, chat);
      if (r.stop.size() > 4) std::abort();
      for (const auto& s : r.stop)
        if (s.empty()) std::abort();
      if (r.max_tokens == 0 || r.max_tokens < -1) std::abort();
      if (!(r.sampling.temperature >= 0 && r.sampling.temperature <= 2)) std::abort();
      if (chat && r.messages.empty()) std::abort();
      (void)sse_event(json{{"text", r.prompt}});
    });
  route([&] {
    EmbeddingRequest e = parse_embedding(j);
    if (e.texts.empty() && e.token_lists.empty()) std::abort();
  });
  route([&] { (void)parse_tokenize(j); });
  route([&] {
    for (int32_t t : parse_detokenize(j, 512))
      if (t < 0 || t >= 512) std::abort();
  });
  route([&] {
    const std::string q = parse_lql(j);
    for (const auto& s : split_statements(q)) (void)statement_writes(s);
  });
  for (const auto& s : split_statements(body)) (void)statement_writes(s);
  (void)api_key_matches(body, "sk-key");
  return 0;
}
