#include "tokenizer/pretokenizer.h"

#include <algorithm>
#include <map>
#include <mutex>

#include "tokenizer/unicode.h"
#include "util/error.h"

namespace larql::tok {

const char* const kGpt2Pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

namespace {

// Patterns as published in each family's Hugging Face tokenizer.json.
const char* const kLlama3Pattern =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
const char* const kQwen2Pattern =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
const char* const kTekkenPattern =
    R"([^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
// DeepSeek LLM: cased letters of the scripts listed in its tokenizer.json.
const char* const kDeepseekLetters =
    R"(\s?[\x{41}-\x{5A}\x{61}-\x{7A}\x{B5}\x{C0}-\x{D6}\x{D8}-\x{F6}\x{F8}-\x{1BA}\x{1BC}-\x{1BF})"
    R"(\x{1C4}-\x{293}\x{295}-\x{2AF}\x{370}-\x{373}\x{376}\x{377}\x{37B}-\x{37D}\x{37F}\x{386})"
    R"(\x{388}-\x{38A}\x{38C}\x{38E}-\x{3A1}\x{3A3}-\x{3F5}\x{3F7}-\x{481}\x{48A}-\x{52F})"
    R"(\x{531}-\x{556}\x{10A0}-\x{10C5}\x{13A0}-\x{13F5}\x{13F8}-\x{13FD}\x{1C90}-\x{1CBA})"
    R"(\x{1CBD}-\x{1CBF}\x{1D00}-\x{1D2B}\x{1D6B}-\x{1D77}\x{1D79}-\x{1D9A}\x{1E00}-\x{1F15})"
    R"(\x{1F18}-\x{1F1D}\x{1F20}-\x{1F45}\x{1F48}-\x{1F4D}\x{1F50}-\x{1F57}\x{1F59}\x{1F5B})"
    R"(\x{1F5D}\x{1F5F}-\x{1F7D}\x{1F80}-\x{1FB4}\x{1FB6}-\x{1FBC}\x{1FBE}\x{1FC2}-\x{1FC4})"
    R"(\x{1FC6}-\x{1FCC}\x{1FD0}-\x{1FD3}\x{1FD6}-\x{1FDB}\x{1FE0}-\x{1FEC}\x{1FF2}-\x{1FF4})"
    R"(\x{1FF6}-\x{1FFC}\x{2102}\x{2107}\x{210A}-\x{2113}\x{2115}\x{2119}-\x{211D}\x{2124})"
    R"(\x{2126}\x{2128}\x{212A}-\x{212D}\x{212F}-\x{2134}\x{2139}\x{213C}-\x{213F})"
    R"(\x{2145}-\x{2149}\x{214E}\x{2183}\x{2184}\x{2C00}-\x{2C7B}\x{2C7E}-\x{2CE4})"
    R"(\x{2CEB}-\x{2CEE}\x{2CF2}\x{2CF3}\x{A640}-\x{A66D}\x{A680}-\x{A69B}\x{A722}-\x{A76F})"
    R"(\x{A771}-\x{A787}\x{A78B}-\x{A78E}\x{AB70}-\x{ABBF}\x{FB00}-\x{FB06}\x{FB13}-\x{FB17})"
    R"(\x{FF21}-\x{FF3A}\x{FF41}-\x{FF5A}\x{10400}-\x{1044F}\x{104B0}-\x{104D3}\x{104D8}-\x{104FB})"
    R"(\x{10C80}-\x{10CB2}\x{10CC0}-\x{10CF2}\x{118A0}-\x{118DF}\x{1E900}-\x{1E943}]+)";
const char* const kDeepseekPunct =
    R"(\s?[!-/:-~\x{FF01}-\x{FF0F}\x{FF1A}-\x{FF5E}\x{2018}-\x{201F}\x{3000}-\x{3002}]+)";
const char* const kDeepseekCjk = R"([\x{4E00}-\x{9FA5}\x{800}-\x{4E00}\x{AC00}-\x{D7FF}]+)";
const char* const kDeepseekV3Main =
    R"([!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+| ?[\p{P}\p{S}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
const char* const kBloomPattern = R"( ?[^(\s|[.,!?…。，、।۔،])]+)";

struct Seg {
  size_t b, e;
  bool match;
};

// HF SplitDelimiterBehavior applied to a full cover of `s` by segments.
void emit_segments(std::string_view s, const std::vector<Seg>& segs, SplitBehavior behavior,
                   bool invert, std::vector<std::string>& out) {
  std::vector<Seg> res;
  res.reserve(segs.size());
  bool prev_match = false;
  switch (behavior) {
    case SplitBehavior::Removed:
    case SplitBehavior::Isolated:
      res = segs;
      for (auto& g : res) g.match ^= invert;
      break;
    case SplitBehavior::MergedWithPrevious:
      for (Seg g : segs) {
        g.match ^= invert;
        if (g.match && !prev_match && !res.empty()) res.back().e = g.e;
        else res.push_back({g.b, g.e, false});
        prev_match = g.match;
      }
      break;
    case SplitBehavior::MergedWithNext: {
      for (auto it = segs.rbegin(); it != segs.rend(); ++it) {
        Seg g = *it;
        g.match ^= invert;
        if (g.match && !prev_match && !res.empty()) res.back().b = g.b;
        else res.push_back({g.b, g.e, false});
        prev_match = g.match;
      }
      std::reverse(res.begin(), res.end());
      break;
    }
    case SplitBehavior::Contiguous:
      for (Seg g : segs) {
        g.match ^= invert;
        if (g.match == prev_match && !res.empty()) res.back().e = g.e;
        else res.push_back({g.b, g.e, false});
        prev_match = g.match;
      }
      break;
  }
  for (const auto& g : res) {
    if (behavior == SplitBehavior::Removed && g.match) continue;
    if (g.e > g.b) out.emplace_back(s.substr(g.b, g.e - g.b));
  }
}

void split_regex(std::string_view s, const Regex& re, SplitBehavior behavior, bool invert,
                 std::vector<std::string>& out) {
  std::vector<std::pair<size_t, size_t>> m;
  re.find_all(s, m);
  std::vector<Seg> segs;
  segs.reserve(2 * m.size() + 1);
  size_t prev = 0;
  for (auto [b, e] : m) {
    if (b > prev) segs.push_back({prev, b, false});
    segs.push_back({b, e, true});
    prev = e;
  }
  if (prev < s.size()) segs.push_back({prev, s.size(), false});
  emit_segments(s, segs, behavior, invert, out);
}

// Every character satisfying pred is its own delimiter (HF's char-predicate split).
template <class Pred>
void split_chars(std::string_view s, Pred pred, SplitBehavior behavior, std::vector<std::string>& out) {
  std::vector<Seg> segs;
  size_t last = 0;
  for (size_t i = 0; i < s.size();) {
    const size_t b = i;
    const uint32_t cp = unicode::decode_utf8(s, i);
    if (pred(cp)) {
      if (last < b) segs.push_back({last, b, false});
      segs.push_back({b, i, true});
      last = i;
    }
  }
  if (last < s.size()) segs.push_back({last, s.size(), false});
  emit_segments(s, segs, behavior, false, out);
}

bool is_hf_punctuation(uint32_t cp) { return bert_is_punctuation(cp); }

void replace_all(std::string& s, std::string_view from, std::string_view to) {
  if (from.empty()) return;
  std::string r;
  r.reserve(s.size());
  size_t i = 0;
  for (size_t j; (j = s.find(from, i)) != std::string::npos; i = j + from.size()) {
    r.append(s, i, j - i);
    r.append(to);
  }
  r.append(s, i, std::string::npos);
  s.swap(r);
}

void apply_step(const PreStep& st, std::string_view piece, bool at_start, std::vector<std::string>& out) {
  using K = PreStep::Kind;
  switch (st.kind) {
    case K::Split:
      split_regex(piece, *st.pattern, st.behavior, st.invert, out);
      return;
    case K::ByteLevel: {
      std::string p(piece);
      if (st.add_prefix_space && (p.empty() || p[0] != ' ')) p.insert(p.begin(), ' ');
      std::vector<std::string> parts;
      if (st.pattern) split_regex(p, *st.pattern, SplitBehavior::Isolated, false, parts);
      else parts.push_back(std::move(p));
      for (const auto& x : parts) out.push_back(unicode::bytes_to_unicode(x));
      return;
    }
    case K::Metaspace: {
      std::string p(piece);
      replace_all(p, " ", st.replacement);
      const bool want = st.prepend == PreStep::Prepend::Always ||
                        (st.prepend == PreStep::Prepend::First && at_start);
      if (want && p.compare(0, st.replacement.size(), st.replacement) != 0) p.insert(0, st.replacement);
      if (!st.split || st.replacement.empty()) {
        if (!p.empty()) out.push_back(std::move(p));
        return;
      }
      std::vector<Seg> segs;
      size_t last = 0;
      for (size_t j; (j = p.find(st.replacement, last)) != std::string::npos;) {
        if (j > last) segs.push_back({last, j, false});
        segs.push_back({j, j + st.replacement.size(), true});
        last = j + st.replacement.size();
      }
      if (last < p.size()) segs.push_back({last, p.size(), false});
      emit_segments(p, segs, SplitBehavior::MergedWithNext, false, out);
      return;
    }
    case K::Bert: {
      std::vector<std::string> words;
      split_chars(piece, unicode::is_white_space, SplitBehavior::Removed, words);
      for (const auto& w : words) split_chars(w, bert_is_punctuation, SplitBehavior::Isolated, out);
      return;
    }
    case K::WhitespaceSplit:
      split_chars(piece, unicode::is_white_space, SplitBehavior::Removed, out);
      return;
    case K::Digits:
      split_chars(piece, unicode::is_number,
                  st.individual_digits ? SplitBehavior::Isolated : SplitBehavior::Contiguous, out);
      return;
    case K::Punctuation:
      split_chars(piece, is_hf_punctuation, st.behavior, out);
      return;
  }
}

PreStep split_step(const char* pattern) {
  PreStep s;
  s.kind = PreStep::Kind::Split;
  s.pattern = compile_cached(pattern, false);
  return s;
}
PreStep byte_level(bool use_regex) {
  PreStep s;
  s.kind = PreStep::Kind::ByteLevel;
  if (use_regex) s.pattern = compile_cached(kGpt2Pattern, false);
  return s;
}

}  // namespace

std::shared_ptr<Regex> compile_cached(const std::string& pattern, bool literal) {
  // Tokenizers of one family share compiled patterns; weak entries let
  // patterns from short-lived tokenizers be freed.
  static std::mutex mu;
  static std::map<std::pair<std::string, bool>, std::weak_ptr<Regex>> cache;
  std::lock_guard<std::mutex> lock(mu);
  auto& slot = cache[{pattern, literal}];
  if (auto p = slot.lock()) return p;
  auto p = std::make_shared<Regex>(pattern, literal, "pre-tokenizer pattern");
  slot = p;
  return p;
}

std::string normalize(const std::vector<Normalizer>& steps, std::string_view text) {
  std::string s(text);
  using K = Normalizer::Kind;
  for (const auto& n : steps) {
    switch (n.kind) {
      case K::Prepend:
        if (!s.empty()) s.insert(0, n.text);
        break;
      case K::Replace: {
        std::vector<std::pair<size_t, size_t>> m;
        n.pattern->find_all(s, m);
        if (m.empty()) break;
        std::string r;
        size_t prev = 0;
        for (auto [b, e] : m) {
          r.append(s, prev, b - prev);
          r.append(n.text);
          prev = e;
        }
        r.append(s, prev, std::string::npos);
        s.swap(r);
        break;
      }
      case K::Lowercase:
      case K::StripAccents:
      case K::Nfd: {
        std::vector<uint32_t> cps, tmp;
        for (size_t i = 0; i < s.size();) {
          bool ok = true;
          const size_t b = i;
          const uint32_t cp = unicode::decode_utf8(s, i, &ok);
          if (!ok) {  // keep invalid bytes as they are
            cps.push_back(0x80000000u | static_cast<unsigned char>(s[b]));
            continue;
          }
          tmp.clear();
          if (n.kind == K::Lowercase) unicode::append_lower(tmp, cp);
          else unicode::append_nfd(tmp, cp);
          for (uint32_t c : tmp) {
            if (n.kind == K::StripAccents) {
              const auto cat = unicode::category(c);
              if (cat == unicode::Category::Mn || cat == unicode::Category::Mc ||
                  cat == unicode::Category::Me)
                continue;
            }
            cps.push_back(c);
          }
        }
        std::string r;
        r.reserve(s.size());
        for (uint32_t c : cps) {
          if (c & 0x80000000u) r += static_cast<char>(c & 0xFF);
          else unicode::append_utf8(r, c);
        }
        s.swap(r);
        break;
      }
      case K::Strip: {
        size_t b = 0, e = s.size();
        auto ws = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; };
        if (n.left) while (b < e && ws(s[b])) ++b;
        if (n.right) while (e > b && ws(s[e - 1])) --e;
        s = s.substr(b, e - b);
        break;
      }
      case K::Bert:
        s = bert_normalize(s, n.clean_text, n.chinese_chars, n.strip_accents, n.lowercase);
        break;
    }
  }
  return s;
}

void pre_tokenize(const std::vector<PreStep>& steps, std::string_view text, bool first_segment,
                  std::vector<std::string>& pieces) {
  if (text.empty()) return;
  std::vector<std::string> cur{std::string(text)}, next;
  for (const auto& st : steps) {
    next.clear();
    for (size_t i = 0; i < cur.size(); ++i) apply_step(st, cur[i], first_segment && i == 0, next);
    cur.swap(next);
  }
  for (auto& p : cur)
    if (!p.empty()) pieces.push_back(std::move(p));
}

std::vector<PreStep> preset_for_pre(const std::string& pre, bool* known, bool* ignore_merges) {
  auto is = [&](std::initializer_list<const char*> names) {
    for (const char* n : names)
      if (pre == n) return true;
    return false;
  };
  *known = true;
  *ignore_merges = false;
  std::vector<PreStep> v;
  if (is({"llama3", "llama-v3", "llama-bpe", "falcon3", "dbrx", "smaug-bpe", "chatglm-bpe"})) {
    *ignore_merges = is({"llama3", "llama-v3", "llama-bpe", "falcon3"});
    v = {split_step(kLlama3Pattern), byte_level(false)};
  } else if (is({"qwen2", "deepseek-r1-qwen", "stablelm2", "megrez"})) {
    v = {split_step(kQwen2Pattern), byte_level(false)};
  } else if (is({"tekken"})) {
    *ignore_merges = true;
    v = {split_step(kTekkenPattern), byte_level(false)};
  } else if (is({"deepseek-llm"})) {
    v = {split_step(R"([\r\n])"), split_step(kDeepseekLetters), split_step(kDeepseekPunct),
         split_step(R"(\s+$)"), split_step(kDeepseekCjk), split_step(R"(\p{N}+)"), byte_level(false)};
  } else if (is({"deepseek-coder"})) {
    v = {split_step(R"([\r\n])"), split_step(R"(\s?\p{L}+)"), split_step(R"(\s?\p{P}+)"),
         split_step(kDeepseekCjk), split_step(R"(\p{N})"), byte_level(false)};
  } else if (is({"deepseek-v3"})) {
    v = {split_step(R"(\p{N}{1,3})"), split_step(R"([\x{4E00}-\x{9FA5}\x{3040}-\x{309F}\x{30A0}-\x{30FF}]+)"),
         split_step(kDeepseekV3Main), byte_level(false)};
  } else if (is({"falcon"})) {
    PreStep punct;
    punct.kind = PreStep::Kind::Punctuation;
    punct.behavior = SplitBehavior::Contiguous;
    PreStep digits;
    digits.kind = PreStep::Kind::Digits;
    digits.individual_digits = false;
    v = {punct, byte_level(true), digits, split_step("[0-9][0-9][0-9]")};
  } else if (is({"starcoder", "refact", "command-r", "smollm", "codeshell", "exaone", "minerva-7b"})) {
    PreStep digits;
    digits.kind = PreStep::Kind::Digits;
    digits.individual_digits = true;
    v = {digits, byte_level(true)};
  } else if (is({"bloom", "poro-chat", "gpt3-finnish"})) {
    v = {split_step(kBloomPattern), byte_level(false)};
  } else {
    *known = is({"gpt-2", "gpt2", "phi-2", "jina-es", "jina-de", "gigachat", "jina-v1-en", "jina-v2-es",
                 "jina-v2-de", "jina-v2-code", "roberta-bpe", "mpt", "olmo", "jais"});
    v = {byte_level(true)};
  }
  return v;
}

}  // namespace larql::tok
