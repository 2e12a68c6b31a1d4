// PCRE2 wrapper for pre-tokenizer patterns: compiled once (UTF + UCP, JIT when
// available), safe on invalid UTF-8 subjects (PCRE2_MATCH_INVALID_UTF: bad
// bytes never belong to a match) and bounded by a match limit so hostile
// input cannot make a pattern run away.
#pragma once
#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace larql::tok {

class Regex {
 public:
  // literal: the pattern is a plain string, not a regular expression.
  // Throws larql::Error (naming `what`) if the pattern does not compile.
  Regex(const std::string& pattern, bool literal, const std::string& what);
  ~Regex();
  Regex(const Regex&) = delete;
  Regex& operator=(const Regex&) = delete;

  // Appends the [begin, end) byte ranges of all non-empty, non-overlapping
  // matches, left to right. If the engine gives up (match/heap limit), the
  // rest of the subject is treated as unmatched.
  void find_all(std::string_view subject, std::vector<std::pair<size_t, size_t>>& out) const;

  const std::string& pattern() const { return pattern_; }

 private:
  std::string pattern_;
  void* code_ = nullptr;   // pcre2_code_8*
  void* mctx_ = nullptr;   // pcre2_match_context_8*
};

}  // namespace larql::tok
