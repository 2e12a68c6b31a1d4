#include "synth/vocab.h"

#include <algorithm>
#include <unordered_set>
#include <vector>

#include "format/gguf.h"
#include "util/error.h"

namespace larql::synth {

namespace {

using gguf::Value;

// Common English words: their prefixes become pieces, so text tokenizes into
// plausible multi-character tokens rather than single bytes.
const char* kWords[] = {
    "the", "of", "and", "to", "in", "is", "was", "that", "for", "on", "with", "as", "by", "at",
    "from", "his", "her", "it", "an", "are", "were", "which", "this", "be", "or", "has", "had",
    "not", "but", "their", "they", "first", "one", "new", "after", "also", "who", "its", "two",
    "been", "other", "time", "when", "there", "all", "into", "more", "during", "over", "only",
    "city", "year", "world", "capital", "country", "language", "people", "number", "known",
    "called", "name", "water", "house", "small", "large", "great", "story", "once", "upon",
    "little", "girl", "boy", "day", "said", "very", "happy", "play", "friend", "like", "what",
    "hello", "model", "query", "data", "base", "token", "layer", "feature", "weight", "fact",
    "France", "Paris", "Europe", "French", "Germany", "Berlin", "Japan", "Tokyo", "English",
    "ing", "tion", "ed", "er", "ly", "es", "ment", "ness", "able", "ous", "ive", "al",
};

struct Vocab {
  std::vector<std::string> tokens;
  std::vector<float> scores;
  std::vector<int32_t> types;  // 1 normal, 2 unknown, 3 control, 6 byte
  std::vector<std::string> merges;
  std::unordered_set<std::string> seen;
  bool add(const std::string& t, float score, int32_t type) {
    if (!seen.insert(t).second) return false;
    tokens.push_back(t);
    scores.push_back(score);
    types.push_back(type);
    return true;
  }
};

uint64_t splitmix(uint64_t& s) {
  uint64_t z = (s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

const std::string kSpace = "\xE2\x96\x81";  // U+2581, SentencePiece's space

void spm_vocab(Vocab& v, int64_t n_vocab, uint64_t seed, const std::vector<std::string>& extra_special) {
  const int64_t n_pieces = n_vocab - static_cast<int64_t>(extra_special.size());
  v.add("<unk>", 0, 2);
  v.add("<s>", 0, 3);
  v.add("</s>", 0, 3);
  char buf[8];
  for (int b = 0; b < 256; ++b) {
    std::snprintf(buf, sizeof buf, "<0x%02X>", b);
    v.add(buf, 0, 6);
  }
  std::vector<std::string> chars;
  for (char c = '!'; c <= '~'; ++c) chars.emplace_back(1, c);
  chars.push_back(kSpace);
  for (size_t i = 0; i < chars.size(); ++i) v.add(chars[i], -1000.0f - static_cast<float>(i), 1);
  float score = 0;
  auto add_piece = [&](const std::string& p) {
    if (static_cast<int64_t>(v.tokens.size()) < n_pieces && v.add(p, score, 1)) score -= 1;
  };
  // Every prefix of "▁word" so each word is reachable by pairwise merges.
  for (const char* w : kWords) {
    std::string word = kSpace + w;
    for (size_t k = kSpace.size() + 1; k <= word.size(); ++k) add_piece(word.substr(0, k));
  }
  // Fill the rest with letter bigrams/trigrams (reachable from single characters).
  uint64_t s = seed;
  const std::string letters = "etaoinshrdlcumwfgypbvkjxqz";
  for (size_t guard = 0; static_cast<int64_t>(v.tokens.size()) < n_pieces && guard < 50000000; ++guard) {
    size_t len = 2 + splitmix(s) % 2;
    std::string p = (splitmix(s) % 2) ? kSpace : "";
    for (size_t k = 0; k < len; ++k) p += letters[splitmix(s) % letters.size()];
    // a piece is reachable by pairwise merges once its prefix is a piece
    std::string prefix = p.substr(0, p.size() - 1);
    if (prefix != kSpace && prefix.size() > 1) add_piece(prefix);
    add_piece(p);
  }
  for (const auto& t : extra_special) v.add(t, 0, 3);
  if (static_cast<int64_t>(v.tokens.size()) != n_vocab)
    throw Error("synth: could not build an SPM vocabulary of " + std::to_string(n_vocab) + " tokens");
}

// GPT-2's reversible byte -> printable code point mapping.
std::vector<std::string> byte_symbols() {
  std::vector<std::string> out(256);
  auto utf8 = [](uint32_t cp) {
    std::string s;
    if (cp < 0x80) s.push_back(static_cast<char>(cp));
    else { s.push_back(static_cast<char>(0xC0 | (cp >> 6))); s.push_back(static_cast<char>(0x80 | (cp & 0x3F))); }
    return s;
  };
  uint32_t extra = 0;
  for (uint32_t b = 0; b < 256; ++b) {
    bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
    out[b] = utf8(printable ? b : 256 + extra++);
  }
  return out;
}

struct Specials {
  std::vector<std::pair<int64_t, std::string>> fixed;  // offset from the start of the special block
  std::string filler;                                  // printf pattern with %d
  int64_t count;
  int64_t bos, eos, eot;                               // offsets
};

void bpe_vocab(Vocab& v, int64_t n_vocab, const Specials& sp, uint64_t seed) {
  const int64_t n_regular = n_vocab - sp.count;
  if (n_regular < 300) throw Error("synth: vocabulary too small for byte-level BPE");
  auto sym = byte_symbols();
  for (const auto& s : sym) v.add(s, 0, 1);
  const std::string G = sym[' '];
  auto merge = [&](const std::string& a, const std::string& b) {
    if (static_cast<int64_t>(v.tokens.size()) >= n_regular) return;
    if (v.add(a + b, 0, 1)) v.merges.push_back(a + " " + b);
  };
  for (const char* w : kWords) {
    for (const std::string& base : {G + w, std::string(w)}) {
      // left-to-right merges: each prefix plus its next character
      size_t first = base.rfind(G, 0) == 0 ? G.size() : 0;
      std::string cur = base.substr(0, first + 1);
      if (first) merge(G, std::string(1, w[0]));
      for (size_t k = first + 1; k < base.size(); ++k) {
        std::string next(1, base[k]);
        merge(cur, next);
        cur += next;
      }
    }
  }
  // Fill with random merges of existing short tokens.
  uint64_t s = seed;
  for (size_t guard = 0; static_cast<int64_t>(v.tokens.size()) < n_regular && guard < 100000000; ++guard) {
    size_t n = v.tokens.size();
    const std::string& a = v.tokens[splitmix(s) % std::min<size_t>(n, 4096 + n / 4)];
    const std::string& b = v.tokens[splitmix(s) % std::min<size_t>(n, 2048)];
    if (a.size() + b.size() > 16) continue;
    if (b.rfind(G, 0) == 0) continue;  // the pre-tokenizer never joins a space into a word's middle
    std::string aa = a, bb = b;        // copies: merge() may reallocate tokens
    merge(aa, bb);
  }
  char buf[96];
  std::vector<std::string> specials(static_cast<size_t>(sp.count));
  for (int64_t k = 0; k < sp.count; ++k) {
    std::snprintf(buf, sizeof buf, sp.filler.c_str(), static_cast<int>(k));
    specials[static_cast<size_t>(k)] = buf;
  }
  for (const auto& [off, name] : sp.fixed) specials[static_cast<size_t>(off)] = name;
  for (const auto& t : specials) v.add(t, 0, 3);
  if (static_cast<int64_t>(v.tokens.size()) != n_vocab)
    throw Error("synth: could not build a BPE vocabulary of " + std::to_string(n_vocab) + " tokens");
}

const char* kLlama3Template =
    "{{ bos_token }}{% for message in messages %}{{ '<|start_header_id|>' + message['role'] + "
    "'<|end_header_id|>\n\n' + message['content'] | trim + '<|eot_id|>' }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}";
const char* kPhi3Template =
    "{% for message in messages %}{{ '<|' + message['role'] + '|>' + '\n' + message['content'] + '<|end|>\n' }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|assistant|>\n' }}{% endif %}";
const char* kChatMLTemplate =
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + "
    "'<|im_end|>' + '\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";

}  // namespace

void write_vocab(gguf::Writer& w, const std::string& family, int64_t n_vocab, uint64_t seed) {
  Vocab v;
  int64_t bos = 1, eos = 2, eot = -1;
  std::string model = "gpt2", pre, chat;
  if (family == "spm") {
    spm_vocab(v, n_vocab, seed, {});
    model = "llama";
  } else if (family == "spm-phi3") {
    // Phi-3's chat tokens; llama.cpp looks some of them up by name for phi3 models.
    spm_vocab(v, n_vocab, seed, {"<|endoftext|>", "<|assistant|>", "<|end|>", "<|system|>", "<|user|>"});
    model = "llama";
    eot = n_vocab - 3;
    chat = kPhi3Template;
  } else if (family == "llama3") {
    Specials sp{{{0, "<|begin_of_text|>"}, {1, "<|end_of_text|>"}, {6, "<|start_header_id|>"},
                 {7, "<|end_header_id|>"}, {9, "<|eot_id|>"}},
                "<|reserved_special_token_%d|>", 256, 0, 1, 9};
    bpe_vocab(v, n_vocab, sp, seed);
    int64_t base = n_vocab - sp.count;
    bos = base + sp.bos; eos = base + sp.eos; eot = base + sp.eot;
    pre = "llama-bpe";
    chat = kLlama3Template;
  } else if (family == "qwen2") {
    Specials sp{{{0, "<|endoftext|>"}, {1, "<|im_start|>"}, {2, "<|im_end|>"}}, "<|extra_%d|>", 293, 0, 0, 2};
    bpe_vocab(v, n_vocab, sp, seed);
    int64_t base = n_vocab - sp.count;
    bos = base; eos = base + 2; eot = base + 2;
    pre = "qwen2";
    chat = kChatMLTemplate;
  } else if (family == "deepseek") {
    Specials sp{{{0, "<\xEF\xBD\x9C" "begin\xE2\x96\x81of\xE2\x96\x81sentence\xEF\xBD\x9C>"},
                 {1, "<\xEF\xBD\x9C" "end\xE2\x96\x81of\xE2\x96\x81sentence\xEF\xBD\x9C>"}},
                "<|place_holder_no_%d|>", 2400, 0, 1, 1};
    bpe_vocab(v, n_vocab, sp, seed);
    int64_t base = n_vocab - sp.count;
    bos = base; eos = base + 1;
    pre = "deepseek-llm";
  } else {
    throw Error("synth: unknown vocabulary family '" + family + "'");
  }
  w.set("tokenizer.ggml.model", Value::from_string(model));
  if (!pre.empty()) w.set("tokenizer.ggml.pre", Value::from_string(pre));
  w.set("tokenizer.ggml.tokens", Value::from_strings(v.tokens));
  if (model == "llama") w.set("tokenizer.ggml.scores", Value::from_f32s(v.scores));
  w.set("tokenizer.ggml.token_type", Value::from_i32s(v.types));
  if (!v.merges.empty()) w.set("tokenizer.ggml.merges", Value::from_strings(v.merges));
  w.set("tokenizer.ggml.bos_token_id", Value::from_u32(static_cast<uint32_t>(bos)));
  w.set("tokenizer.ggml.eos_token_id", Value::from_u32(static_cast<uint32_t>(eos)));
  if (eot >= 0) w.set("tokenizer.ggml.eot_token_id", Value::from_u32(static_cast<uint32_t>(eot)));
  if (model == "llama") w.set("tokenizer.ggml.unknown_token_id", Value::from_u32(0));
  w.set("tokenizer.ggml.add_bos_token", Value::from_bool(true));
  w.set("tokenizer.ggml.add_eos_token", Value::from_bool(false));
  if (!chat.empty()) w.set("tokenizer.chat_template", Value::from_string(chat));
}

}  // namespace larql::synth
