// larql tokenize MODEL TEXT [--ids] [--json] [--no-special]
// larql detokenize MODEL IDS
#include <CLI/CLI.hpp>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/model_path.h"
#include "format/gguf.h"
#include "format/safetensors.h"
#include "tokenizer/tokenizer.h"
#include "util/error.h"

namespace larql::cli {

namespace {

std::unique_ptr<Tokenizer> load_tokenizer(const std::string& path) {
  if (is_vindex_path(path)) return load_vindex_tokenizer(path);
  if (model_is_gguf(path)) {
    auto f = gguf::File::open(path);
    return Tokenizer::from_gguf(*f);
  }
  auto folder = safetensors::Folder::open(path);
  std::string tj = folder->tokenizer_json_path();
  if (tj.empty()) throw Error("'" + path + "' has no tokenizer.json");
  return Tokenizer::from_hf_json(tj);
}

}  // namespace

// Ids separated by commas, spaces or brackets; each checked against the vocabulary.
std::vector<int32_t> parse_token_list(const std::string& s, int64_t n_vocab) {
  std::vector<int32_t> ids;
  std::string cur;
  auto flush = [&] {
    if (cur.empty()) return;
    size_t used = 0;
    long long v = 0;
    try {
      v = std::stoll(cur, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != cur.size()) throw Error("'" + cur + "' is not a token id");
    if (v < 0 || v >= n_vocab)
      throw Error("token id " + cur + " is out of range (vocabulary has " + std::to_string(n_vocab) + " tokens)");
    ids.push_back(static_cast<int32_t>(v));
    cur.clear();
  };
  for (char c : s) {
    if (c == ',' || c == ' ' || c == '\t' || c == '\n' || c == '[' || c == ']') flush();
    else cur.push_back(c);
  }
  flush();
  return ids;
}

Runner add_tokenize(CLI::App& app) {
  auto* sub = app.add_subcommand("tokenize", "Tokenize TEXT with the model's tokenizer");
  struct Opts { std::string model, text; bool ids = false, json = false, no_special = false; };
  auto o = std::make_shared<Opts>();
  sub->add_option("MODEL", o->model, "GGUF file or safetensors folder")->required();
  sub->add_option("TEXT", o->text, "Text to tokenize")->required();
  sub->add_flag("--ids", o->ids, "Print only the ids, space-separated, on one line");
  sub->add_flag("--json", o->json, "Print a JSON object with ids and pieces");
  sub->add_flag("--no-special", o->no_special, "Add no BOS/EOS and treat special-token text as plain text");
  return [=]() {
    auto tok = load_tokenizer(o->model);
    auto ids = tok->encode(o->text, !o->no_special, !o->no_special);
    if (o->json) {
      nlohmann::json j;
      j["ids"] = ids;
      std::vector<std::string> pieces;
      for (int32_t id : ids) pieces.push_back(tok->token_to_piece(id));
      j["pieces"] = nlohmann::json(pieces);
      std::printf("%s\n", j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
    } else if (o->ids) {
      for (size_t i = 0; i < ids.size(); ++i) std::printf(i ? " %d" : "%d", ids[i]);
      std::printf("\n");
    } else {
      for (int32_t id : ids) std::printf("%6d -> '%s'\n", id, tok->token_to_piece(id).c_str());
    }
    return 0;
  };
}

Runner add_detokenize(CLI::App& app) {
  auto* sub = app.add_subcommand("detokenize", "Turn token ids back into text");
  struct Opts { std::string model, ids; bool skip_special = false; };
  auto o = std::make_shared<Opts>();
  sub->add_option("MODEL", o->model, "GGUF file or safetensors folder")->required();
  sub->add_option("IDS", o->ids, "Token ids, comma- or space-separated")->required();
  sub->add_flag("--skip-special", o->skip_special, "Leave out control tokens such as BOS/EOS");
  return [=]() {
    auto tok = load_tokenizer(o->model);
    auto ids = parse_token_list(o->ids, tok->n_vocab());
    std::string text = tok->decode(ids, o->skip_special);
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::printf("\n");
    return 0;
  };
}

}  // namespace larql::cli
