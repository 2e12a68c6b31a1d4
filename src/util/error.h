// Error type used across LARQL: every failure on bad input is an exception
// carrying a message that names what was wrong; the CLI turns it into a
// non-zero exit, the server into a 4xx.
#pragma once
#include <stdexcept>
#include <string>

namespace larql {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& msg) : std::runtime_error(msg) {}
};

// Overflow-safe size arithmetic for parsing untrusted headers.
inline bool checked_mul(uint64_t a, uint64_t b, uint64_t* out) {
  return !__builtin_mul_overflow(a, b, out);
}
inline bool checked_add(uint64_t a, uint64_t b, uint64_t* out) {
  return !__builtin_add_overflow(a, b, out);
}

}  // namespace larql
