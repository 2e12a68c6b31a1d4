// The fast llama.cpp-order F32 attention must equal the scalar reference bit
// for bit (the reference itself reproduces the fixture logits, test_parity).
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "engine/attention_exact.h"
#include "util/thread_pool.h"

using namespace larql;

namespace {

struct Case {
  int64_t H, HKV, dk, dv, n, pos0, window;
  float softcap;
};

void run_case(const Case& c, ThreadPool& pool, std::mt19937& g, bool with_inf) {
  AttentionParams P;
  P.n_head = c.H, P.n_head_kv = c.HKV, P.dk = c.dk, P.dv = c.dv, P.window = c.window, P.softcap = c.softcap;
  P.scale = 1.0f / std::sqrt(static_cast<float>(c.dk));
  const int64_t n_pos = c.pos0 + c.n;
  std::normal_distribution<float> d(0.0f, 1.5f);
  std::vector<float> k(n_pos * c.HKV * c.dk), v(n_pos * c.HKV * c.dv), q(c.n * c.H * c.dk);
  for (auto* a : {&k, &v, &q})
    for (auto& x : *a) x = d(g);
  if (with_inf) v.back() = v.front() = INFINITY;  // masked for earlier queries / outside later windows
  std::vector<float> fast(c.n * c.H * c.dv), ref(fast.size());
  attn_detail::attend_f32(P, k.data(), v.data(), q.data(), c.n, c.pos0, fast.data(), pool);
  attn_detail::attend_f32_reference(P, k.data(), v.data(), q.data(), c.n, c.pos0, ref.data(), pool);
  int64_t bad = 0;
  for (size_t i = 0; i < ref.size(); ++i)
    if (std::bit_cast<uint32_t>(fast[i]) != std::bit_cast<uint32_t>(ref[i]) && ++bad <= 3)
      ADD_FAILURE() << "H=" << c.H << " HKV=" << c.HKV << " dk=" << c.dk << " dv=" << c.dv << " n=" << c.n
                    << " pos0=" << c.pos0 << " window=" << c.window << " softcap=" << c.softcap << " inf=" << with_inf
                    << " i=" << i << ": " << fast[i] << " vs " << ref[i];
}

TEST(AttentionExact, FastMatchesScalarReference) {
  ThreadPool pool(2);
  std::mt19937 g(11);
  const Case cases[] = {
      {4, 4, 64, 64, 1, 0, 0, 0},     {4, 2, 64, 64, 1, 40, 0, 0},    {8, 2, 128, 128, 1, 95, 0, 0},
      {8, 2, 128, 128, 1, 96, 0, 0},  {4, 1, 80, 80, 1, 130, 0, 0},   {4, 2, 64, 64, 7, 0, 0, 0},
      {4, 2, 64, 64, 33, 10, 0, 0},   {6, 3, 128, 128, 20, 45, 0, 0}, {4, 2, 80, 80, 17, 64, 0, 0},
      {4, 2, 64, 64, 1, 100, 16, 0},  {4, 2, 64, 64, 12, 70, 24, 0},  {4, 4, 64, 64, 9, 30, 0, 30.0f},
      {2, 1, 128, 64, 5, 3, 0, 0},    {4, 2, 72, 40, 40, 25, 8, 50.0f},
  };
  for (const Case& c : cases) {
    run_case(c, pool, g, false);
    if (c.n >= 2 || c.window > 0) run_case(c, pool, g, true);
  }
}

}  // namespace
