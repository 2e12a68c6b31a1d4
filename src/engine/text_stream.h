// Streaming detokenization: token ids in, text out, one token at a time,
// never splitting a UTF-8 character across two outputs.
//
// Invariant: the concatenation of every push() result and the final flush()
// equals tokenizer.decode(ids, skip_special) byte for byte. Bytes are never
// altered: an incomplete UTF-8 sequence at the end of the text so far is held
// back until it completes, is proven invalid (then it passes through as-is),
// or flush() releases it as-is. See docs/sampling.md.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace larql {

class Tokenizer;

// Length of the longest prefix of s that does not end inside a UTF-8
// sequence that could still be completed by more bytes. Invalid bytes count
// as complete (they can never become valid), so only a valid but truncated
// lead + continuation tail (at most 3 bytes) is excluded.
size_t utf8_complete_prefix(std::string_view s);

class TextStream {
 public:
  // tok must outlive the stream. skip_special as in Tokenizer::decode.
  explicit TextStream(const Tokenizer& tok, bool skip_special = false);

  // Adds one token; returns the text completed by it (often empty for byte
  // tokens in the middle of a character). Throws larql::Error on a bad id.
  std::string push(int32_t id);
  // End of the stream: returns the held bytes (an unfinished UTF-8 sequence) unchanged.
  std::string flush();
  // Starts a new text (as if decoding a new id list).
  void reset();
  // The ids continue a text already shown (a prompt): keep the leading space
  // of the first piece, as llama.cpp's token_to_piece does after a prompt.
  void continue_text() { at_start_ = false; }

  // Bytes held back waiting for the rest of a UTF-8 character.
  size_t pending() const { return held_.size(); }

 private:
  const Tokenizer& tok_;
  bool skip_special_;
  bool at_start_ = true;  // no visible non-special piece since the start / last special token
  std::string held_;
  std::vector<int32_t> one_;
};

}  // namespace larql
