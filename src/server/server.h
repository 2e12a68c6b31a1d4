// `larql serve`: an OpenAI-compatible HTTP server over one loaded model.
// Routes, errors and limits are documented in docs/server.md.
#pragma once
#include <functional>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "engine/model.h"

namespace larql::server {

// Runs an LQL query for POST /v1/lql. `resolve` maps a path named by the
// query to an absolute path inside --model-dir (throws larql::Error when the
// path escapes it); `allow_writes` mirrors --allow-writes. Returns the result
// objects; throws larql::Error on a bad query.
using LqlRunner = std::function<nlohmann::json(const std::string& query, bool allow_writes,
                                               const std::function<std::string(const std::string&)>& resolve)>;

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;               // 0: any free port (see HttpServer::bind)
  int parallel = 1;              // slots decoding together
  int64_t ctx = 0;               // context per slot; 0 = min(model, 4096)
  int threads = 0;               // compute threads; 0 = all cores
  std::string api_key;           // "" = no authentication
  std::string model_dir;         // root for paths named by /v1/lql requests
  std::string model_name;        // id in /v1/models and responses
  std::string chat_template;     // overrides the model's template ("" = model's, else chatml)
  double timeout_s = 600;        // per request, queue wait included
  size_t max_body = 1 << 20;     // bytes; larger bodies get 413
  size_t queue = 64;             // waiting requests beyond the slots; more get 503
  bool allow_writes = false;     // /v1/lql statements that write files
  bool log_requests = true;      // one JSON line per request on stderr
  LqlRunner lql;                 // null: /v1/lql answers 501
};

class HttpServer {
 public:
  HttpServer(const Model& model, ServerOptions opt);
  ~HttpServer();
  // Binds the listening socket; returns the port (the chosen one when port is 0).
  // Throws larql::Error when the address cannot be bound.
  int bind();
  // Serves until stop(); returns when the server has shut down.
  void run();
  // Thread-safe, idempotent (not async-signal-safe: call it from a normal thread).
  void stop();

 private:
  struct State;
  std::unique_ptr<State> st_;
};

}  // namespace larql::server
