// larql lql 'STATEMENTS' | -f script.lql [--use PATH] [--json]
// larql repl [--use PATH]: interactive LQL (readline, history, multi-line).
#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <unistd.h>

#include <readline/history.h>
#include <readline/readline.h>

#include "cli/commands.h"
#include "lql/binder.h"
#include "lql/executor.h"
#include "lql/lql.h"
#include "lql/parser.h"
#include "util/error.h"

namespace larql::cli {

namespace {

struct LqlOpts {
  std::string script, file, use, templates;
  bool json = false, keep_going = false;
  int threads = 0;
};

std::string quote_path(const std::string& p) {
  std::string q = "\"";
  for (char c : p) q += c == '"' ? std::string("\"\"") : std::string(1, c);
  return q + "\"";
}

// --templates, then USE for --use: a vindex directory, otherwise a model file.
void preload(lql::Context& ctx, const LqlOpts& o) {
  ctx.n_threads = o.threads;
  if (!o.templates.empty()) ctx.load_templates(o.templates);
  const std::string& path = o.use;
  if (path.empty()) return;
  const bool dir = access((path + "/index.json").c_str(), R_OK) == 0;
  lql::run(ctx, std::string(dir ? "USE " : "USE MODEL ") + quote_path(path) + ";");
}

// Runs statements one by one so that results print before a later error.
// keep_going: an error prints "error: ..." and the next statement runs.
int run_script(lql::Context& ctx, const std::string& script, bool json, bool keep_going = false, int line = 1, int col = 1) {
  if (keep_going) {
    int rc = 0;
    bool first = true;
    for (const lql::Piece& one : lql::split_statements(script)) {
      if (!first && !json) std::printf("\n");
      first = false;
      try {
        rc |= run_script(ctx, one.text, json, false, one.line, one.col);
      } catch (const std::exception& e) {
        std::printf("error: %s\n", e.what());
        rc = 1;
      }
      std::fflush(stdout);
    }
    return rc;
  }
  if (json) {
    const std::string out = run_lql_json(ctx, script, line, col);
    std::fwrite(out.data(), 1, out.size(), stdout);
    return out.find("{\"error\":") == std::string::npos ? 0 : 1;
  }
  bool first = true;
  for (const lql::Statement& st : lql::parse(script, line, col)) {
    const lql::Result r = lql::execute(lql::bind(st, ctx), ctx);
    std::printf("%s%s", first ? "" : "\n", lql::render_text(r).c_str());
    std::fflush(stdout);
    first = false;
  }
  return 0;
}

const char* kHelp =
    "Statements end with ';' and may span lines. Examples:\n"
    "  USE \"facts.vindex\";            USE MODEL \"model.gguf\";\n"
    "  STATS;  SHOW LAYERS;  SHOW RELATIONS;  SHOW FEATURES 3 LIMIT 10;\n"
    "  DESCRIBE \"France\";  WALK \"The capital of France is\" TOP 5;\n"
    "  INFER \"The capital of France is\" TOP 5 COMPARE;\n"
    "  EXPLAIN INFER \"The capital of France is\" TOP 3;\n"
    "  TRACE \"The capital of France is\" FOR \"Paris\" DECOMPOSE;\n"
    "  SELECT layer, feature, top_token FROM FEATURES WHERE top_token LIKE 'Par%' LIMIT 5;\n"
    "Dot commands: .help  .json (toggle JSON output)  .quit\n"
    "Grammar and columns: docs/lql.md\n";

int repl(lql::Context& ctx, bool json) {
  const bool tty = isatty(0);
  std::string hist;
  if (const char* home = std::getenv("HOME")) hist = std::string(home) + "/.larql_history";
  if (tty && !hist.empty()) read_history(hist.c_str());
  if (tty) std::printf("larql repl: LQL statements end with ';'. .help for help, .quit to leave.\n");
  std::string buf;
  for (;;) {
    std::string line;
    if (tty) {
      char* l = readline(buf.empty() ? "larql> " : "   ...> ");
      if (!l) break;
      line = l;
      std::free(l);
    } else if (!std::getline(std::cin, line)) {
      break;
    }
    if (buf.empty()) {
      const size_t a = line.find_first_not_of(" \t");
      const std::string cmd = a == std::string::npos ? "" : line.substr(a);
      if (cmd.empty()) continue;
      if (cmd[0] == '.') {
        if (cmd.rfind(".quit", 0) == 0 || cmd.rfind(".exit", 0) == 0) break;
        if (cmd.rfind(".help", 0) == 0) std::printf("%s", kHelp);
        else if (cmd.rfind(".json", 0) == 0) { json = !json; std::printf("JSON output %s\n", json ? "on" : "off"); }
        else std::printf("unknown command %s (.help)\n", cmd.c_str());
        continue;
      }
    }
    buf += line + "\n";
    if (!lql::is_complete(buf)) continue;
    if (tty) {
      std::string h = buf;
      while (!h.empty() && h.back() == '\n') h.pop_back();
      add_history(h.c_str());
    }
    try {
      run_script(ctx, buf, json);
    } catch (const std::exception& e) {
      std::printf("error: %s\n", e.what());
    }
    std::fflush(stdout);
    buf.clear();
  }
  if (tty && !hist.empty()) write_history(hist.c_str());
  return 0;
}

}  // namespace

Runner add_lql(CLI::App& app) {
  auto* sub = app.add_subcommand("lql", "Run LQL statements (the query language over a model; docs/lql.md)");
  auto o = std::make_shared<LqlOpts>();
  sub->add_option("statements", o->script, "statements, each ending with ';'");
  sub->add_option("-f,--file", o->file, "read statements from a script file");
  sub->add_option("--use", o->use, "vindex directory or model file to USE first");
  sub->add_flag("--json", o->json, "one JSON object per statement result (JSON Lines)");
  sub->add_flag("--keep-going", o->keep_going, "after an error, print it and run the next statement (exit 1 at the end)");
  sub->add_option("-t,--threads", o->threads, "threads (0 = all cores)");
  sub->add_option("--templates", o->templates, "relation templates for DESCRIBE ('relation: text with {X}' lines)");
  return [o]() {
    if (o->script.empty() == o->file.empty()) throw Error("give either statements or -f FILE");
    std::string script = o->script;
    if (!o->file.empty()) {
      std::ifstream f(o->file, std::ios::binary);
      if (!f) throw Error("cannot read '" + o->file + "'");
      std::stringstream ss;
      ss << f.rdbuf();
      script = ss.str();
    }
    lql::Context ctx;
    preload(ctx, *o);
    return run_script(ctx, script, o->json, o->keep_going);
  };
}

Runner add_repl(CLI::App& app) {
  auto* sub = app.add_subcommand("repl", "Interactive LQL shell (readline, history in ~/.larql_history)");
  auto o = std::make_shared<LqlOpts>();
  sub->add_option("--use", o->use, "vindex directory or model file to USE first");
  sub->add_flag("--json", o->json, "print results as JSON");
  sub->add_option("-t,--threads", o->threads, "threads (0 = all cores)");
  sub->add_option("--templates", o->templates, "relation templates for DESCRIBE ('relation: text with {X}' lines)");
  return [o]() {
    lql::Context ctx;
    preload(ctx, *o);
    return repl(ctx, o->json);
  };
}

}  // namespace larql::cli
