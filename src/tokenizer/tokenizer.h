// Text <-> token ids for the vocabularies LARQL loads: SentencePiece-style
// BPE with byte fallback ("llama" in GGUF), byte-level BPE ("gpt2", with the
// pre-tokenizer regex of each model family) and WordPiece ("bert").
//
// Sources: the tokenizer.ggml.* metadata of a GGUF file, or a Hugging Face
// tokenizer.json (+ optional tokenizer_config.json next to it).
// Everything read from a file is validated; bad input raises larql::Error.
// See docs/tokenizers.md for the supported feature set and its limits.
#pragma once
#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace larql {

namespace gguf {
class File;
}

// GGUF token types (tokenizer.ggml.token_type).
enum class TokenType : int32_t {
  Undefined = 0,
  Normal = 1,
  Unknown = 2,
  Control = 3,
  UserDefined = 4,
  Unused = 5,
  Byte = 6,
};

class Tokenizer {
 public:
  struct Impl;

  static std::unique_ptr<Tokenizer> from_gguf(const gguf::File& file);
  // Reads tokenizer.json; a tokenizer_config.json in the same directory, if
  // present, supplies bos/eos tokens and add_bos_token/add_eos_token.
  static std::unique_ptr<Tokenizer> from_hf_json(const std::string& tokenizer_json_path);
  // Same from in-memory JSON text (config_json may be empty).
  static std::unique_ptr<Tokenizer> from_hf_json_text(std::string_view tokenizer_json,
                                                      std::string_view config_json = {});

  ~Tokenizer();
  Tokenizer(const Tokenizer&) = delete;
  Tokenizer& operator=(const Tokenizer&) = delete;

  // add_special: BOS/EOS as configured (add_bos/add_eos); WordPiece: CLS ... SEP.
  // parse_special: text spelling a control token (e.g. "<|im_start|>", "<s>") becomes
  // that token. User-defined tokens are always matched (as llama.cpp does).
  // Never throws on any input bytes (invalid UTF-8 and NUL included).
  std::vector<int32_t> encode(std::string_view text, bool add_special, bool parse_special) const;

  // Inverse of encode(text, false, true) where the algorithm allows (see docs):
  // byte tokens become raw bytes, "▁" becomes a space, byte-level BPE pieces are
  // mapped back to bytes, and the SentencePiece dummy-prefix space is removed.
  // skip_special drops control/unknown tokens. Throws larql::Error on an id out of range.
  std::string decode(const std::vector<int32_t>& ids, bool skip_special = false) const;
  // The text of one token as decode() renders it (no prefix-space removal).
  std::string token_to_piece(int32_t id) const;

  int32_t n_vocab() const;
  // "spm", "bpe" or "wpm".
  std::string kind() const;
  // Pre-tokenizer name: tokenizer.ggml.pre (or "default"), "hf" for tokenizer.json.
  std::string pre() const;

  // Special ids: -1 when the vocabulary has none.
  int32_t bos_id() const;
  int32_t eos_id() const;
  int32_t eot_id() const;
  int32_t unk_id() const;
  int32_t sep_id() const;
  int32_t pad_id() const;
  int32_t cls_id() const;
  int32_t mask_id() const;
  // End-of-generation ids: eos, eot, eom and tokens such as <|im_end|>, <|eot_id|>,
  // <end_of_turn>, <|endoftext|>, <|end|>.
  const std::set<int32_t>& eog_ids() const;
  bool is_eog(int32_t id) const;

  bool add_bos() const;
  bool add_eos() const;
  bool add_space_prefix() const;

  // Token accessors; throw larql::Error when id is out of range.
  const std::string& token_text(int32_t id) const;
  float token_score(int32_t id) const;
  TokenType token_type(int32_t id) const;
  // Id of a token by its exact stored text, -1 if none.
  int32_t find_token(std::string_view text) const;

  // Non-fatal issues found while loading (unknown pre-tokenizer, skipped merges...).
  const std::vector<std::string>& warnings() const;

 private:
  explicit Tokenizer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace larql
