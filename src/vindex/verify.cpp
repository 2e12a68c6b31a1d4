#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "util/error.h"
#include "util/mapped_file.h"
#include "vindex/manifest.h"

namespace larql::vindex {
namespace fs = std::filesystem;

VerifyResult verify(const std::string& dir) {
  VerifyResult r;
  const fs::path idx = fs::path(dir) / "index.json";
  if (!fs::is_regular_file(idx)) {
    r.problems.push_back("'" + dir + "' is not a vindex (no index.json)");
    return r;
  }
  Manifest m;
  try {
    std::ifstream f(idx, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    m = manifest_from_json(nlohmann::json::parse(ss.str()));
  } catch (const nlohmann::json::exception& e) {
    r.problems.push_back(std::string("index.json is not valid JSON: ") + e.what());
    return r;
  } catch (const Error& e) {
    r.problems.push_back(e.what());
    return r;
  }
  for (const auto& f : m.files) {
    const fs::path p = fs::path(dir) / f.path;
    std::error_code ec;
    const uint64_t sz = fs::file_size(p, ec);
    ++r.files_checked;
    if (ec) {
      r.problems.push_back(f.path + ": missing");
      continue;
    }
    if (sz != f.bytes) {
      r.problems.push_back(f.path + ": size " + std::to_string(sz) + " bytes, expected " + std::to_string(f.bytes));
      continue;
    }
    uint64_t h = xxh64(nullptr, 0);
    if (sz > 0) {
      MappedFile mf(p.string());
      h = xxh64(mf.data(), mf.size());
    }
    if (hex64(h) != f.xxh64)
      r.problems.push_back(f.path + ": checksum mismatch (xxh64 " + hex64(h) + ", expected " + f.xxh64 + ")");
  }
  return r;
}

}  // namespace larql::vindex
