// libFuzzer target for the tokenizers: encodes the input with parse_special on
// and off, checks every id is in range, decodes, and checks the lossless
// round trip where the algorithm guarantees it. Also decodes the input read as
// a list of token ids.
//
// Vocabularies: fixtures/vocab GGUFs from $LARQL_SHARED_DIR or ../shared next to
// the source tree, when present; a tiny in-memory tokenizer.json always.
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "format/gguf.h"
#include "tokenizer/tokenizer.h"
#include "util/error.h"

namespace {

std::string shared_dir() {
  if (const char* e = std::getenv("LARQL_SHARED_DIR"); e && *e) return e;
#ifdef LARQL_SOURCE_DIR
  return std::string(LARQL_SOURCE_DIR) + "/../shared";
#else
  // This file is <source>/tests/fuzz/fuzz_tokenizer.cpp.
  return std::filesystem::path(__FILE__).parent_path().parent_path().parent_path().string() + "/../shared";
#endif
}

// SentencePiece-style BPE with byte fallback, written as a Hugging Face tokenizer.json.
std::string tiny_tokenizer_json() {
  std::string vocab = R"("<unk>": 0, "<s>": 1, "</s>": 2)";
  char buf[64];
  for (int b = 0; b < 256; ++b) {
    std::snprintf(buf, sizeof buf, R"(, "<0x%02X>": %d)", b, 3 + b);
    vocab += buf;
  }
  const char* pieces[] = {"\u2581", "a", "b", "c", "\u2581a", "ab", "\u2581ab", "abc"};
  int id = 259;
  for (const char* p : pieces) vocab += std::string(", \"") + p + "\": " + std::to_string(id++);
  return R"({"added_tokens": [
      {"id": 0, "content": "<unk>", "special": true},
      {"id": 1, "content": "<s>", "special": true},
      {"id": 2, "content": "</s>", "special": true}],
    "normalizer": {"type": "Sequence", "normalizers": [
      {"type": "Prepend", "prepend": "\u2581"},
      {"type": "Replace", "pattern": {"String": " "}, "content": "\u2581"}]},
    "pre_tokenizer": null,
    "decoder": {"type": "Sequence", "decoders": [
      {"type": "Replace", "pattern": {"String": "\u2581"}, "content": " "},
      {"type": "ByteFallback"}, {"type": "Fuse"}, {"type": "Strip", "content": " ", "start": 1, "stop": 0}]},
    "model": {"type": "BPE", "unk_token": "<unk>", "byte_fallback": true, "fuse_unk": true,
      "vocab": {)" + vocab + R"(},
      "merges": ["\u2581 a", "a b", "\u2581a b", "ab c"]}})";
}

struct Entry {
  std::unique_ptr<larql::Tokenizer> tok;
  bool lossless;  // decode(encode(x, parse_special=false)) == x for inputs without U+2581
};

const std::vector<Entry>& tokenizers() {
  static const std::vector<Entry> all = [] {
    std::vector<Entry> v;
    const std::string dir = shared_dir() + "/fixtures/vocab/";
    for (const char* name : {"llama-spm", "gpt-2", "bert-bge", "deepseek-coder"}) {
      const std::string path = dir + "ggml-vocab-" + name + ".gguf";
      if (!std::filesystem::exists(path)) continue;
      auto f = larql::gguf::File::open(path);
      auto t = larql::Tokenizer::from_gguf(*f);
      // deepseek-coder: Latin-1 letters are user-defined tokens (see docs), so
      // invalid UTF-8 does not round-trip there.
      const std::string n = name;
      v.push_back({std::move(t), n == "llama-spm" || n == "gpt-2"});
    }
    v.push_back({larql::Tokenizer::from_hf_json_text(tiny_tokenizer_json()), true});
    return v;
  }();
  return all;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  const bool has_space_marker = text.find("\xE2\x96\x81") != std::string::npos;
  for (const auto& e : tokenizers()) {
    const larql::Tokenizer& t = *e.tok;
    for (bool parse_special : {false, true}) {
      const std::vector<int32_t> ids = t.encode(text, true, parse_special);
      for (int32_t id : ids)
        if (id < 0 || id >= t.n_vocab()) std::abort();
      (void)t.decode(ids, false);
      const std::string back = t.decode(t.encode(text, false, parse_special), true);
      if (e.lossless && !parse_special && !has_space_marker && back != text) std::abort();
    }
    // The input as token ids (some out of range: decode must throw, not crash).
    std::vector<int32_t> ids;
    for (size_t i = 0; i + 2 <= size; i += 2) ids.push_back(static_cast<int32_t>(data[i] | (data[i + 1] << 8)));
    try {
      (void)t.decode(ids, (size & 1) != 0);
    } catch (const larql::Error&) {
    }
    for (int32_t id : ids)
      if (id < t.n_vocab()) (void)t.token_to_piece(id);
  }
  return 0;
}
