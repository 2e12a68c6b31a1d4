// One request handed from an HTTP thread to the scheduler: its inputs, and a
// small channel back (text as it is generated, then the result). The HTTP
// side waits on it; cancel() is how a disconnected client stops generation.
#pragma once
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "engine/sampling.h"

namespace larql::server {

using Clock = std::chrono::steady_clock;

struct JobResult {
  std::string finish_reason;  // engine reasons: eog, stop, length, context; or cancelled, timeout, error
  int64_t n_prompt = 0, n_generated = 0, n_reused = 0;
  int error_status = 0;       // HTTP status when finish_reason == "error"
  std::string error;
  std::vector<std::vector<float>> embeddings;
  double ttft_s = 0;
};

class Job {
 public:
  enum class Kind { Generate, Embed };
  Kind kind = Kind::Generate;
  std::vector<int32_t> prompt;                 // Generate
  std::vector<std::vector<int32_t>> inputs;    // Embed
  int64_t max_tokens = -1;
  SamplingParams sampling;
  std::vector<std::string> stop;
  Clock::time_point created = Clock::now();
  Clock::time_point deadline = Clock::time_point::max();

  // Scheduler side.
  void emit(const std::string& text);
  void finish(JobResult r);

  // HTTP side: waits until text is pending, the job has finished, or `until`.
  // Moves the pending text into `text`; returns true once finished (result() is then final).
  bool wait(std::string& text, Clock::time_point until);
  const JobResult& result() const { return result_; }  // only after wait() returned true
  void cancel() { cancelled_ = true; }
  bool cancelled() const { return cancelled_; }
  bool finished() const;

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::string pending_;
  bool done_ = false;
  JobResult result_;
  std::atomic<bool> cancelled_{false};
};

}  // namespace larql::server
