// libFuzzer target for the LQL lexer and parser: any input either parses or
// throws larql::Error; a parsed statement's canonical text parses back to the
// same canonical text; splitting into statements and the REPL's completeness
// check never fail.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "lql/parser.h"
#include "util/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string src(reinterpret_cast<const char*>(data), size);
  (void)larql::lql::is_complete(src);
  std::vector<larql::lql::Statement> stmts;
  try {
    stmts = larql::lql::parse(src);
  } catch (const larql::Error&) {
    return 0;
  }
  for (const auto& st : stmts) {
    const std::string canon = st.to_string();
    std::vector<larql::lql::Statement> again;
    try {
      again = larql::lql::parse(canon);
    } catch (const larql::Error& e) {
      std::fprintf(stderr, "canonical text does not parse: %s\n%s\n", canon.c_str(), e.what());
      std::abort();
    }
    if (again.size() != 1 || again[0].to_string() != canon) {
      std::fprintf(stderr, "round trip changed: %s\n", canon.c_str());
      std::abort();
    }
  }
  // Every parsed statement is one piece, and each piece parses on its own
  // to the same statement.
  const auto pieces = larql::lql::split_statements(src);
  if (pieces.size() != stmts.size()) std::abort();
  for (size_t i = 0; i < pieces.size(); ++i) {
    const auto one = larql::lql::parse(pieces[i].text, pieces[i].line, pieces[i].col);
    if (one.size() != 1 || one[0].to_string() != stmts[i].to_string() || one[0].line != stmts[i].line || one[0].col != stmts[i].col)
      std::abort();
  }
  return 0;
}
