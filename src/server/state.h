// Internal: what the HTTP route handlers share (server.cpp, routes_*.cpp).
#pragma once
#include <atomic>
#include <string>

#include <httplib.h>

#include "server/api.h"
#include "server/metrics.h"
#include "server/scheduler.h"
#include "server/server.h"

namespace larql::server {

// Per-request facts the logger prints (the handler and logger run on the same thread).
struct RequestLog {
  Clock::time_point start{};
  std::string route = "other";
  int64_t prompt_tokens = -1, completion_tokens = -1;
  std::string finish_reason, error;
};
RequestLog& request_log();

struct HttpServer::State {
  const Model& model;
  ServerOptions opt;
  std::string chat_template;
  std::string bos, eos;
  Metrics metrics;
  std::unique_ptr<Scheduler> sched;
  httplib::Server http;
  std::atomic<bool> stopping{false};
  std::atomic<uint64_t> next_id{1};
  int port = 0;

  State(const Model& m, ServerOptions o);
  void routes();
  void generation_routes();
  // Sends an OpenAI error object (Retry-After on 429/503).
  void send_error(httplib::Response& res, const ApiError& e);
  // Wraps a handler: route label, API key, exceptions -> error objects.
  httplib::Server::Handler guard(const std::string& route, bool need_key,
                                 std::function<void(const httplib::Request&, httplib::Response&)> fn);
  Clock::time_point deadline() const;
  std::string new_id(const char* prefix);
};

}  // namespace larql::server
