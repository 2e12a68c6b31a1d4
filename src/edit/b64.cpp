#include "edit/b64.h"

#include <cstdint>
#include <cstring>

#include "util/error.h"

namespace larql::edit {

namespace {
const char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
int value_of(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}
}  // namespace

std::string floats_to_b64(const std::vector<float>& v) {
  // x86-64 and aarch64 are little-endian: the bytes are the file's bytes.
  const auto* p = reinterpret_cast<const uint8_t*>(v.data());
  const size_t n = v.size() * sizeof(float);
  std::string out;
  out.reserve((n + 2) / 3 * 4);
  for (size_t i = 0; i < n; i += 3) {
    const uint32_t b = uint32_t(p[i]) << 16 | (i + 1 < n ? uint32_t(p[i + 1]) << 8 : 0) | (i + 2 < n ? p[i + 2] : 0);
    out += kAlphabet[b >> 18 & 63];
    out += kAlphabet[b >> 12 & 63];
    out += i + 1 < n ? kAlphabet[b >> 6 & 63] : '=';
    out += i + 2 < n ? kAlphabet[b & 63] : '=';
  }
  return out;
}

std::vector<float> b64_to_floats(const std::string& s, const std::string& where) {
  if (s.size() % 4) throw Error(where + ": base64 length is not a multiple of 4");
  std::string bytes;
  bytes.reserve(s.size() / 4 * 3);
  for (size_t i = 0; i < s.size(); i += 4) {
    int v[4];
    int pad = 0;
    for (int k = 0; k < 4; ++k) {
      const char c = s[i + k];
      if (c == '=' && i + 4 == s.size() && k >= 2) { v[k] = 0; ++pad; continue; }
      if (pad || (v[k] = value_of(c)) < 0) throw Error(where + ": bad base64 character at " + std::to_string(i + k));
    }
    const uint32_t b = uint32_t(v[0]) << 18 | uint32_t(v[1]) << 12 | uint32_t(v[2]) << 6 | uint32_t(v[3]);
    bytes += static_cast<char>(b >> 16 & 255);
    if (pad < 2) bytes += static_cast<char>(b >> 8 & 255);
    if (pad < 1) bytes += static_cast<char>(b & 255);
  }
  if (bytes.size() % sizeof(float)) throw Error(where + ": byte count is not a multiple of 4 (float32)");
  std::vector<float> out(bytes.size() / sizeof(float));
  if (!out.empty()) std::memcpy(out.data(), bytes.data(), bytes.size());
  return out;
}

}  // namespace larql::edit
