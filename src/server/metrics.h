// Prometheus metrics of the server, rendered in the text exposition format
// for GET /metrics. Thread-safe: HTTP threads and the scheduler update it.
#pragma once
#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace larql::server {

// Cumulative histogram with fixed upper bounds (seconds).
class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void observe(double v);
  // Appends the _bucket/_sum/_count lines for `name`.
  void render(const std::string& name, std::string& out) const;

 private:
  mutable std::mutex mu_;
  std::vector<double> bounds_;
  std::vector<uint64_t> counts_;  // per bucket (not cumulative), + one for +Inf
  double sum_ = 0;
  uint64_t n_ = 0;
};

class Metrics {
 public:
  Metrics();
  // route: a known route name or "other" (bounded label set).
  void request_done(const std::string& route, int status);
  void add_tokens(int64_t in, int64_t out) { tokens_in_ += in; tokens_out_ += out; }
  void observe_ttft(double s) { ttft_.observe(s); }
  void observe_token(double s) { per_token_.observe(s); }
  void set_queue_depth(int64_t n) { queue_depth_ = n; }
  void set_active_slots(int64_t n) { active_slots_ = n; }
  void set_slots(int64_t n) { slots_ = n; }
  void rejected() { ++rejected_; }
  std::string render() const;

 private:
  mutable std::mutex mu_;
  std::map<std::pair<std::string, int>, uint64_t> requests_;
  std::atomic<int64_t> tokens_in_{0}, tokens_out_{0}, queue_depth_{0}, active_slots_{0}, slots_{0}, rejected_{0};
  Histogram ttft_, per_token_;
};

// Resident set size of this process in bytes (/proc/self/statm), 0 if unknown.
int64_t rss_bytes();

}  // namespace larql::server
