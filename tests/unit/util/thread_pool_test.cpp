// ThreadPool: parallel_for's static ranges and parallel_for_balanced's chunks —
// every index exactly once for any size, grain and thread count; a stalled
// thread's chunks are taken over by the others; the pool is reusable.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "util/thread_pool.h"

using namespace larql;

namespace {

// Runs [0, n) and checks every index ran once and every call stayed in range.
void expect_each_once(ThreadPool& pool, int64_t n, int64_t grain) {
  std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
  std::atomic<bool> bad{false};
  pool.parallel_for_balanced(n, grain, [&](int64_t b, int64_t e, int t) {
    const bool whole = pool.size() == 1 && b == 0 && e == n;  // one thread: one call
    if (b < 0 || e > n || b >= e || (!whole && e - b > std::max<int64_t>(grain, 1)) || t < 0 || t >= pool.size()) bad = true;
    for (int64_t i = b; i < e; ++i) hits[static_cast<size_t>(i)].fetch_add(1);
  });
  EXPECT_FALSE(bad) << "n=" << n << " grain=" << grain;
  for (int64_t i = 0; i < n; ++i) ASSERT_EQ(hits[static_cast<size_t>(i)].load(), 1) << "n=" << n << " grain=" << grain << " i=" << i;
}

}  // namespace

TEST(ThreadPool, ParallelForCoversTheRangeInOneCallPerThread) {
  ThreadPool pool(3);
  for (int64_t n : {1, 2, 3, 7, 100}) {
    std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
    std::atomic<int> calls{0};
    pool.parallel_for(n, [&](int64_t b, int64_t e, int) {
      ++calls;
      for (int64_t i = b; i < e; ++i) hits[static_cast<size_t>(i)].fetch_add(1);
    });
    for (auto& h : hits) EXPECT_EQ(h.load(), 1);
    EXPECT_LE(calls.load(), 3);
  }
}

TEST(ThreadPool, BalancedRunsEveryIndexOnce) {
  for (int threads : {1, 2, 3, 4}) {
    ThreadPool pool(threads);
    for (int64_t n : {0, 1, 2, 5, 16, 17, 100, 1000})
      for (int64_t grain : {0, 1, 3, 16, 64, 5000}) expect_each_once(pool, n, grain);
  }
}

TEST(ThreadPool, BalancedHandsAStalledThreadsChunksToTheOthers) {
  ThreadPool pool(2);
  constexpr int64_t n = 64;
  std::vector<int> owner(n, -1);
  pool.parallel_for_balanced(n, 1, [&](int64_t b, int64_t e, int t) {
    if (t == 0 && b == 0) std::this_thread::sleep_for(std::chrono::milliseconds(200));  // thread 0 stalls on its first chunk
    for (int64_t i = b; i < e; ++i) owner[static_cast<size_t>(i)] = t;
  });
  // Thread 0's static range is [0, 32): the other thread finished its own half long
  // before and took the rest of thread 0's, from the back.
  int taken = 0;
  for (int64_t i = 1; i < n / 2; ++i) taken += owner[static_cast<size_t>(i)] == 1;
  EXPECT_GT(taken, 0);
  EXPECT_EQ(owner[0], 0);
  EXPECT_EQ(owner[n - 1], 1);
  expect_each_once(pool, n, 1);  // reusable afterwards
}
