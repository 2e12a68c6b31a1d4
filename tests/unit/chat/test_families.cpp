// Real templates of the common model families with expected prompts derived
// by hand from the Jinja semantics (independent of the recorded Jinja2 data).
#include <gtest/gtest.h>

#include "chat/chat.h"
#include "chat_test_util.h"
#include "format/gguf.h"
#include "../test_paths.h"

namespace {

using larql::chat::Message;
using larql::chat::render_chat;
using larql::chat::render_chat_json;
using larql::test::chat_data_dir;
using larql::test::read_file;
using ojson = nlohmann::ordered_json;

std::string tmpl(const std::string& name) { return read_file(chat_data_dir() + "/templates/" + name + ".jinja"); }

// llama.cpp's test conversation.
const std::vector<Message> kConversation = {
    {"system", "You are a helpful assistant"}, {"user", "Hello"}, {"assistant", "Hi there"},
    {"user", "Who are you"}, {"assistant", "   I am an assistant   "}, {"user", "Another question"},
};

std::string raised_message(const std::function<void()>& f) {
  try {
    f();
  } catch (const larql::chat::TemplateRaised& e) {
    return e.message();
  }
  return "(nothing raised)";
}

TEST(ChatFamilies, ChatMLOpenHermes) {
  EXPECT_EQ(render_chat(tmpl("llamacpp-test-teknium-OpenHermes-2.5-Mistral-7B"), kConversation, true, "", ""),
            "<|im_start|>system\nYou are a helpful assistant<|im_end|>\n"
            "<|im_start|>user\nHello<|im_end|>\n"
            "<|im_start|>assistant\nHi there<|im_end|>\n"
            "<|im_start|>user\nWho are you<|im_end|>\n"
            "<|im_start|>assistant\n   I am an assistant   <|im_end|>\n"
            "<|im_start|>user\nAnother question<|im_end|>\n"
            "<|im_start|>assistant\n");
}

TEST(ChatFamilies, Qwen25DefaultSystemAndToolCalls) {
  const std::string t = tmpl("Qwen-Qwen2.5-7B-Instruct");
  EXPECT_EQ(render_chat(t, {{"user", "Hi"}}, true, "", "<|im_end|>"),
            "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n"
            "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");

  const ojson messages = ojson::parse(R"([
    {"role": "user", "content": "Hi"},
    {"role": "assistant", "content": "", "tool_calls": [{"type": "function", "function": {"name": "f", "arguments": {"x": 1}}}]},
    {"role": "tool", "content": "ok"},
    {"role": "tool", "content": "ok2"}])");
  const ojson extra = ojson::parse(R"({"tools": [{"type": "function", "function": {"name": "f", "parameters": {}}}]})");
  EXPECT_EQ(render_chat_json(t, messages, true, "", "<|im_end|>", extra),
            "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.\n\n# Tools\n\n"
            "You may call one or more functions to assist with the user query.\n\n"
            "You are provided with function signatures within <tools></tools> XML tags:\n<tools>\n"
            "{\"type\": \"function\", \"function\": {\"name\": \"f\", \"parameters\": {}}}\n</tools>\n\n"
            "For each function call, return a json object with function name and arguments within "
            "<tool_call></tool_call> XML tags:\n<tool_call>\n{\"name\": <function-name>, \"arguments\": "
            "<args-json-object>}\n</tool_call><|im_end|>\n"
            "<|im_start|>user\nHi<|im_end|>\n"
            "<|im_start|>assistant\n<tool_call>\n{\"name\": \"f\", \"arguments\": {\"x\": 1}}\n</tool_call><|im_end|>\n"
            "<|im_start|>user\n<tool_response>\nok\n</tool_response>\n<tool_response>\nok2\n</tool_response><|im_end|>\n"
            "<|im_start|>assistant\n");
}

TEST(ChatFamilies, Llama3) {
  EXPECT_EQ(render_chat(tmpl("meta-llama-Meta-Llama-3-8B-Instruct"), kConversation, true, "<|begin_of_text|>", "<|eot_id|>"),
            "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nYou are a helpful assistant<|eot_id|>"
            "<|start_header_id|>user<|end_header_id|>\n\nHello<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\nHi there<|eot_id|>"
            "<|start_header_id|>user<|end_header_id|>\n\nWho are you<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\nI am an assistant<|eot_id|>"
            "<|start_header_id|>user<|end_header_id|>\n\nAnother question<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\n");
}

TEST(ChatFamilies, Llama31DateHeader) {
  const std::string t = tmpl("meta-llama-Llama-3.1-8B-Instruct");
  const std::vector<Message> m = {{"system", "Be brief."}, {"user", "Hello"}};
  // Without date_string the template uses its default, 26 Jul 2024.
  EXPECT_EQ(render_chat(t, m, true, "<|begin_of_text|>", "<|eot_id|>"),
            "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n"
            "Cutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\nBe brief.<|eot_id|>"
            "<|start_header_id|>user<|end_header_id|>\n\nHello<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\n");
  EXPECT_EQ(render_chat(t, m, false, "<|begin_of_text|>", "<|eot_id|>", {{"date_string", "01 Jan 2025"}}),
            "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n"
            "Cutting Knowledge Date: December 2023\nToday Date: 01 Jan 2025\n\nBe brief.<|eot_id|>"
            "<|start_header_id|>user<|end_header_id|>\n\nHello<|eot_id|>");
}

TEST(ChatFamilies, Llama32DateFromClock) {
  // Llama 3.2 asks strftime_now("%d %b %Y") when no date_string is given.
  const ojson m = ojson::parse(R"([{"role": "user", "content": "Hi"}])");
  const std::string out = render_chat_json(tmpl("meta-llama-Llama-3.2-3B-Instruct"), m, true, "<|begin_of_text|>",
                                           "<|eot_id|>", ojson::object(), larql::test::fixed_clock());
  EXPECT_NE(out.find("Today Date: 26 Jul 2024\n"), std::string::npos) << out;
}

TEST(ChatFamilies, Gemma2RejectsSystemRole) {
  const std::string t = tmpl("google-gemma-2-2b-it");
  EXPECT_EQ(raised_message([&] { render_chat(t, kConversation, true, "<bos>", "<eos>"); }), "System role not supported");
  EXPECT_EQ(raised_message([&] { render_chat(t, {{"user", "a"}, {"user", "b"}}, true, "<bos>", "<eos>"); }),
            "Conversation roles must alternate user/assistant/user/assistant/...");
  EXPECT_EQ(render_chat(t, {{"user", " Hi "}, {"assistant", "Hello!"}}, true, "<bos>", "<eos>"),
            "<bos><start_of_turn>user\nHi<end_of_turn>\n<start_of_turn>model\nHello!<end_of_turn>\n"
            "<start_of_turn>model\n");
}

TEST(ChatFamilies, Gemma3FoldsSystemIntoFirstTurn) {
  const std::string t = tmpl("google-gemma-3-it");
  EXPECT_EQ(render_chat(t, {{"system", "Be kind."}, {"user", "Hello"}}, true, "<bos>", "<eos>"),
            "<bos><start_of_turn>user\nBe kind.\n\nHello<end_of_turn>\n<start_of_turn>model\n");
  EXPECT_EQ(raised_message([&] { render_chat(t, {{"assistant", "x"}}, true, "<bos>", "<eos>"); }),
            "Conversation roles must alternate user/assistant/user/assistant/...");
  // Content given as parts (text and image).
  const ojson parts = ojson::parse(
      R"([{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": " What is it? "}]}])");
  EXPECT_EQ(render_chat_json(t, parts, true, "<bos>", "<eos>"),
            "<bos><start_of_turn>user\n<start_of_image>What is it?<end_of_turn>\n<start_of_turn>model\n");
}

TEST(ChatFamilies, MistralV03) {
  const std::string t = tmpl("mistralai-Mistral-7B-Instruct-v0.3");
  // The system message goes in front of the last user message.
  EXPECT_EQ(render_chat(t, kConversation, true, "<s>", "</s>"),
            "<s>[INST] Hello[/INST] Hi there</s>[INST] Who are you[/INST] I am an assistant</s>"
            "[INST] You are a helpful assistant\n\nAnother question[/INST]");
  EXPECT_EQ(raised_message([&] { render_chat(t, {{"user", "a"}, {"user", "b"}}, true, "<s>", "</s>"); }),
            "After the optional system message, conversation roles must alternate user/assistant/user/assistant/...");
}

TEST(ChatFamilies, MixtralV1) {
  EXPECT_EQ(render_chat(tmpl("llamacpp-test-mistralai-v1-with-system"), kConversation, true, "<s>", "</s>"),
            "<s> [INST] You are a helpful assistant\n\nHello [/INST] Hi there</s> [INST] Who are you [/INST]"
            "    I am an assistant   </s> [INST] Another question [/INST]");
}

TEST(ChatFamilies, Phi3FromGgufMetadata) {
  LARQL_REQUIRE_FIXTURES();
  auto f = larql::gguf::File::open(larql::test::fixtures_dir() + "/vocab/ggml-vocab-phi-3.gguf");
  const std::string t = f->get_string("tokenizer.chat_template");
  ASSERT_TRUE(larql::chat::has_chat_template(t));
  EXPECT_EQ(t, tmpl("microsoft-Phi-3-mini-4k-instruct"));
  // This early Phi-3 template drops system messages.
  EXPECT_EQ(render_chat(t, kConversation, true, "<s>", "<|endoftext|>"),
            "<s><|user|>\nHello<|end|>\n<|assistant|>\nHi there<|end|>\n<|user|>\nWho are you<|end|>\n"
            "<|assistant|>\n   I am an assistant   <|end|>\n<|user|>\nAnother question<|end|>\n<|assistant|>\n");
}

TEST(ChatFamilies, Phi35) {
  EXPECT_EQ(render_chat(tmpl("microsoft-Phi-3.5-mini-instruct"), {{"system", "S"}, {"user", "U"}}, true, "<s>",
                        "<|endoftext|>"),
            "<|system|>\nS<|end|>\n<|user|>\nU<|end|>\n<|assistant|>\n");
}

TEST(ChatFamilies, DeepSeekV2) {
  EXPECT_EQ(render_chat(tmpl("llamacpp-test-DeepSeek-V2"), kConversation, true, "", "<｜end▁of▁sentence｜>"),
            "You are a helpful assistant\n\nUser: Hello\n\nAssistant: Hi there<｜end▁of▁sentence｜>"
            "User: Who are you\n\nAssistant:    I am an assistant   <｜end▁of▁sentence｜>"
            "User: Another question\n\nAssistant:");
}

TEST(ChatFamilies, DeepSeekV3AndR1) {
  const std::vector<Message> m = {{"system", "S1"}, {"system", "S2"}, {"user", "2+2?"},
                                  {"assistant", "<think>\nadd</think>\n\n4"}, {"user", "3+3?"}};
  const std::string bos = "<｜begin▁of▁sentence｜>", eos = "<｜end▁of▁sentence｜>";
  EXPECT_EQ(render_chat(tmpl("deepseek-ai-DeepSeek-V3"), m, true, bos, eos),
            bos + "S1\n\nS2<｜User｜>2+2?<｜Assistant｜><think>\nadd</think>\n\n4<｜end▁of▁sentence｜>"
                  "<｜User｜>3+3?<｜Assistant｜>");
  // R1 drops the reasoning of earlier turns and opens a <think> block.
  EXPECT_EQ(render_chat(tmpl("deepseek-ai-DeepSeek-R1"), m, true, bos, eos),
            bos + "S1\n\nS2<｜User｜>2+2?<｜Assistant｜>\n\n4<｜end▁of▁sentence｜><｜User｜>3+3?<｜Assistant｜><think>\n");
}

TEST(ChatFamilies, ZephyrTinyLlama) {
  EXPECT_EQ(render_chat(tmpl("TinyLlama-1.1B-Chat-v1.0-zephyr"), {{"system", "S"}, {"user", "Hello"}}, true, "<s>", "</s>"),
            "<|system|>\nS</s>\n<|user|>\nHello</s>\n<|assistant|>\n");
}

TEST(ChatFamilies, SmolLM2DefaultSystem) {
  EXPECT_EQ(render_chat(tmpl("HuggingFaceTB-SmolLM2-Instruct"), {{"user", "Hello"}}, true, "", "<|im_end|>"),
            "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n"
            "<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\n");
}

TEST(ChatFamilies, DeepSeekCoderWhitespaceControl) {
  EXPECT_EQ(render_chat(tmpl("llamacpp-test-deepseek-ai-deepseek-coder-33b-instruct"), kConversation, true, "", ""),
            "You are a helpful assistant### Instruction:\nHello\n### Response:\nHi there\n<|EOT|>\n"
            "### Instruction:\nWho are you\n### Response:\n   I am an assistant   \n<|EOT|>\n"
            "### Instruction:\nAnother question\n### Response:\n");
}

}  // namespace
