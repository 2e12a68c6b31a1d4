// Recursive-descent parser for Jinja's statement and expression grammar
// (operator precedence as in jinja2/parser.py). Unknown tags, filters and
// tests are rejected here, as Jinja does when it compiles a template.
#pragma once
#include <vector>

#include "chat/ast.h"
#include "chat/lexer.h"

namespace larql::chat {

// Nesting limit for blocks and expressions, so hostile input cannot exhaust the stack.
constexpr int kMaxParseDepth = 200;

Body parse(const std::vector<Token>& tokens);

}  // namespace larql::chat
