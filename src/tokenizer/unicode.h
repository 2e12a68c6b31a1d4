// Small Unicode toolkit for the tokenizers: UTF-8 coding that never fails
// (invalid bytes are reported, not thrown), general categories, lower-casing,
// canonical decomposition (for BERT accent stripping) and the GPT-2
// byte <-> code point mapping used by byte-level BPE.
//
// Tables are generated from Python's unicodedata (Unicode 14.0) by
// gen_unicode_tables.py; see docs/tokenizers.md for what is covered.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace larql::unicode {

inline constexpr uint32_t kReplacement = 0xFFFD;

// Length of the valid UTF-8 sequence starting at s[i], or 0 if the bytes there
// are not a valid (shortest-form, non-surrogate) sequence. i must be < s.size().
size_t valid_utf8_len(std::string_view s, size_t i);

// Decodes one code point at s[i]; advances i. Invalid bytes decode as
// kReplacement and advance by one byte. *valid (optional) says which happened.
uint32_t decode_utf8(std::string_view s, size_t& i, bool* valid = nullptr);

// Whole-string decode (invalid bytes become kReplacement).
std::vector<uint32_t> to_codepoints(std::string_view s);

void append_utf8(std::string& out, uint32_t cp);
std::string to_utf8(uint32_t cp);

enum class Category : uint8_t {
  Cn, Cc, Cf, Co, Cs, Ll, Lm, Lo, Lt, Lu, Mc, Me, Mn, Nd, Nl, No,
  Pc, Pd, Pe, Pf, Pi, Po, Ps, Sc, Sk, Sm, So, Zl, Zp, Zs,
};
Category category(uint32_t cp);
bool is_letter(uint32_t cp);
bool is_number(uint32_t cp);
bool is_punctuation(uint32_t cp);  // P*
bool is_symbol(uint32_t cp);       // S*
bool is_mark_nonspacing(uint32_t cp);  // Mn
bool is_other(uint32_t cp);        // C*
// Unicode White_Space property (what Rust's char::is_whitespace tests).
bool is_white_space(uint32_t cp);

// Full lower-case mapping (one code point except U+0130, which lowers to "i\u0307").
void append_lower(std::vector<uint32_t>& out, uint32_t cp);
// Canonical decomposition (NFD of a single code point, Hangul included).
void append_nfd(std::vector<uint32_t>& out, uint32_t cp);

// GPT-2 byte-level mapping: every byte gets a printable code point.
uint32_t byte_to_cp(uint8_t b);
// Inverse; returns -1 for code points that are not the image of a byte.
int cp_to_byte(uint32_t cp);
// Maps each byte of `s` to its code point, UTF-8 encoded.
std::string bytes_to_unicode(std::string_view s);

}  // namespace larql::unicode
