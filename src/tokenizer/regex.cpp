#include "tokenizer/regex.h"

#include <cctype>
#include <cstdio>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "tokenizer/unicode.h"
#include "util/error.h"

namespace larql::tok {
namespace {

// Generous for real text (a pre-tokenizer match is a word), small enough that
// a pathological pattern/subject pair gives up in well under a second.
constexpr uint32_t kMatchLimit = 5'000'000;

pcre2_code* as_code(void* p) { return static_cast<pcre2_code*>(p); }

// Every non-alphanumeric ASCII byte is escaped; other code points are written
// as \x{...}; invalid UTF-8 bytes cannot be expressed and become U+FFFD.
std::string escape_literal(const std::string& s) {
  std::string r;
  for (size_t i = 0; i < s.size();) {
    const unsigned char c = s[i];
    uint32_t cp = c;
    if (c < 0x80) {
      ++i;
      if (std::isalnum(c)) {
        r += static_cast<char>(c);
        continue;
      }
      if (c > 0x20 && c < 0x7F) {
        r += '\\';
        r += static_cast<char>(c);
        continue;
      }
    } else {
      cp = unicode::decode_utf8(s, i);
    }
    char buf[16];
    std::snprintf(buf, sizeof(buf), "\\x{%X}", cp);
    r += buf;
  }
  return r;
}

}  // namespace

Regex::Regex(const std::string& pattern, bool literal, const std::string& what) : pattern_(pattern) {
  const uint32_t opts = PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF;
  // PCRE2_LITERAL cannot be combined with MATCH_INVALID_UTF: escape instead.
  const std::string src = literal ? escape_literal(pattern) : pattern;
  int err = 0;
  PCRE2_SIZE err_off = 0;
  pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(src.data()), src.size(),
                                   opts, &err, &err_off, nullptr);
  if (!code) {
    PCRE2_UCHAR buf[256];
    pcre2_get_error_message(err, buf, sizeof(buf));
    throw Error(what + ": invalid regular expression at offset " + std::to_string(err_off) + ": " +
                reinterpret_cast<const char*>(buf));
  }
  // JIT is an optimisation only: without it the interpreter is used.
  (void)pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);
  pcre2_match_context* mctx = pcre2_match_context_create(nullptr);
  if (!mctx) {
    pcre2_code_free(code);
    throw Error(what + ": out of memory");
  }
  pcre2_set_match_limit(mctx, kMatchLimit);
  code_ = code;
  mctx_ = mctx;
}

Regex::~Regex() {
  pcre2_match_context_free(static_cast<pcre2_match_context*>(mctx_));
  pcre2_code_free(as_code(code_));
}

void Regex::find_all(std::string_view subject, std::vector<std::pair<size_t, size_t>>& out) const {
  if (subject.empty()) return;
  pcre2_match_data* md = pcre2_match_data_create_from_pattern(as_code(code_), nullptr);
  if (!md) return;
  auto* mctx = static_cast<pcre2_match_context*>(mctx_);
  const auto* subj = reinterpret_cast<PCRE2_SPTR>(subject.data());
  size_t pos = 0;
  uint32_t flags = 0;
  while (pos <= subject.size()) {
    int rc = pcre2_match(as_code(code_), subj, subject.size(), pos, flags, md, mctx);
    if (rc == PCRE2_ERROR_JIT_STACKLIMIT) {
      // Deep backtracking overflowed the JIT stack: the interpreter uses the heap.
      rc = pcre2_match(as_code(code_), subj, subject.size(), pos, flags | PCRE2_NO_JIT, md, mctx);
    }
    if (rc < 0) {
      if (rc == PCRE2_ERROR_NOMATCH && (flags & PCRE2_NOTEMPTY_ATSTART)) {
        // Only an empty match was possible at pos: step over one character.
        flags = 0;
        size_t n = unicode::valid_utf8_len(subject, pos);
        pos += n ? n : 1;
        continue;
      }
      break;  // no more matches, or the engine gave up
    }
    const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
    const size_t b = ov[0], e = ov[1];
    if (e < b || e > subject.size()) break;  // \K tricks; never expected here
    if (e == b) {
      // Retry at the same place asking for a non-empty match.
      flags = PCRE2_NOTEMPTY_ATSTART | PCRE2_ANCHORED;
      pos = b;
      if (pos >= subject.size()) break;
      continue;
    }
    out.emplace_back(b, e);
    pos = e;
    flags = 0;
  }
  pcre2_match_data_free(md);
}

}  // namespace larql::tok
