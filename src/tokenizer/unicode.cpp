#include "tokenizer/unicode.h"

#include <algorithm>
#include <array>

namespace larql::unicode {
namespace {

struct CategoryRun {
  uint32_t first;
  uint8_t cat;
};
struct CodeMap {
  uint32_t from, to;
};
struct Decomposition {
  uint32_t cp;
  uint8_t n;
  uint32_t seq[4];
};

#include "tokenizer/unicode_tables.inc"

// Hangul syllable arithmetic (Unicode ch. 3.12).
constexpr uint32_t kSBase = 0xAC00, kLBase = 0x1100, kVBase = 0x1161, kTBase = 0x11A7;
constexpr uint32_t kVCount = 21, kTCount = 28, kNCount = kVCount * kTCount, kSCount = 11172;

struct ByteMap {
  std::array<uint32_t, 256> to_cp{};
  std::array<int16_t, 324> from_cp{};  // images are all < 324
  ByteMap() {
    from_cp.fill(-1);
    // Printable Latin-1 bytes map to themselves; the rest are shifted to
    // U+0100.. in byte order so that every byte has a visible glyph.
    uint32_t next = 256;
    for (int b = 0; b < 256; ++b) {
      const bool keep = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
      to_cp[b] = keep ? static_cast<uint32_t>(b) : next++;
      from_cp[to_cp[b]] = static_cast<int16_t>(b);
    }
  }
};
const ByteMap& byte_map() {
  static const ByteMap m;
  return m;
}

}  // namespace

size_t valid_utf8_len(std::string_view s, size_t i) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const size_t n = s.size();
  const unsigned char c = p[i];
  if (c < 0x80) return 1;
  size_t len;
  uint32_t cp;
  if (c >= 0xC2 && c <= 0xDF) { len = 2; cp = c & 0x1F; }
  else if (c >= 0xE0 && c <= 0xEF) { len = 3; cp = c & 0x0F; }
  else if (c >= 0xF0 && c <= 0xF4) { len = 4; cp = c & 0x07; }
  else return 0;
  if (i + len > n) return 0;
  for (size_t k = 1; k < len; ++k) {
    if ((p[i + k] & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (p[i + k] & 0x3F);
  }
  if (len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) return 0;
  if (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) return 0;
  return len;
}

uint32_t decode_utf8(std::string_view s, size_t& i, bool* valid) {
  const size_t len = valid_utf8_len(s, i);
  const auto* p = reinterpret_cast<const unsigned char*>(s.data()) + i;
  if (valid) *valid = len != 0;
  switch (len) {
    case 1: i += 1; return p[0];
    case 2: i += 2; return ((p[0] & 0x1Fu) << 6) | (p[1] & 0x3Fu);
    case 3: i += 3; return ((p[0] & 0x0Fu) << 12) | ((p[1] & 0x3Fu) << 6) | (p[2] & 0x3Fu);
    case 4:
      i += 4;
      return ((p[0] & 0x07u) << 18) | ((p[1] & 0x3Fu) << 12) | ((p[2] & 0x3Fu) << 6) | (p[3] & 0x3Fu);
    default: i += 1; return kReplacement;
  }
}

std::vector<uint32_t> to_codepoints(std::string_view s) {
  std::vector<uint32_t> out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) out.push_back(decode_utf8(s, i));
  return out;
}

void append_utf8(std::string& out, uint32_t cp) {
  if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) cp = kReplacement;
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

std::string to_utf8(uint32_t cp) {
  std::string s;
  append_utf8(s, cp);
  return s;
}

Category category(uint32_t cp) {
  if (cp > 0x10FFFF) return Category::Cn;
  const auto* end = std::end(kCategoryRuns);
  const auto* it = std::upper_bound(std::begin(kCategoryRuns), end, cp,
                                    [](uint32_t v, const CategoryRun& r) { return v < r.first; });
  return static_cast<Category>((it - 1)->cat);  // run 0 starts at U+0000
}

bool is_letter(uint32_t cp) {
  const auto c = category(cp);
  return c >= Category::Ll && c <= Category::Lu;
}
bool is_number(uint32_t cp) {
  const auto c = category(cp);
  return c >= Category::Nd && c <= Category::No;
}
bool is_punctuation(uint32_t cp) {
  const auto c = category(cp);
  return c >= Category::Pc && c <= Category::Ps;
}
bool is_symbol(uint32_t cp) {
  const auto c = category(cp);
  return c >= Category::Sc && c <= Category::So;
}
bool is_mark_nonspacing(uint32_t cp) { return category(cp) == Category::Mn; }
bool is_other(uint32_t cp) { return category(cp) <= Category::Cs; }

bool is_white_space(uint32_t cp) {
  switch (cp) {
    case 0x09: case 0x0A: case 0x0B: case 0x0C: case 0x0D: case 0x20: case 0x85: case 0xA0:
    case 0x1680: case 0x2028: case 0x2029: case 0x202F: case 0x205F: case 0x3000:
      return true;
    default:
      return cp >= 0x2000 && cp <= 0x200A;
  }
}

void append_lower(std::vector<uint32_t>& out, uint32_t cp) {
  if (cp == 0x130) {  // the only unconditional one-to-many lower-case mapping
    out.push_back('i');
    out.push_back(0x307);
    return;
  }
  if (cp < 0x80) {
    out.push_back(cp >= 'A' && cp <= 'Z' ? cp + 32 : cp);
    return;
  }
  const auto* end = std::end(kLowerMap);
  const auto* it = std::lower_bound(std::begin(kLowerMap), end, cp,
                                    [](const CodeMap& m, uint32_t v) { return m.from < v; });
  out.push_back(it != end && it->from == cp ? it->to : cp);
}

void append_nfd(std::vector<uint32_t>& out, uint32_t cp) {
  if (cp >= kSBase && cp < kSBase + kSCount) {
    const uint32_t s = cp - kSBase;
    out.push_back(kLBase + s / kNCount);
    out.push_back(kVBase + (s % kNCount) / kTCount);
    if (s % kTCount) out.push_back(kTBase + s % kTCount);
    return;
  }
  if (cp < 0xC0) {
    out.push_back(cp);
    return;
  }
  const auto* end = std::end(kDecomp);
  const auto* it = std::lower_bound(std::begin(kDecomp), end, cp,
                                    [](const Decomposition& d, uint32_t v) { return d.cp < v; });
  if (it != end && it->cp == cp) {
    out.insert(out.end(), it->seq, it->seq + it->n);
  } else {
    out.push_back(cp);
  }
}

uint32_t byte_to_cp(uint8_t b) { return byte_map().to_cp[b]; }

int cp_to_byte(uint32_t cp) {
  const auto& m = byte_map();
  return cp < m.from_cp.size() ? m.from_cp[cp] : -1;
}

std::string bytes_to_unicode(std::string_view s) {
  std::string out;
  out.reserve(s.size() * 2);
  for (unsigned char b : s) append_utf8(out, byte_to_cp(b));
  return out;
}

}  // namespace larql::unicode
