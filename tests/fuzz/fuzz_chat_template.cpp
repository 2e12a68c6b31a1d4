// libFuzzer target for chat templates: lexes, parses and renders any input
// with a chat-like context. Every failure must be larql::Error; rendering must
// stay within its limits (no crash, hang, or unbounded memory).
//
// Input: the template text; if it contains a NUL byte, the bytes after it are
// tried as a JSON object of extra context variables.
#include <cstddef>
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "chat/chat.h"
#include "util/error.h"

namespace {

const nlohmann::ordered_json& base_context() {
  static const nlohmann::ordered_json ctx = nlohmann::ordered_json::parse(R"({
    "messages": [
      {"role": "system", "content": "You are a helpful assistant"},
      {"role": "user", "content": "Hello \u00e9\u00e8 \ud83d\ude00"},
      {"role": "assistant", "content": null, "tool_calls": [
        {"id": "call12345", "type": "function", "function": {"name": "get_weather", "arguments": {"city": "Paris"}}}]},
      {"role": "tool", "tool_call_id": "call12345", "content": "{\"t\": 22}"},
      {"role": "assistant", "content": "   spaced   "},
      {"role": "user", "content": [{"type": "text", "text": "parts"}, {"type": "image"}]}
    ],
    "tools": [{"type": "function", "function": {"name": "get_weather", "description": "Weather",
               "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}],
    "documents": null,
    "add_generation_prompt": true,
    "bos_token": "<s>",
    "eos_token": "</s>",
    "n": 3, "f": 1.5, "big": 9223372036854775807, "flag": false
  })");
  return ctx;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  const size_t nul = input.find('\0');
  const std::string tmpl = input.substr(0, nul);
  nlohmann::ordered_json ctx = base_context();
  if (nul != std::string::npos) {
    auto extra = nlohmann::ordered_json::parse(input.substr(nul + 1), nullptr, false);
    if (extra.is_object())
      for (auto it = extra.begin(); it != extra.end(); ++it) ctx[it.key()] = it.value();
  }
  larql::chat::RenderOptions opt;
  opt.limits.max_output = 1 << 20;
  opt.limits.max_steps = 200000;
  opt.limits.max_call_depth = 32;
  try {
    const auto t = larql::chat::Template::parse(tmpl);
    (void)t.render(ctx, opt);
  } catch (const larql::Error&) {
  }
  return 0;
}
