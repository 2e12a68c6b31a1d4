// LQL tokens: identifiers/keywords (matched case-insensitively by the parser),
// single- or double-quoted strings, numbers, punctuation. `--` starts a
// comment that runs to the end of the line.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace larql::lql {

enum class Tok { Ident, String, Number, Symbol, End };

struct Token {
  Tok kind = Tok::End;
  std::string text;  // identifier as written, string contents unescaped, number/symbol text
  int line = 1, col = 1;
};

// Splits a script into tokens (always ends with one Tok::End). Throws
// larql::Error "line:col: ..." on an unterminated string or a stray character.
// line/col: where src starts in a larger script (for error positions).
std::vector<Token> lex(std::string_view src, int line = 1, int col = 1);

// How a token is named in error messages: 'SELECT', "text", 3, ';', end of input.
std::string describe(const Token& t);

}  // namespace larql::lql
