// The SIMD float dot orders must reproduce the scalar references bit for bit
// (docs/numerics.md); the references are checked against float64 sums.
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "kernels/f32dot.h"
#include "kernels/matmul.h"
#include "util/cpu.h"

using namespace larql;

namespace {

std::vector<float> rnd(int64_t n, std::mt19937& g, float scale = 1.0f) {
  std::normal_distribution<float> d(0.0f, scale);
  std::vector<float> v(static_cast<size_t>(n));
  for (auto& x : v) x = d(g);
  return v;
}

#define EXPECT_SAME_BITS(a, b, what) \
  EXPECT_EQ(std::bit_cast<uint32_t>(a), std::bit_cast<uint32_t>(b)) << what << ": " << (a) << " vs " << (b)

TEST(F32DotExact, ReferencesMatchFloat64) {
  std::mt19937 g(1);
  for (int64_t n : {16, 64, 100, 2048}) {
    auto x = rnd(n, g), y = rnd(n, g);
    double ref = 0, mag = 0;
    for (int64_t i = 0; i < n; ++i) ref += double(x[i]) * y[i], mag += std::fabs(double(x[i]) * y[i]);
    EXPECT_NEAR(f32dot::lanes16_ref(x.data(), y.data(), n), ref, 1e-6 * mag + 1e-6);
    EXPECT_NEAR(f32dot::dot4x16_ref(x.data(), y.data(), n), ref, 1e-6 * mag + 1e-6);
  }
  // Hand-checked tail: 64 products of 1 then 3 unfused products of 2.
  std::vector<float> a(67, 1.0f), b(67, 1.0f);
  for (int i = 64; i < 67; ++i) b[i] = 2.0f;
  EXPECT_EQ(f32dot::dot4x16_ref(a.data(), b.data(), 67), 70.0f);
}

using DotFn = float (*)(const float*, const float*, int64_t);

void check_isa(DotFn l16, DotFn d4, const char* name) {
  std::mt19937 g(7);
  for (int64_t n = 0; n <= 300; ++n) {
    // Mixed magnitudes make the rounding of every operation visible.
    auto x = rnd(n, g), y = rnd(n, g, 1e3f);
    for (int64_t i = 0; i < n; i += 7) x[static_cast<size_t>(i)] *= 1e-4f;
    EXPECT_SAME_BITS(l16(x.data(), y.data(), n), f32dot::lanes16_ref(x.data(), y.data(), n), name << " lanes16 n=" << n);
    EXPECT_SAME_BITS(d4(x.data(), y.data(), n), f32dot::dot4x16_ref(x.data(), y.data(), n), name << " 4x16 n=" << n);
  }
  for (int64_t n : {1024, 2048, 2049, 4095, 8192}) {
    auto x = rnd(n, g), y = rnd(n, g);
    EXPECT_SAME_BITS(l16(x.data(), y.data(), n), f32dot::lanes16_ref(x.data(), y.data(), n), name << " lanes16 n=" << n);
    EXPECT_SAME_BITS(d4(x.data(), y.data(), n), f32dot::dot4x16_ref(x.data(), y.data(), n), name << " 4x16 n=" << n);
  }
}

TEST(F32DotExact, Avx2MatchesReference) {
  if (!cpu_features().avx2 || !cpu_features().fma) GTEST_SKIP() << "no AVX2/FMA on this CPU";
  check_isa(f32dot::avx2::lanes16, f32dot::avx2::dot4x16, "avx2");
}

TEST(F32DotExact, Avx512MatchesReference) {
  if (!cpu_features().avx512f) GTEST_SKIP() << "no AVX-512F on this CPU";
  check_isa(f32dot::avx512::lanes16, f32dot::avx512::dot4x16, "avx512");
}

using X4Fn = void (*)(const float*, const float*, int64_t, int64_t, float*);
void check_x4(X4Fn fn, const char* name) {
  std::mt19937 g(9);
  for (int64_t n : {0, 1, 15, 16, 17, 64, 100, 2048, 2051}) {
    const int64_t ld = n + 3;
    auto w = rnd(n, g), x = rnd(4 * ld, g, 1e3f);
    float o[4];
    fn(w.data(), x.data(), ld, n, o);
    for (int i = 0; i < 4; ++i)
      EXPECT_SAME_BITS(o[i], f32dot::lanes16_ref(w.data(), x.data() + i * ld, n), name << " x4 n=" << n << " i=" << i);
  }
}

TEST(F32DotExact, FourTokenTileMatchesReference) {
  check_x4(f32dot::lanes16_x4, "dispatch");
  if (cpu_features().avx2 && cpu_features().fma) check_x4(f32dot::avx2::lanes16_x4, "avx2");
  if (cpu_features().avx512f) check_x4(f32dot::avx512::lanes16_x4, "avx512");
}

TEST(F32DotExact, DispatchMatchesReference) { check_isa(dot_f32_lanes16, dot_f32_4x16, "dispatch"); }

// weighted_cols (vectorized over d, skipping positions outside [jb, je)) equals
// the column-by-column reference, including outputs that are signed zeros.
TEST(F32DotExact, WeightedColumnsMatchReference) {
  std::mt19937 g(3);
  for (bool four16 : {false, true})
    for (int64_t dv : {1, 7, 64, 80, 128})
      for (int64_t n_real : {1, 5, 31, 32, 33, 64, 100, 130}) {
        const int64_t n_kv = (n_real + 31) / 32 * 32, stride = dv * 3 + 1;
        auto v = rnd(n_real * stride, g);
        std::uniform_int_distribution<int64_t> pick(0, n_real - 1);
        int64_t jb = pick(g), je = pick(g) + 1;
        if (jb >= je) std::swap(jb, je), jb = std::max<int64_t>(0, jb - 1);
        std::vector<float> p(static_cast<size_t>(n_kv), 0.0f);
        for (int64_t j = jb; j < je; ++j) p[static_cast<size_t>(j)] = std::fabs(rnd(1, g)[0]) * 0.1f;
        const f32dot::ValueCols vc{v.data(), stride, n_real};
        std::vector<float> fast(static_cast<size_t>(dv)), ref(static_cast<size_t>(dv)), scratch(64 * dv);
        f32dot::weighted_cols_ref(four16, vc, p.data(), n_kv, dv, ref.data());
        f32dot::weighted_cols(four16, vc, p.data(), jb, je, n_kv, dv, scratch.data(), fast.data());
        for (int64_t d = 0; d < dv; ++d)
          EXPECT_SAME_BITS(fast[d], ref[d], "four16=" << four16 << " dv=" << dv << " n=" << n_real << " d=" << d);
      }
}

TEST(F32DotExact, SkippedPaddingKeepsZeroSign) {
  // Every lane ends at -0 (underflowing negative products); the padded
  // positions then add +0 in the reference, turning each lane into +0.
  const int64_t dv = 16, n_real = 16, n_kv = 32;
  std::vector<float> v(n_real * dv, -1e-30f), p(n_kv, 0.0f), ref(dv), fast(dv), scratch(64 * dv);
  for (int64_t j = 0; j < n_real; ++j) p[j] = 1e-30f;
  const f32dot::ValueCols vc{v.data(), dv, n_real};
  f32dot::weighted_cols_ref(false, vc, p.data(), n_kv, dv, ref.data());
  EXPECT_FALSE(std::signbit(ref[0]));
  f32dot::weighted_cols(false, vc, p.data(), 0, n_real, n_kv, dv, scratch.data(), fast.data());
  for (int64_t d = 0; d < dv; ++d) EXPECT_SAME_BITS(fast[d], ref[d], "d=" << d);
}

// The AVX2 column kernels directly (the dispatcher above picks the widest ISA).
TEST(F32DotExact, Avx2ColumnsMatchReference) {
  if (!cpu_features().avx2 || !cpu_features().fma) GTEST_SKIP() << "no AVX2/FMA on this CPU";
  std::mt19937 g(5);
  for (bool four16 : {false, true})
    for (int64_t dv : {3, 64, 80, 128})
      for (int64_t n_real : {1, 17, 32, 64, 100, 160}) {
        const int64_t n_kv = (n_real + 31) / 32 * 32, np = four16 ? (n_kv & ~int64_t{63}) : n_kv;
        auto v = rnd(n_real * dv, g), p = rnd(n_kv, g);
        const f32dot::ValueCols vc{v.data(), dv, n_real};
        std::vector<float> fast(static_cast<size_t>(dv)), ref(static_cast<size_t>(dv)), acc(64 * dv, 0.0f);
        f32dot::weighted_cols_ref(four16, vc, p.data(), n_kv, dv, ref.data());
        f32dot::avx2::acc_cols(four16, vc, p.data(), 0, std::min(n_real, np), np, dv, acc.data());
        f32dot::avx2::reduce_cols(four16, dv, acc.data(), fast.data());
        if (np < n_real) f32dot::avx2::tail_cols(vc, p.data(), np, n_real, dv, fast.data());
        for (int64_t d = 0; d < dv; ++d)
          EXPECT_SAME_BITS(fast[d], ref[d], "four16=" << four16 << " dv=" << dv << " n=" << n_real << " d=" << d);
      }
}

}  // namespace
