// Recursive-descent parser for LQL (grammar: docs/lql.md). Errors throw
// larql::Error "line:col: expected <what>, got <token>".
#pragma once
#include <string>
#include <string_view>
#include <vector>

#include "lql/ast.h"

namespace larql::lql {

// Every statement of a script. Statements end with ';' (the last one may omit
// it); empty statements are skipped.
std::vector<Statement> parse(std::string_view script, int line = 1, int col = 1);

// The script cut into single statements at top-level ';', each with the
// line:column where it starts (pass them to parse() so errors point into the
// script). A script that does not lex comes back whole so that parsing reports it.
struct Piece {
  std::string text;
  int line = 1, col = 1;
};
std::vector<Piece> split_statements(const std::string& script);

// True when `text` holds at least one complete statement and nothing after the
// last ';' but whitespace/comments (the REPL reads lines until this holds).
// Unterminated strings count as incomplete.
bool is_complete(std::string_view text);

}  // namespace larql::lql
