#include "server/job.h"

namespace larql::server {

void Job::emit(const std::string& text) {
  if (text.empty()) return;
  {
    std::lock_guard<std::mutex> lk(mu_);
    pending_ += text;
  }
  cv_.notify_all();
}

void Job::finish(JobResult r) {
  {
    std::lock_guard<std::mutex> lk(mu_);
    if (done_) return;
    result_ = std::move(r);
    done_ = true;
  }
  cv_.notify_all();
}

bool Job::wait(std::string& text, Clock::time_point until) {
  std::unique_lock<std::mutex> lk(mu_);
  cv_.wait_until(lk, until, [&] { return done_ || !pending_.empty(); });
  text = std::move(pending_);
  pending_.clear();
  // Report "finished" only once the text before the end has been handed out.
  return done_ && text.empty();
}

bool Job::finished() const {
  std::lock_guard<std::mutex> lk(mu_);
  return done_;
}

}  // namespace larql::server
