// Jinja lexer with the whitespace rules Hugging Face renders chat templates
// with (trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=False):
//  - "{%-", "-%}", "{{-", "-}}", "{#-", "-#}" strip all adjacent whitespace;
//  - the first newline after a block or comment tag is dropped ("+%}" keeps it);
//  - spaces and tabs between a line start and a block or comment tag are
//    dropped ("{%+" keeps them);
//  - "\r\n" and "\r" become "\n", and one trailing newline is dropped.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace larql::chat {

enum class Tok : uint8_t { Data, VarBegin, VarEnd, BlockBegin, BlockEnd, Name, String, Int, Float, Op, Eof };

struct Token {
  Tok type = Tok::Eof;
  std::string text;  // Data text, name, operator, or the decoded string literal
  int64_t ival = 0;
  double fval = 0;
  int line = 1, col = 1;
};

// Throws larql::Error "chat template: syntax error at L:C: ..." on bad input.
std::vector<Token> tokenize(const std::string& source);

// "line L:C" position of byte `offset` in `source`, and its line's text.
void locate(const std::string& source, size_t offset, int* line, int* col);

}  // namespace larql::chat
