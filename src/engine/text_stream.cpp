#include "engine/text_stream.h"

#include "tokenizer/tokenizer.h"

namespace larql {

namespace {

bool is_cont(unsigned char b) { return (b & 0xC0) == 0x80; }

// Sequence length announced by a lead byte; 0 for bytes that cannot start one.
size_t seq_len(unsigned char b) {
  if (b < 0x80) return 1;
  if (b >= 0xC2 && b <= 0xDF) return 2;
  if (b >= 0xE0 && b <= 0xEF) return 3;
  if (b >= 0xF0 && b <= 0xF4) return 4;
  return 0;  // continuation byte, C0/C1 (overlong), F5..FF
}

// Allowed range of the byte after a lead (excludes overlongs, surrogates, > U+10FFFF).
bool second_ok(unsigned char lead, unsigned char b) {
  switch (lead) {
    case 0xE0: return b >= 0xA0 && b <= 0xBF;
    case 0xED: return b >= 0x80 && b <= 0x9F;
    case 0xF0: return b >= 0x90 && b <= 0xBF;
    case 0xF4: return b >= 0x80 && b <= 0x8F;
    default: return is_cont(b);
  }
}

}  // namespace

size_t utf8_complete_prefix(std::string_view s) {
  const size_t n = s.size();
  // The last byte that is not a continuation, looking back at most 3 bytes.
  size_t j = n;
  while (j > 0 && n - j < 3 && is_cont(static_cast<unsigned char>(s[j - 1]))) --j;
  if (j == 0) return n;
  const size_t lead_pos = j - 1;
  const auto lead = static_cast<unsigned char>(s[lead_pos]);
  const size_t need = seq_len(lead);
  const size_t have = n - lead_pos;
  if (need <= 1 || have >= need) return n;  // ASCII, invalid lead, or complete
  if (have >= 2 && !second_ok(lead, static_cast<unsigned char>(s[lead_pos + 1]))) return n;
  return lead_pos;  // valid so far, just unfinished
}

TextStream::TextStream(const Tokenizer& tok, bool skip_special)
    : tok_(tok), skip_special_(skip_special), one_(1, 0) {}

void TextStream::reset() {
  at_start_ = true;
  held_.clear();
}

std::string TextStream::push(int32_t id) {
  const TokenType type = tok_.token_type(id);  // throws on a bad id
  std::string out = std::move(held_);
  held_.clear();
  const bool special = type == TokenType::Control || type == TokenType::Unknown;
  if (special || type == TokenType::UserDefined) {
    // As in decode(): rendered unless skipped, and the next piece gets its
    // dummy-prefix space removed again.
    if (!(special && skip_special_)) out += tok_.token_to_piece(id);
    at_start_ = true;
  } else if (at_start_) {
    // decode() of one token applies exactly the start-of-text space rule.
    one_[0] = id;
    out += tok_.decode(one_, skip_special_);
    if (!tok_.token_to_piece(id).empty()) at_start_ = false;
  } else {
    out += tok_.token_to_piece(id);
  }
  const size_t cut = utf8_complete_prefix(out);
  held_.assign(out, cut, std::string::npos);
  out.resize(cut);
  return out;
}

std::string TextStream::flush() {
  std::string out = std::move(held_);
  held_.clear();
  return out;
}

}  // namespace larql
