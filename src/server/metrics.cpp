#include "server/metrics.h"

#include <cstdio>
#include <unistd.h>

namespace larql::server {

Histogram::Histogram(std::vector<double> bounds) : bounds_(std::move(bounds)), counts_(bounds_.size() + 1, 0) {}

void Histogram::observe(double v) {
  std::lock_guard<std::mutex> lk(mu_);
  size_t i = 0;
  while (i < bounds_.size() && v > bounds_[i]) ++i;
  ++counts_[i];
  sum_ += v;
  ++n_;
}

void Histogram::render(const std::string& name, std::string& out) const {
  std::lock_guard<std::mutex> lk(mu_);
  char buf[160];
  uint64_t cum = 0;
  for (size_t i = 0; i < bounds_.size(); ++i) {
    cum += counts_[i];
    std::snprintf(buf, sizeof buf, "%s_bucket{le=\"%g\"} %llu\n", name.c_str(), bounds_[i],
                  static_cast<unsigned long long>(cum));
    out += buf;
  }
  std::snprintf(buf, sizeof buf, "%s_bucket{le=\"+Inf\"} %llu\n%s_sum %.6f\n%s_count %llu\n", name.c_str(),
                static_cast<unsigned long long>(n_), name.c_str(), sum_, name.c_str(),
                static_cast<unsigned long long>(n_));
  out += buf;
}

Metrics::Metrics()
    : ttft_({0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}),
      per_token_({0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1}) {}

void Metrics::request_done(const std::string& route, int status) {
  std::lock_guard<std::mutex> lk(mu_);
  ++requests_[{route, status}];
}

int64_t rss_bytes() {
  FILE* f = std::fopen("/proc/self/statm", "r");
  if (!f) return 0;
  long long size = 0, resident = 0;
  const int n = std::fscanf(f, "%lld %lld", &size, &resident);
  std::fclose(f);
  return n == 2 ? resident * static_cast<int64_t>(sysconf(_SC_PAGESIZE)) : 0;
}

std::string Metrics::render() const {
  std::string o;
  o += "# HELP larql_requests_total HTTP requests by route and status.\n# TYPE larql_requests_total counter\n";
  {
    std::lock_guard<std::mutex> lk(mu_);
    for (const auto& [k, v] : requests_)
      o += "larql_requests_total{route=\"" + k.first + "\",status=\"" + std::to_string(k.second) + "\"} " +
           std::to_string(v) + "\n";
  }
  auto gauge = [&](const char* name, const char* type, const char* help, int64_t v) {
    o += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n" + name + " " +
         std::to_string(v) + "\n";
  };
  gauge("larql_prompt_tokens_total", "counter", "Prompt tokens evaluated.", tokens_in_);
  gauge("larql_generated_tokens_total", "counter", "Tokens generated.", tokens_out_);
  gauge("larql_rejected_total", "counter", "Requests refused because the queue was full.", rejected_);
  gauge("larql_queue_depth", "gauge", "Requests waiting for a slot.", queue_depth_);
  gauge("larql_active_slots", "gauge", "Slots generating now.", active_slots_);
  gauge("larql_slots", "gauge", "Parallel slots configured.", slots_);
  gauge("larql_rss_bytes", "gauge", "Resident set size of the server process.", rss_bytes());
  o += "# HELP larql_time_to_first_token_seconds Time from request to first generated token.\n"
       "# TYPE larql_time_to_first_token_seconds histogram\n";
  ttft_.render("larql_time_to_first_token_seconds", o);
  o += "# HELP larql_time_per_token_seconds Time between consecutive generated tokens.\n"
       "# TYPE larql_time_per_token_seconds histogram\n";
  per_token_.render("larql_time_per_token_seconds", o);
  return o;
}

}  // namespace larql::server
