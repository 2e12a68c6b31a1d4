// Float vectors in patch files: base64 of little-endian float32.
#pragma once
#include <string>
#include <vector>

namespace larql::edit {
std::string floats_to_b64(const std::vector<float>& v);
// Throws larql::Error naming `where` on bad characters or a length not a multiple of 4 bytes.
std::vector<float> b64_to_floats(const std::string& s, const std::string& where);
}  // namespace larql::edit
