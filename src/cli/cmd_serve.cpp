// larql serve MODEL: the OpenAI-compatible HTTP server (src/server, docs/server.md).
#include <CLI/CLI.hpp>
#include <csignal>
#include <cstdio>
#include <pthread.h>
#include <mutex>
#include <thread>

#include "cli/commands.h"
#include "cli/model_path.h"
#include "engine/attention.h"
#include "engine/expert_cache.h"
#include "engine/model.h"
#include "lql/binder.h"
#include "lql/context.h"
#include "lql/executor.h"
#include "lql/parser.h"
#include "lql/result.h"
#include "server/server.h"
#include "util/error.h"

namespace larql::cli {

namespace {

// POST /v1/lql: every path a statement names goes through the server's
// --model-dir policy before anything runs; a fresh Context per request.
nlohmann::json run_lql(const std::string& query, bool allow_writes, int n_threads,
                       const std::function<std::string(const std::string&)>& resolve) {
  // One query at a time: each may load a whole model, so concurrent ones would multiply memory.
  static std::mutex mu;
  std::lock_guard<std::mutex> lk(mu);
  std::vector<lql::Statement> stmts = lql::parse(query);  // larql::Error -> 400
  for (auto& st : stmts)
    for (std::string* p : {&st.path, &st.path2, &st.save})
      if (!p->empty()) *p = resolve(*p);
  lql::Context ctx;
  ctx.allow_writes = allow_writes;
  ctx.n_threads = n_threads;
  nlohmann::json out = nlohmann::json::array();
  for (size_t i = 0; i < stmts.size(); ++i) {
    try {
      out.push_back(lql::to_json(lql::execute(lql::bind(stmts[i], ctx), ctx)));
    } catch (const std::exception& e) {  // same shape as `larql lql --json`: stop at the first error
      out.push_back({{"error", e.what()}, {"statement", i}});
      break;
    }
  }
  return out;
}

}  // namespace

Runner add_serve(CLI::App& app) {
  auto* sub = app.add_subcommand("serve", "OpenAI-compatible HTTP server (loopback by default; see docs/server.md)");
  struct Opts {
    std::string model;
    server::ServerOptions s;
    double ram_budget = 0;
    std::string expert_policy = "lfu";
  };
  auto o = std::make_shared<Opts>();
  sub->add_option("MODEL", o->model, "GGUF file or safetensors folder")->required();
  sub->add_option("--host", o->s.host, "Address to listen on")->default_val("127.0.0.1");
  sub->add_option("--port", o->s.port, "Port (0: any free port, printed on stderr)")->default_val(8080)->check(CLI::Range(0, 65535));
  sub->add_option("--parallel", o->s.parallel, "Requests decoded together (slots)")->default_val(1)->check(CLI::Range(1, 256));
  sub->add_option("-c,--ctx", o->s.ctx, "Context length per slot (default: min(model, 4096))");
  sub->add_option("-t,--threads", o->s.threads, "Compute threads (default: all cores)");
  sub->add_option("--api-key", o->s.api_key, "Require 'Authorization: Bearer KEY' (all routes but /health)");
  sub->add_option("--model-dir", o->s.model_dir, "Folder that paths named by /v1/lql must stay inside");
  sub->add_option("--alias", o->s.model_name, "Model id reported by /v1/models (default: the file name)");
  sub->add_option("--chat-template", o->s.chat_template, "Built-in template name or Jinja file (overrides the model's)");
  sub->add_option("--timeout", o->s.timeout_s, "Seconds a request may take, queue wait included")->default_val(600);
  sub->add_option("--max-body", o->s.max_body, "Largest request body in bytes (larger: 413)")->default_val(1 << 20);
  sub->add_option("--queue", o->s.queue, "Requests that may wait for a slot (more: 503)")->default_val(64);
  sub->add_option("--ram-budget", o->ram_budget, "MoE: keep resident memory under this many GiB (docs/moe.md)");
  sub->add_option("--expert-policy", o->expert_policy, "MoE --ram-budget eviction: lru|lfu")->default_val("lfu");
  sub->add_flag("--allow-writes", o->s.allow_writes, "Let /v1/lql run statements that write files");
  sub->add_flag("!--no-log", o->s.log_requests, "No per-request JSON log lines on stderr");
  return [o]() {
    const int lql_threads = o->s.threads;
    o->s.lql = [lql_threads](const std::string& q, bool w, const std::function<std::string(const std::string&)>& r) {
      return run_lql(q, w, lql_threads, r);
    };
    // Block the stop signals in every thread; one thread waits for them and stops the server cleanly.
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
    std::signal(SIGPIPE, SIG_IGN);
    if (o->s.api_key.empty() && o->s.host != "127.0.0.1" && o->s.host != "localhost" && o->s.host != "::1")
      std::fprintf(stderr, "larql serve: warning: listening on %s without --api-key\n", o->s.host.c_str());
    auto model = load_model(o->model);
    if (o->ram_budget > 0) {  // every slot's KV at full context, prompts of up to 512 tokens per step
      const BudgetPlan p = enable_ram_budget(*model, o->ram_budget, parse_expert_policy(o->expert_policy), o->s.ctx,
                                             o->s.parallel, KVType::F32, 512 * o->s.parallel);
      std::fprintf(stderr, "larql serve: %s\n", p.describe().c_str());
    } else {
      pack_experts(*model);
    }
    server::HttpServer srv(*model, o->s);
    const int port = srv.bind();
    std::fprintf(stderr, "larql serve: listening on http://%s:%d (slots %d)\n", o->s.host.c_str(), port, o->s.parallel);
    std::fflush(stderr);
    std::thread sig([&] {
      int signo = 0;
      sigwait(&set, &signo);
      if (signo != 0) std::fprintf(stderr, "larql serve: %s, shutting down\n", signo == SIGINT ? "SIGINT" : "SIGTERM");
      srv.stop();
    });
    srv.run();
    // run() also returns when listening fails; wake the signal thread so it can be joined.
    pthread_kill(sig.native_handle(), SIGTERM);
    sig.join();
    std::fprintf(stderr, "larql serve: stopped\n");
    return 0;
  };
}

}  // namespace larql::cli
