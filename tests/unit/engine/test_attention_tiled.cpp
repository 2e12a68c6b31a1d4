// The tiled prefill attention (engine/attention_tiled.h) must give the scalar
// reference's bits (attend_f32_reference, itself checked against llama.cpp's
// logits by test_parity) for every shape and option, including masked
// non-finite values; and its vector exp must equal ops::expf_fast bit for bit.
// These run the CPU's own kernel set (AVX-512F, else AVX2); the ctest entry
// engine_attention_tiled_avx2 runs them again with LARQL_ATTN_ISA=avx2.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "engine/attention_exact.h"
#include "engine/attention_tiled.h"
#include "kernels/ops.h"
#include "util/thread_pool.h"

using namespace larql;

namespace {

struct Case {
  int64_t H, HKV, dk, dv, n, pos0, window;
  float softcap;
  bool sinks;
};

enum class Poison { None, InfV, NanV, InfK };

bool same_bits(float a, float b) {
  return std::bit_cast<uint32_t>(a) == std::bit_cast<uint32_t>(b) || (std::isnan(a) && std::isnan(b));
}

// Returns the number of mismatching outputs (first 3 reported).
int64_t run_case(const Case& c, ThreadPool& pool, std::mt19937& g, Poison poison, bool via_dispatch = false) {
  AttentionParams P;
  P.n_head = c.H, P.n_head_kv = c.HKV, P.dk = c.dk, P.dv = c.dv, P.window = c.window, P.softcap = c.softcap;
  P.scale = 1.0f / std::sqrt(static_cast<float>(c.dk));
  std::normal_distribution<float> d(0.0f, 1.5f);
  std::vector<float> sinks(static_cast<size_t>(c.H));
  for (auto& s : sinks) s = d(g) * 2.0f;
  if (c.sinks) P.sinks = sinks.data();
  const int64_t n_pos = c.pos0 + c.n;
  std::vector<float> k(n_pos * c.HKV * c.dk), v(n_pos * c.HKV * c.dv), q(c.n * c.H * c.dk);
  for (auto* a : {&k, &v, &q})
    for (auto& x : *a) x = d(g);
  // Some exact zeros in V make zero outputs (the signed-zero recompute path).
  for (size_t i = 0; i < v.size(); i += 7) v[i] = 0.0f;
  if (poison == Poison::InfV) v.back() = v.front() = INFINITY;
  if (poison == Poison::NanV) v[v.size() / 2] = NAN;
  if (poison == Poison::InfK) k[k.size() / 3] = -INFINITY;
  std::vector<float> fast(c.n * c.H * c.dv, 123.0f), ref(fast.size());
  if (via_dispatch)
    attn_detail::attend_f32(P, k.data(), v.data(), q.data(), c.n, c.pos0, fast.data(), pool);
  else
    EXPECT_TRUE(attn_detail::attend_f32_tiled(P, k.data(), v.data(), q.data(), c.n, c.pos0, fast.data(), pool));
  attn_detail::attend_f32_reference(P, k.data(), v.data(), q.data(), c.n, c.pos0, ref.data(), pool);
  int64_t bad = 0;
  for (size_t i = 0; i < ref.size(); ++i)
    if (!same_bits(fast[i], ref[i]) && ++bad <= 3)
      ADD_FAILURE() << "H=" << c.H << " HKV=" << c.HKV << " dk=" << c.dk << " dv=" << c.dv << " n=" << c.n
                    << " pos0=" << c.pos0 << " window=" << c.window << " softcap=" << c.softcap << " sinks=" << c.sinks
                    << " poison=" << static_cast<int>(poison) << " i=" << i << ": " << fast[i] << " vs " << ref[i];
  return bad;
}

#define REQUIRE_TILED() \
  if (!attn_tile::available()) GTEST_SKIP() << "no tiled attention kernel on this CPU (needs AVX-512F or AVX2 + FMA)"

TEST(AttentionTiled, FixedShapesMatchReference) {
  REQUIRE_TILED();
  ThreadPool pool(2);
  std::mt19937 g(5);
  const Case cases[] = {
      // Llama-3.2-1B-like GQA 4, MHA, GQA 8, odd head dims, windows, softcap, sinks, pos0 > 0.
      {8, 2, 64, 64, 70, 0, 0, 0, false},    {4, 4, 64, 64, 33, 0, 0, 0, false},   {8, 1, 128, 128, 19, 5, 0, 0, false},
      {4, 1, 80, 80, 17, 64, 0, 0, false},  {4, 2, 72, 40, 40, 25, 8, 50.0f, false}, {6, 3, 128, 128, 20, 45, 0, 0, true},
      {4, 2, 64, 64, 45, 100, 24, 0, true}, {2, 1, 32, 48, 2, 0, 0, 0, false},      {4, 4, 256, 256, 9, 30, 0, 30.0f, false},
      {8, 2, 96, 96, 64, 7, 16, 0, false},  {4, 2, 64, 64, 16, 16, 1, 0, false},
  };
  for (const Case& c : cases)
    for (Poison p : {Poison::None, Poison::InfV, Poison::NanV, Poison::InfK}) run_case(c, pool, g, p);
}

TEST(AttentionTiled, RandomShapesMatchReference) {
  REQUIRE_TILED();
  ThreadPool pool(3);
  std::mt19937 g(77);
  const int64_t groups[] = {1, 4, 8};
  const int64_t dims[] = {16, 40, 64, 65, 80, 128, 130};
  for (int it = 0; it < 60; ++it) {
    Case c{};
    c.HKV = 1 + static_cast<int64_t>(g() % 3);
    c.H = c.HKV * groups[g() % 3];
    c.dk = dims[g() % 7];
    c.dv = g() % 2 ? c.dk : dims[g() % 7];
    c.n = 2 + static_cast<int64_t>(g() % 69);  // 2..70
    c.pos0 = g() % 3 ? 0 : static_cast<int64_t>(g() % 90);
    c.window = g() % 3 ? 0 : 1 + static_cast<int64_t>(g() % 40);
    c.softcap = g() % 4 ? 0.0f : 20.0f;
    c.sinks = g() % 4 == 0;
    const Poison p = static_cast<Poison>(g() % 4);
    if (run_case(c, pool, g, p) > 0) break;
  }
}

TEST(AttentionTiled, DecodeMatchesReference) {
  // n == 1: the group's heads share K blocks; values keep the 4x16 order.
  REQUIRE_TILED();
  ThreadPool pool(2);
  std::mt19937 g(21);
  const Case cases[] = {
      {8, 2, 64, 64, 1, 0, 0, 0, false},      {32, 8, 64, 64, 1, 511, 0, 0, false}, {8, 2, 128, 128, 1, 95, 0, 0, false},
      {4, 4, 80, 80, 1, 130, 0, 0, true},     {16, 2, 64, 64, 1, 100, 16, 0, false}, {6, 3, 72, 40, 1, 63, 0, 30.0f, false},
      {16, 2, 256, 256, 1, 200, 50, 0, true}, {4, 2, 65, 130, 1, 31, 0, 0, false},
  };
  for (const Case& c : cases)
    for (Poison p : {Poison::None, Poison::InfV, Poison::NanV, Poison::InfK}) run_case(c, pool, g, p);
}

TEST(AttentionTiled, DispatchMatchesReferenceForAllBatchSizes) {
  // attend_f32 picks tiled (n == 1 or n >= 16) or the per-job path; both must match.
  ThreadPool pool(2);
  std::mt19937 g(9);
  for (int64_t n = 1; n <= 40; n += 3) run_case({8, 2, 64, 64, n, n % 5 * 9, 0, 0, false}, pool, g, Poison::None, true);
}

TEST(AttentionTiled, VectorExpMatchesScalar) {
  REQUIRE_TILED();
  std::vector<float> x;
  for (float v = -120.0f; v <= 100.0f; v += 0.0137f) x.push_back(v);
  for (float v : {0.0f, -0.0f, 88.7f, 88.8f, -87.3f, -103.9f, -149.0f, -200.0f, 200.0f, INFINITY, -INFINITY,
                  std::numeric_limits<float>::denorm_min(), 1e-30f})
    x.push_back(v);
  std::mt19937 g(3);
  for (int i = 0; i < 20000; ++i) x.push_back(std::bit_cast<float>(static_cast<uint32_t>(g())));
  while (x.size() % 16) x.push_back(1.0f);
  std::vector<float> y(x.size());
  for (size_t i = 0; i < x.size(); i += 16) attn_tile::kernels().exp_fast16(x.data() + i, y.data() + i);
  int bad = 0;
  for (size_t i = 0; i < x.size(); ++i)
    if (!same_bits(y[i], ops::expf_fast(x[i])) && ++bad <= 5)
      ADD_FAILURE() << "x=" << x[i] << " vector " << y[i] << " scalar " << ops::expf_fast(x[i]);
}

}  // namespace
