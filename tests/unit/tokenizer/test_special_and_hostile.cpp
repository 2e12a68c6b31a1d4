// Special tokens (parse_special, add_special, EOG), GGUF metadata validation,
// and hostile input (invalid UTF-8, NUL, huge strings) on every vocabulary.
#include <gtest/gtest.h>

#include <chrono>
#include <random>

#include "tok_test_util.h"
#include "tokenizer/unicode.h"
#include "util/error.h"

namespace larql::test {
namespace {

std::unique_ptr<Tokenizer> vocab(const std::string& name) {
  return load_gguf_tokenizer(fixture("vocab/ggml-vocab-" + name + ".gguf"));
}

#define REQUIRE_VOCAB(name) LARQL_REQUIRE_FIXTURE(fixture(std::string("vocab/ggml-vocab-") + name + ".gguf"))

// Expected ids from llama.cpp c392e50:
//   llama-tokenize -m ggml-vocab-<name>.gguf -f <text> --ids --no-bos [--no-parse-special]
struct SpecialCase {
  const char* vocab;
  const char* text;
  bool parse_special;
  const char* ids;
};

TEST(SpecialTokens, MatchLlamaCpp) {
  const SpecialCase cases[] = {
      {"phi-3", "<|user|>\nHello<|end|>\n<|assistant|>", true, "[32010 15043 32007 32001]"},
      {"phi-3", "<|user|>\nHello<|end|>\n<|assistant|>", false,
       "[529 29989 1792 29989 29958 13 10994 29966 29989 355 29989 29958 13 29966 29989 465 22137 29989 29958]"},
      {"llama-spm", "<s>Hello</s> world<unk>", true, "[1 15043 2 29871 3186 0]"},
      {"llama-spm", "<s>Hello</s> world<unk>", false, "[529 29879 29958 10994 829 29879 29958 3186 29966 2960 29958]"},
      {"gpt-2", "Hi<|endoftext|> there", true, "[17250 50256 612]"},
      {"gpt-2", "Hi<|endoftext|> there", false, "[17250 27 91 437 1659 5239 91 29 612]"},
      {"bert-bge", "[CLS] Hello [SEP] [MASK] x", true, "[101 7592 102 103 1060]"},
      {"bert-bge", "[CLS] Hello [SEP] [MASK] x", false, "[1031 18856 2015 1033 7592 1031 19802 1033 1031 7308 1033 1060]"},
  };
  for (const auto& c : cases) {
    const std::string path = fixture(std::string("vocab/ggml-vocab-") + c.vocab + ".gguf");
    if (!exists(path)) GTEST_SKIP() << "fixture missing: " << path;
    auto tok = load_gguf_tokenizer(path);
    EXPECT_EQ(ids_str(tok->encode(c.text, false, c.parse_special)), c.ids)
        << c.vocab << " " << show(c.text) << " parse_special=" << c.parse_special;
  }
}

TEST(SpecialTokens, AddSpecialAndEog) {
  REQUIRE_VOCAB("bert-bge");
  {
    auto t = vocab("bert-bge");
    EXPECT_EQ(ids_str(t->encode("Hello world", true, false)), "[101 7592 2088 102]");
    EXPECT_EQ(t->cls_id(), 101);
    EXPECT_EQ(t->sep_id(), 102);
    EXPECT_EQ(t->mask_id(), 103);
    EXPECT_EQ(t->unk_id(), 100);
    EXPECT_EQ(t->pad_id(), 0);
    EXPECT_EQ(t->decode(t->encode("Hello world", true, false), true), "hello world");
  }
  REQUIRE_VOCAB("phi-3");
  {
    auto t = vocab("phi-3");
    EXPECT_EQ(t->bos_id(), 1);
    EXPECT_EQ(t->eos_id(), 32000);
    EXPECT_TRUE(t->is_eog(32000));  // eos, <|endoftext|>
    EXPECT_TRUE(t->is_eog(32007));  // <|end|>
    EXPECT_FALSE(t->is_eog(32010)); // <|user|>
    EXPECT_EQ(t->eot_id(), 32007);
    const auto ids = t->encode("Hello", true, false);
    EXPECT_EQ(ids.front(), 1);
    EXPECT_EQ(t->decode(ids, true), "Hello");
    EXPECT_EQ(t->decode({32010, 15043, 32007}, false), "<|user|>Hello<|end|>");
    EXPECT_EQ(t->decode({32010, 15043, 32007}, true), "Hello");
  }
  REQUIRE_VOCAB("gpt-2");
  {
    auto t = vocab("gpt-2");
    EXPECT_EQ(t->kind(), "bpe");
    EXPECT_EQ(t->pre(), "gpt-2");
    EXPECT_FALSE(t->add_bos());
    EXPECT_EQ(t->eos_id(), 50256);
    EXPECT_TRUE(t->is_eog(50256));
    EXPECT_EQ(ids_str(t->encode("Hi", true, false)), "[17250]");  // no BOS for GPT-2
    EXPECT_EQ(ids_str(t->encode(" Hello", false, false)), "[18435]");
    EXPECT_EQ(t->token_to_piece(18435), " Hello");  // stored as "\u0120Hello"
    EXPECT_EQ(t->token_text(18435), "\xC4\xA0Hello");
    EXPECT_EQ(t->token_text(50256), "<|endoftext|>");
    EXPECT_EQ(t->token_type(50256), TokenType::Control);
    EXPECT_EQ(t->find_token("<|endoftext|>"), 50256);
  }
}

TEST(SpecialTokens, UnknownPreTokenizerWarns) {
  REQUIRE_VOCAB("gpt-neox");
  auto t = vocab("gpt-neox");  // no tokenizer.ggml.pre key
  EXPECT_EQ(t->pre(), "default");
  EXPECT_FALSE(t->warnings().empty());
  const std::string s = "Hello world, it's 2024!";
  EXPECT_EQ(t->decode(t->encode(s, false, false)), s);
}

TEST(SpecialTokens, BaichuanLoads) {
  REQUIRE_VOCAB("baichuan");
  auto t = vocab("baichuan");
  EXPECT_EQ(t->kind(), "spm");
  EXPECT_EQ(t->n_vocab(), 64000);
  const std::string s = "Hello \xE4\xBD\xA0\xE5\xA5\xBD world";
  EXPECT_EQ(t->decode(t->encode(s, false, false)), s);
}

// ---- GGUF metadata validation ------------------------------------------------

TEST(GgufValidation, TinyVocabWorks) {
  TempGguf g(tiny_spm_writer());
  auto t = load_gguf_tokenizer(g.path());
  EXPECT_EQ(t->n_vocab(), 3 + 256 + 16);
  // "hello" -> "▁hello" (one token); "abc" -> "▁" + "abc"; "z" -> byte fallback.
  const int32_t hello = t->find_token("\xE2\x96\x81hello"), sp = t->find_token("\xE2\x96\x81");
  const int32_t abc = t->find_token("abc");
  EXPECT_EQ(ids_str(t->encode("hello abc z", false, false)),
            ids_str({hello, sp, abc, sp, 3 + 'z'}));
  EXPECT_EQ(t->decode(t->encode("hello abc z", true, false), true), "hello abc z");
}

TEST(GgufValidation, BadMetadataThrows) {
  using gguf::Value;
  struct Mut {
    const char* what;
    std::function<void(gguf::Writer&)> f;
  };
  const std::vector<Mut> muts = {
      {"model missing", [](gguf::Writer& w) { w.set("tokenizer.ggml.model", Value::from_u32(1)); }},
      {"unsupported model", [](gguf::Writer& w) { w.set("tokenizer.ggml.model", Value::from_string("t5")); }},
      {"tokens empty", [](gguf::Writer& w) { w.set("tokenizer.ggml.tokens", Value::from_strings({})); }},
      {"tokens not strings", [](gguf::Writer& w) { w.set("tokenizer.ggml.tokens", Value::from_i32s({1, 2})); }},
      {"scores short", [](gguf::Writer& w) { w.set("tokenizer.ggml.scores", Value::from_f32s({0, 0})); }},
      {"types short", [](gguf::Writer& w) { w.set("tokenizer.ggml.token_type", Value::from_i32s({1})); }},
      {"bos out of range", [](gguf::Writer& w) { w.set("tokenizer.ggml.bos_token_id", Value::from_u32(100000)); }},
      {"eos out of range", [](gguf::Writer& w) { w.set("tokenizer.ggml.eos_token_id", Value::from_i32(-5)); }},
      {"unk not an integer", [](gguf::Writer& w) { w.set("tokenizer.ggml.unknown_token_id", Value::from_string("0")); }},
      {"add_bos without bos", [](gguf::Writer& w) { w.set("tokenizer.ggml.bos_token_id", Value::from_u32(0xFFFFFFFFu)); }},
      {"add_bos not bool", [](gguf::Writer& w) { w.set("tokenizer.ggml.add_bos_token", Value::from_string("yes")); }},
      {"gpt2 without merges", [](gguf::Writer& w) { w.set("tokenizer.ggml.model", Value::from_string("gpt2")); }},
      {"merges not strings", [](gguf::Writer& w) {
         w.set("tokenizer.ggml.model", Value::from_string("gpt2"));
         w.set("tokenizer.ggml.merges", Value::from_i32s({1}));
       }},
  };
  for (const auto& m : muts) {
    gguf::Writer w = tiny_spm_writer();
    m.f(w);
    TempGguf g(w);
    std::unique_ptr<gguf::File> f;
    try {
      f = gguf::File::open(g.path());
    } catch (const Error&) {
      continue;  // rejected by the GGUF reader already: also fine
    }
    EXPECT_THROW(Tokenizer::from_gguf(*f), Error) << m.what;
  }
  // A file without any tokenizer metadata.
  gguf::Writer w;
  w.set("general.architecture", gguf::Value::from_string("llama"));
  TempGguf g(w);
  auto f = gguf::File::open(g.path());
  try {
    Tokenizer::from_gguf(*f);
    FAIL() << "expected larql::Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("tokenizer.ggml.model"), std::string::npos) << e.what();
  }
}

TEST(GgufValidation, AccessorsCheckRange) {
  TempGguf g(tiny_spm_writer());
  auto t = load_gguf_tokenizer(g.path());
  EXPECT_THROW(t->token_text(-1), Error);
  EXPECT_THROW(t->token_text(t->n_vocab()), Error);
  EXPECT_THROW(t->token_score(1 << 30), Error);
  EXPECT_THROW(t->token_to_piece(-7), Error);
  EXPECT_THROW(t->decode({1, 99999}), Error);
  EXPECT_EQ(t->token_type(1), TokenType::Control);
  EXPECT_EQ(t->token_type(3), TokenType::Byte);
  EXPECT_EQ(t->token_to_piece(3 + 'A'), "A");
}

// ---- hostile input -----------------------------------------------------------

std::vector<std::string> hostile_strings() {
  std::vector<std::string> v = {
      "",
      std::string(1, '\0'),
      std::string("a\0b\0\0c", 6),
      "\xFF\xFE\xFD",
      "\xC0\xAF",              // overlong '/'
      "\xED\xA0\x80",          // surrogate
      "\xF4\x90\x80\x80",      // > U+10FFFF
      "\xE2\x82",              // truncated
      "abc\x80\x80xyz",        // stray continuation bytes
      "\xF0\x9F\x98",          // truncated emoji
      "Hello \xE2\x96\x81\xE2\x96\x81 world",
      "<s></s><unk><|endoftext|>[CLS][SEP]<|im_start|>",
      "\r\n\t\v\f \xC2\x85\xE2\x80\xA8\xE3\x80\x80",
  };
  std::mt19937 rng(1234);
  for (int i = 0; i < 20; ++i) {
    std::string s(1 + rng() % 64, '\0');
    for (char& c : s) c = static_cast<char>(rng() & 0xFF);
    v.push_back(s);
  }
  return v;
}

class Hostile : public ::testing::TestWithParam<const char*> {};

TEST_P(Hostile, NoCrashAndLosslessWherePossible) {
  const std::string name = GetParam();
  REQUIRE_VOCAB(name);
  auto t = vocab(name);
  // Known exceptions to decode(encode(x)) == x (docs/tokenizers.md):
  //  * WordPiece normalizes (lower-case, accents, whitespace);
  //  * SPM renders a literal U+2581 in the input as a space;
  //  * DeepSeek vocabularies hold Latin-1 letters as user-defined tokens, so a
  //    stray byte 0xC0..0xFF (invalid UTF-8) comes back as that letter.
  const bool deepseek = name.rfind("deepseek", 0) == 0;
  auto valid_utf8 = [](const std::string& x) {
    for (size_t i = 0; i < x.size();) {
      const size_t n = unicode::valid_utf8_len(x, i);
      if (n == 0) return false;
      i += n;
    }
    return true;
  };
  //  * byte-level vocabularies without a token for some byte (Falcon) drop it,
  //    as llama.cpp and HF tokenizers do.
  std::string missing;
  if (t->kind() == "bpe")
    for (int b = 0; b < 256; ++b)
      if (t->find_token(unicode::bytes_to_unicode(std::string(1, static_cast<char>(b)))) < 0)
        missing += static_cast<char>(b);
  for (const auto& s : hostile_strings()) {
    bool lossless = t->kind() != "wpm";
    if (t->kind() == "spm" && s.find("\xE2\x96\x81") != std::string::npos) lossless = false;
    if (deepseek && !valid_utf8(s)) lossless = false;
    if (s.find_first_of(missing) != std::string::npos) lossless = false;
    for (bool ps : {false, true}) {
      std::vector<int32_t> ids;
      ASSERT_NO_THROW(ids = t->encode(s, true, ps)) << show(s);
      for (int32_t id : ids) ASSERT_TRUE(id >= 0 && id < t->n_vocab());
      std::string back;
      ASSERT_NO_THROW(back = t->decode(ids, true));
      if (lossless && !ps) {
        EXPECT_EQ(back, s) << name << " " << show(s);
      }
    }
  }
  EXPECT_TRUE(t->encode("", false, false).empty());
  EXPECT_TRUE(t->encode("", false, true).empty());
}

TEST_P(Hostile, LongInputsAreFast) {
  const std::string name = GetParam();
  REQUIRE_VOCAB(name);
  auto t = vocab(name);
  const std::string corpus_path = fixture("models/facts/corpus.txt");
#if defined(NDEBUG) && !defined(__SANITIZE_ADDRESS__)
  const size_t mb = 1 << 20;
#else
  const size_t mb = 1 << 17;  // sanitizer/debug builds: 1/8 of the size, same code paths
#endif
  std::vector<std::pair<std::string, std::string>> inputs = {
      {"1MB of 'a'", std::string(mb, 'a')},
      {"1MB of spaces", std::string(mb, ' ')},
      {"256KB of digits", std::string(mb / 4, '7')},
      {"256KB of newlines+spaces", [&] {
         std::string s;
         while (s.size() < mb / 4) s += " \n  \t";
         return s;
       }()},
  };
  if (exists(corpus_path)) {
    std::string c = read_all(corpus_path);
    c.resize(std::min<size_t>(c.size(), mb));
    inputs.emplace_back("1MB of English text", c);
  }
  for (const auto& [what, s] : inputs) {
    const auto t0 = std::chrono::steady_clock::now();
    const auto ids = t->encode(s, false, false);
    const double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("[ speed    ] %-14s %-26s %8zu tokens %.3f s\n", name.c_str(), what.c_str(), ids.size(), sec);
    if (t->kind() != "wpm") {
      EXPECT_EQ(t->decode(ids), s) << what;
    }
#if defined(NDEBUG) && !defined(__SANITIZE_ADDRESS__)
    // Optimized builds only; generous bounds because the test machine is shared.
    // Typical: 0.1-0.6 s for 1 MB of text, about 1 s for 1 MB of one repeated character.
    EXPECT_LT(sec, what.find("English") != std::string::npos ? 2.0 : 6.0) << name << ": " << what;
#endif
  }
}

INSTANTIATE_TEST_SUITE_P(AllVocabs, Hostile,
                         ::testing::Values("llama-spm", "phi-3", "gpt-2", "deepseek-llm", "deepseek-coder", "falcon",
                                           "starcoder", "refact", "mpt", "bert-bge"),
                         [](const auto& info) {
                           std::string s = info.param;
                           for (char& c : s)
                             if (c == '-') c = '_';
                           return s;
                         });

}  // namespace
}  // namespace larql::test
