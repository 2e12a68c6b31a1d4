// One persistent pool of worker threads for the whole process. parallel_for
// splits [0, n) into one contiguous range per thread (static partitioning, so
// results never depend on scheduling) and returns when all are done.
//
// Dispatch costs no allocation: the callable is passed by address with a
// type-erased thunk. Idle workers spin briefly (a stage usually follows the
// previous one within microseconds) and then sleep on a futex, so a pool on a
// busy machine does not steal cores. LARQL_POOL_SPIN_US sets the spin window
// (default 50 µs; 0 = sleep at once).
#pragma once
#include <atomic>
#include <cstdint>
#include <functional>  // callers pass std::function too
#include <memory>
#include <thread>
#include <type_traits>
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
  template <class F>
  void parallel_for(int64_t n, F&& fn) {
    using Fn = std::remove_reference_t<F>;
    run(n, [](void* ctx, int64_t b, int64_t e, int i) { (*static_cast<Fn*>(ctx))(b, e, i); },
        const_cast<void*>(static_cast<const void*>(std::addressof(fn))));
  }

  // fn(begin, end, thread_index) over [0, n) in chunks of `grain` (the last one
  // shorter; a one-thread pool makes a single call): each thread starts on its
  // parallel_for range, front to back; one
  // that runs out takes chunks from the back of the ranges still open, so a
  // thread slowed by memory or the OS does not hold the rest at the barrier.
  // Every index runs exactly once, but which thread runs it varies: fn's
  // results must not depend on the thread.
  template <class F>
  void parallel_for_balanced(int64_t n, int64_t grain, F&& fn) {
    using Fn = std::remove_reference_t<F>;
    run_balanced(n, grain, [](void* ctx, int64_t b, int64_t e, int i) { (*static_cast<Fn*>(ctx))(b, e, i); },
                 const_cast<void*>(static_cast<const void*>(std::addressof(fn))));
  }

  // Process-wide pool; its size is set by the first call (0 = all cores).
  static ThreadPool& global(int n_threads = 0);

 private:
  using Thunk = void (*)(void*, int64_t, int64_t, int);
  void run(int64_t n, Thunk thunk, void* ctx);
  void run_balanced(int64_t n, int64_t grain, Thunk thunk, void* ctx);
  void worker(int index);

  // One thread's chunks [front, back) for run_balanced: the owner takes the front,
  // others the back (one 64-bit word, so a claim is one compare-exchange).
  struct alignas(64) Chunks {
    std::atomic<uint64_t> range{0};
  };

  int n_threads_;
  int64_t spin_ns_;
  std::vector<std::thread> workers_;
  // Written by the caller before generation_ is bumped (release), read after (acquire).
  Thunk thunk_ = nullptr;
  void* ctx_ = nullptr;
  int64_t job_n_ = 0;
  bool stop_ = false;
  alignas(64) std::atomic<uint32_t> generation_{0};
  alignas(64) std::atomic<int32_t> pending_{0};
  std::unique_ptr<Chunks[]> chunks_;  // one per thread
};

}  // namespace larql
