#include "server/api.h"

#include <cmath>

namespace larql::server {

namespace {

[[noreturn]] void bad(const std::string& param, const std::string& msg) {
  throw ApiError{400, msg, "invalid_request_error", param, ""};
}

bool present(const json& b, const char* k) { return b.contains(k) && !b[k].is_null(); }

double number(const json& b, const char* k, double lo, double hi) {
  const json& v = b[k];
  if (!v.is_number()) bad(k, std::string("'") + k + "' must be a number");
  const double d = v.get<double>();
  if (!std::isfinite(d) || d < lo || d > hi)
    bad(k, std::string("'") + k + "' must be between " + json(lo).dump() + " and " + json(hi).dump());
  return d;
}

int64_t integer(const json& b, const char* k, int64_t lo, int64_t hi) {
  const json& v = b[k];
  if (!v.is_number_integer()) bad(k, std::string("'") + k + "' must be an integer");
  if (v.is_number_unsigned() && v.get<uint64_t>() > static_cast<uint64_t>(hi))
    bad(k, std::string("'") + k + "' is too large");
  const int64_t i = v.get<int64_t>();
  if (i < lo || i > hi)
    bad(k, std::string("'") + k + "' must be between " + std::to_string(lo) + " and " + std::to_string(hi));
  return i;
}

bool boolean(const json& b, const char* k) {
  if (!b[k].is_boolean()) bad(k, std::string("'") + k + "' must be a boolean");
  return b[k].get<bool>();
}

std::string string(const json& b, const char* k) {
  if (!b[k].is_string()) bad(k, std::string("'") + k + "' must be a string");
  return b[k].get<std::string>();
}

std::vector<int32_t> token_list(const json& a, const char* param) {
  std::vector<int32_t> ids;
  for (const json& t : a) {
    if (!t.is_number_integer() || t.get<int64_t>() < 0 || t.get<int64_t>() > INT32_MAX)
      bad(param, std::string("'") + param + "' token ids must be non-negative integers");
    ids.push_back(static_cast<int32_t>(t.get<int64_t>()));
  }
  return ids;
}

// Message content: a string, null, or a list of {"type": "text", "text": str} parts (joined).
std::string content_text(const json& c, size_t i) {
  const std::string p = "messages[" + std::to_string(i) + "].content";
  if (c.is_null()) return "";
  if (c.is_string()) return c.get<std::string>();
  if (!c.is_array()) bad(p, "'" + p + "' must be a string or a list of text parts");
  std::string out;
  for (const json& part : c) {
    if (!part.is_object() || !part.contains("type") || part["type"] != "text" || !part.contains("text") ||
        !part["text"].is_string())
      bad(p, "'" + p + "': only {\"type\": \"text\", \"text\": ...} parts are supported");
    out += part["text"].get<std::string>();
  }
  return out;
}

void parse_sampling(const json& b, CompletionRequest& r) {
  SamplingParams& sp = r.sampling;
  // OpenAI defaults: temperature 1, top_p 1, no top-k/min-p, no penalties.
  sp.temperature = 1.0f;
  sp.top_p = 1.0f;
  sp.top_k = 0;
  sp.min_p = 0.0f;
  sp.seed = SamplingParams::kRandomSeed;
  if (present(b, "temperature")) sp.temperature = static_cast<float>(number(b, "temperature", 0, 2));
  if (present(b, "top_p")) sp.top_p = static_cast<float>(number(b, "top_p", 0, 1));
  if (present(b, "top_k")) sp.top_k = static_cast<int32_t>(integer(b, "top_k", 0, INT32_MAX));
  if (present(b, "min_p")) sp.min_p = static_cast<float>(number(b, "min_p", 0, 1));
  if (present(b, "presence_penalty")) sp.presence_penalty = static_cast<float>(number(b, "presence_penalty", -2, 2));
  if (present(b, "frequency_penalty"))
    sp.frequency_penalty = static_cast<float>(number(b, "frequency_penalty", -2, 2));
  if (present(b, "repeat_penalty")) sp.repeat_penalty = static_cast<float>(number(b, "repeat_penalty", 0.01, 100));
  if (present(b, "seed")) {
    const json& s = b["seed"];
    if (!s.is_number_integer()) bad("seed", "'seed' must be an integer");
    sp.seed = s.is_number_unsigned() ? s.get<uint64_t>() : static_cast<uint64_t>(s.get<int64_t>());
    if (sp.seed == SamplingParams::kRandomSeed) sp.seed = 0;  // keep "seeded" meaning deterministic
  }
}

}  // namespace

json error_body(const ApiError& e) {
  return {{"error",
           {{"message", e.message},
            {"type", e.type},
            {"param", e.param.empty() ? json(nullptr) : json(e.param)},
            {"code", e.code.empty() ? json(nullptr) : json(e.code)}}}};
}

json parse_body(std::string_view body) {
  json j = json::parse(body.begin(), body.end(), nullptr, false);
  if (j.is_discarded()) throw ApiError{400, "the request body is not valid JSON", "invalid_request_error", "", ""};
  if (!j.is_object()) throw ApiError{400, "the request body must be a JSON object", "invalid_request_error", "", ""};
  return j;
}

CompletionRequest parse_completion(const json& b, bool chat) {
  CompletionRequest r;
  r.chat = chat;
  if (present(b, "model")) r.model = string(b, "model");
  if (chat) {
    if (!b.contains("messages") || !b["messages"].is_array() || b["messages"].empty())
      bad("messages", "'messages' must be a non-empty list");
    r.messages = ojson::array();
    size_t i = 0;
    for (const json& m : b["messages"]) {
      const std::string p = "messages[" + std::to_string(i) + "]";
      if (!m.is_object()) bad(p, "'" + p + "' must be an object");
      if (!m.contains("role") || !m["role"].is_string()) bad(p + ".role", "'" + p + ".role' must be a string");
      r.messages.push_back({{"role", m["role"].get<std::string>()},
                            {"content", content_text(m.contains("content") ? m["content"] : json(), i)}});
      ++i;
    }
  } else {
    if (!b.contains("prompt")) bad("prompt", "'prompt' is required");
    const json& p = b["prompt"];
    if (p.is_string()) {
      r.prompt = p.get<std::string>();
    } else if (p.is_array() && p.size() == 1 && p[0].is_string()) {
      r.prompt = p[0].get<std::string>();
    } else if (p.is_array() && !p.empty() && p[0].is_number()) {
      r.prompt_ids = token_list(p, "prompt");
    } else {
      bad("prompt", "'prompt' must be a string, a list of one string, or a non-empty list of token ids");
    }
  }
  if (present(b, "n") && integer(b, "n", INT64_MIN, INT64_MAX) != 1) bad("n", "only 'n' = 1 is supported");
  if (present(b, "best_of") && integer(b, "best_of", INT64_MIN, INT64_MAX) != 1)
    bad("best_of", "only 'best_of' = 1 is supported");
  if (present(b, "echo") && boolean(b, "echo")) bad("echo", "'echo' is not supported");
  if (present(b, "logprobs") && !(b["logprobs"].is_boolean() && !b["logprobs"].get<bool>()))
    bad("logprobs", "'logprobs' is not supported");
  if (present(b, "tools") || present(b, "functions")) bad("tools", "tool calling is not supported");
  const char* mt = present(b, "max_completion_tokens") ? "max_completion_tokens" : "max_tokens";
  if (present(b, mt)) r.max_tokens = integer(b, mt, 1, INT32_MAX);
  else if (!chat) r.max_tokens = 16;  // OpenAI's default for /v1/completions
  parse_sampling(b, r);
  if (present(b, "stop")) {
    const json& s = b["stop"];
    if (s.is_string()) {
      r.stop.push_back(s.get<std::string>());
    } else if (s.is_array()) {
      if (s.size() > 4) bad("stop", "'stop' takes at most 4 strings");
      for (const json& x : s) {
        if (!x.is_string()) bad("stop", "'stop' must be a string or a list of strings");
        r.stop.push_back(x.get<std::string>());
      }
    } else {
      bad("stop", "'stop' must be a string or a list of strings");
    }
    for (const auto& x : r.stop)
      if (x.empty()) bad("stop", "'stop' strings must not be empty");
  }
  if (present(b, "stream")) r.stream = boolean(b, "stream");
  if (present(b, "stream_options")) {
    const json& so = b["stream_options"];
    if (!so.is_object()) bad("stream_options", "'stream_options' must be an object");
    if (present(so, "include_usage")) r.include_usage = boolean(so, "include_usage");
  }
  return r;
}

EmbeddingRequest parse_embedding(const json& b) {
  EmbeddingRequest r;
  if (present(b, "model")) r.model = string(b, "model");
  if (present(b, "encoding_format") && string(b, "encoding_format") != "float")
    bad("encoding_format", "only 'encoding_format' = \"float\" is supported");
  if (!b.contains("input")) bad("input", "'input' is required");
  const json& in = b["input"];
  auto bad_input = [] { bad("input", "'input' must be a string, a list of strings, or token id list(s)"); };
  if (in.is_string()) {
    r.texts.push_back(in.get<std::string>());
  } else if (in.is_array() && !in.empty()) {
    if (in[0].is_string()) {
      for (const json& x : in) {
        if (!x.is_string()) bad_input();
        r.texts.push_back(x.get<std::string>());
      }
    } else if (in[0].is_number()) {
      r.token_lists.push_back(token_list(in, "input"));
    } else if (in[0].is_array()) {
      for (const json& x : in) {
        if (!x.is_array() || x.empty()) bad_input();
        r.token_lists.push_back(token_list(x, "input"));
      }
    } else {
      bad_input();
    }
  } else {
    bad_input();
  }
  if (r.texts.size() + r.token_lists.size() > 256) bad("input", "at most 256 inputs per request");
  return r;
}

TokenizeRequest parse_tokenize(const json& b) {
  TokenizeRequest r;
  if (!b.contains("content")) bad("content", "'content' is required");
  r.content = string(b, "content");
  if (present(b, "add_special")) r.add_special = boolean(b, "add_special");
  if (present(b, "with_pieces")) r.with_pieces = boolean(b, "with_pieces");
  return r;
}

std::vector<int32_t> parse_detokenize(const json& b, int32_t n_vocab) {
  if (!b.contains("tokens") || !b["tokens"].is_array()) bad("tokens", "'tokens' must be a list of token ids");
  std::vector<int32_t> ids = token_list(b["tokens"], "tokens");
  for (int32_t t : ids)
    if (t >= n_vocab) bad("tokens", "token id " + std::to_string(t) + " is out of range (vocabulary " +
                                        std::to_string(n_vocab) + ")");
  return ids;
}

std::string parse_lql(const json& b) {
  if (!b.contains("query")) bad("query", "'query' is required");
  std::string q = string(b, "query");
  if (q.find_first_not_of(" \t\r\n;") == std::string::npos) bad("query", "'query' has no statements");
  return q;
}

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

std::string sse_event(const json& j) { return "data: " + dump(j) + "\n\n"; }

std::string openai_finish_reason(const std::string& r) {
  if (r == "eog" || r == "stop") return "stop";
  if (r == "length" || r == "context") return "length";
  return r;
}

bool api_key_matches(std::string_view h, std::string_view key) {
  constexpr std::string_view kBearer = "Bearer ";
  if (h.size() < kBearer.size() || h.substr(0, kBearer.size()) != kBearer) return false;
  std::string_view got = h.substr(kBearer.size());
  unsigned diff = got.size() != key.size();
  for (size_t i = 0; i < key.size(); ++i) diff |= static_cast<unsigned char>(key[i]) ^
                                                   static_cast<unsigned char>(i < got.size() ? got[i] : 0);
  return diff == 0;
}

}  // namespace larql::server
