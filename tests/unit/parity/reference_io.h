// Reading the fixtures' reference logits (float32 little-endian files).
#pragma once
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace larql::test {

inline std::vector<float> read_f32(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::vector<char> b((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  std::vector<float> v(b.size() / 4);
  std::memcpy(v.data(), b.data(), v.size() * 4);
  return v;
}

}  // namespace larql::test
