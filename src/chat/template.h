// A Jinja2-subset template engine for chat templates: parse once, render many
// times. Semantics follow Jinja2 as Hugging Face configures it for
// apply_chat_template (ImmutableSandboxedEnvironment, trim_blocks,
// lstrip_blocks, loop controls, tojson/raise_exception/strftime_now).
// docs/chat-templates.md lists what is supported.
#pragma once
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "chat/eval.h"
#include "util/error.h"

namespace larql::chat {

// Thrown when a template calls raise_exception(msg); message() is msg.
class TemplateRaised : public Error {
 public:
  explicit TemplateRaised(const std::string& msg) : Error("chat template: " + msg), message_(msg) {}
  const std::string& message() const { return message_; }

 private:
  std::string message_;
};

class Template {
 public:
  // Throws larql::Error "chat template: syntax error at line L:C: ..." on bad input.
  static Template parse(const std::string& text);

  // Renders with the members of `context` (a JSON object) as variables.
  // Errors: larql::Error naming the line:column; TemplateRaised for raise_exception().
  std::string render(const nlohmann::json& context, const RenderOptions& opt = {}) const;
  std::string render(const nlohmann::ordered_json& context, const RenderOptions& opt = {}) const;
  std::string render(const Value& context, const RenderOptions& opt = {}) const;

 private:
  std::shared_ptr<const Body> body_;
};

}  // namespace larql::chat
