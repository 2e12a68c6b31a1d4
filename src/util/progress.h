// A single-line progress bar on stderr (only when stderr is a terminal, or when forced).
#pragma once
#include <chrono>
#include <cstdio>
#include <string>

namespace larql {

class ProgressBar {
 public:
  explicit ProgressBar(std::string label, bool enabled);
  void update(size_t done, size_t total, const std::string& item = "");
  void finish();

 private:
  std::string label_;
  bool enabled_;
  std::chrono::steady_clock::time_point start_, last_;
  bool drawn_ = false;
};

}  // namespace larql
