#include "chat/chat.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "chat/text.h"

namespace larql::chat {

namespace {

nlohmann::ordered_json base_context(bool add_generation_prompt, const std::string& bos, const std::string& eos) {
  nlohmann::ordered_json ctx = nlohmann::ordered_json::object();
  ctx["messages"] = nlohmann::ordered_json::array();
  ctx["tools"] = nullptr;
  ctx["documents"] = nullptr;
  ctx["add_generation_prompt"] = add_generation_prompt;
  ctx["bos_token"] = bos;
  ctx["eos_token"] = eos;
  return ctx;
}

std::string read_text_file(const std::filesystem::path& p) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(p, ec);
  if (ec) throw Error("--chat-template: cannot read '" + p.string() + "': " + ec.message());
  if (size > (size_t{16} << 20)) throw Error("--chat-template: '" + p.string() + "' is over 16 MiB");
  std::ifstream f(p, std::ios::binary);
  if (!f) throw Error("--chat-template: cannot open '" + p.string() + "'");
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::string names_list() {
  std::string s;
  for (const auto& n : builtin_template_names()) s += (s.empty() ? "" : ", ") + n;
  return s;
}

// A tokenizer_config.json (or chat_template.json) file: its chat_template.
std::string template_from_config_file(const std::filesystem::path& p) {
  nlohmann::json cfg;
  try {
    cfg = nlohmann::json::parse(read_text_file(p));
  } catch (const nlohmann::json::exception& e) {
    throw Error("--chat-template: '" + p.string() + "' is not valid JSON: " + e.what());
  }
  std::string t = hf_chat_template(cfg);
  if (t.empty()) throw Error("--chat-template: '" + p.string() + "' has no chat_template");
  return t;
}

}  // namespace

std::string render_chat_json(const std::string& tmpl, const nlohmann::ordered_json& messages,
                             bool add_generation_prompt, const std::string& bos_token,
                             const std::string& eos_token, const nlohmann::ordered_json& extra,
                             const RenderOptions& opt) {
  if (!messages.is_array()) throw Error("render_chat: messages must be a JSON array");
  if (!extra.is_null() && !extra.is_object()) throw Error("render_chat: extra context must be a JSON object");
  nlohmann::ordered_json ctx = base_context(add_generation_prompt, bos_token, eos_token);
  ctx["messages"] = messages;
  if (extra.is_object())
    for (auto it = extra.begin(); it != extra.end(); ++it) ctx[it.key()] = it.value();
  return Template::parse(tmpl).render(ctx, opt);
}

std::string render_chat(const std::string& tmpl, const std::vector<Message>& messages, bool add_generation_prompt,
                        const std::string& bos_token, const std::string& eos_token, const nlohmann::json& extra) {
  nlohmann::ordered_json msgs = nlohmann::ordered_json::array();
  for (const auto& m : messages) {
    nlohmann::ordered_json o = nlohmann::ordered_json::object();
    o["role"] = m.role;
    o["content"] = m.content;
    msgs.push_back(std::move(o));
  }
  nlohmann::ordered_json ex = nlohmann::ordered_json::object();
  if (!extra.is_null()) {
    if (!extra.is_object()) throw Error("render_chat: extra context must be a JSON object");
    for (auto it = extra.begin(); it != extra.end(); ++it) ex[it.key()] = nlohmann::ordered_json::parse(it.value().dump());
  }
  return render_chat_json(tmpl, msgs, add_generation_prompt, bos_token, eos_token, ex);
}

std::string hf_chat_template(const nlohmann::json& cfg, const std::string& name) {
  if (!cfg.is_object()) return "";
  auto it = cfg.find("chat_template");
  if (it == cfg.end() || it->is_null()) return "";
  if (it->is_string()) return it->get<std::string>();
  if (!it->is_array()) throw Error("tokenizer_config.json: chat_template must be a string or a list of {name, template}");
  std::string fallback;
  for (const auto& e : *it) {
    if (!e.is_object() || !e.contains("name") || !e.contains("template") || !e["name"].is_string() ||
        !e["template"].is_string())
      throw Error("tokenizer_config.json: chat_template list entries need string 'name' and 'template'");
    if (e["name"] == name) return e["template"].get<std::string>();
    if (e["name"] == "default") fallback = e["template"].get<std::string>();
  }
  return fallback;
}

std::string hf_token_text(const nlohmann::json& tok) {
  if (tok.is_string()) return tok.get<std::string>();
  if (tok.is_object() && tok.contains("content") && tok["content"].is_string()) return tok["content"].get<std::string>();
  return "";
}

std::string resolve_template_option(const std::string& name_or_path) {
  if (const char* b = builtin_template(name_or_path)) return b;
  namespace fs = std::filesystem;
  const fs::path p(name_or_path);
  std::error_code ec;
  if (fs::is_directory(p, ec)) {
    // A Hugging Face model folder: chat_template.jinja, chat_template.json, or tokenizer_config.json.
    if (fs::is_regular_file(p / "chat_template.jinja", ec)) return read_text_file(p / "chat_template.jinja");
    if (fs::is_regular_file(p / "chat_template.json", ec)) return template_from_config_file(p / "chat_template.json");
    if (fs::is_regular_file(p / "tokenizer_config.json", ec)) return template_from_config_file(p / "tokenizer_config.json");
    throw Error("--chat-template: folder '" + name_or_path + "' has no chat_template.jinja or tokenizer_config.json");
  }
  if (fs::is_regular_file(p, ec)) {
    if (p.extension() == ".json") return template_from_config_file(p);
    return read_text_file(p);
  }
  throw Error("--chat-template: '" + name_or_path + "' is neither a built-in template (" + names_list() +
              ") nor a readable file");
}

bool has_chat_template(const std::string& t) { return !text::strip(t, nullptr, true, true).empty(); }

std::string select_chat_template(const std::string& option, const std::string& model_template) {
  if (!option.empty()) return resolve_template_option(option);
  if (has_chat_template(model_template)) return model_template;
  throw Error("no chat template in the model; pass --chat-template NAME|FILE (built-in names: " + names_list() + ")");
}

}  // namespace larql::chat
