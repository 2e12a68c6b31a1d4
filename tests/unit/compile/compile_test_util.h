// Helpers for the compile tests: a per-process temp dir, logits of a prompt.
#pragma once
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "../test_paths.h"
#include "compile/compile.h"
#include "engine/model.h"
#include "engine/session.h"

namespace larql::test {

inline std::string compile_tmp() {
  static const std::string* root = [] {
    auto p = std::filesystem::temp_directory_path() / ("larql-compile-test-" + std::to_string(::getpid()));
    std::filesystem::create_directories(p);
    return new std::string(p.string());
  }();
  return *root;
}
struct CompileTmpCleanup {
  ~CompileTmpCleanup() {
    std::error_code ec;
    std::filesystem::remove_all(compile_tmp(), ec);
  }
};
inline CompileTmpCleanup compile_tmp_cleanup;

inline std::string synth_model(const std::string& stem) { return fixtures_dir() + "/models/synthetic/" + stem + ".gguf"; }
inline std::string facts_model(const std::string& q) { return fixtures_dir() + "/models/facts/facts-" + q + ".gguf"; }

// All-position logits of `toks` (single-threaded: bit-reproducible).
inline std::vector<float> logits_of(const Model& m, const std::vector<int32_t>& toks) {
  SessionOptions so;
  so.n_threads = 1;
  Session s(m, so);
  std::vector<float> out;
  s.eval(toks.data(), static_cast<int64_t>(toks.size()), true, out);
  return out;
}

// A prompt valid for any vocabulary: BOS-like id 1 and a few small ids.
inline std::vector<int32_t> probe_tokens(const Model& m) {
  const int32_t n = m.tokenizer().n_vocab();
  return {1 % n, 373 % n, 459 % n, 385 % n, 443 % n, 449 % n, 397 % n};
}

inline bool bit_equal(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * 4) == 0;
}

inline float max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  float m = a.size() == b.size() ? 0.0f : INFINITY;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) m = std::max(m, std::abs(a[i] - b[i]));
  return m;
}

}  // namespace larql::test
