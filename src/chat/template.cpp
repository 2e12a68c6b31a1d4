#include "chat/template.h"

#include "chat/json_value.h"
#include "chat/parser.h"

namespace larql::chat {

Template Template::parse(const std::string& text) {
  Template t;
  t.body_ = std::make_shared<const Body>(chat::parse(tokenize(text)));
  return t;
}

[[noreturn]] static void rethrow(const EvalError& e) {
  if (e.raised) throw TemplateRaised(e.msg);
  std::string where = e.line ? "error at line " + std::to_string(e.line) + ":" + std::to_string(e.col) + ": " : "error: ";
  throw Error("chat template: " + where + e.msg);
}

std::string Template::render(const Value& context, const RenderOptions& opt) const {
  try {
    Evaluator ev(opt);
    return ev.render(*body_, context);
  } catch (const EvalError& e) {
    rethrow(e);
  }
}

std::string Template::render(const nlohmann::json& context, const RenderOptions& opt) const {
  try {
    return render(from_json(context), opt);
  } catch (const EvalError& e) {
    rethrow(e);
  }
}

std::string Template::render(const nlohmann::ordered_json& context, const RenderOptions& opt) const {
  try {
    return render(from_json(context), opt);
  } catch (const EvalError& e) {
    rethrow(e);
  }
}

}  // namespace larql::chat
