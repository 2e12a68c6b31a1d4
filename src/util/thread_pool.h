// One persistent pool of worker threads for the whole process. parallel_for
// splits [0, n) into one contiguous range per thread (static partitioning, so
// results never depend on scheduling) and returns when all are done.
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace larql {

class ThreadPool {
 public:
  explicit ThreadPool(int n_threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return n_threads_; }
  // fn(begin, end, thread_index); the calling thread takes the first range.
  void parallel_for(int64_t n, const std::function<void(int64_t, int64_t, int)>& fn);

  // Process-wide pool; its size is set by the first call (0 = all cores).
  static ThreadPool& global(int n_threads = 0);

 private:
  void worker(int index);
  int n_threads_;
  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable cv_start_, cv_done_;
  const std::function<void(int64_t, int64_t, int)>* job_ = nullptr;
  int64_t job_n_ = 0;
  uint64_t generation_ = 0;
  int pending_ = 0;
  bool stop_ = false;
};

}  // namespace larql
