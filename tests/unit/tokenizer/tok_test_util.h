// Helpers shared by the tokenizer tests: fixture paths, the .inp/.out vector
// format of fixtures/vocab (see fixtures/vocab/README.md), id formatting.
#pragma once
#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <unistd.h>

#include "format/gguf.h"
#include "tokenizer/tokenizer.h"

namespace larql::test {

inline std::string shared_dir() {
  if (const char* e = std::getenv("LARQL_SHARED_DIR"); e && *e) return e;
  return LARQL_SHARED_DIR;
}
inline std::string fixture(const std::string& rel) { return shared_dir() + "/fixtures/" + rel; }
inline bool exists(const std::string& p) { return std::filesystem::exists(p); }

#define LARQL_REQUIRE_FIXTURE(path)                                              \
  do {                                                                           \
    if (!::larql::test::exists(path)) GTEST_SKIP() << "fixture missing: " << (path); \
  } while (0)

inline std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

struct VocabCase {
  std::string text;
  std::vector<int32_t> ids;
};

// Splits X.inp on "\n__ggml_vocab_test__\n" and pairs it with the lines of X.out.
inline std::vector<VocabCase> load_vocab_cases(const std::string& gguf_path) {
  const std::string inp = read_all(gguf_path + ".inp");
  const std::string out = read_all(gguf_path + ".out");
  const std::string sep = "\n__ggml_vocab_test__\n";
  std::vector<std::string> texts;
  size_t pos = 0;
  for (size_t j; (j = inp.find(sep, pos)) != std::string::npos; pos = j + sep.size())
    texts.push_back(inp.substr(pos, j - pos));
  std::vector<std::vector<int32_t>> ids;
  std::istringstream os(out);
  for (std::string line; std::getline(os, line);) {
    std::istringstream ls(line);
    std::vector<int32_t> v;
    for (int64_t x; ls >> x;) v.push_back(static_cast<int32_t>(x));
    ids.push_back(std::move(v));
  }
  EXPECT_EQ(texts.size(), ids.size()) << gguf_path;
  std::vector<VocabCase> cases;
  for (size_t i = 0; i < std::min(texts.size(), ids.size()); ++i) cases.push_back({texts[i], ids[i]});
  return cases;
}

inline std::string ids_str(const std::vector<int32_t>& v) {
  std::string s = "[";
  for (size_t i = 0; i < v.size(); ++i) s += (i ? " " : "") + std::to_string(v[i]);
  return s + "]";
}

// Printable rendering of a test string (escapes control bytes and non-ASCII).
inline std::string show(const std::string& s, size_t max = 60) {
  std::string r = "\"";
  for (size_t i = 0; i < s.size() && i < max; ++i) {
    const unsigned char c = s[i];
    if (c == '\n') r += "\\n";
    else if (c == '\t') r += "\\t";
    else if (c < 0x20 || c >= 0x7F) {
      char b[8];
      std::snprintf(b, sizeof b, "\\x%02X", c);
      r += b;
    } else r += static_cast<char>(c);
  }
  if (s.size() > max) r += "...";
  return r + "\"";
}

inline std::unique_ptr<Tokenizer> load_gguf_tokenizer(const std::string& path) {
  auto f = gguf::File::open(path);
  return Tokenizer::from_gguf(*f);
}

}  // namespace larql::test

namespace larql::test {

// A GGUF file in the system temp directory, removed on destruction.
class TempGguf {
 public:
  explicit TempGguf(const gguf::Writer& w) {
    static int counter = 0;
    path_ = (std::filesystem::temp_directory_path() /
             ("larql-tok-" + std::to_string(::getpid()) + "-" + std::to_string(counter++) + ".gguf"))
                .string();
    w.write(path_);
  }
  ~TempGguf() {
    std::error_code ec;
    std::filesystem::remove(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// A small SentencePiece-style vocabulary: <unk> <s> </s>, 256 byte tokens,
// then pieces with scores (higher = merged first).
inline gguf::Writer tiny_spm_writer() {
  std::vector<std::string> tokens = {"<unk>", "<s>", "</s>"};
  std::vector<float> scores = {0, 0, 0};
  std::vector<int32_t> types = {2, 3, 3};
  for (int b = 0; b < 256; ++b) {
    char name[8];
    std::snprintf(name, sizeof name, "<0x%02X>", b);
    tokens.push_back(name);
    scores.push_back(0);
    types.push_back(6);
  }
  const char* pieces[] = {"\xE2\x96\x81", "a", "b", "c", "h", "e", "l", "o", "\xE2\x96\x81h", "he", "ll",
                          "\xE2\x96\x81he", "llo", "\xE2\x96\x81hello", "ab", "abc"};
  float s = -1;
  for (const char* p : pieces) {
    tokens.push_back(p);
    scores.push_back(s);
    s -= 1;
    types.push_back(1);
  }
  gguf::Writer w;
  w.set("general.architecture", gguf::Value::from_string("llama"));
  w.set("tokenizer.ggml.model", gguf::Value::from_string("llama"));
  w.set("tokenizer.ggml.tokens", gguf::Value::from_strings(tokens));
  w.set("tokenizer.ggml.scores", gguf::Value::from_f32s(scores));
  w.set("tokenizer.ggml.token_type", gguf::Value::from_i32s(types));
  w.set("tokenizer.ggml.bos_token_id", gguf::Value::from_u32(1));
  w.set("tokenizer.ggml.eos_token_id", gguf::Value::from_u32(2));
  w.set("tokenizer.ggml.unknown_token_id", gguf::Value::from_u32(0));
  return w;
}

}  // namespace larql::test
