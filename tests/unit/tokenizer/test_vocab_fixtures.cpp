// Upstream tokenizer vectors (fixtures/vocab/*.gguf.inp/.out, produced by the
// Hugging Face tokenizers): every case must match exactly with
// add_special = false, parse_special = false.
#include <gtest/gtest.h>

#include "tok_test_util.h"

namespace larql::test {
namespace {

struct VocabParam {
  const char* name;
  const char* kind;
};

class VocabFile : public ::testing::TestWithParam<VocabParam> {};

TEST_P(VocabFile, MatchesReferenceIds) {
  const std::string path = fixture(std::string("vocab/ggml-vocab-") + GetParam().name + ".gguf");
  LARQL_REQUIRE_FIXTURE(path);
  auto tok = load_gguf_tokenizer(path);
  EXPECT_EQ(tok->kind(), GetParam().kind);
  const auto cases = load_vocab_cases(path);
  ASSERT_FALSE(cases.empty());
  size_t pass = 0;
  std::string report;
  int shown = 0;
  for (size_t i = 0; i < cases.size(); ++i) {
    const auto got = tok->encode(cases[i].text, false, false);
    if (got == cases[i].ids) {
      ++pass;
    } else if (shown++ < 5) {
      report += "  case " + std::to_string(i) + " " + show(cases[i].text) + "\n    expected " +
                ids_str(cases[i].ids) + "\n    got      " + ids_str(got) + "\n";
    }
  }
  std::printf("[ vocab    ] %s: %zu/%zu cases pass\n", GetParam().name, pass, cases.size());
  EXPECT_EQ(pass, cases.size()) << GetParam().name << ": first mismatches:\n" << report;
}

// decode(encode(x)) == x where the algorithm is lossless (SPM with byte
// fallback, byte-level BPE). WordPiece lower-cases and drops whitespace.
TEST_P(VocabFile, RoundTrip) {
  const std::string path = fixture(std::string("vocab/ggml-vocab-") + GetParam().name + ".gguf");
  LARQL_REQUIRE_FIXTURE(path);
  auto tok = load_gguf_tokenizer(path);
  if (tok->kind() == std::string("wpm")) GTEST_SKIP() << "WordPiece is lossy (lower-case, accents, spaces)";
  size_t pass = 0, n = 0;
  std::string report;
  for (const auto& c : load_vocab_cases(path)) {
    ++n;
    const std::string back = tok->decode(tok->encode(c.text, false, false));
    if (back == c.text) ++pass;
    else if (report.size() < 2000) report += "  " + show(c.text) + " -> " + show(back) + "\n";
  }
  EXPECT_EQ(pass, n) << report;
}

INSTANTIATE_TEST_SUITE_P(Fixtures, VocabFile,
                         ::testing::Values(VocabParam{"llama-spm", "spm"}, VocabParam{"phi-3", "spm"},
                                           VocabParam{"gpt-2", "bpe"}, VocabParam{"deepseek-llm", "bpe"},
                                           VocabParam{"deepseek-coder", "bpe"}, VocabParam{"falcon", "bpe"},
                                           VocabParam{"starcoder", "bpe"}, VocabParam{"refact", "bpe"},
                                           VocabParam{"mpt", "bpe"}, VocabParam{"bert-bge", "wpm"}),
                         [](const auto& info) {
                           std::string s = info.param.name;
                           for (char& c : s)
                             if (c == '-') c = '_';
                           return s;
                         });

}  // namespace
}  // namespace larql::test
