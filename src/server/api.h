// The OpenAI-compatible request/response shapes: parsing and validating
// request bodies (no model needed, so the fuzzer and unit tests can drive it),
// the error object, and server-sent-event framing.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/sampling.h"

namespace larql::server {

using json = nlohmann::json;
using ojson = nlohmann::ordered_json;

// A request the server refuses: HTTP status plus the OpenAI error fields.
struct ApiError {
  int status = 400;
  std::string message;
  std::string type = "invalid_request_error";
  std::string param;  // "" -> null
  std::string code;   // "" -> null
};

// {"error": {"message", "type", "param", "code"}}
json error_body(const ApiError& e);

// Parses a JSON request body; throws ApiError 400 on invalid JSON or a
// non-object top level.
json parse_body(std::string_view body);

struct CompletionRequest {
  bool chat = false;
  std::string prompt;               // /v1/completions text prompt
  std::vector<int32_t> prompt_ids;  // /v1/completions token prompt (used when non-empty)
  ojson messages;                   // /v1/chat/completions, validated list of {role, content}
  int64_t max_tokens = -1;          // -1: until end of generation or the context is full
  SamplingParams sampling;
  std::vector<std::string> stop;
  bool stream = false;
  bool include_usage = false;       // stream_options.include_usage
  std::string model;
};

// Validates an OpenAI completion / chat completion body. Unknown members are
// ignored (clients send many); known ones with a wrong type or range throw
// ApiError 400 naming the member (param). n must be 1; seed absent -> random.
CompletionRequest parse_completion(const json& body, bool chat);

struct EmbeddingRequest {
  std::vector<std::string> texts;                 // input as text
  std::vector<std::vector<int32_t>> token_lists;  // input as token ids
  std::string model;
};
EmbeddingRequest parse_embedding(const json& body);

// POST /tokenize {"content": str, "add_special": bool=false, "with_pieces": bool=false}
struct TokenizeRequest {
  std::string content;
  bool add_special = false;
  bool with_pieces = false;
};
TokenizeRequest parse_tokenize(const json& body);
// POST /detokenize {"tokens": [int]}; ids are range-checked against n_vocab.
std::vector<int32_t> parse_detokenize(const json& body, int32_t n_vocab);

// POST /v1/lql {"query": str}
std::string parse_lql(const json& body);

// "data: <json>\n\n" (invalid UTF-8 replaced, so a frame is always valid JSON).
std::string sse_event(const json& j);
inline constexpr std::string_view kSseDone = "data: [DONE]\n\n";

// JSON text for a response body (invalid UTF-8 replaced by U+FFFD).
std::string dump(const json& j);

// Maps the engine's finish reasons to OpenAI's ("stop" / "length").
std::string openai_finish_reason(const std::string& engine_reason);

// Bearer-token check in constant time over the key's length.
bool api_key_matches(std::string_view authorization_header, std::string_view key);

}  // namespace larql::server
