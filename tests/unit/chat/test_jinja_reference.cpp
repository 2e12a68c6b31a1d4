// Renders every case in data/*.json and compares with the output of the real
// Jinja2 (configured as Hugging Face's apply_chat_template), recorded by
// gen_expected.py: single constructs, ~50 published model templates over ten
// conversations (tool calls, unicode, errors), and the built-in templates.
#include <gtest/gtest.h>

#include <filesystem>

#include "chat/chat.h"
#include "chat_test_util.h"

namespace {

using larql::test::chat_data_dir;
using larql::test::fixed_clock;
using larql::test::matches;
using larql::test::read_file;
using larql::test::read_json;
using larql::test::run_render;
using ojson = nlohmann::ordered_json;

TEST(ChatJinjaReference, Constructs) {
  const ojson data = read_json(chat_data_dir() + "/constructs.json");
  const auto& cases = data["cases"];
  ASSERT_GE(cases.size(), 200u);
  size_t failed = 0, errors_expected = 0;
  for (const auto& c : cases) {
    const std::string tmpl = c["template"].get<std::string>();
    SCOPED_TRACE("template: " + tmpl);
    auto got = run_render([&] { return larql::chat::Template::parse(tmpl).render(c["context"], fixed_clock()); });
    const auto r = matches(c["expected"], got);
    EXPECT_TRUE(r);
    failed += r ? 0 : 1;
    errors_expected += c["expected"].contains("error") ? 1 : 0;
  }
  EXPECT_GT(errors_expected, 40u);  // the error cases are really exercised
  RecordProperty("cases", static_cast<int>(cases.size()));
  EXPECT_EQ(failed, 0u);
}

void check_renders(const ojson& data, const std::function<std::string(const std::string&)>& template_text,
                   size_t min_cases) {
  const auto& cases = data["cases"];
  ASSERT_GE(cases.size(), min_cases);
  size_t failed = 0;
  for (const auto& c : cases) {
    const std::string name = c["template"].get<std::string>(), convo = c["conversation"].get<std::string>();
    SCOPED_TRACE(name + " / " + convo + (c["add_generation_prompt"].get<bool>() ? " / +generation prompt" : ""));
    const auto& conv = data["conversations"][convo];
    const std::string tmpl = template_text(name);
    auto got = run_render([&] {
      return larql::chat::render_chat_json(tmpl, conv["messages"], c["add_generation_prompt"].get<bool>(),
                                           c["bos_token"].get<std::string>(), c["eos_token"].get<std::string>(),
                                           conv["extra"], fixed_clock());
    });
    const auto r = matches(c["expected"], got);
    EXPECT_TRUE(r);
    failed += r ? 0 : 1;
  }
  EXPECT_EQ(failed, 0u);
}

TEST(ChatJinjaReference, PublishedModelTemplates) {
  const ojson data = read_json(chat_data_dir() + "/model_renders.json");
  check_renders(data, [](const std::string& name) {
    const std::string path = chat_data_dir() + "/templates/" + name + ".jinja";
    EXPECT_TRUE(std::filesystem::exists(path)) << path;
    return read_file(path);
  }, 500);
}

TEST(ChatJinjaReference, BuiltinTemplates) {
  const ojson data = read_json(chat_data_dir() + "/builtin_renders.json");
  check_renders(data, [](const std::string& name) {
    const char* t = larql::chat::builtin_template(name);
    EXPECT_NE(t, nullptr) << name;
    return std::string(t ? t : "");
  }, 90);
  // Every built-in template has reference renders.
  for (const auto& n : larql::chat::builtin_template_names()) {
    bool found = false;
    for (const auto& c : data["cases"]) found = found || c["template"] == n;
    EXPECT_TRUE(found) << n;
  }
}

}  // namespace
