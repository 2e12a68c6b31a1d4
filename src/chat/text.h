// UTF-8 helpers with Python str semantics: templates index, slice, strip and
// case-map strings by code point, the way Jinja (a Python library) does.
// Invalid UTF-8 bytes decode to U+DC80+byte and encode back to the same byte
// (Python's "surrogateescape"), so no input byte is ever lost or altered.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace larql::chat::text {

bool is_ascii(std::string_view s);
// Decodes one code point at s[i], advancing i (always by at least one byte).
uint32_t decode_at(std::string_view s, size_t& i);
std::vector<uint32_t> decode(std::string_view s);
void append_utf8(std::string& out, uint32_t cp);
std::string encode(const std::vector<uint32_t>& cps);

size_t length(std::string_view s);  // in code points

bool is_space(uint32_t cp);  // Python str.isspace()
bool is_cased_upper(uint32_t cp);
bool is_cased_lower(uint32_t cp);
bool is_alpha(uint32_t cp);
bool is_digit(uint32_t cp);
uint32_t to_upper(uint32_t cp);  // simple (1:1) case mapping
uint32_t to_lower(uint32_t cp);

std::string upper(std::string_view s);
std::string lower(std::string_view s);
std::string py_title(std::string_view s);       // str.title()
std::string capitalize(std::string_view s);     // str.capitalize()
std::string jinja_title(std::string_view s);    // Jinja's |title filter

// strip(): Python whitespace when chars is null, else any code point in *chars.
std::string strip(std::string_view s, const std::string* chars, bool left, bool right);
std::string rstrip_ws(std::string_view s);
// Length of the run of Python whitespace starting at byte `pos`.
size_t ws_run(std::string_view s, size_t pos);

// Python str.split / rsplit. sep == nullptr splits on runs of whitespace.
std::vector<std::string> split(std::string_view s, const std::string* sep, int64_t maxsplit, bool from_right);
std::string replace(std::string_view s, std::string_view old, std::string_view rep, int64_t count);

}  // namespace larql::chat::text

namespace larql::chat::text {
// Python str.splitlines(): \n, \r\n, \r, \v, \f, \x1c-\x1e, \x85, U+2028, U+2029.
std::vector<std::string> splitlines(std::string_view s, bool keepends);
}  // namespace larql::chat::text
