// Unicode helpers and pre-tokenizer building blocks, against values from the
// Unicode Character Database and the GPT-2 byte mapping.
#include <gtest/gtest.h>

#include "tokenizer/pretokenizer.h"
#include "tokenizer/unicode.h"
#include "util/error.h"

namespace larql {
namespace {

using unicode::Category;

TEST(Unicode, Utf8DecodeNeverFails) {
  const std::string s = "a\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80\xFF\xC0\xAF\xED\xA0\x80\xE2\x82";
  std::vector<uint32_t> cps = unicode::to_codepoints(s);
  const std::vector<uint32_t> want = {'a', 0xE9, 0x20AC, 0x1F600, 0xFFFD, 0xFFFD, 0xFFFD,
                                      0xFFFD, 0xFFFD, 0xFFFD, 0xFFFD, 0xFFFD};
  EXPECT_EQ(cps, want);
  std::string back;
  for (uint32_t cp : {0x41u, 0xE9u, 0x20ACu, 0x1F600u}) unicode::append_utf8(back, cp);
  EXPECT_EQ(back, "A\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80");
  EXPECT_EQ(unicode::to_utf8(0xD800), "\xEF\xBF\xBD");  // surrogates are not encodable
}

TEST(Unicode, Categories) {
  EXPECT_EQ(unicode::category('A'), Category::Lu);
  EXPECT_EQ(unicode::category('z'), Category::Ll);
  EXPECT_EQ(unicode::category('5'), Category::Nd);
  EXPECT_EQ(unicode::category(0xBD), Category::No);     // ½
  EXPECT_EQ(unicode::category(0x0301), Category::Mn);   // combining acute
  EXPECT_EQ(unicode::category(0x200D), Category::Cf);   // ZWJ
  EXPECT_EQ(unicode::category(0x4E2D), Category::Lo);   // 中
  EXPECT_EQ(unicode::category(0x3000), Category::Zs);
  EXPECT_EQ(unicode::category(0x1F600), Category::So);  // emoji
  EXPECT_EQ(unicode::category(0x10FFFF), Category::Cn);
  EXPECT_EQ(unicode::category(0x110000), Category::Cn);
  EXPECT_TRUE(unicode::is_punctuation(0x3002));  // 。
  EXPECT_TRUE(unicode::is_symbol('$'));
  EXPECT_TRUE(unicode::is_white_space(0x85));
  EXPECT_FALSE(unicode::is_white_space(0x200B));  // zero width space is not White_Space
}

TEST(Unicode, LowerAndNfd) {
  std::vector<uint32_t> v;
  for (uint32_t cp : {0x41u, 0xC9u, 0x130u, 0x391u, 0x416u, 0x1E9Eu}) unicode::append_lower(v, cp);
  EXPECT_EQ(v, (std::vector<uint32_t>{0x61, 0xE9, 'i', 0x307, 0x3B1, 0x436, 0xDF}));
  v.clear();
  unicode::append_nfd(v, 0x1EC7);  // ệ -> e + dot below + circumflex (canonical order)
  EXPECT_EQ(v, (std::vector<uint32_t>{'e', 0x323, 0x302}));
  v.clear();
  unicode::append_nfd(v, 0xD55C);  // 한 -> ᄒ ᅡ ᆫ
  EXPECT_EQ(v, (std::vector<uint32_t>{0x1112, 0x1161, 0x11AB}));
  v.clear();
  unicode::append_nfd(v, 'x');
  EXPECT_EQ(v, (std::vector<uint32_t>{'x'}));
}

TEST(Unicode, Gpt2ByteMapping) {
  // Printable bytes map to themselves; space -> U+0120 "Ġ", newline -> U+010A "Ċ".
  EXPECT_EQ(unicode::byte_to_cp('a'), 'a');
  EXPECT_EQ(unicode::byte_to_cp(' '), 0x120u);
  EXPECT_EQ(unicode::byte_to_cp('\n'), 0x10Au);
  EXPECT_EQ(unicode::byte_to_cp(0xAD), 0x143u);  // the last shifted byte
  for (int b = 0; b < 256; ++b) EXPECT_EQ(unicode::cp_to_byte(unicode::byte_to_cp(b)), b);
  EXPECT_EQ(unicode::cp_to_byte(0x4E2D), -1);
  EXPECT_EQ(unicode::bytes_to_unicode(" \xFF"), "\xC4\xA0\xC3\xBF");
}

TEST(Unicode, BertNormalizer) {
  // Accents stripped, lower-cased, CJK padded, controls dropped, whitespace unified.
  EXPECT_EQ(tok::bert_normalize("F\xC3\xBChrer C\xE1\xBB\xAD" "a\t\x01X\xE4\xB8\xAD", true, true, true, true),
            "fuhrer cua x \xE4\xB8\xAD ");  // tab -> space, \x01 dropped
  EXPECT_EQ(tok::bert_normalize("\xC3\x89t\xC3\xA9", true, true, false, false), "\xC3\x89t\xC3\xA9");
  EXPECT_EQ(tok::bert_normalize(std::string("a\0b\xFF", 4), true, true, true, true), "ab");
}

TEST(PreTokenizer, Gpt2Regex) {
  bool known = false, ignore = false;
  const auto steps = tok::preset_for_pre("gpt-2", &known, &ignore);
  EXPECT_TRUE(known);
  std::vector<std::string> pieces;
  tok::pre_tokenize(steps, "Hello world's  42\n", true, pieces);
  // Byte-level mapped: ' ' -> "Ġ", '\n' -> "Ċ".
  const std::vector<std::string> want = {"Hello", "\xC4\xA0world", "'s", "\xC4\xA0", "\xC4\xA0" "42", "\xC4\x8A"};
  EXPECT_EQ(pieces, want);
  tok::preset_for_pre("no-such-pre", &known, &ignore);
  EXPECT_FALSE(known);
  tok::preset_for_pre("llama-bpe", &known, &ignore);
  EXPECT_TRUE(known && ignore);
}

// Families without a vocabulary fixture: the split follows from the published
// patterns (e.g. Llama 3 groups up to three digits, Qwen2 splits every digit,
// punctuation keeps trailing newlines).
TEST(PreTokenizer, Llama3AndQwen2Patterns) {
  bool known = false, ignore = false;
  std::vector<std::string> pieces;
  const std::string G = "\xC4\xA0", C = "\xC4\x8A";  // byte-level " " and "\n"
  tok::pre_tokenize(tok::preset_for_pre("llama-bpe", &known, &ignore), "Hello 12345 world!!\n\nI'M", true, pieces);
  EXPECT_EQ(pieces, (std::vector<std::string>{"Hello", G, "123", "45", G + "world", "!!" + C + C, "I", "'M"}));
  pieces.clear();
  tok::pre_tokenize(tok::preset_for_pre("qwen2", &known, &ignore), "ab 123", true, pieces);
  EXPECT_EQ(pieces, (std::vector<std::string>{"ab", G, "1", "2", "3"}));
  EXPECT_FALSE(ignore);
}

TEST(PreTokenizer, RegexRobustness) {
  EXPECT_THROW(tok::Regex("(", false, "test"), Error);
  tok::Regex lit("a.b", true, "test");
  std::vector<std::pair<size_t, size_t>> m;
  lit.find_all("a.b axb a.b", m);
  EXPECT_EQ(m.size(), 2u);
  // Invalid UTF-8 in the subject: never part of a match, never an error.
  tok::Regex letters(R"(\p{L}+)", false, "test");
  m.clear();
  letters.find_all("ab\xFF" "cd\xC3", m);
  ASSERT_EQ(m.size(), 2u);
  EXPECT_EQ(m[0], (std::pair<size_t, size_t>{0, 2}));
  EXPECT_EQ(m[1], (std::pair<size_t, size_t>{3, 5}));
  // Patterns that can match empty strings make progress.
  tok::Regex empty("x*", false, "test");
  m.clear();
  empty.find_all("abxxc", m);
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(m[0], (std::pair<size_t, size_t>{2, 4}));
}

}  // namespace
}  // namespace larql
