#include "chat/lexer.h"

#include <charconv>
#include <cmath>

#include "chat/text.h"
#include "util/error.h"

namespace larql::chat {

void locate(const std::string& source, size_t offset, int* line, int* col) {
  int l = 1, c = 1;
  for (size_t i = 0; i < offset && i < source.size(); ++i) {
    if (source[i] == '\n') { ++l; c = 1; }
    else if ((static_cast<unsigned char>(source[i]) & 0xC0) != 0x80) ++c;
  }
  *line = l;
  *col = c;
}

namespace {

bool is_name_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool is_name_char(char c) { return is_name_start(c) || (c >= '0' && c <= '9'); }
bool is_dig(char c) { return c >= '0' && c <= '9'; }
int hex_val(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

class Lexer {
 public:
  explicit Lexer(std::string src) : src_(std::move(src)) {}

  std::vector<Token> run() {
    const size_t n = src_.size();
    while (pos_ < n) {
      const size_t t = find_tag(pos_);
      if (t == std::string::npos) {
        push(Tok::Data, src_.substr(pos_), pos_);
        break;
      }
      const char kind = src_[t + 1];
      const char sign = (t + 2 < n && (src_[t + 2] == '-' || src_[t + 2] == '+')) ? src_[t + 2] : 0;
      size_t raw_end = 0;
      const bool raw = kind == '%' && match_raw_begin(t, &raw_end);
      std::string data = apply_lstrip(src_.substr(pos_, t - pos_), sign, kind != '{');
      if (!data.empty()) push(Tok::Data, std::move(data), pos_);
      if (raw) {
        pos_ = raw_end;
        line_starting_ = src_[pos_ - 1] == '\n';
        lex_raw_body();
      } else if (kind == '#') {
        pos_ = t + 2 + (sign ? 1 : 0);
        lex_comment(t);
      } else {
        push(kind == '{' ? Tok::VarBegin : Tok::BlockBegin, "", t);
        pos_ = t + 2 + (sign ? 1 : 0);
        line_starting_ = false;
        lex_tag(kind == '%', t);
      }
    }
    push(Tok::Eof, "", src_.size());
    return std::move(out_);
  }

 private:
  std::string src_;
  size_t pos_ = 0;
  bool line_starting_ = true;
  std::vector<Token> out_;
  // Incremental position tracking (tokens arrive in source order).
  size_t loc_off_ = 0;
  int loc_line_ = 1, loc_col_ = 1;

  void advance_loc(size_t off) {
    if (off < loc_off_) { loc_off_ = 0; loc_line_ = 1; loc_col_ = 1; }
    for (; loc_off_ < off && loc_off_ < src_.size(); ++loc_off_) {
      const char c = src_[loc_off_];
      if (c == '\n') { ++loc_line_; loc_col_ = 1; }
      else if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) ++loc_col_;
    }
  }

  Token& push(Tok type, std::string text, size_t at) {
    advance_loc(at);
    Token tk;
    tk.type = type;
    tk.text = std::move(text);
    tk.line = loc_line_;
    tk.col = loc_col_;
    out_.push_back(std::move(tk));
    return out_.back();
  }

  [[noreturn]] void error(size_t at, const std::string& msg) {
    int line, col;
    locate(src_, at, &line, &col);
    std::string near = src_.substr(at, 40);
    if (auto nl = near.find('\n'); nl != std::string::npos) near.resize(nl);
    throw Error("chat template: syntax error at line " + std::to_string(line) + ":" + std::to_string(col) +
                ": " + msg + (near.empty() ? "" : " (near '" + near + "')"));
  }

  bool starts(size_t at, const char* s) const { return src_.compare(at, std::char_traits<char>::length(s), s) == 0; }

  size_t find_tag(size_t from) const {
    for (size_t i = src_.find('{', from); i != std::string::npos; i = src_.find('{', i + 1)) {
      if (i + 1 < src_.size() && (src_[i + 1] == '{' || src_[i + 1] == '%' || src_[i + 1] == '#')) return i;
    }
    return std::string::npos;
  }

  // The data before a tag: "-" strips trailing whitespace; otherwise, for block
  // and comment tags, lstrip_blocks drops spaces between a line start and the tag.
  std::string apply_lstrip(std::string text, char sign, bool lstrip_kind) const {
    if (sign == '-') return text::rstrip_ws(text);
    if (sign == '+' || !lstrip_kind) return text;
    const size_t nl = text.rfind('\n');
    const size_t l = nl == std::string::npos ? 0 : nl + 1;
    if (l == 0 && !line_starting_) return text;
    if (l < text.size() && text::ws_run(text, l) == text.size() - l) text.resize(l);
    return text;
  }

  // "{%[-+]? raw [-]%}" at `t`; sets *end past the tag.
  bool match_raw_begin(size_t t, size_t* end) const {
    size_t i = t + 2;
    if (i < src_.size() && (src_[i] == '-' || src_[i] == '+')) ++i;
    i += text::ws_run(src_, i);
    if (!starts(i, "raw")) return false;
    i += 3;
    i += text::ws_run(src_, i);
    if (starts(i, "-%}")) {
      i += 3;
      i += text::ws_run(src_, i);
    } else if (starts(i, "%}")) {
      i += 2;
    } else {
      return false;
    }
    *end = i;
    return true;
  }

  void lex_raw_body() {
    const size_t body = pos_;
    for (size_t k = src_.find("{%", body); k != std::string::npos; k = src_.find("{%", k + 1)) {
      size_t i = k + 2;
      char sign = 0;
      if (i < src_.size() && (src_[i] == '-' || src_[i] == '+')) sign = src_[i++];
      i += text::ws_run(src_, i);
      if (!starts(i, "endraw")) continue;
      i += 6;
      i += text::ws_run(src_, i);
      if (starts(i, "+%}")) i += 3;
      else if (starts(i, "-%}")) { i += 3; i += text::ws_run(src_, i); }
      else if (starts(i, "%}")) { i += 2; if (i < src_.size() && src_[i] == '\n') ++i; }
      else continue;
      std::string data = apply_lstrip(src_.substr(body, k - body), sign, true);
      if (!data.empty()) push(Tok::Data, std::move(data), body);
      pos_ = i;
      line_starting_ = src_[i - 1] == '\n';
      return;
    }
    error(body, "missing end of raw directive");
  }

  void lex_comment(size_t start) {
    const size_t j = src_.find("#}", pos_);
    if (j == std::string::npos) error(start, "missing end of comment tag");
    size_t e = j + 2;
    const char sign = (j > pos_ && (src_[j - 1] == '-' || src_[j - 1] == '+')) ? src_[j - 1] : 0;
    if (sign == '-') e += text::ws_run(src_, e);
    else if (sign == 0 && e < src_.size() && src_[e] == '\n') ++e;
    pos_ = e;
    line_starting_ = src_[e - 1] == '\n';
  }

  void lex_tag(bool block, size_t start) {
    std::vector<char> stack;  // expected closing brackets
    const size_t n = src_.size();
    while (true) {
      if (pos_ >= n)
        error(start, block ? "unexpected end of template, expected '%}'" : "unexpected end of template, expected '}}'");
      if (stack.empty()) {
        if (block) {
          if (starts(pos_, "+%}")) { end_tag(Tok::BlockEnd, pos_ + 3, false); return; }
          if (starts(pos_, "-%}")) { end_tag(Tok::BlockEnd, pos_ + 3, true); return; }
          if (starts(pos_, "%}")) {
            size_t e = pos_ + 2;
            if (e < n && src_[e] == '\n') ++e;  // trim_blocks
            end_tag(Tok::BlockEnd, e, false);
            return;
          }
        } else {
          if (starts(pos_, "-}}")) { end_tag(Tok::VarEnd, pos_ + 3, true); return; }
          if (starts(pos_, "}}")) { end_tag(Tok::VarEnd, pos_ + 2, false); return; }
        }
      }
      if (size_t w = text::ws_run(src_, pos_)) { pos_ += w; continue; }
      const char c = src_[pos_];
      if (lex_number()) continue;
      if (is_name_start(c)) {
        size_t e = pos_ + 1;
        while (e < n && is_name_char(src_[e])) ++e;
        push(Tok::Name, src_.substr(pos_, e - pos_), pos_);
        pos_ = e;
        continue;
      }
      if (c == '\'' || c == '"') { lex_string(); continue; }
      lex_operator(stack);
    }
  }

  void end_tag(Tok type, size_t e, bool strip_after) {
    push(type, "", pos_);
    if (strip_after) e += text::ws_run(src_, e);
    pos_ = e;
    line_starting_ = src_[e - 1] == '\n';
  }

  void lex_operator(std::vector<char>& stack) {
    static const char* const two[] = {"//", "**", "==", "!=", ">=", "<="};
    for (const char* op : two) {
      if (starts(pos_, op)) {
        push(Tok::Op, op, pos_);
        pos_ += 2;
        return;
      }
    }
    const char c = src_[pos_];
    static const std::string singles = "+-/*%~[](){}><=.:|,;";
    if (singles.find(c) == std::string::npos) {
      std::string shown;
      size_t i = pos_;
      text::append_utf8(shown, text::decode_at(src_, i));
      error(pos_, "unexpected char '" + shown + "'");
    }
    if (c == '(') stack.push_back(')');
    else if (c == '[') stack.push_back(']');
    else if (c == '{') stack.push_back('}');
    else if (c == ')' || c == ']' || c == '}') {
      if (stack.empty()) error(pos_, std::string("unexpected '") + c + "'");
      if (stack.back() != c) error(pos_, std::string("unexpected '") + c + "', expected '" + stack.back() + "'");
      stack.pop_back();
    }
    push(Tok::Op, std::string(1, c), pos_);
    ++pos_;
  }

  // Digits with single underscores between them: (\d+_)*\d+
  size_t digit_run(size_t i) const {
    const size_t b = i;
    while (i < src_.size() && is_dig(src_[i])) {
      ++i;
      if (i + 1 < src_.size() && src_[i] == '_' && is_dig(src_[i + 1])) ++i;
    }
    return i - b;
  }

  bool lex_number() {
    const size_t n = src_.size();
    const size_t b = pos_;
    if (!is_dig(src_[b])) return false;
    // Float: (?<!\.)digits ( (\.digits)? e[+-]?digits | \.digits )
    if (b == 0 || src_[b - 1] != '.') {
      size_t i = b + digit_run(b);
      size_t frac_end = 0;
      if (i < n && src_[i] == '.' && i + 1 < n && is_dig(src_[i + 1])) frac_end = i + 1 + digit_run(i + 1);
      size_t j = frac_end ? frac_end : i;
      size_t exp_end = 0;
      if (j < n && (src_[j] == 'e' || src_[j] == 'E')) {
        size_t k = j + 1;
        if (k < n && (src_[k] == '+' || src_[k] == '-')) ++k;
        if (k < n && is_dig(src_[k])) exp_end = k + digit_run(k);
      }
      const size_t e = exp_end ? exp_end : frac_end;
      if (e) {
        std::string digits;
        for (size_t k = b; k < e; ++k)
          if (src_[k] != '_') digits.push_back(src_[k]);
        double v = 0;
        auto r = std::from_chars(digits.data(), digits.data() + digits.size(), v);
        if (r.ec != std::errc() && r.ec != std::errc::result_out_of_range) error(b, "bad float literal");
        if (r.ec == std::errc::result_out_of_range) v = digits.find("e-") != std::string::npos || digits.find("E-") != std::string::npos ? 0.0 : HUGE_VAL;
        Token& t = push(Tok::Float, src_.substr(b, e - b), b);
        t.fval = v;
        pos_ = e;
        return true;
      }
    }
    // Integer: 0b.., 0o.., 0x.., [1-9](_?\d)*, 0(_?0)*
    int base = 10;
    size_t i = b, dstart = b;
    if (src_[b] == '0' && b + 1 < n && std::string("bBoOxX").find(src_[b + 1]) != std::string::npos) {
      const char p = static_cast<char>(src_[b + 1] | 0x20);
      base = p == 'b' ? 2 : p == 'o' ? 8 : 16;
      i = dstart = b + 2;
    }
    auto digit_ok = [&](char c) {
      const int v = hex_val(c);
      return v >= 0 && v < base;
    };
    std::string digits;
    bool any = false;
    while (i < n) {
      if (digit_ok(src_[i])) { digits.push_back(src_[i]); ++i; any = true; continue; }
      if (src_[i] == '_' && i + 1 < n && digit_ok(src_[i + 1]) && (any || base != 10)) { ++i; continue; }
      break;
    }
    if (!any) {
      // "0x" without digits: just the 0.
      i = b + 1;
      digits = "0";
      base = 10;
    }
    if (base == 10 && digits.size() > 1 && digits[0] == '0') {
      // Only 0(_?0)* is valid: take the zeros, leave the rest to fail in the parser.
      size_t k = b;
      while (k < n && (src_[k] == '0' || (src_[k] == '_' && k + 1 < n && src_[k + 1] == '0'))) ++k;
      i = k;
      digits = "0";
    }
    (void)dstart;
    int64_t v = 0;
    auto r = std::from_chars(digits.data(), digits.data() + digits.size(), v, base);
    if (r.ec != std::errc()) error(b, "integer literal too large (over 64 bits)");
    Token& t = push(Tok::Int, src_.substr(b, i - b), b);
    t.ival = v;
    pos_ = i;
    return true;
  }

  void lex_string() {
    const char q = src_[pos_];
    size_t i = pos_ + 1;
    while (i < src_.size() && src_[i] != q) i += src_[i] == '\\' ? 2 : 1;
    if (i >= src_.size()) error(pos_, std::string("unexpected char '") + q + "' (unterminated string)");
    Token& t = push(Tok::String, "", pos_);
    t.text = unescape(pos_ + 1, i);
    pos_ = i + 1;
  }

  // Python "unicode-escape" decoding of a string literal's body.
  std::string unescape(size_t b, size_t e) {
    std::string out;
    out.reserve(e - b);
    uint32_t pending_high = 0;  // a \uD800-\uDBFF waiting for its low half
    auto emit = [&](uint32_t cp) {
      if (pending_high) {
        if (cp >= 0xDC00 && cp <= 0xDFFF) {
          text::append_utf8(out, 0x10000 + ((pending_high - 0xD800) << 10) + (cp - 0xDC00));
          pending_high = 0;
          return;
        }
        text::append_utf8(out, 0xFFFD);
        pending_high = 0;
      }
      if (cp >= 0xD800 && cp <= 0xDBFF) { pending_high = cp; return; }
      if (cp >= 0xDC00 && cp <= 0xDFFF) cp = 0xFFFD;
      text::append_utf8(out, cp);
    };
    auto flush = [&] {
      if (pending_high) { text::append_utf8(out, 0xFFFD); pending_high = 0; }
    };
    size_t i = b;
    while (i < e) {
      if (src_[i] != '\\') {
        flush();
        const size_t s = i;
        while (i < e && src_[i] != '\\') ++i;
        out.append(src_, s, i - s);
        continue;
      }
      if (i + 1 >= e) { flush(); out.push_back('\\'); ++i; continue; }
      const char c = src_[i + 1];
      i += 2;
      switch (c) {
        case '\n': break;
        case '\\': emit('\\'); break;
        case '\'': emit('\''); break;
        case '"': emit('"'); break;
        case 'a': emit(7); break;
        case 'b': emit(8); break;
        case 'f': emit(12); break;
        case 'n': emit('\n'); break;
        case 'r': emit('\r'); break;
        case 't': emit('\t'); break;
        case 'v': emit(11); break;
        case 'x': case 'u': case 'U': {
          const int len = c == 'x' ? 2 : c == 'u' ? 4 : 8;
          uint32_t v = 0;
          for (int k = 0; k < len; ++k) {
            if (i + k >= e || hex_val(src_[i + k]) < 0) error(i - 2, std::string("truncated \\") + c + " escape in string");
            v = v * 16 + static_cast<uint32_t>(hex_val(src_[i + k]));
          }
          if (v > 0x10FFFF) error(i - 2, "illegal Unicode character in string escape");
          i += len;
          emit(v);
          break;
        }
        case 'N': error(i - 2, "\\N{...} escapes are not supported");
        default:
          if (c >= '0' && c <= '7') {
            uint32_t v = static_cast<uint32_t>(c - '0');
            for (int k = 0; k < 2 && i < e && src_[i] >= '0' && src_[i] <= '7'; ++k) v = v * 8 + static_cast<uint32_t>(src_[i++] - '0');
            emit(v);
          } else {
            flush();
            out.push_back('\\');
            out.push_back(c);
          }
      }
    }
    flush();
    return out;
  }
};

// Jinja normalizes newlines and (keep_trailing_newline=False) drops one trailing newline.
std::string normalize(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\r') {
      out.push_back('\n');
      if (i + 1 < s.size() && s[i + 1] == '\n') ++i;
    } else {
      out.push_back(s[i]);
    }
  }
  if (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

}  // namespace

std::vector<Token> tokenize(const std::string& source) { return Lexer(normalize(source)).run(); }

}  // namespace larql::chat
