// F16 / BF16 products (halfdot.h): the AVX-512 and AVX2 kernels against the
// scalar references bit for bit (both orders, ragged row and token blocks,
// tails), the references against an exact dot, and matmul()'s choice of
// order (16 lanes for plain multi-token products, vec_dot otherwise).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "kernels/halfdot.h"
#include "kernels/matmul.h"
#include "util/cpu.h"
#include "util/error.h"
#include "util/half.h"
#include "util/thread_pool.h"

using namespace larql;

namespace {

std::vector<uint8_t> half_rows(GGMLType t, int64_t n, int64_t rows, uint32_t seed) {
  std::mt19937 g(seed);
  std::normal_distribution<float> d(0.f, 1.f);
  std::vector<uint8_t> w(size_t(2 * n * rows));
  for (size_t i = 0; i < w.size() / 2; ++i) {
    const uint16_t h = t == GGMLType::BF16 ? fp32_to_bf16(d(g)) : fp32_to_fp16(d(g));
    std::memcpy(w.data() + 2 * i, &h, 2);
  }
  return w;
}

std::vector<float> acts(GGMLType t, int64_t n, int nt, uint32_t seed) {
  std::mt19937 g(seed);
  std::normal_distribution<float> d(0.f, 1.f);
  std::vector<float> x(size_t(n * nt));
  for (auto& v : x) v = d(g);
  halfdot::round_acts(t, x.data(), n * nt, x.data());
  return x;
}

using Kernel = void (*)(const halfdot::Rows&, bool, int64_t, int64_t, const float*, int64_t, int, float*, int64_t);

void check(Kernel k, const char* name) {
  uint32_t seed = 1;
  for (GGMLType t : {GGMLType::F16, GGMLType::BF16})
    for (bool lanes : {true, false})
      for (int64_t n : {16, 64, 80, 200, 1024}) {
        if (lanes && n % 16) continue;
        for (int64_t rows : {1, 3, 4, 9})
          for (int nt : {1, 2, 5, 6, 7, 13}) {
            auto w = half_rows(t, n, rows + 2, seed);
            auto x = acts(t, n, nt, seed + 100);
            const halfdot::Rows m{t, w.data(), size_t(2 * n), n};
            const int64_t ldy = rows + 3;
            std::vector<float> y(size_t(ldy * nt), -7.f), ref(y);
            k(m, lanes, 1, 1 + rows, x.data(), n, nt, y.data(), ldy);  // rows 1..rows: an offset start
            halfdot::gemm_scalar(m, lanes, 1, 1 + rows, x.data(), n, nt, ref.data(), ldy);
            ASSERT_EQ(std::memcmp(y.data(), ref.data(), y.size() * 4), 0)
                << name << " " << (t == GGMLType::BF16 ? "bf16" : "f16") << (lanes ? " lanes16" : " dot4x16")
                << " n=" << n << " rows=" << rows << " nt=" << nt;
            ++seed;
          }
      }
}

}  // namespace

TEST(HalfDot, Avx512MatchesScalarBitForBit) {
  const CpuFeatures& c = cpu_features();
  if (!(c.avx512f && c.avx512bw && c.f16c)) GTEST_SKIP() << "CPU lacks AVX-512F/BW";
  check(halfdot::avx512::gemm, "avx512");
}

TEST(HalfDot, Avx2MatchesScalarBitForBit) {
  const CpuFeatures& c = cpu_features();
  if (!(c.avx2 && c.fma && c.f16c)) GTEST_SKIP() << "CPU lacks AVX2+FMA+F16C";
  check(halfdot::avx2::gemm, "avx2");
}

TEST(HalfDot, ReferencesComputeTheDot) {
  for (GGMLType t : {GGMLType::F16, GGMLType::BF16}) {
    const int64_t n = 1000;
    auto w = half_rows(t, n, 1, 5);
    auto x = acts(t, n, 1, 6);
    auto exact = [&](int64_t len) {
      double s = 0;
      for (int64_t k = 0; k < len; ++k) {
        uint16_t h;
        std::memcpy(&h, w.data() + 2 * k, 2);
        s += double(t == GGMLType::BF16 ? bf16_to_fp32(h) : fp16_to_fp32(h)) * x[size_t(k)];
      }
      return s;
    };
    EXPECT_NEAR(halfdot::dot4x16_ref(t, w.data(), x.data(), n), exact(n), 1e-3);
    EXPECT_NEAR(halfdot::lanes16_ref(t, w.data(), x.data(), 992), exact(992), 1e-3);
  }
  float r[3] = {1.f / 3.f, 65504.f * 2, -1e-8f};
  halfdot::round_acts(GGMLType::F16, r, 3, r);
  EXPECT_EQ(r[0], fp16_to_fp32(fp32_to_fp16(1.f / 3.f)));
  EXPECT_TRUE(std::isinf(r[1]));
  EXPECT_EQ(halfdot::handles(GGMLType::BF16), true);
  EXPECT_EQ(halfdot::handles(GGMLType::Q8_0), false);
  const halfdot::Rows bad{GGMLType::F16, nullptr, 40, 20};
  float y = 0;
  EXPECT_THROW(halfdot::gemm(bad, true, 0, 1, &y, 20, 1, &y, 1), Error);
}

// matmul() on F16 / BF16 views: plain products of >= 2 tokens take the
// 16-lane order, one token and expert products the vec_dot order.
TEST(HalfDot, MatmulPicksGgmlOrder) {
  ThreadPool pool(2);
  for (GGMLType t : {GGMLType::F16, GGMLType::BF16}) {
    const int64_t n = 256, rows = 40;
    auto w = half_rows(t, n, rows, 11);
    const WeightView v{t, w.data(), n, rows, size_t(2 * n)};
    const halfdot::Rows m{t, w.data(), size_t(2 * n), n};
    for (int nt : {1, 3, 9})
      for (Product kind : {Product::Plain, Product::Expert}) {
        std::mt19937 g(nt);
        std::normal_distribution<float> d(0.f, 1.f);
        std::vector<float> x(size_t(n * nt));
        for (auto& e : x) e = d(g);
        std::vector<float> y(size_t(rows * nt)), ref(y.size()), xr(x.size());
        matmul(v, x.data(), nt, y.data(), pool, kind);
        halfdot::round_acts(t, x.data(), n * nt, xr.data());
        const bool lanes = kind == Product::Plain && nt >= 2;
        halfdot::gemm_scalar(m, lanes, 0, rows, xr.data(), n, nt, ref.data(), rows);
        EXPECT_EQ(std::memcmp(y.data(), ref.data(), y.size() * 4), 0) << "nt=" << nt << " lanes=" << lanes;
      }
  }
}
