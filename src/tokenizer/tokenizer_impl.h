// Internal state shared by the loaders (GGUF, tokenizer.json) and the
// encoder/decoder. Not part of the public API.
#pragma once
#include <array>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "tokenizer/pretokenizer.h"
#include "tokenizer/tokenizer.h"

namespace larql {

struct StrHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};
using TokenMap = std::unordered_map<std::string, int32_t, StrHash, std::equal_to<>>;

// Subword algorithm.
enum class Algo {
  SpmScore,   // llama.cpp "llama": merge the adjacent pair whose joined text is the best-scored token
  BpeRank,    // merge the adjacent pair with the lowest merge rank
  WordPiece,  // greedy longest-prefix match with continuation pieces
};

// What BPE does with a final symbol that is not a token.
enum class UnknownPolicy {
  SingleBytes,   // GGUF byte-level BPE: look each byte up as a one-byte token, drop misses
  ByteFallback,  // <0xXX> tokens (then unk if one is missing)
  Unk,           // the unk token (optionally fused), dropped if there is none
};

enum class DecodeMode {
  Spm,        // "▁" -> ' ', <0xXX> -> byte
  ByteLevel,  // GPT-2 byte mapping reversed
  WordPiece,  // word-initial pieces get a space, continuations are glued
};

struct Tokenizer::Impl {
  Algo algo = Algo::BpeRank;
  std::string kind = "bpe";
  std::string pre_name = "default";

  std::vector<std::string> text;
  std::vector<float> score;
  std::vector<TokenType> type;
  std::vector<uint8_t> lstrip, rstrip;  // per-token flags (HF added tokens)
  TokenMap index;                       // stored text -> id (first occurrence wins)

  // BPE merges: (left id << 32 | right id) -> (rank, merged id).
  std::unordered_map<uint64_t, std::pair<int32_t, int32_t>> merges;
  bool ignore_merges = false;
  UnknownPolicy unknown = UnknownPolicy::SingleBytes;
  bool fuse_unk = false;
  std::string cont_prefix;  // HF BPE continuing_subword_prefix
  std::string eow_suffix;   // HF BPE end_of_word_suffix

  // SentencePiece-style handling.
  bool add_space_prefix = false;
  bool remove_extra_ws = false;
  std::array<int32_t, 256> byte_token{};  // <0xXX> ids, -1 when absent
  // Adjacent character pairs that occur inside some token: text can be cut
  // between two characters that form no such pair, since no merge can ever
  // cross that point. Keys: see char_pair_key().
  std::unordered_set<uint64_t> joinable_pairs;

  // WordPiece: keys are "▁word" (word-initial) and "piece" (continuation), as in GGUF.
  TokenMap wp_index;
  size_t wp_max_chars = 100;
  size_t max_token_bytes = 0;

  // Text pipeline for BpeRank / WordPiece.
  std::vector<tok::Normalizer> normalizers;
  std::vector<tok::PreStep> pre_steps;

  DecodeMode decode_mode = DecodeMode::Spm;
  bool decode_strip_space = false;  // remove the dummy-prefix space after start / specials

  int32_t bos = -1, eos = -1, eot = -1, eom = -1, unk = -1, sep = -1, pad = -1, cls = -1, mask = -1;
  bool add_bos = false, add_eos = false;
  std::set<int32_t> eog;

  // Special-token matcher: candidates by first byte, longest first.
  std::array<std::vector<int32_t>, 256> special_by_byte;
  std::vector<std::string> piece;  // rendered text per token
  std::vector<std::string> warnings;

  int32_t n() const { return static_cast<int32_t>(text.size()); }
  int32_t find(std::string_view s) const {
    auto it = index.find(s);
    return it == index.end() ? -1 : it->second;
  }
  void warn(std::string msg);

  // Called by the loaders once tokens and options are set: builds indexes,
  // byte tokens, the special matcher, the EOG set and the piece cache, and
  // validates special ids. Throws larql::Error on inconsistent data.
  void finalize();

  // Subword models (encode_*.cpp).
  void spm_encode(std::string_view text, std::vector<int32_t>& out) const;
  void spm_encode_segment(std::string_view text, std::vector<int32_t>& out) const;
  void build_joinable_pairs();
  void bpe_encode(std::string_view word, std::vector<int32_t>& out) const;
  void wordpiece_encode(std::string_view word, std::vector<int32_t>& out) const;
  void encode_raw(std::string_view text, bool first_segment, bool after_special,
                  std::vector<int32_t>& out) const;
};

}  // namespace larql
