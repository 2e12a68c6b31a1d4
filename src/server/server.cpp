#include "server/server.h"

#include <cstdio>
#include <ctime>
#include <filesystem>

#include "chat/chat.h"
#include "server/path_policy.h"
#include "server/state.h"
#include "util/error.h"

namespace larql::server {

RequestLog& request_log() {
  thread_local RequestLog log;
  return log;
}

namespace {

std::mutex g_log_mu;

// Bounded label set for the requests metric (paths come from clients).
std::string route_label(const std::string& path) {
  static const char* known[] = {"/v1/chat/completions", "/v1/completions", "/v1/models", "/v1/embeddings",
                                "/tokenize", "/detokenize", "/health", "/metrics", "/v1/lql"};
  for (const char* k : known)
    if (path == k) return k;
  return "other";
}

void log_line(const httplib::Request& req, const httplib::Response& res) {
  RequestLog& l = request_log();
  const auto now = Clock::now();
  const double ms = l.start == Clock::time_point{} ? 0
                    : std::chrono::duration<double, std::milli>(now - l.start).count();
  json j = {{"ts", static_cast<int64_t>(std::time(nullptr))}, {"method", req.method}, {"path", req.path},
            {"status", res.status}, {"ms", std::round(ms * 100) / 100}, {"remote", req.remote_addr}};
  if (l.prompt_tokens >= 0) j["prompt_tokens"] = l.prompt_tokens;
  if (l.completion_tokens >= 0) j["completion_tokens"] = l.completion_tokens;
  if (!l.finish_reason.empty()) j["finish_reason"] = l.finish_reason;
  if (!l.error.empty()) j["error"] = l.error;
  const std::string line = dump(j) + "\n";
  std::lock_guard<std::mutex> lk(g_log_mu);
  std::fwrite(line.data(), 1, line.size(), stderr);
}

}  // namespace

HttpServer::State::State(const Model& m, ServerOptions o) : model(m), opt(std::move(o)) {
  const Tokenizer& tok = m.tokenizer();
  bos = tok.bos_id() >= 0 ? tok.token_to_piece(tok.bos_id()) : "";
  eos = tok.eos_id() >= 0 ? tok.token_to_piece(tok.eos_id()) : "";
  if (!opt.chat_template.empty()) {
    chat_template = chat::resolve_template_option(opt.chat_template);
  } else if (chat::has_chat_template(m.source().chat_template())) {
    chat_template = m.source().chat_template();
  } else {
    chat_template = chat::builtin_template("chatml");
    std::fprintf(stderr, "larql serve: the model has no chat template; using chatml (--chat-template overrides)\n");
  }
  if (opt.model_name.empty()) opt.model_name = std::filesystem::path(m.source().path()).filename().string();
  if (opt.timeout_s <= 0) throw Error("--timeout must be positive");
  if (opt.max_body < 64) throw Error("--max-body must be at least 64 bytes");
  SchedulerOptions so;
  so.n_slots = opt.parallel;
  so.n_ctx = opt.ctx;
  so.max_queue = opt.queue;
  so.n_threads = opt.threads;
  sched = std::make_unique<Scheduler>(m, so, &metrics);
}

void HttpServer::State::send_error(httplib::Response& res, const ApiError& e) {
  res.status = e.status;
  if (e.status == 429 || e.status == 503) res.set_header("Retry-After", "1");
  res.set_content(dump(error_body(e)), "application/json");
  request_log().error = e.message;
}

Clock::time_point HttpServer::State::deadline() const {
  return Clock::now() + std::chrono::milliseconds(static_cast<int64_t>(opt.timeout_s * 1000));
}

std::string HttpServer::State::new_id(const char* prefix) { return prefix + std::to_string(next_id++); }

httplib::Server::Handler HttpServer::State::guard(
    const std::string& route, bool need_key, std::function<void(const httplib::Request&, httplib::Response&)> fn) {
  return [this, route, need_key, fn = std::move(fn)](const httplib::Request& req, httplib::Response& res) {
    request_log().route = route;
    try {
      if (need_key && !opt.api_key.empty() &&
          !api_key_matches(req.get_header_value("Authorization"), opt.api_key))
        throw ApiError{401, "invalid or missing API key (send 'Authorization: Bearer KEY')", "authentication_error",
                       "", "invalid_api_key"};
      fn(req, res);
    } catch (const ApiError& e) {
      send_error(res, e);
    } catch (const Error& e) {
      send_error(res, ApiError{400, e.what(), "invalid_request_error", "", ""});
    } catch (const std::exception& e) {
      send_error(res, ApiError{500, std::string("internal error: ") + e.what(), "server_error", "", ""});
    }
  };
}

void HttpServer::State::routes() {
  http.Get("/health", guard("/health", false, [this](const httplib::Request&, httplib::Response& res) {
    if (stopping) throw ApiError{503, "the server is shutting down", "server_error", "", ""};
    res.set_content(dump({{"status", "ok"}, {"slots", sched->n_slots()}, {"n_ctx", sched->n_ctx()}}),
                    "application/json");
  }));
  http.Get("/metrics", guard("/metrics", true, [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(metrics.render(), "text/plain; version=0.0.4");
  }));
  http.Get("/v1/models", guard("/v1/models", true, [this](const httplib::Request&, httplib::Response& res) {
    const HParams& hp = model.hparams();
    json m = {{"id", opt.model_name}, {"object", "model"}, {"created", static_cast<int64_t>(std::time(nullptr))},
              {"owned_by", "larql"},
              {"meta", {{"n_ctx", sched->n_ctx()}, {"n_vocab", hp.n_vocab}, {"n_embd", hp.n_embd},
                        {"n_layer", hp.n_layer}, {"arch", model.family().arch}}}};
    res.set_content(dump({{"object", "list"}, {"data", json::array({m})}}), "application/json");
  }));
  http.Post("/tokenize", guard("/tokenize", true, [this](const httplib::Request& req, httplib::Response& res) {
    TokenizeRequest r = parse_tokenize(parse_body(req.body));
    const Tokenizer& tok = model.tokenizer();
    std::vector<int32_t> ids = tok.encode(r.content, r.add_special, true);
    json out = {{"tokens", ids}};
    if (r.with_pieces) {
      json pieces = json::array();
      for (int32_t id : ids) pieces.push_back({{"id", id}, {"piece", tok.token_to_piece(id)}});
      out["pieces"] = pieces;
    }
    res.set_content(dump(out), "application/json");
  }));
  http.Post("/detokenize", guard("/detokenize", true, [this](const httplib::Request& req, httplib::Response& res) {
    const Tokenizer& tok = model.tokenizer();
    std::vector<int32_t> ids = parse_detokenize(parse_body(req.body), tok.n_vocab());
    res.set_content(dump({{"content", tok.decode(ids, false)}}), "application/json");
  }));
  http.Post("/v1/lql", guard("/v1/lql", true, [this](const httplib::Request& req, httplib::Response& res) {
    const std::string query = parse_lql(parse_body(req.body));
    for (const auto& s : split_statements(query))
      if (statement_writes(s) && !opt.allow_writes)
        throw ApiError{403, "statement '" + s.substr(0, 40) + "' writes files; start the server with --allow-writes",
                       "permission_error", "query", "writes_not_allowed"};
    if (!opt.lql)
      throw ApiError{501, "LQL is not built into this server yet", "not_implemented_error", "", "not_implemented"};
    auto resolve = [this](const std::string& p) {
      try {
        return resolve_inside(opt.model_dir, p);
      } catch (const Error& e) {
        throw ApiError{403, e.what(), "permission_error", "query", "path_not_allowed"};
      }
    };
    res.set_content(dump({{"results", opt.lql(query, opt.allow_writes, resolve)}}), "application/json");
  }));
  generation_routes();

  http.set_error_handler([this](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return;
    if (res.status == 404) send_error(res, {404, "no route " + req.method + " " + req.path, "invalid_request_error", "", "not_found"});
    else if (res.status == 413) send_error(res, {413, "the request body is larger than --max-body (" + std::to_string(opt.max_body) + " bytes)", "invalid_request_error", "", "request_too_large"});
    else send_error(res, {res.status, "bad request", "invalid_request_error", "", ""});
  });
  http.set_pre_routing_handler([](const httplib::Request& req, httplib::Response&) {
    request_log() = RequestLog{};
    request_log().start = Clock::now();
    request_log().route = route_label(req.path);
    return httplib::Server::HandlerResponse::Unhandled;
  });
  http.set_logger([this](const httplib::Request& req, const httplib::Response& res) {
    metrics.request_done(request_log().route, res.status);
    if (opt.log_requests) log_line(req, res);
    request_log() = RequestLog{};
  });
}

HttpServer::HttpServer(const Model& model, ServerOptions opt) : st_(std::make_unique<State>(model, std::move(opt))) {
  State& s = *st_;
  s.routes();
  s.http.set_payload_max_length(s.opt.max_body);
  s.http.set_read_timeout(10, 0);
  s.http.set_write_timeout(10, 0);  // a client that stops reading is dropped (and its job cancelled)
  s.http.set_keep_alive_timeout(2);
  // Enough HTTP threads for every slot and queued request plus a few for /health and /metrics;
  // beyond that, the queue answers 503.
  const size_t n = static_cast<size_t>(s.opt.parallel) + s.opt.queue + 8;
  s.http.new_task_queue = [n] { return new httplib::ThreadPool(n); };
}

HttpServer::~HttpServer() { stop(); }

int HttpServer::bind() {
  State& s = *st_;
  if (s.opt.port == 0) {
    s.port = s.http.bind_to_any_port(s.opt.host);
    if (s.port < 0) throw Error("cannot bind to " + s.opt.host);
  } else {
    if (!s.http.bind_to_port(s.opt.host, s.opt.port))
      throw Error("cannot bind to " + s.opt.host + ":" + std::to_string(s.opt.port));
    s.port = s.opt.port;
  }
  return s.port;
}

void HttpServer::run() { st_->http.listen_after_bind(); }

void HttpServer::stop() {
  State& s = *st_;
  if (s.stopping.exchange(true)) return;
  s.sched->shutdown();  // waiting handlers get 503 and return
  s.http.stop();
}

}  // namespace larql::server
