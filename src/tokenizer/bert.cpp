// BERT text handling with Hugging Face BertNormalizer semantics:
// clean (drop NUL, U+FFFD and other/control characters; whitespace -> ' '),
// pad CJK ideographs with spaces, strip accents (NFD, drop Mn), lower-case.
#include "tokenizer/pretokenizer.h"
#include "tokenizer/unicode.h"

namespace larql::tok {

bool is_cjk_ideograph(uint32_t cp) {
  // The CJK blocks BERT's original tokenizer treats as "Chinese characters".
  return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) ||
         (cp >= 0x20000 && cp <= 0x2A6DF) || (cp >= 0x2A700 && cp <= 0x2B73F) ||
         (cp >= 0x2B740 && cp <= 0x2B81F) || (cp >= 0x2B920 && cp <= 0x2CEAF) ||
         (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x2F800 && cp <= 0x2FA1F);
}

bool bert_is_punctuation(uint32_t cp) {
  // ASCII punctuation includes symbols such as $ + < = > ^ ` | ~.
  if ((cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) ||
      (cp >= 123 && cp <= 126))
    return true;
  return cp >= 0x80 && unicode::is_punctuation(cp);
}

std::string bert_normalize(std::string_view text, bool clean_text, bool chinese_chars,
                           bool strip_accents, bool lowercase) {
  std::vector<uint32_t> a, b;
  a.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    uint32_t cp = unicode::decode_utf8(text, i);  // invalid bytes -> U+FFFD
    if (clean_text) {
      const bool tab_nl = cp == '\t' || cp == '\n' || cp == '\r';
      if (cp == 0 || cp == unicode::kReplacement || (!tab_nl && unicode::is_other(cp))) continue;
      if (tab_nl || unicode::is_white_space(cp)) cp = ' ';
    }
    if (chinese_chars && is_cjk_ideograph(cp)) {
      a.push_back(' ');
      a.push_back(cp);
      a.push_back(' ');
    } else {
      a.push_back(cp);
    }
  }
  if (strip_accents) {
    b.reserve(a.size());
    std::vector<uint32_t> d;
    for (uint32_t cp : a) {
      d.clear();
      unicode::append_nfd(d, cp);
      for (uint32_t c : d)
        if (!unicode::is_mark_nonspacing(c)) b.push_back(c);
    }
    a.swap(b);
  }
  std::string out;
  out.reserve(a.size());
  std::vector<uint32_t> l;
  for (uint32_t cp : a) {
    if (lowercase) {
      l.clear();
      unicode::append_lower(l, cp);
      for (uint32_t c : l) unicode::append_utf8(out, c);
    } else {
      unicode::append_utf8(out, cp);
    }
  }
  return out;
}

}  // namespace larql::tok
