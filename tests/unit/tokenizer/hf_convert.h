// Test helper: builds a Hugging Face tokenizer.json (the real schema of the
// `tokenizers` library) from the vocabulary stored in a fixture GGUF, so the
// tokenizer.json loader can be checked against the same .inp/.out vectors.
// Reads the GGUF metadata directly, not through larql::Tokenizer.
#pragma once
#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <tuple>
#include <vector>

#include "format/gguf.h"

namespace larql::test {

// Plain json (std::map objects): ordered_json is quadratic for 100k-entry vocabularies.
using ojson = nlohmann::json;

struct GgufVocab {
  std::vector<std::string> tokens;
  std::vector<float> scores;
  std::vector<int64_t> types;
  std::vector<std::string> merges;
  int64_t bos = -1, eos = -1, unk = -1;
};

inline GgufVocab read_gguf_vocab(const gguf::File& f) {
  GgufVocab v;
  v.tokens = f.get("tokenizer.ggml.tokens").as_string_array();
  if (auto* s = f.find("tokenizer.ggml.scores")) v.scores = s->as_float_array();
  if (auto* t = f.find("tokenizer.ggml.token_type")) v.types = t->as_int_array();
  if (auto* m = f.find("tokenizer.ggml.merges")) v.merges = m->as_string_array();
  v.bos = f.get_int("tokenizer.ggml.bos_token_id", -1);
  v.eos = f.get_int("tokenizer.ggml.eos_token_id", -1);
  v.unk = f.get_int("tokenizer.ggml.unknown_token_id", -1);
  return v;
}

inline ojson added_token(int64_t id, const std::string& content, bool special) {
  return ojson{{"id", id},           {"content", content}, {"single_word", false}, {"lstrip", false},
               {"rstrip", false},    {"normalized", false}, {"special", special}};
}

inline ojson split(const std::string& regex, const char* behavior = "Isolated") {
  return ojson{{"type", "Split"}, {"pattern", {{"Regex", regex}}}, {"behavior", behavior}, {"invert", false}};
}
inline ojson byte_level(bool use_regex) {
  return ojson{{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}, {"use_regex", use_regex}};
}

inline ojson base_json() {
  return ojson{{"version", "1.0"}, {"truncation", nullptr}, {"padding", nullptr}, {"added_tokens", ojson::array()},
               {"normalizer", nullptr}, {"pre_tokenizer", nullptr}, {"post_processor", nullptr},
               {"decoder", nullptr}, {"model", nullptr}};
}

// Byte-level BPE (tokenizer.ggml.model = gpt2). pair_merges: write merges as
// ["a", "b"] arrays (tokenizers >= 0.20) instead of "a b" strings.
inline ojson hf_byte_level_bpe(const GgufVocab& v, const ojson& pre_tokenizer, bool pair_merges) {
  ojson j = base_json();
  ojson vocab = ojson::object();
  for (size_t i = 0; i < v.tokens.size(); ++i) {
    // Control tokens are special added tokens; user-defined ones (e.g. runs of
    // spaces in MPT, single accented letters in DeepSeek Coder) plain added tokens.
    const int64_t t = v.types.empty() ? 1 : v.types[i];
    if (t == 3 || t == 4) j["added_tokens"].push_back(added_token(i, v.tokens[i], t == 3));
    vocab[v.tokens[i]] = i;
  }
  ojson merges = ojson::array();
  for (const auto& m : v.merges) {
    if (!pair_merges) {
      merges.push_back(m);
      continue;
    }
    const size_t sp = m.find(' ', 1);
    merges.push_back(ojson::array({m.substr(0, sp), m.substr(sp + 1)}));
  }
  j["pre_tokenizer"] = pre_tokenizer;
  j["post_processor"] = ojson{{"type", "ByteLevel"}, {"add_prefix_space", true}, {"trim_offsets", false}, {"use_regex", true}};
  j["decoder"] = ojson{{"type", "ByteLevel"}, {"add_prefix_space", true}, {"trim_offsets", true}, {"use_regex", true}};
  j["model"] = ojson{{"type", "BPE"}, {"dropout", nullptr}, {"unk_token", nullptr},
                     {"continuing_subword_prefix", nullptr}, {"end_of_word_suffix", nullptr},
                     {"fuse_unk", false}, {"byte_fallback", false}, {"ignore_merges", false},
                     {"vocab", vocab}, {"merges", merges}};
  return j;
}

// SentencePiece BPE (tokenizer.ggml.model = llama) as the HF "fast" Llama
// tokenizer: BPE with byte_fallback; merges are every split a+b of a normal
// token into two tokens, ranked by the token's score (best first).
// metaspace_pre: newer layout (Metaspace pre-tokenizer, no normalizer).
inline ojson hf_spm_bpe(const GgufVocab& v, bool metaspace_pre) {
  ojson j = base_json();
  ojson vocab = ojson::object();
  std::map<std::string, int64_t> id_of;
  for (size_t i = 0; i < v.tokens.size(); ++i) {
    const int64_t t = v.types.empty() ? 1 : v.types[i];
    if (t == 2 || t == 3 || t == 4) j["added_tokens"].push_back(added_token(i, v.tokens[i], t != 4));
    vocab[v.tokens[i]] = i;
    id_of.emplace(v.tokens[i], i);
  }
  std::vector<std::tuple<float, int64_t, size_t>> order;  // score, id, split
  for (size_t i = 0; i < v.tokens.size(); ++i) {
    if (!v.types.empty() && v.types[i] != 1) continue;
    const std::string& t = v.tokens[i];
    for (size_t k = 1; k < t.size(); ++k) {
      if ((static_cast<unsigned char>(t[k]) & 0xC0) == 0x80) continue;  // inside a character
      if (id_of.count(t.substr(0, k)) && id_of.count(t.substr(k)))
        order.emplace_back(v.scores.empty() ? 0.0f : v.scores[i], static_cast<int64_t>(i), k);
    }
  }
  std::stable_sort(order.begin(), order.end(), [](const auto& a, const auto& b) {
    if (std::get<0>(a) != std::get<0>(b)) return std::get<0>(a) > std::get<0>(b);
    return std::get<1>(a) < std::get<1>(b);
  });
  ojson merges = ojson::array();
  for (const auto& [s, id, k] : order) {
    const std::string& t = v.tokens[id];
    merges.push_back(t.substr(0, k) + " " + t.substr(k));
  }
  const std::string sp = "\xE2\x96\x81";
  if (metaspace_pre) {
    j["pre_tokenizer"] = ojson{{"type", "Metaspace"}, {"replacement", sp}, {"prepend_scheme", "first"}, {"split", false}};
    j["decoder"] = ojson{{"type", "Metaspace"}, {"replacement", sp}, {"prepend_scheme", "first"}, {"split", false}};
  } else {
    j["normalizer"] = ojson{{"type", "Sequence"},
                            {"normalizers", ojson::array({ojson{{"type", "Prepend"}, {"prepend", sp}},
                                                          ojson{{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", sp}}})}};
    j["decoder"] = ojson{{"type", "Sequence"},
                         {"decoders", ojson::array({ojson{{"type", "Replace"}, {"pattern", {{"String", sp}}}, {"content", " "}},
                                                    ojson{{"type", "ByteFallback"}}, ojson{{"type", "Fuse"}},
                                                    ojson{{"type", "Strip"}, {"content", " "}, {"start", 1}, {"stop", 0}}})}};
  }
  if (v.bos >= 0) {
    const std::string bos = v.tokens[v.bos];
    j["post_processor"] = ojson{
        {"type", "TemplateProcessing"},
        {"single", ojson::array({ojson{{"SpecialToken", {{"id", bos}, {"type_id", 0}}}},
                                 ojson{{"Sequence", {{"id", "A"}, {"type_id", 0}}}}})},
        {"pair", ojson::array()},
        {"special_tokens", {{bos, {{"id", bos}, {"ids", ojson::array({v.bos})}, {"tokens", ojson::array({bos})}}}}}};
  }
  j["model"] = ojson{{"type", "BPE"}, {"dropout", nullptr}, {"unk_token", v.unk >= 0 ? ojson(v.tokens[v.unk]) : ojson()},
                     {"continuing_subword_prefix", nullptr}, {"end_of_word_suffix", nullptr},
                     {"fuse_unk", true}, {"byte_fallback", true}, {"ignore_merges", false},
                     {"vocab", vocab}, {"merges", merges}};
  return j;
}

// WordPiece (tokenizer.ggml.model = bert). GGUF stores word-initial pieces as
// "▁word" and continuations bare; HF uses "word" and "##piece".
inline ojson hf_wordpiece(const GgufVocab& v) {
  ojson j = base_json();
  const std::string sp = "\xE2\x96\x81";
  ojson vocab = ojson::object();
  for (size_t i = 0; i < v.tokens.size(); ++i) {
    std::string t = v.tokens[i];
    const bool bracket = t.size() >= 2 && t.front() == '[' && t.back() == ']';
    if (!v.types.empty() && v.types[i] == 3) j["added_tokens"].push_back(added_token(i, t, true));
    if (!bracket) t = t.rfind(sp, 0) == 0 ? t.substr(sp.size()) : "##" + t;
    vocab[t] = i;
  }
  j["normalizer"] = ojson{{"type", "BertNormalizer"}, {"clean_text", true}, {"handle_chinese_chars", true},
                          {"strip_accents", nullptr}, {"lowercase", true}};
  j["pre_tokenizer"] = ojson{{"type", "BertPreTokenizer"}};
  j["post_processor"] = ojson{{"type", "BertProcessing"}, {"sep", ojson::array({"[SEP]", 102})},
                              {"cls", ojson::array({"[CLS]", 101})}};
  j["decoder"] = ojson{{"type", "WordPiece"}, {"prefix", "##"}, {"cleanup", true}};
  j["model"] = ojson{{"type", "WordPiece"}, {"unk_token", "[UNK]"}, {"continuing_subword_prefix", "##"},
                     {"max_input_chars_per_word", 100}, {"vocab", vocab}};
  return j;
}

}  // namespace larql::test
