// TextStream: streamed text == Tokenizer::decode of all ids, chunk by chunk
// never splitting a UTF-8 character, on every fixture vocabulary.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "../test_paths.h"
#include "engine/text_stream.h"
#include "format/gguf.h"
#include "tokenizer/tokenizer.h"
#include "util/error.h"

namespace larql {
namespace {

namespace fs = std::filesystem;

// Strict UTF-8 check written for this test (RFC 3629 table).
bool valid_utf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto b = static_cast<unsigned char>(s[i]);
    size_t n;
    unsigned char lo = 0x80, hi = 0xBF;
    if (b < 0x80) n = 1;
    else if (b >= 0xC2 && b <= 0xDF) n = 2;
    else if (b == 0xE0) n = 3, lo = 0xA0;
    else if (b >= 0xE1 && b <= 0xEC) n = 3;
    else if (b == 0xED) n = 3, hi = 0x9F;
    else if (b >= 0xEE && b <= 0xEF) n = 3;
    else if (b == 0xF0) n = 4, lo = 0x90;
    else if (b >= 0xF1 && b <= 0xF3) n = 4;
    else if (b == 0xF4) n = 4, hi = 0x8F;
    else return false;
    if (i + n > s.size()) return false;
    for (size_t k = 1; k < n; ++k) {
      const auto c = static_cast<unsigned char>(s[i + k]);
      if (k == 1 ? (c < lo || c > hi) : (c < 0x80 || c > 0xBF)) return false;
    }
    i += n;
  }
  return true;
}

struct Loaded {
  std::unique_ptr<gguf::File> file;
  std::unique_ptr<Tokenizer> tok;
};

Loaded load(const std::string& path) {
  Loaded l;
  l.file = gguf::File::open(path);
  l.tok = Tokenizer::from_gguf(*l.file);
  return l;
}

std::string read_file(const std::string& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<std::string> split_inp(const std::string& inp) {
  const std::string sep = "\n__ggml_vocab_test__\n";
  std::vector<std::string> out;
  size_t pos = 0;
  for (size_t j; (j = inp.find(sep, pos)) != std::string::npos; pos = j + sep.size()) out.push_back(inp.substr(pos, j - pos));
  return out;
}

std::vector<std::vector<int32_t>> read_out(const std::string& p) {
  std::vector<std::vector<int32_t>> r;
  std::istringstream in(read_file(p));
  for (std::string line; std::getline(in, line);) {
    std::istringstream ls(line);
    std::vector<int32_t> v;
    for (long x; ls >> x;) v.push_back(static_cast<int32_t>(x));
    r.push_back(v);
  }
  return r;
}

std::vector<std::string> vocab_files() {
  std::vector<std::string> r;
  const fs::path dir = fs::path(test::fixtures_dir()) / "vocab";
  if (!fs::is_directory(dir)) return r;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().extension() == ".gguf") r.push_back(e.path().string());
  std::sort(r.begin(), r.end());
  return r;
}

// Every .inp test string of every vocabulary, plus a few extra hard cases.
std::vector<std::string> corpus() {
  std::set<std::string> s;
  for (const auto& v : vocab_files())
    if (fs::exists(v + ".inp"))
      for (auto& t : split_inp(read_file(v + ".inp"))) s.insert(t);
  for (const char* t : {"€", "日本語のテキストです。", "🦙🦙 llama", "e\xcc\x81t\xc3\xa9", "Ελληνικά και русский",
                        "👩‍👩‍👧‍👦 family", "مرحبا بالعالم", "tab\tnew\nline", "a\xff" "b\xe2\x82", "\xf0\x9f",
                        "<s>Hello</s> world", "<|endoftext|>more", "  two leading", "x"})
    s.insert(t);
  return {s.begin(), s.end()};
}

struct Stats {
  size_t sequences = 0, tokens = 0, held = 0, matched_input = 0;
};

// Streams ids and checks: the concatenation equals decode(ids); after each
// push the emitted text is decode(prefix) minus an unfinished UTF-8 tail of
// at most 3 bytes; when the whole text is valid UTF-8, so is every chunk.
void check_stream(const Tokenizer& tok, const std::vector<int32_t>& ids, bool skip, Stats& st) {
  const std::string want = tok.decode(ids, skip);
  const bool valid = valid_utf8(want);
  TextStream ts(tok, skip);
  std::string got;
  std::vector<int32_t> prefix;
  for (int32_t id : ids) {
    const std::string chunk = ts.push(id);
    prefix.push_back(id);
    if (valid) {
      ASSERT_TRUE(valid_utf8(chunk)) << "chunk splits a character after token " << id;
    }
    got += chunk;
    const std::string so_far = tok.decode(prefix, skip);
    ASSERT_EQ(so_far.compare(0, got.size(), got), 0) << "emitted text is not a prefix of decode()";
    const std::string tail = so_far.substr(got.size());
    ASSERT_EQ(tail.size(), ts.pending());
    ASSERT_LE(tail.size(), 3u);
    if (!tail.empty()) {
      const auto lead = static_cast<unsigned char>(tail[0]);
      const size_t need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : 2;
      ASSERT_TRUE(lead >= 0xC2 && lead <= 0xF4 && tail.size() < need) << "held bytes are not an unfinished character";
      ++st.held;
    }
  }
  got += ts.flush();
  EXPECT_EQ(got, want);
  EXPECT_EQ(ts.pending(), 0u);
  ++st.sequences;
  st.tokens += ids.size();
}

void check_tokenizer(const std::string& path, const std::vector<std::string>& texts, Stats& st) {
  SCOPED_TRACE(path);
  Loaded l = load(path);
  const Tokenizer& tok = *l.tok;
  for (const auto& t : texts) {
    SCOPED_TRACE(testing::Message() << "text \"" << t << "\"");
    for (bool add_special : {false, true}) {
      const auto ids = tok.encode(t, add_special, true);
      check_stream(tok, ids, false, st);
      check_stream(tok, ids, true, st);
      if (!add_special && tok.decode(ids) == t) ++st.matched_input;
    }
  }
  // The Hugging Face reference ids of the .out file, streamed as they are.
  if (fs::exists(path + ".out"))
    for (const auto& ids : read_out(path + ".out")) check_stream(tok, ids, false, st);
  // Random ids: byte tokens, specials and ordinary pieces in any order.
  std::mt19937 g(12345);
  std::vector<int32_t> bytes;
  for (int32_t i = 0; i < tok.n_vocab(); ++i)
    if (tok.token_type(i) == TokenType::Byte) bytes.push_back(i);
  for (int rep = 0; rep < 150; ++rep) {
    std::vector<int32_t> ids(1 + g() % 24);
    for (auto& id : ids)
      id = (!bytes.empty() && g() % 2) ? bytes[g() % bytes.size()] : static_cast<int32_t>(g() % tok.n_vocab());
    check_stream(tok, ids, rep % 2 == 1, st);
  }
}

TEST(TextStream, MatchesDecodeOnEveryFixtureVocabulary) {
  LARQL_REQUIRE_FIXTURES();
  const auto files = vocab_files();
  ASSERT_FALSE(files.empty()) << "no vocab fixtures";
  const auto texts = corpus();
  Stats st;
  for (const auto& f : files) check_tokenizer(f, texts, st);
  std::printf("[ stream ] %zu vocabs, %zu sequences, %zu tokens, %zu pushes held bytes, %zu texts round-tripped\n",
              files.size(), st.sequences, st.tokens, st.held, st.matched_input);
  EXPECT_GT(st.held, 100u);  // byte-fallback / byte-level splits really happened
  EXPECT_GT(st.matched_input, texts.size() * files.size() / 2);
}

TEST(TextStream, MatchesDecodeOnModelVocabularies) {
  LARQL_REQUIRE_FIXTURES();
  const auto texts = corpus();
  Stats st;
  for (const char* rel : {"models/facts/facts-F32.gguf", "models/synthetic/tiny-llama-gqa-F32.gguf",
                          "models/synthetic/tiny-gpt2-F32.gguf"}) {
    const std::string p = test::fixtures_dir() + "/" + rel;
    if (!fs::exists(p)) GTEST_SKIP() << "SKIPPED: fixture missing: " << p;
    check_tokenizer(p, texts, st);
  }
  std::printf("[ stream ] model vocabs: %zu sequences, %zu tokens, %zu pushes held bytes, %zu texts round-tripped\n",
              st.sequences, st.tokens, st.held, st.matched_input);
  EXPECT_GT(st.held, 50u);
}

TEST(TextStream, HoldsByteFallbackUntilCharacterCompletes) {
  LARQL_REQUIRE_FIXTURES();
  const std::string p = test::fixtures_dir() + "/vocab/ggml-vocab-llama-spm.gguf";
  if (!fs::exists(p)) GTEST_SKIP() << "SKIPPED: fixture missing: " << p;
  Loaded l = load(p);
  const Tokenizer& tok = *l.tok;
  // U+1F999 LLAMA = F0 9F A6 99, spelled with byte-fallback tokens.
  std::vector<int32_t> b;
  for (const char* t : {"<0xF0>", "<0x9F>", "<0xA6>", "<0x99>"}) {
    b.push_back(tok.find_token(t));
    ASSERT_GE(b.back(), 0) << t;
  }
  const int32_t hello = tok.find_token("▁Hello");
  ASSERT_GE(hello, 0);
  TextStream ts(tok);
  EXPECT_EQ(ts.push(hello), "Hello");  // dummy-prefix space removed at the start
  EXPECT_EQ(ts.push(b[0]), "");
  EXPECT_EQ(ts.push(b[1]), "");
  EXPECT_EQ(ts.push(b[2]), "");
  EXPECT_EQ(ts.pending(), 3u);
  EXPECT_EQ(ts.push(b[3]), "\xF0\x9F\xA6\x99");
  EXPECT_EQ(ts.push(hello), " Hello");  // not at the start: the space stays
  // A special token renders and restarts the dummy-prefix rule, as decode() does.
  ASSERT_GE(tok.eos_id(), 0);
  EXPECT_EQ(ts.push(tok.eos_id()), "</s>");
  EXPECT_EQ(ts.push(hello), "Hello");
  // An unfinished character is released as-is at the end.
  EXPECT_EQ(ts.push(b[0]), "");
  EXPECT_EQ(ts.push(b[1]), "");
  EXPECT_EQ(ts.flush(), "\xF0\x9F");
  // A sequence broken by an ASCII byte passes through unchanged (the byte
  // token was a visible piece, so "▁Hello" keeps its space, as in decode()).
  ts.reset();
  EXPECT_EQ(ts.push(b[0]), "");
  EXPECT_EQ(ts.push(hello), "\xF0 Hello");
  // skip_special drops control tokens like decode(ids, true).
  TextStream sk(tok, true);
  EXPECT_EQ(sk.push(tok.bos_id()), "");
  EXPECT_EQ(sk.push(hello), "Hello");
  EXPECT_THROW(sk.push(tok.n_vocab()), Error);
  EXPECT_THROW(sk.push(-1), Error);
  // Real text in, same text out (the .inp string " this is 🦙.cpp" with a leading space).
  const std::string text = " this is \xF0\x9F\xA6\x99.cpp";
  TextStream rt(tok);
  std::string out;
  for (int32_t id : tok.encode(text, false, false)) out += rt.push(id);
  out += rt.flush();
  EXPECT_EQ(out, text);
}

TEST(Utf8CompletePrefix, HandCases) {
  struct C { std::string s; size_t want; };
  const std::vector<C> cases = {
      {"", 0},
      {"abc", 3},
      {"a\xE2", 1},                 // lead of a 3-byte sequence
      {"a\xE2\x82", 1},             // 2 of 3
      {"a\xE2\x82\xAC", 4},         // euro sign complete
      {"\xF0\x9F\xA6", 0},          // 3 of 4
      {"\xF0\x9F\xA6\x99", 4},
      {"\xC3", 0},
      {"\xC3\xA9", 2},
      {"\x80", 1},                  // stray continuation: invalid, passes
      {"\x80\x80\x80\x80", 4},
      {"\xC0", 1},                  // never valid lead
      {"\xC1", 1},
      {"\xF5", 1},
      {"\xFF", 1},
      {"\xE0\x80", 2},              // overlong: can never complete
      {"\xE0\xA0", 0},              // fine so far
      {"\xED\xA0", 2},              // surrogate range
      {"\xED\x9F", 0},
      {"\xF0\x80", 2},              // overlong 4-byte
      {"\xF4\x90", 2},              // above U+10FFFF
      {"\xF4\x8F\xBF", 0},
      {"\xE2\x82" "a", 3},          // broken by ASCII
      {"\xE2\xE2", 1},              // the second lead is the unfinished one
  };
  for (const auto& c : cases) EXPECT_EQ(utf8_complete_prefix(c.s), c.want) << testing::PrintToString(c.s);
}

}  // namespace
}  // namespace larql
