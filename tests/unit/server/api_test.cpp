// Request parsing/validation, error objects, SSE framing, API key check.
#include <gtest/gtest.h>

#include "server/api.h"

using namespace larql::server;

namespace {

int status_of(const json& body, bool chat) {
  try {
    parse_completion(body, chat);
    return 200;
  } catch (const ApiError& e) {
    return e.status;
  }
}

std::string param_of(const json& body, bool chat) {
  try {
    parse_completion(body, chat);
  } catch (const ApiError& e) {
    return e.param;
  }
  return "";
}

}  // namespace

TEST(ServerApi, ParseBodyRejectsBadJsonAndNonObjects) {
  EXPECT_THROW(parse_body("{\"a\":"), ApiError);
  EXPECT_THROW(parse_body(""), ApiError);
  EXPECT_THROW(parse_body("[1,2]"), ApiError);
  EXPECT_THROW(parse_body("\"x\""), ApiError);
  EXPECT_THROW(parse_body(std::string("{\"a\":\"\xff\"}")), ApiError);  // invalid UTF-8 in a string
  EXPECT_EQ(parse_body("{\"a\": 1}")["a"], 1);
}

TEST(ServerApi, CompletionDefaultsFollowOpenAI) {
  CompletionRequest r = parse_completion(json{{"prompt", "hi"}}, false);
  EXPECT_EQ(r.prompt, "hi");
  EXPECT_EQ(r.max_tokens, 16);  // OpenAI's /v1/completions default
  EXPECT_FLOAT_EQ(r.sampling.temperature, 1.0f);
  EXPECT_FLOAT_EQ(r.sampling.top_p, 1.0f);
  EXPECT_EQ(r.sampling.top_k, 0);
  EXPECT_EQ(r.sampling.seed, larql::SamplingParams::kRandomSeed);
  EXPECT_FALSE(r.stream);
  CompletionRequest c = parse_completion(json::parse(R"({"messages":[{"role":"user","content":"x"}]})"), true);
  EXPECT_EQ(c.max_tokens, -1);
  EXPECT_EQ(c.messages.size(), 1u);
}

TEST(ServerApi, CompletionFieldsAreRead) {
  json b = json::parse(R"({"model":"m","prompt":["one"],"max_tokens":5,"temperature":0,"top_p":0.5,"seed":42,
    "stop":["a","bc"],"stream":true,"stream_options":{"include_usage":true},"n":1,"user":"ignored"})");
  CompletionRequest r = parse_completion(b, false);
  EXPECT_EQ(r.prompt, "one");
  EXPECT_EQ(r.max_tokens, 5);
  EXPECT_FLOAT_EQ(r.sampling.temperature, 0.0f);
  EXPECT_FLOAT_EQ(r.sampling.top_p, 0.5f);
  EXPECT_EQ(r.sampling.seed, 42u);
  EXPECT_EQ(r.stop, (std::vector<std::string>{"a", "bc"}));
  EXPECT_TRUE(r.stream);
  EXPECT_TRUE(r.include_usage);
  CompletionRequest ids = parse_completion(json{{"prompt", {1, 5, 9}}}, false);
  EXPECT_EQ(ids.prompt_ids, (std::vector<int32_t>{1, 5, 9}));
  CompletionRequest s = parse_completion(json{{"prompt", "x"}, {"stop", "END"}, {"seed", -1}}, false);
  EXPECT_EQ(s.stop, std::vector<std::string>{"END"});
  EXPECT_EQ(s.sampling.seed, 0u);  // -1 would be the "random" marker; a given seed stays deterministic
}

TEST(ServerApi, ChatContentPartsAreJoined) {
  json b = json::parse(R"({"messages":[{"role":"system","content":null},
    {"role":"user","content":[{"type":"text","text":"a"},{"type":"text","text":"b"}]}]})");
  CompletionRequest r = parse_completion(b, true);
  EXPECT_EQ(r.messages[0]["content"], "");
  EXPECT_EQ(r.messages[1]["content"], "ab");
  EXPECT_EQ(r.messages[1]["role"], "user");
}

TEST(ServerApi, BadFieldsAre400NamingTheParam) {
  const json user = json::array({{{"role", "user"}, {"content", "x"}}});
  struct Case { json body; bool chat; std::string param; };
  std::vector<Case> cases = {
      {json::object(), false, "prompt"},
      {json{{"prompt", 5}}, false, "prompt"},
      {json{{"prompt", json::array()}}, false, "prompt"},
      {json{{"prompt", {"a", "b"}}}, false, "prompt"},
      {json{{"prompt", {1, -2}}}, false, "prompt"},
      {json{{"prompt", "x"}, {"n", 2}}, false, "n"},
      {json{{"prompt", "x"}, {"n", "1"}}, false, "n"},
      {json{{"prompt", "x"}, {"temperature", "hot"}}, false, "temperature"},
      {json{{"prompt", "x"}, {"temperature", 3}}, false, "temperature"},
      {json{{"prompt", "x"}, {"top_p", -0.1}}, false, "top_p"},
      {json{{"prompt", "x"}, {"max_tokens", 0}}, false, "max_tokens"},
      {json{{"prompt", "x"}, {"max_tokens", 1.5}}, false, "max_tokens"},
      {json{{"prompt", "x"}, {"stop", {"a", "b", "c", "d", "e"}}}, false, "stop"},
      {json{{"prompt", "x"}, {"stop", ""}}, false, "stop"},
      {json{{"prompt", "x"}, {"stop", {1}}}, false, "stop"},
      {json{{"prompt", "x"}, {"stream", "yes"}}, false, "stream"},
      {json{{"prompt", "x"}, {"seed", 1.5}}, false, "seed"},
      {json{{"prompt", "x"}, {"logprobs", 3}}, false, "logprobs"},
      {json{{"messages", json::array()}}, true, "messages"},
      {json{{"messages", "hi"}}, true, "messages"},
      {json{{"messages", {1}}}, true, "messages[0]"},
      {json{{"messages", {{{"content", "x"}}}}}, true, "messages[0].role"},
      {json{{"messages", {{{"role", "user"}, {"content", 3}}}}}, true, "messages[0].content"},
      {json{{"messages", {{{"role", "user"}, {"content", {{{"type", "image_url"}}}}}}}}, true, "messages[0].content"},
      {json{{"messages", user}, {"presence_penalty", 5}}, true, "presence_penalty"},
      {json{{"messages", user}, {"tools", json::array({1})}}, true, "tools"},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(status_of(c.body, c.chat), 400) << c.body.dump();
    EXPECT_EQ(param_of(c.body, c.chat), c.param) << c.body.dump();
  }
  // null means "absent" for optional members.
  EXPECT_EQ(status_of(json{{"prompt", "x"}, {"n", nullptr}, {"stop", nullptr}, {"seed", nullptr}}, false), 200);
}

TEST(ServerApi, ErrorBodyHasOpenAIShape) {
  json e = error_body({413, "too big", "invalid_request_error", "", "request_too_large"});
  ASSERT_TRUE(e.contains("error"));
  EXPECT_EQ(e["error"]["message"], "too big");
  EXPECT_EQ(e["error"]["type"], "invalid_request_error");
  EXPECT_TRUE(e["error"]["param"].is_null());
  EXPECT_EQ(e["error"]["code"], "request_too_large");
  json p = error_body({400, "m", "invalid_request_error", "stop", ""});
  EXPECT_EQ(p["error"]["param"], "stop");
  EXPECT_TRUE(p["error"]["code"].is_null());
}

TEST(ServerApi, SseFraming) {
  EXPECT_EQ(sse_event(json{{"a", 1}}), "data: {\"a\":1}\n\n");
  EXPECT_EQ(std::string(kSseDone), "data: [DONE]\n\n");
  // Newlines inside text are escaped by JSON, so a frame never contains a blank line early.
  const std::string f = sse_event(json{{"t", "x\n\ny"}});
  EXPECT_EQ(f.find("\n\n"), f.size() - 2);
  // Invalid UTF-8 (a token cut inside a character) still gives valid JSON.
  const std::string bad = sse_event(json{{"t", std::string("a\xe2\x82")}});
  EXPECT_TRUE(json::parse(bad.substr(6)).is_object());
}

TEST(ServerApi, FinishReasonsMapToOpenAI) {
  EXPECT_EQ(openai_finish_reason("eog"), "stop");
  EXPECT_EQ(openai_finish_reason("stop"), "stop");
  EXPECT_EQ(openai_finish_reason("length"), "length");
  EXPECT_EQ(openai_finish_reason("context"), "length");
}

TEST(ServerApi, ApiKeyCheck) {
  EXPECT_TRUE(api_key_matches("Bearer sk-1", "sk-1"));
  EXPECT_FALSE(api_key_matches("Bearer sk-2", "sk-1"));
  EXPECT_FALSE(api_key_matches("Bearer sk-1x", "sk-1"));
  EXPECT_FALSE(api_key_matches("Bearer sk-", "sk-1"));
  EXPECT_FALSE(api_key_matches("sk-1", "sk-1"));
  EXPECT_FALSE(api_key_matches("", "sk-1"));
}

TEST(ServerApi, EmbeddingTokenizeDetokenizeLql) {
  EXPECT_EQ(parse_embedding(json{{"input", "a"}}).texts.size(), 1u);
  EXPECT_EQ(parse_embedding(json{{"input", {"a", "b"}}}).texts.size(), 2u);
  EXPECT_EQ(parse_embedding(json{{"input", {1, 2}}}).token_lists.size(), 1u);
  EXPECT_EQ(parse_embedding(json{{"input", {{1}, {2, 3}}}}).token_lists.size(), 2u);
  EXPECT_THROW(parse_embedding(json{{"input", 3}}), ApiError);
  EXPECT_THROW(parse_embedding(json{{"input", {"a", 1}}}), ApiError);
  EXPECT_THROW(parse_embedding(json{{"input", "a"}, {"encoding_format", "base64"}}), ApiError);
  EXPECT_EQ(parse_tokenize(json{{"content", "x"}, {"add_special", true}}).add_special, true);
  EXPECT_THROW(parse_tokenize(json{{"content", 1}}), ApiError);
  EXPECT_EQ(parse_detokenize(json{{"tokens", {1, 2}}}, 10), (std::vector<int32_t>{1, 2}));
  EXPECT_THROW(parse_detokenize(json{{"tokens", {10}}}, 10), ApiError);
  EXPECT_THROW(parse_detokenize(json{{"tokens", "1"}}, 10), ApiError);
  EXPECT_EQ(parse_lql(json{{"query", "STATS;"}}), "STATS;");
  EXPECT_THROW(parse_lql(json{{"query", " ; "}}), ApiError);
  EXPECT_THROW(parse_lql(json::object()), ApiError);
}
