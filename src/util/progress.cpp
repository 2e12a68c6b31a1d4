#include "util/progress.h"

#include <unistd.h>

namespace larql {

ProgressBar::ProgressBar(std::string label, bool enabled)
    : label_(std::move(label)), enabled_(enabled && ::isatty(2)),
      start_(std::chrono::steady_clock::now()), last_(start_) {}

void ProgressBar::update(size_t done, size_t total, const std::string& item) {
  if (!enabled_ || total == 0) return;
  auto now = std::chrono::steady_clock::now();
  if (done < total && now - last_ < std::chrono::milliseconds(100)) return;
  last_ = now;
  const int width = 30;
  int fill = static_cast<int>(width * done / total);
  double secs = std::chrono::duration<double>(now - start_).count();
  std::string bar(static_cast<size_t>(fill), '#');
  bar.resize(width, '.');
  std::fprintf(stderr, "\r%s [%s] %zu/%zu %5.1fs %-40.40s", label_.c_str(), bar.c_str(), done, total, secs,
               item.c_str());
  std::fflush(stderr);
  drawn_ = true;
}

void ProgressBar::finish() {
  if (drawn_) std::fprintf(stderr, "\n");
  drawn_ = false;
}

}  // namespace larql
