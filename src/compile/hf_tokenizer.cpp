// tokenizer.json for a GGUF vocabulary, in the shape LARQL's HF loader (and
// Hugging Face tokenizers) read: SentencePiece vocabularies become BPE with
// byte fallback and merges ordered by the merged piece's score (as
// transformers' SentencePiece converter does); byte-level BPE keeps its merges.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <unordered_map>

#include "compile/hf_out.h"
#include "format/gguf.h"
#include "tokenizer/tokenizer.h"
#include "util/error.h"

namespace larql::compile::detail {
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

constexpr const char* kSpace = "\xE2\x96\x81";

void write_text(const fs::path& p, const std::string& s) {
  std::ofstream f(p, std::ios::binary);
  f << s;
  if (!f) throw Error("compile: cannot write '" + p.string() + "'");
}

bool copy_if_exists(const fs::path& from_dir, const fs::path& to_dir, const char* name) {
  std::error_code ec;
  if (!fs::is_regular_file(from_dir / name, ec)) return false;
  fs::copy_file(from_dir / name, to_dir / name, fs::copy_options::overwrite_existing, ec);
  if (ec) throw Error("compile: cannot copy '" + (from_dir / name).string() + "': " + ec.message());
  return true;
}

// Byte offsets of UTF-8 code point starts after the first (split points).
std::vector<size_t> split_points(const std::string& s) {
  std::vector<size_t> out;
  for (size_t i = 1; i < s.size(); ++i)
    if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80) out.push_back(i);
  return out;
}

// SentencePiece merges: every split of a normal piece into two vocabulary
// pieces, ranked by the piece's score (higher first), ties by the ids.
json spm_merges(const Tokenizer& tok) {
  const int32_t n = tok.n_vocab();
  std::unordered_map<std::string, int32_t> id;
  for (int32_t i = 0; i < n; ++i) id.emplace(tok.token_text(i), i);
  struct M { float score; int32_t l, r; int32_t tok; size_t cut; };
  std::vector<M> ms;
  for (int32_t i = 0; i < n; ++i) {
    if (tok.token_type(i) != TokenType::Normal && tok.token_type(i) != TokenType::UserDefined) continue;
    const std::string& t = tok.token_text(i);
    for (size_t cut : split_points(t)) {
      auto a = id.find(t.substr(0, cut)), b = id.find(t.substr(cut));
      if (a != id.end() && b != id.end()) ms.push_back({tok.token_score(i), a->second, b->second, i, cut});
    }
  }
  std::stable_sort(ms.begin(), ms.end(), [](const M& x, const M& y) {
    if (x.score != y.score) return x.score > y.score;
    return x.l != y.l ? x.l < y.l : x.r < y.r;
  });
  json out = json::array();
  for (const M& m : ms) {
    const std::string& t = tok.token_text(m.tok);
    out.push_back(json::array({t.substr(0, m.cut), t.substr(m.cut)}));
  }
  return out;
}

json added_tokens(const Tokenizer& tok) {
  json a = json::array();
  for (int32_t i = 0; i < tok.n_vocab(); ++i) {
    const TokenType ty = tok.token_type(i);
    if (ty != TokenType::Control && ty != TokenType::UserDefined && ty != TokenType::Unknown) continue;
    a.push_back({{"id", i}, {"content", tok.token_text(i)}, {"single_word", false}, {"lstrip", false},
                 {"rstrip", false}, {"normalized", ty == TokenType::UserDefined}, {"special", ty != TokenType::UserDefined}});
  }
  return a;
}

json post_processor(const Tokenizer& tok) {
  json single = json::array();
  json specials = json::object();
  auto special = [&](int32_t id) {
    const std::string& t = tok.token_text(id);
    single.push_back({{"SpecialToken", {{"id", t}, {"type_id", 0}}}});
    specials[t] = {{"id", t}, {"ids", json::array({id})}, {"tokens", json::array({t})}};
  };
  if (tok.add_bos() && tok.bos_id() >= 0) special(tok.bos_id());
  single.push_back({{"Sequence", {{"id", "A"}, {"type_id", 0}}}});
  if (tok.add_eos() && tok.eos_id() >= 0) special(tok.eos_id());
  return {{"type", "TemplateProcessing"}, {"single", single}, {"pair", single}, {"special_tokens", specials}};
}

}  // namespace

void write_hf_tokenizer(const ModelSource& src, const std::string& dir, Result& res) {
  fs::path sp = src.path();
  if (!fs::is_directory(sp)) sp = sp.parent_path();
  if (copy_if_exists(sp, dir, "tokenizer.json")) {
    for (const char* f : {"tokenizer_config.json", "chat_template.jinja", "chat_template.json", "special_tokens_map.json"})
      copy_if_exists(sp, dir, f);
    return;
  }
  auto tok = src.tokenizer();
  const int32_t n = tok->n_vocab();
  json vocab = json::object();
  size_t dups = 0;
  for (int32_t i = 0; i < n; ++i) {
    if (vocab.contains(tok->token_text(i))) ++dups;
    else vocab[tok->token_text(i)] = i;
  }
  if (dups) res.notes.push_back(std::to_string(dups) + " duplicate token texts: only their first id is in tokenizer.json");
  json model = {{"type", "BPE"}, {"dropout", nullptr}, {"continuing_subword_prefix", nullptr},
                {"end_of_word_suffix", nullptr}, {"vocab", vocab}};
  json j = {{"version", "1.0"}, {"truncation", nullptr}, {"padding", nullptr}};
  const std::string kind = tok->kind();
  if (kind == "spm") {
    model["fuse_unk"] = true;
    model["byte_fallback"] = true;
    model["unk_token"] = tok->unk_id() >= 0 ? json(tok->token_text(tok->unk_id())) : json(nullptr);
    model["merges"] = spm_merges(*tok);
    json replace = {{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", kSpace}};
    j["normalizer"] = tok->add_space_prefix()
                          ? json{{"type", "Sequence"}, {"normalizers", json::array({{{"type", "Prepend"}, {"prepend", kSpace}}, replace})}}
                          : replace;
    j["pre_tokenizer"] = nullptr;
    json dec = json::array({{{"type", "Replace"}, {"pattern", {{"String", kSpace}}}, {"content", " "}},
                            {{"type", "ByteFallback"}}, {{"type", "Fuse"}}});
    if (tok->add_space_prefix()) dec.push_back({{"type", "Strip"}, {"content", " "}, {"start", 1}, {"stop", 0}});
    j["decoder"] = {{"type", "Sequence"}, {"decoders", dec}};
    res.notes.push_back("tokenizer.json built from the SentencePiece vocabulary (BPE + byte fallback, merges by score)");
  } else if (kind == "bpe") {
    auto meta = source_metadata(src);
    const gguf::Value* mv = meta ? meta->find("tokenizer.ggml.merges") : nullptr;
    model["merges"] = mv ? json(mv->as_string_array()) : json::array();
    model["byte_fallback"] = false;
    j["normalizer"] = nullptr;
    j["pre_tokenizer"] = {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}, {"use_regex", true}};
    j["decoder"] = {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"trim_offsets", true}, {"use_regex", true}};
    const std::string pre = tok->pre();
    if (pre != "default" && pre != "gpt2" && pre != "gpt-2")
      res.notes.push_back("WARNING: pre-tokenizer '" + pre + "' written as GPT-2's regex: some texts may split differently");
  } else {
    throw Error("compile: cannot export a '" + kind + "' tokenizer to tokenizer.json");
  }
  j["model"] = model;
  j["added_tokens"] = added_tokens(*tok);
  j["post_processor"] = post_processor(*tok);
  write_text(fs::path(dir) / "tokenizer.json", j.dump(1));

  json cfg = {{"add_bos_token", tok->add_bos()}, {"add_eos_token", tok->add_eos()}};
  if (tok->bos_id() >= 0) cfg["bos_token"] = tok->token_text(tok->bos_id());
  if (tok->eos_id() >= 0) cfg["eos_token"] = tok->token_text(tok->eos_id());
  if (tok->unk_id() >= 0) cfg["unk_token"] = tok->token_text(tok->unk_id());
  if (tok->pad_id() >= 0) cfg["pad_token"] = tok->token_text(tok->pad_id());
  const std::string chat = src.chat_template();
  if (!chat.empty()) cfg["chat_template"] = chat;
  write_text(fs::path(dir) / "tokenizer_config.json", cfg.dump(1));
}

}  // namespace larql::compile::detail
