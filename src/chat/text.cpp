#include "chat/text.h"

#include <locale.h>
#include <wctype.h>

namespace larql::chat::text {

bool is_ascii(std::string_view s) {
  for (unsigned char c : s)
    if (c >= 0x80) return false;
  return true;
}

uint32_t decode_at(std::string_view s, size_t& i) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  if (b0 < 0x80) { ++i; return b0; }
  int n = 0;
  uint32_t cp = 0, min = 0;
  if ((b0 & 0xE0) == 0xC0) { n = 1; cp = b0 & 0x1F; min = 0x80; }
  else if ((b0 & 0xF0) == 0xE0) { n = 2; cp = b0 & 0x0F; min = 0x800; }
  else if ((b0 & 0xF8) == 0xF0) { n = 3; cp = b0 & 0x07; min = 0x10000; }
  if (n == 0) { ++i; return 0xDC00 + b0; }
  for (int k = 1; k <= n; ++k) {
    if (i + static_cast<size_t>(k) >= s.size()) { ++i; return 0xDC00 + b0; }
    const auto b = static_cast<unsigned char>(s[i + k]);
    if ((b & 0xC0) != 0x80) { ++i; return 0xDC00 + b0; }
    cp = (cp << 6) | (b & 0x3F);
  }
  // Overlong forms, surrogates and out-of-range values are invalid bytes too.
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) { ++i; return 0xDC00 + b0; }
  i += n + 1;
  return cp;
}

std::vector<uint32_t> decode(std::string_view s) {
  std::vector<uint32_t> out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) out.push_back(decode_at(s, i));
  return out;
}

void append_utf8(std::string& out, uint32_t cp) {
  if (cp >= 0xDC80 && cp <= 0xDCFF) { out.push_back(static_cast<char>(cp - 0xDC00)); return; }
  if ((cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) cp = 0xFFFD;
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

std::string encode(const std::vector<uint32_t>& cps) {
  std::string out;
  out.reserve(cps.size());
  for (uint32_t cp : cps) append_utf8(out, cp);
  return out;
}

size_t length(std::string_view s) {
  if (is_ascii(s)) return s.size();
  size_t n = 0;
  for (size_t i = 0; i < s.size(); ++n) decode_at(s, i);
  return n;
}

bool is_space(uint32_t c) {
  return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 ||
         c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 ||
         c == 0x202F || c == 0x205F || c == 0x3000;
}

// Unicode case data comes from the C library's C.UTF-8 locale; without it,
// only ASCII is case-mapped.
static locale_t utf8_locale() {
  static locale_t loc = newlocale(LC_CTYPE_MASK, "C.UTF-8", static_cast<locale_t>(nullptr));
  return loc;
}

bool is_cased_upper(uint32_t c) {
  if (c < 0x80) return c >= 'A' && c <= 'Z';
  if (c >= 0xD800 && c <= 0xDFFF) return false;
  locale_t l = utf8_locale();
  return l && iswupper_l(static_cast<wint_t>(c), l);
}
bool is_cased_lower(uint32_t c) {
  if (c < 0x80) return c >= 'a' && c <= 'z';
  if (c >= 0xD800 && c <= 0xDFFF) return false;
  locale_t l = utf8_locale();
  return l && iswlower_l(static_cast<wint_t>(c), l);
}
bool is_alpha(uint32_t c) {
  if (c < 0x80) return (c | 0x20) >= 'a' && (c | 0x20) <= 'z';
  if (c >= 0xD800 && c <= 0xDFFF) return false;
  locale_t l = utf8_locale();
  return l && iswalpha_l(static_cast<wint_t>(c), l);
}
bool is_digit(uint32_t c) { return c >= '0' && c <= '9'; }

uint32_t to_upper(uint32_t c) {
  if (c < 0x80) return (c >= 'a' && c <= 'z') ? c - 32 : c;
  if (c >= 0xD800 && c <= 0xDFFF) return c;
  locale_t l = utf8_locale();
  return l ? static_cast<uint32_t>(towupper_l(static_cast<wint_t>(c), l)) : c;
}
uint32_t to_lower(uint32_t c) {
  if (c < 0x80) return (c >= 'A' && c <= 'Z') ? c + 32 : c;
  if (c >= 0xD800 && c <= 0xDFFF) return c;
  locale_t l = utf8_locale();
  return l ? static_cast<uint32_t>(towlower_l(static_cast<wint_t>(c), l)) : c;
}

template <class F>
static std::string map_cps(std::string_view s, F f) {
  std::string out;
  out.reserve(s.size());
  if (is_ascii(s)) {
    for (char c : s) out.push_back(static_cast<char>(f(static_cast<unsigned char>(c))));
    return out;
  }
  for (size_t i = 0; i < s.size();) append_utf8(out, f(decode_at(s, i)));
  return out;
}

std::string upper(std::string_view s) { return map_cps(s, to_upper); }
std::string lower(std::string_view s) { return map_cps(s, to_lower); }

static bool is_cased(uint32_t c) { return is_cased_upper(c) || is_cased_lower(c); }

std::string py_title(std::string_view s) {
  bool prev_cased = false;
  return map_cps(s, [&](uint32_t c) {
    const uint32_t r = prev_cased ? to_lower(c) : to_upper(c);
    prev_cased = is_cased(c);
    return r;
  });
}

std::string capitalize(std::string_view s) {
  bool first = true;
  return map_cps(s, [&](uint32_t c) {
    const uint32_t r = first ? to_upper(c) : to_lower(c);
    first = false;
    return r;
  });
}

// Jinja's title filter upper-cases the first character of each word, where
// words are separated by runs of whitespace, '-', '(', '{', '[' or '<'.
std::string jinja_title(std::string_view s) {
  bool at_start = true;
  return map_cps(s, [&](uint32_t c) {
    const bool sep = is_space(c) || c == '-' || c == '(' || c == '{' || c == '[' || c == '<';
    uint32_t r = c;
    if (sep) r = c;
    else r = at_start ? to_upper(c) : to_lower(c);
    at_start = sep;
    return r;
  });
}

static bool in_chars(uint32_t c, const std::vector<uint32_t>& set) {
  for (uint32_t x : set)
    if (x == c) return true;
  return false;
}

std::string strip(std::string_view s, const std::string* chars, bool left, bool right) {
  std::vector<uint32_t> set;
  if (chars) set = decode(*chars);
  auto strippable = [&](uint32_t c) { return chars ? in_chars(c, set) : is_space(c); };
  std::vector<size_t> starts;  // byte offset of each code point
  std::vector<uint32_t> cps;
  for (size_t i = 0; i < s.size();) {
    starts.push_back(i);
    cps.push_back(decode_at(s, i));
  }
  size_t b = 0, e = cps.size();
  if (left)
    while (b < e && strippable(cps[b])) ++b;
  if (right)
    while (e > b && strippable(cps[e - 1])) --e;
  const size_t from = b < cps.size() ? starts[b] : s.size();
  const size_t to = e < cps.size() ? starts[e] : s.size();
  return std::string(s.substr(from, to - from));
}

std::string rstrip_ws(std::string_view s) { return strip(s, nullptr, false, true); }

size_t ws_run(std::string_view s, size_t pos) {
  size_t i = pos;
  while (i < s.size()) {
    size_t j = i;
    if (!is_space(decode_at(s, j))) break;
    i = j;
  }
  return i - pos;
}

std::vector<std::string> split(std::string_view s, const std::string* sep, int64_t maxsplit,
                               bool from_right) {
  std::vector<std::string> out;
  if (maxsplit < 0) maxsplit = INT64_MAX;
  if (sep) {
    const std::string& d = *sep;
    if (!from_right) {
      size_t pos = 0;
      while (maxsplit-- > 0) {
        const size_t f = s.find(d, pos);
        if (f == std::string_view::npos) break;
        out.emplace_back(s.substr(pos, f - pos));
        pos = f + d.size();
      }
      out.emplace_back(s.substr(pos));
    } else {
      size_t end = s.size();
      std::vector<std::string> rev;
      while (maxsplit-- > 0 && end >= d.size()) {
        const size_t f = s.rfind(d, end - d.size());
        if (f == std::string_view::npos) break;
        rev.emplace_back(s.substr(f + d.size(), end - f - d.size()));
        end = f;
      }
      rev.emplace_back(s.substr(0, end));
      out.assign(rev.rbegin(), rev.rend());
    }
    return out;
  }
  // Whitespace splitting: runs of whitespace separate, empty strings never appear.
  std::vector<size_t> starts;
  std::vector<uint32_t> cps;
  for (size_t i = 0; i < s.size();) {
    starts.push_back(i);
    cps.push_back(decode_at(s, i));
  }
  starts.push_back(s.size());
  const size_t n = cps.size();
  if (!from_right) {
    size_t i = 0;
    while (true) {
      while (i < n && is_space(cps[i])) ++i;
      if (i >= n) break;
      if (maxsplit-- <= 0) {
        size_t e = n;
        while (e > i && is_space(cps[e - 1])) --e;
        out.emplace_back(s.substr(starts[i], starts[e] - starts[i]));
        break;
      }
      size_t j = i;
      while (j < n && !is_space(cps[j])) ++j;
      out.emplace_back(s.substr(starts[i], starts[j] - starts[i]));
      i = j;
    }
  } else {
    size_t e = n;
    std::vector<std::string> rev;
    while (true) {
      while (e > 0 && is_space(cps[e - 1])) --e;
      if (e == 0) break;
      if (maxsplit-- <= 0) {
        size_t b = 0;
        while (b < e && is_space(cps[b])) ++b;
        rev.emplace_back(s.substr(starts[b], starts[e] - starts[b]));
        break;
      }
      size_t j = e;
      while (j > 0 && !is_space(cps[j - 1])) --j;
      rev.emplace_back(s.substr(starts[j], starts[e] - starts[j]));
      e = j;
    }
    out.assign(rev.rbegin(), rev.rend());
  }
  return out;
}

std::string replace(std::string_view s, std::string_view old, std::string_view rep, int64_t count) {
  if (count < 0) count = INT64_MAX;
  std::string out;
  if (old.empty()) {
    // Python inserts `rep` before every code point and at the end.
    size_t i = 0;
    while (i < s.size()) {
      if (count-- > 0) out.append(rep);
      const size_t b = i;
      decode_at(s, i);
      out.append(s.substr(b, i - b));
    }
    if (count > 0) out.append(rep);
    return out;
  }
  size_t pos = 0;
  while (count-- > 0) {
    const size_t f = s.find(old, pos);
    if (f == std::string_view::npos) break;
    out.append(s.substr(pos, f - pos));
    out.append(rep);
    pos = f + old.size();
  }
  out.append(s.substr(pos));
  return out;
}

}  // namespace larql::chat::text

namespace larql::chat::text {

std::vector<std::string> splitlines(std::string_view s, bool keepends) {
  std::vector<std::string> out;
  size_t line_start = 0, i = 0;
  while (i < s.size()) {
    const size_t b = i;
    const uint32_t c = decode_at(s, i);
    const bool brk = c == '\n' || c == '\r' || c == 0x0B || c == 0x0C || (c >= 0x1C && c <= 0x1E) || c == 0x85 ||
                     c == 0x2028 || c == 0x2029;
    if (!brk) continue;
    if (c == '\r' && i < s.size() && s[i] == '\n') ++i;
    out.emplace_back(s.substr(line_start, (keepends ? i : b) - line_start));
    line_start = i;
  }
  if (line_start < s.size()) out.emplace_back(s.substr(line_start));
  return out;
}

}  // namespace larql::chat::text
