#include "lql/lexer.h"

#include "util/error.h"

namespace larql::lql {

namespace {
bool ident_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool digit(char c) { return c >= '0' && c <= '9'; }
bool ident_char(char c) { return ident_start(c) || digit(c); }

[[noreturn]] void fail(int line, int col, const std::string& msg) {
  throw Error(std::to_string(line) + ":" + std::to_string(col) + ": " + msg);
}
}  // namespace

std::vector<Token> lex(std::string_view s, int line, int col) {
  std::vector<Token> out;
  size_t i = 0;
  auto adv = [&](size_t n) {
    for (size_t k = 0; k < n && i < s.size(); ++k, ++i) {
      if (s[i] == '\n') { ++line; col = 1; } else { ++col; }
    }
  };
  while (i < s.size()) {
    const char c = s[i];
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v') { adv(1); continue; }
    if (c == '-' && i + 1 < s.size() && s[i + 1] == '-') {
      while (i < s.size() && s[i] != '\n') adv(1);
      continue;
    }
    Token t;
    t.line = line;
    t.col = col;
    if (ident_start(c)) {
      size_t j = i;
      while (j < s.size() && ident_char(s[j])) ++j;
      t.kind = Tok::Ident;
      t.text.assign(s.substr(i, j - i));
      adv(j - i);
    } else if (digit(c) || (c == '.' && i + 1 < s.size() && digit(s[i + 1]))) {
      // Digits with at most one '.'; "3-5" stays three tokens (ranges).
      size_t j = i;
      bool dot = false;
      while (j < s.size() && (digit(s[j]) || (s[j] == '.' && !dot && j + 1 < s.size() && digit(s[j + 1])))) {
        if (s[j] == '.') dot = true;
        ++j;
      }
      // Optional exponent (1e-5, 2.5E+30): canonical text prints large and
      // tiny doubles this way, so it must read back.
      if (j < s.size() && (s[j] == 'e' || s[j] == 'E')) {
        size_t k = j + 1;
        if (k < s.size() && (s[k] == '+' || s[k] == '-')) ++k;
        if (k < s.size() && digit(s[k])) {
          while (k < s.size() && digit(s[k])) ++k;
          j = k;
        }
      }
      if (j < s.size() && ident_start(s[j])) fail(line, col + static_cast<int>(j - i), "malformed number '" + std::string(s.substr(i, j - i + 1)) + "'");
      t.kind = Tok::Number;
      t.text.assign(s.substr(i, j - i));
      adv(j - i);
    } else if (c == '"' || c == '\'') {
      // A doubled quote inside the string stands for one quote (SQL style);
      // backslash escapes \n \t \\ \" \' are also accepted.
      t.kind = Tok::String;
      adv(1);
      bool closed = false;
      while (i < s.size()) {
        const char d = s[i];
        if (d == c) {
          if (i + 1 < s.size() && s[i + 1] == c) { t.text += c; adv(2); continue; }
          adv(1);
          closed = true;
          break;
        }
        if (d == '\\' && i + 1 < s.size()) {
          const char e = s[i + 1];
          t.text += e == 'n' ? '\n' : e == 't' ? '\t' : e;
          adv(2);
          continue;
        }
        t.text += d;
        adv(1);
      }
      if (!closed) fail(t.line, t.col, "unterminated string starting here");
    } else {
      static const char* two[] = {"!=", "<=", ">=", "<>"};
      std::string sym(1, c);
      for (const char* op : two)
        if (i + 1 < s.size() && s[i] == op[0] && s[i + 1] == op[1]) sym = op;
      static const std::string_view ones = ";,()=<>*-.+";
      if (sym.size() == 1 && ones.find(c) == std::string_view::npos) {
        std::string shown = (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f)
                                ? "byte 0x" + std::string(1, "0123456789abcdef"[(c >> 4) & 15]) + "0123456789abcdef"[c & 15]
                                : "'" + sym + "'";
        fail(line, col, "unexpected character " + shown);
      }
      const size_t len = sym.size();
      if (sym == "<>") sym = "!=";
      t.kind = Tok::Symbol;
      t.text = sym;
      adv(len);
    }
    out.push_back(std::move(t));
  }
  Token end;
  end.line = line;
  end.col = col;
  out.push_back(end);
  return out;
}

std::string describe(const Token& t) {
  switch (t.kind) {
    case Tok::End: return "end of input";
    case Tok::String: return "string \"" + t.text + "\"";
    case Tok::Number: return "number " + t.text;
    case Tok::Symbol: return "'" + t.text + "'";
    case Tok::Ident: return "'" + t.text + "'";
  }
  return "?";
}

}  // namespace larql::lql
