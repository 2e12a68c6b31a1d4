// Script-level helpers: cutting a script into statements (for --keep-going
// and the REPL) and deciding whether the REPL has a complete statement.
#include <string>

#include "lql/lexer.h"
#include "lql/parser.h"
#include "util/error.h"

namespace larql::lql {

std::vector<Piece> split_statements(const std::string& script) {
  std::vector<Token> toks;
  try {
    toks = lex(script);
  } catch (const Error&) {
    return {Piece{script, 1, 1}};
  }
  // Byte offsets of each token's start, from line:col.
  std::vector<size_t> line_start{0};
  for (size_t i = 0; i < script.size(); ++i)
    if (script[i] == '\n') line_start.push_back(i + 1);
  auto offset = [&](const Token& t) { return line_start[static_cast<size_t>(t.line - 1)] + static_cast<size_t>(t.col - 1); };
  std::vector<Piece> out;
  const Token* first = nullptr;
  for (const Token& t : toks) {
    const bool end = t.kind == Tok::End, semi = t.kind == Tok::Symbol && t.text == ";";
    if (!end && !semi) {
      if (!first) first = &t;
      continue;
    }
    if (first) {
      const size_t b = offset(*first), e = end ? script.size() : offset(t) + 1;
      out.push_back(Piece{script.substr(b, e - b), first->line, first->col});
    }
    first = nullptr;
  }
  return out;
}

bool is_complete(std::string_view text) {
  std::vector<Token> toks;
  try {
    toks = lex(text);
  } catch (const Error& e) {
    // An unterminated string wants more input; any other lexing error is
    // "complete" so that the REPL reports it.
    return std::string_view(e.what()).find("unterminated") == std::string_view::npos;
  }
  return toks.size() >= 2 && toks[toks.size() - 2].kind == Tok::Symbol && toks[toks.size() - 2].text == ";";
}

}  // namespace larql::lql
