// POST /v1/chat/completions, /v1/completions and /v1/embeddings.
#include <ctime>

#include "chat/chat.h"
#include "server/state.h"
#include "util/error.h"

namespace larql::server {

namespace {

struct Ctx {
  std::string id, model;
  int64_t created;
  bool chat;
};

json usage(const JobResult& r) {
  return {{"prompt_tokens", r.n_prompt}, {"completion_tokens", r.n_generated},
          {"total_tokens", r.n_prompt + r.n_generated}};
}

json chunk(const Ctx& c, const json& delta_or_text, const json& finish) {
  json choice = {{"index", 0}, {"finish_reason", finish}, {"logprobs", nullptr}};
  if (c.chat) choice["delta"] = delta_or_text;
  else choice["text"] = delta_or_text;
  return {{"id", c.id}, {"object", c.chat ? "chat.completion.chunk" : "text_completion"}, {"created", c.created},
          {"model", c.model}, {"choices", json::array({choice})}};
}

// A job that did not finish normally, as an API error (nullopt when it did).
std::optional<ApiError> job_error(const JobResult& r) {
  if (r.finish_reason == "timeout")
    return ApiError{504, "the request timed out (--timeout)", "timeout_error", "", "timeout"};
  if (r.finish_reason == "cancelled") return ApiError{499, "the request was cancelled", "cancelled", "", ""};
  if (r.finish_reason == "error")
    return ApiError{r.error_status ? r.error_status : 500, r.error,
                    r.error_status == 503 ? "server_error" : r.error_status < 500 ? "invalid_request_error" : "server_error",
                    "", ""};
  return std::nullopt;
}

}  // namespace

void HttpServer::State::generation_routes() {
  auto completion = [this](bool chat) {
    return [this, chat](const httplib::Request& req, httplib::Response& res) {
      CompletionRequest r = parse_completion(parse_body(req.body), chat);
      const Tokenizer& tok = model.tokenizer();
      auto job = std::make_shared<Job>();
      if (chat) {
        std::string text;
        try {
          text = chat::render_chat_json(chat_template, r.messages, true, bos, eos);
        } catch (const Error& e) {
          throw ApiError{400, std::string("chat template: ") + e.what(), "invalid_request_error", "messages", ""};
        }
        job->prompt = tok.encode(text, false, true);  // the template writes BOS itself
      } else if (!r.prompt_ids.empty()) {
        for (int32_t t : r.prompt_ids)
          if (t >= tok.n_vocab())
            throw ApiError{400, "prompt token id " + std::to_string(t) + " is out of range", "invalid_request_error", "prompt", ""};
        job->prompt = r.prompt_ids;
      } else {
        job->prompt = tok.encode(r.prompt, true, true);
      }
      if (job->prompt.empty()) throw ApiError{400, "the prompt is empty", "invalid_request_error", "prompt", ""};
      if (static_cast<int64_t>(job->prompt.size()) >= sched->n_ctx())
        throw ApiError{400, "the prompt has " + std::to_string(job->prompt.size()) + " tokens; the context holds " +
                                std::to_string(sched->n_ctx()), "invalid_request_error", chat ? "messages" : "prompt",
                       "context_length_exceeded"};
      job->max_tokens = r.max_tokens;
      job->sampling = r.sampling;
      job->stop = r.stop;
      job->deadline = deadline();
      request_log().prompt_tokens = static_cast<int64_t>(job->prompt.size());
      const auto sub = sched->submit(job);
      if (sub != Scheduler::Submit::Ok) {
        if (sub == Scheduler::Submit::Full) metrics.rejected();
        throw ApiError{503, sub == Scheduler::Submit::Full ? "the server is busy (queue full); retry later"
                                                           : "the server is shutting down",
                       "server_error", "", "server_overloaded"};
      }
      Ctx c{new_id(chat ? "chatcmpl-" : "cmpl-"), opt.model_name, static_cast<int64_t>(std::time(nullptr)), chat};
      const auto give_up = job->deadline + std::chrono::seconds(5);  // the scheduler enforces the deadline; this is a backstop

      if (!r.stream) {
        std::string text, piece;
        bool done = false;
        while (!done && Clock::now() < give_up) {
          done = job->wait(piece, give_up);
          text += piece;
        }
        if (!done) {
          job->cancel();
          throw ApiError{504, "the request timed out", "timeout_error", "", "timeout"};
        }
        const JobResult& jr = job->result();
        request_log().completion_tokens = jr.n_generated;
        request_log().finish_reason = jr.finish_reason;
        if (auto e = job_error(jr)) throw *e;
        json choice = {{"index", 0}, {"finish_reason", openai_finish_reason(jr.finish_reason)}, {"logprobs", nullptr}};
        if (chat) choice["message"] = {{"role", "assistant"}, {"content", text}};
        else choice["text"] = text;
        json out = {{"id", c.id}, {"object", chat ? "chat.completion" : "text_completion"}, {"created", c.created},
                    {"model", c.model}, {"choices", json::array({choice})}, {"usage", usage(jr)}};
        res.set_content(dump(out), "application/json");
        return;
      }

      const bool include_usage = r.include_usage;
      res.set_header("Cache-Control", "no-cache");
      res.set_chunked_content_provider(
          "text/event-stream",
          [c, job, include_usage, give_up](size_t, httplib::DataSink& sink) {
            auto send = [&](const std::string& s) {
              if (sink.write(s.data(), s.size())) return true;
              job->cancel();  // the client went away: stop generating
              request_log().finish_reason = "cancelled";
              return false;
            };
            if (c.chat && !send(sse_event(chunk(c, {{"role", "assistant"}, {"content", ""}}, nullptr)))) return false;
            std::string piece;
            auto idle_since = Clock::now();
            for (;;) {
              const auto now = Clock::now();
              if (now > give_up) {
                job->cancel();
                send(sse_event(error_body({504, "the request timed out", "timeout_error", "", "timeout"})));
                break;
              }
              const bool done = job->wait(piece, std::min(give_up, now + std::chrono::milliseconds(500)));
              if (!piece.empty()) {
                idle_since = Clock::now();
                json d = c.chat ? json{{"content", piece}} : json(piece);
                if (!send(sse_event(chunk(c, d, nullptr)))) return false;
              } else if (!done && Clock::now() - idle_since > std::chrono::seconds(2)) {
                // SSE comment while waiting (queue, long prefill): finds clients that left.
                if (!send(": waiting\n\n")) return false;
                idle_since = Clock::now();
              }
              if (!done) continue;
              const JobResult& jr = job->result();
              request_log().completion_tokens = jr.n_generated;
              request_log().finish_reason = jr.finish_reason;
              if (auto e = job_error(jr)) {
                request_log().error = e->message;
                if (!send(sse_event(error_body(*e)))) return false;
              } else {
                json fin = chunk(c, c.chat ? json::object() : json(""), openai_finish_reason(jr.finish_reason));
                if (!include_usage) fin["usage"] = usage(jr);  // llama.cpp-style; harmless for clients
                if (!send(sse_event(fin))) return false;
                if (include_usage) {
                  json u = chunk(c, json::object(), nullptr);
                  u["choices"] = json::array();
                  u["usage"] = usage(jr);
                  if (!send(sse_event(u))) return false;
                }
              }
              break;
            }
            if (!send(std::string(kSseDone))) return false;
            sink.done();
            return true;
          },
          [job](bool) { job->cancel(); });  // no-op when finished; stops generation on a dropped connection
    };
  };
  http.Post("/v1/chat/completions", guard("/v1/chat/completions", true, completion(true)));
  http.Post("/v1/completions", guard("/v1/completions", true, completion(false)));

  http.Post("/v1/embeddings", guard("/v1/embeddings", true, [this](const httplib::Request& req, httplib::Response& res) {
    EmbeddingRequest r = parse_embedding(parse_body(req.body));
    const Tokenizer& tok = model.tokenizer();
    auto job = std::make_shared<Job>();
    job->kind = Job::Kind::Embed;
    for (const auto& t : r.texts) job->inputs.push_back(tok.encode(t, true, true));
    for (const auto& l : r.token_lists) job->inputs.push_back(l);
    for (const auto& in : job->inputs) {
      if (in.empty()) throw ApiError{400, "an input has no tokens", "invalid_request_error", "input", ""};
      if (static_cast<int64_t>(in.size()) > sched->n_ctx())
        throw ApiError{400, "an input has " + std::to_string(in.size()) + " tokens; the context holds " +
                                std::to_string(sched->n_ctx()), "invalid_request_error", "input", "context_length_exceeded"};
      for (int32_t t : in)
        if (t >= tok.n_vocab()) throw ApiError{400, "token id " + std::to_string(t) + " is out of range", "invalid_request_error", "input", ""};
    }
    job->deadline = deadline();
    const auto sub = sched->submit(job);
    if (sub != Scheduler::Submit::Ok) {
      if (sub == Scheduler::Submit::Full) metrics.rejected();
      throw ApiError{503, "the server is busy (queue full); retry later", "server_error", "", "server_overloaded"};
    }
    std::string ignored;
    const auto give_up = job->deadline + std::chrono::seconds(5);
    bool done = false;
    while (!done && Clock::now() < give_up) done = job->wait(ignored, give_up);
    if (!done) {
      job->cancel();
      throw ApiError{504, "the request timed out", "timeout_error", "", "timeout"};
    }
    const JobResult& jr = job->result();
    if (auto e = job_error(jr)) throw *e;
    request_log().prompt_tokens = jr.n_prompt;
    json data = json::array();
    for (size_t i = 0; i < jr.embeddings.size(); ++i)
      data.push_back({{"object", "embedding"}, {"index", i}, {"embedding", jr.embeddings[i]}});
    res.set_content(dump({{"object", "list"}, {"data", data}, {"model", opt.model_name},
                          {"usage", {{"prompt_tokens", jr.n_prompt}, {"total_tokens", jr.n_prompt}}}}),
                    "application/json");
  }));
}

}  // namespace larql::server
