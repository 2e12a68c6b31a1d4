#include "util/thread_pool.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace larql {

namespace {
inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  _mm_pause();
#endif
}

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

int64_t spin_window_ns() {
  const char* e = std::getenv("LARQL_POOL_SPIN_US");
  const long us = e && *e ? std::strtol(e, nullptr, 10) : 50;
  return us < 0 ? 0 : static_cast<int64_t>(us) * 1000;
}

// Waits until a.load() != old: spins up to spin_ns, then sleeps (futex).
template <class T>
T await_change(const std::atomic<T>& a, T old, int64_t spin_ns) {
  T v = a.load(std::memory_order_acquire);
  if (v != old || spin_ns <= 0) {
    while (v == old) {
      a.wait(old, std::memory_order_acquire);
      v = a.load(std::memory_order_acquire);
    }
    return v;
  }
  const int64_t until = now_ns() + spin_ns;
  for (int i = 0;; ++i) {
    v = a.load(std::memory_order_acquire);
    if (v != old) return v;
    cpu_relax();
    if ((i & 63) == 63 && now_ns() > until) break;
  }
  while (v == old) {
    a.wait(old, std::memory_order_acquire);
    v = a.load(std::memory_order_acquire);
  }
  return v;
}
}  // namespace

ThreadPool::ThreadPool(int n_threads)
    : n_threads_(n_threads < 1 ? 1 : n_threads), spin_ns_(spin_window_ns()), chunks_(new Chunks[n_threads_]) {
  for (int i = 1; i < n_threads_; ++i) workers_.emplace_back([this, i] { worker(i); });
}

ThreadPool::~ThreadPool() {
  stop_ = true;
  generation_.fetch_add(1, std::memory_order_release);
  generation_.notify_all();
  for (auto& t : workers_) t.join();
}

void ThreadPool::worker(int index) {
  uint32_t seen = 0;
  for (;;) {
    seen = await_change(generation_, seen, spin_ns_);
    if (stop_) return;
    const int64_t n = job_n_;
    const int64_t b = n * index / n_threads_, e = n * (index + 1) / n_threads_;
    if (b < e) thunk_(ctx_, b, e, index);
    if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) pending_.notify_one();
  }
}

void ThreadPool::run(int64_t n, Thunk thunk, void* ctx) {
  if (n <= 0) return;
  if (n_threads_ == 1 || n == 1) {
    thunk(ctx, 0, n, 0);
    return;
  }
  thunk_ = thunk;
  ctx_ = ctx;
  job_n_ = n;
  pending_.store(n_threads_ - 1, std::memory_order_relaxed);
  generation_.fetch_add(1, std::memory_order_release);
  generation_.notify_all();
  const int64_t e = n / n_threads_;
  if (e > 0) thunk(ctx, 0, e, 0);
  int32_t p = pending_.load(std::memory_order_acquire);
  while (p != 0) p = await_change(pending_, p, spin_ns_);
}

namespace {
constexpr uint64_t pack_range(uint32_t front, uint32_t back) { return (static_cast<uint64_t>(back) << 32) | front; }
// Claims one chunk of c: the front one (owner) or the back one; -1 when none is left.
int64_t claim(std::atomic<uint64_t>& c, bool front) {
  uint64_t r = c.load(std::memory_order_relaxed);
  for (;;) {
    const uint32_t f = static_cast<uint32_t>(r), b = static_cast<uint32_t>(r >> 32);
    if (f >= b) return -1;
    const uint64_t next = front ? pack_range(f + 1, b) : pack_range(f, b - 1);
    if (c.compare_exchange_weak(r, next, std::memory_order_relaxed)) return front ? f : b - 1;
  }
}
}  // namespace

void ThreadPool::run_balanced(int64_t n, int64_t grain, Thunk thunk, void* ctx) {
  if (n <= 0) return;
  if (grain < 1) grain = 1;
  const int64_t nc = (n + grain - 1) / grain;
  if (n_threads_ == 1 || nc == 1 || nc > int64_t{0xFFFFFFFF}) {  // nothing to balance (or too many chunks: static)
    run(n, thunk, ctx);
    return;
  }
  const int T = n_threads_;
  for (int i = 0; i < T; ++i)
    chunks_[i].range.store(pack_range(static_cast<uint32_t>(nc * i / T), static_cast<uint32_t>(nc * (i + 1) / T)),
                           std::memory_order_relaxed);
  struct Job {
    ThreadPool* pool;
    int64_t n, grain;
    Thunk thunk;
    void* ctx;
  } job{this, n, grain, thunk, ctx};
  // One range per thread (parallel_for over T items); the release/acquire of the
  // dispatch publishes the chunk ranges stored above.
  run(T, [](void* p, int64_t b, int64_t e, int index) {
    const Job& j = *static_cast<const Job*>(p);
    const int nt = j.pool->n_threads_;
    const auto go = [&](int64_t c) { j.thunk(j.ctx, c * j.grain, std::min(j.n, (c + 1) * j.grain), index); };
    for (int64_t r = b; r < e; ++r)
      for (int64_t c; (c = claim(j.pool->chunks_[r].range, true)) >= 0;) go(c);
    for (int k = 1; k < nt; ++k)  // then the others' tails, nearest first
      for (int64_t c; (c = claim(j.pool->chunks_[(e - 1 + k) % nt].range, false)) >= 0;) go(c);
  }, &job);
}

ThreadPool& ThreadPool::global(int n_threads) {
  static ThreadPool pool(n_threads > 0 ? n_threads : static_cast<int>(std::thread::hardware_concurrency()));
  return pool;
}

}  // namespace larql
