// The chat API the CLI uses: built-in templates, --chat-template resolution,
// template selection and tokenizer_config.json helpers.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "chat/chat.h"

namespace {

namespace fs = std::filesystem;
using namespace larql::chat;

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const larql::Error& e) {
    return e.what();
  }
  return "(no error)";
}

class TempDir {
 public:
  TempDir() {
    path_ = fs::temp_directory_path() / ("larql-chat-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter_++));
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  fs::path write(const std::string& name, const std::string& text) const {
    std::ofstream(path_ / name, std::ios::binary) << text;
    return path_ / name;
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
  static inline int counter_ = 0;
};

TEST(ChatApi, BuiltinTemplates) {
  const auto names = builtin_template_names();
  for (const char* n : {"chatml", "llama3", "llama2", "mistral", "gemma", "phi3", "deepseek", "deepseek2", "zephyr"})
    EXPECT_NE(std::find(names.begin(), names.end(), n), names.end()) << n;
  for (const auto& n : names) {
    ASSERT_NE(builtin_template(n), nullptr) << n;
    EXPECT_NO_THROW(Template::parse(builtin_template(n))) << n;
  }
  EXPECT_EQ(builtin_template("mixtral"), builtin_template("mistral"));
  EXPECT_EQ(builtin_template("phi-3"), builtin_template("phi3"));
  EXPECT_EQ(builtin_template("no-such-template"), nullptr);
  EXPECT_EQ(render_chat(builtin_template("chatml"), {{"user", "Hi"}}, true, "", ""),
            "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
}

TEST(ChatApi, ResolveTemplateOption) {
  EXPECT_EQ(resolve_template_option("llama3"), builtin_template("llama3"));
  TempDir dir;
  EXPECT_EQ(resolve_template_option(dir.write("t.jinja", "{{ 1 }}").string()), "{{ 1 }}");
  EXPECT_EQ(resolve_template_option(dir.write("tokenizer_config.json", R"({"chat_template": "X{{ 2 }}"})").string()), "X{{ 2 }}");
  // A model folder: tokenizer_config.json inside it.
  EXPECT_EQ(resolve_template_option(dir.path().string()), "X{{ 2 }}");
  // chat_template.jinja (newer transformers) wins over tokenizer_config.json.
  dir.write("chat_template.jinja", "J");
  EXPECT_EQ(resolve_template_option(dir.path().string()), "J");
  // The list form: named templates.
  const auto list = dir.write("named.json",
                              R"({"chat_template": [{"name": "tool_use", "template": "T"}, {"name": "default", "template": "D"}]})");
  EXPECT_EQ(resolve_template_option(list.string()), "D");

  const std::string e = error_of([] { resolve_template_option("/no/such/file.jinja"); });
  EXPECT_NE(e.find("neither a built-in template"), std::string::npos) << e;
  EXPECT_NE(e.find("chatml"), std::string::npos) << e;
  const auto bad = dir.write("bad.json", "{not json");
  EXPECT_NE(error_of([&] { resolve_template_option(bad.string()); }).find("not valid JSON"), std::string::npos);
  const auto none = dir.write("none.json", R"({"bos_token": "<s>"})");
  EXPECT_NE(error_of([&] { resolve_template_option(none.string()); }).find("has no chat_template"), std::string::npos);
}

TEST(ChatApi, SelectTemplate) {
  EXPECT_EQ(select_chat_template("", "{{ model }}"), "{{ model }}");
  EXPECT_EQ(select_chat_template("chatml", "{{ model }}"), builtin_template("chatml"));
  const std::string e = error_of([] { select_chat_template("", " \n "); });
  EXPECT_NE(e.find("no chat template in the model; pass --chat-template"), std::string::npos) << e;
  EXPECT_FALSE(has_chat_template(""));
  EXPECT_FALSE(has_chat_template("  \n\t"));
  EXPECT_TRUE(has_chat_template("{{ x }}"));
}

TEST(ChatApi, HfConfigHelpers) {
  using nlohmann::json;
  EXPECT_EQ(hf_chat_template(json::parse(R"({"chat_template": "T"})")), "T");
  EXPECT_EQ(hf_chat_template(json::parse(R"({"eos_token": "x"})")), "");
  EXPECT_EQ(hf_chat_template(json::parse(R"({"chat_template": null})")), "");
  const json named = json::parse(R"({"chat_template": [{"name": "default", "template": "D"}, {"name": "rag", "template": "R"}]})");
  EXPECT_EQ(hf_chat_template(named), "D");
  EXPECT_EQ(hf_chat_template(named, "rag"), "R");
  EXPECT_THROW(hf_chat_template(json::parse(R"({"chat_template": [{"name": 1}]})")), larql::Error);
  EXPECT_EQ(hf_token_text(json("<s>")), "<s>");
  EXPECT_EQ(hf_token_text(json::parse(R"({"__type": "AddedToken", "content": "<|im_end|>", "lstrip": false})")), "<|im_end|>");
  EXPECT_EQ(hf_token_text(json()), "");
}

TEST(ChatApi, RenderChatContext) {
  // tools and documents default to none; extra members are added or override.
  const std::string t = "{{ tools }}|{{ documents }}|{{ foo }}|{{ add_generation_prompt }}|{{ bos_token }}{{ eos_token }}|{{ messages|length }}";
  EXPECT_EQ(render_chat(t, {{"user", "a"}}, true, "<s>", "</s>"), "None|None||True|<s></s>|1");
  EXPECT_EQ(render_chat(t, {}, false, "", "", {{"foo", 7}, {"tools", {1, 2}}}), "[1, 2]|None|7|False||0");
  EXPECT_THROW(render_chat(t, {}, false, "", "", nlohmann::json::array()), larql::Error);
  EXPECT_THROW(render_chat_json(t, nlohmann::ordered_json::object(), false, "", ""), larql::Error);
}

}  // namespace
