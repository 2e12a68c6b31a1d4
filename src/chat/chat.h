// Chat prompts for `larql chat`: render a model's own tokenizer.chat_template
// (GGUF metadata or Hugging Face tokenizer_config.json) the way Hugging Face's
// apply_chat_template does, or one of a few built-in fallback templates.
#pragma once
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "chat/template.h"

namespace larql::chat {

struct Message {
  std::string role;     // "system", "user", "assistant", "tool", ...
  std::string content;
};

// The template sees: messages, add_generation_prompt, bos_token, eos_token,
// tools = none, documents = none, then every member of `extra` (which may
// override those, e.g. "tools", "date_string", "enable_thinking").
std::string render_chat(const std::string& tmpl, const std::vector<Message>& messages, bool add_generation_prompt,
                        const std::string& bos_token, const std::string& eos_token,
                        const nlohmann::json& extra = {});

// The same with messages as JSON objects (tool_calls, content parts, ...).
// ordered_json keeps key order, which tojson output and dict iteration show.
std::string render_chat_json(const std::string& tmpl, const nlohmann::ordered_json& messages,
                             bool add_generation_prompt, const std::string& bos_token,
                             const std::string& eos_token, const nlohmann::ordered_json& extra = {},
                             const RenderOptions& opt = {});

// Built-in fallback templates: chatml, llama3, llama2, mistral, gemma, phi3,
// deepseek (V3/R1 style), deepseek2 (V2 "User:/Assistant:"), zephyr.
// Returns nullptr for an unknown name.
const char* builtin_template(const std::string& name);
std::vector<std::string> builtin_template_names();

// --chat-template NAME|FILE: a built-in name, a Jinja file, a tokenizer_config.json
// (its chat_template), or a Hugging Face model folder. Throws larql::Error otherwise.
std::string resolve_template_option(const std::string& name_or_path);

// Picks the template for a chat: the --chat-template option if given, else the
// model's own; throws "no chat template in the model; pass --chat-template ..."
// when neither exists.
std::string select_chat_template(const std::string& option, const std::string& model_template);
bool has_chat_template(const std::string& model_template);  // present and not blank

// chat_template from a parsed tokenizer_config.json: a string, or a list of
// {"name", "template"} (returns the one called `name`, else "default"); "" if none.
std::string hf_chat_template(const nlohmann::json& tokenizer_config, const std::string& name = "default");
// A special token from tokenizer_config.json: "text" or {"content": "text", ...}; "" if absent.
std::string hf_token_text(const nlohmann::json& token);

}  // namespace larql::chat
