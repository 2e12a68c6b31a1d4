// Shared helpers for vindex tests: one extraction per fixture per process.
#pragma once
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <string>
#include <unistd.h>

#include "../test_paths.h"
#include "vindex/vindex.h"

namespace larql::test {

inline std::string vindex_tmp_root() {
  // Never destroyed: the cleanup below runs during static destruction.
  static const std::string* root = [] {
    auto p = std::filesystem::temp_directory_path() / ("larql-vindex-test-" + std::to_string(::getpid()));
    std::filesystem::create_directories(p);
    return new std::string(p.string());
  }();
  return *root;
}

// Extracts `model` (relative to fixtures/models) once with these options; returns the vindex dir.
inline std::string extracted(const std::string& model, const std::string& tag, const vindex::ExtractOptions& opt) {
  static std::map<std::string, std::string> cache;
  const std::string key = model + "|" + tag;
  auto it = cache.find(key);
  if (it != cache.end()) return it->second;
  std::string name = model + "." + tag + ".vindex";
  for (auto& c : name)
    if (c == '/') c = '_';
  const std::string out = vindex_tmp_root() + "/" + name;
  vindex::ExtractOptions o = opt;
  o.progress = false;
  vindex::extract(fixtures_dir() + "/models/" + model, out, o);
  cache[key] = out;
  return out;
}

inline std::string facts_vindex() {
  vindex::ExtractOptions o;
  o.down_top_k = 5;
  o.n_clusters = 16;
  return extracted("facts/facts-F32.gguf", "all", o);
}

// Removes the temp root at exit (one instance per test binary).
struct VindexTmpCleanup {
  ~VindexTmpCleanup() {
    std::error_code ec;
    std::filesystem::remove_all(vindex_tmp_root(), ec);
  }
};
inline VindexTmpCleanup vindex_tmp_cleanup;

}  // namespace larql::test
