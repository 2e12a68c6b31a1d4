// The AMX-BF16 GEMM (kernels/amx.h, larql::halfdot::amx): the software model's
// TDPBF16PS against fma chains written from the documented definition (element
// order, one rounding per product, denormals read and flushed as zero); the
// lane-order activations against their definition; the kernel through the
// model against halfdot's scalar 16-lane reference bit for bit (ragged K with
// padding, row groups in ones and pairs, leftover rows, token tails, sub-ranges,
// strides); the run-time self-check; and matmul()'s dispatch on BF16 weights,
// which the ctest entry kernels_amx_bf16_model_dispatch runs with LARQL_AMX=model.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "kernels/amx.h"
#include "kernels/amx_tiles.h"
#include "kernels/halfdot.h"
#include "kernels/matmul.h"
#include "util/half.h"
#include "util/thread_pool.h"
#include "self_check_expect.h"

using namespace larql;
using amx::TileConfig;
using amx::TileModel;

namespace {

uint16_t bf(float f) { return fp32_to_bf16(f); }

// C 0 (M x N floats) += A 1 (M x 2K bf16) x B 2 (K x 2N bf16).
TileConfig cfg_bf16(int M, int N, int K) {
  TileConfig c;
  c.rows[0] = uint8_t(M), c.colsb[0] = uint16_t(4 * N);
  c.rows[1] = uint8_t(M), c.colsb[1] = uint16_t(4 * K);
  c.rows[2] = uint8_t(K), c.colsb[2] = uint16_t(4 * N);
  return c;
}

// One TDPBF16PS on the given operands (row strides 64 bytes); returns C's 16 x 16 floats.
std::vector<float> dp_once(const TileConfig& cfg, const std::vector<uint16_t>& A, const std::vector<uint16_t>& B,
                           const std::vector<float>& C) {
  TileModel t;
  t.config(cfg);
  t.load<0>(C.data(), 64);
  t.load<1>(A.data(), 64);
  t.load<2>(B.data(), 64);
  t.dpbf16ps<0, 1, 2>();
  std::vector<float> out(256, -7.f);
  t.store<0>(out.data(), 64);
  return out;
}

std::vector<uint8_t> bf16_rows(int64_t n, int64_t rows, uint32_t seed) {
  std::mt19937 g(seed);
  std::normal_distribution<float> d(0.f, 1.f);
  std::vector<uint8_t> w(size_t(2 * n * rows));
  for (size_t i = 0; i < w.size() / 2; ++i) {
    const uint16_t h = bf(d(g));
    std::memcpy(w.data() + 2 * i, &h, 2);
  }
  return w;
}

std::vector<float> rounded_acts(int64_t n, int nt, int64_t ldx, uint32_t seed) {
  std::mt19937 g(seed);
  std::normal_distribution<float> d(0.f, 3.f);
  std::vector<float> x(size_t(ldx * nt), std::numeric_limits<float>::quiet_NaN());  // padding poisoned
  for (int t = 0; t < nt; ++t) {
    for (int64_t k = 0; k < n; ++k) x[size_t(t * ldx + k)] = d(g);
    halfdot::round_acts(GGMLType::BF16, x.data() + t * ldx, n, x.data() + t * ldx);
  }
  return x;
}

constexpr float kSentinel = -12345.f;

struct Case {
  int64_t n, rows, r0, r1;
  int nt;
  int64_t pad_x, pad_y;
  uint32_t seed;
};

void check(const Case& c, halfdot::amx::GemmFn fn = halfdot::amx::gemm_model) {
  const auto w = bf16_rows(c.n, c.rows, c.seed);
  const int64_t ldx = c.n + c.pad_x, ldy = c.rows + c.pad_y;
  const auto x = rounded_acts(c.n, c.nt, ldx, c.seed + 1);
  std::vector<uint16_t> lanes(halfdot::amx::lanes_size(c.n, c.nt), 0xFFFF);
  halfdot::amx::to_lanes(x.data(), ldx, c.n, c.nt, 0, c.nt, lanes.data());
  const halfdot::Rows m{GGMLType::BF16, w.data(), size_t(2 * c.n), c.n};
  std::vector<float> ref(size_t(ldy * c.nt), kSentinel), got(ref.size(), kSentinel);
  halfdot::gemm_scalar(m, true, c.r0, c.r1, x.data(), ldx, c.nt, ref.data(), ldy);
  fn(m, c.r0, c.r1, lanes.data(), x.data(), ldx, c.nt, got.data(), ldy);
  for (int t = 0; t < c.nt; ++t)
    for (int64_t r = 0; r < ldy; ++r) {
      const size_t i = size_t(t * ldy + r);
      if (r < c.r0 || r >= c.r1) {
        ASSERT_EQ(got[i], kSentinel) << "wrote outside rows [" << c.r0 << ", " << c.r1 << "): row " << r;
        continue;
      }
      ASSERT_EQ(std::memcmp(&ref[i], &got[i], 4), 0) << "n=" << c.n << " rows [" << c.r0 << ", " << c.r1
                                                      << ") nt=" << c.nt << " row " << r << " token " << t << ": "
                                                      << got[i] << " vs " << ref[i];
    }
}

}  // namespace

#define REQUIRE_MODEL() \
  if (!halfdot::amx::model_runnable()) GTEST_SKIP() << "the kernel's packing and float steps need AVX2, FMA and F16C (GCC build)"

TEST(HalfAmxModel, MatchesFmaChains) {
  std::mt19937 g(5);
  std::normal_distribution<float> d(0.f, 1.f);
  for (int M : {1, 7, 16})
    for (int N : {1, 5, 16})
      for (int K : {1, 3, 16}) {
        std::vector<uint16_t> A(16 * 32), B(16 * 32);
        std::vector<float> C(256);
        for (auto& v : A) v = bf(d(g));
        for (auto& v : B) v = bf(d(g));
        for (auto& v : C) v = 10.f * d(g);
        const auto out = dp_once(cfg_bf16(M, N, K), A, B, C);
        for (int m = 0; m < 16; ++m)
          for (int n = 0; n < 16; ++n) {
            float want = -7.f;  // outside C's shape the store leaves memory alone
            if (m < M && n < N) {
              want = C[size_t(16 * m + n)];
              for (int k = 0; k < K; ++k)
                for (int e = 0; e < 2; ++e)
                  want = std::fma(bf16_to_fp32(A[size_t(32 * m + 2 * k + e)]), bf16_to_fp32(B[size_t(32 * k + 2 * n + e)]), want);
            }
            ASSERT_EQ(std::memcmp(&want, &out[size_t(16 * m + n)], 4), 0)
                << "M " << M << " N " << N << " K " << K << " [" << m << "][" << n << "]: " << out[size_t(16 * m + n)]
                << " vs " << want;
          }
      }
}

// Each addition rounds on its own: 1 + 2^-24 + 2^-24 stays 1 (ties to even
// twice), where a pair summed first would give 1 + 2^-23.
TEST(HalfAmxModel, RoundsEveryAddition) {
  std::vector<uint16_t> A(16 * 32, 0), B(16 * 32, 0);
  std::vector<float> C(256, 0.f);
  C[0] = 1.f;
  A[0] = A[1] = bf(1.f);
  B[0] = B[1] = bf(std::ldexp(1.f, -24));
  EXPECT_EQ(dp_once(cfg_bf16(1, 1, 1), A, B, C)[0], 1.f);
  // In element order: 2^24 + 1 rounds to 2^24, minus 2^24 leaves 0 (2^24 - 2^24 first would leave 1).
  C[0] = 0.f;
  A[0] = bf(std::ldexp(1.f, 24)), A[1] = bf(1.f), A[2] = bf(-std::ldexp(1.f, 24));
  B[0] = B[1] = B[32] = bf(1.f);
  EXPECT_EQ(dp_once(cfg_bf16(1, 1, 2), A, B, C)[0], 0.f);  // (2^24 + 1 -> 2^24) - 2^24
}

TEST(HalfAmxModel, DenormalsReadAndFlushAsZero) {
  std::vector<uint16_t> A(16 * 32, 0), B(16 * 32, 0);
  std::vector<float> C(256, 0.f);
  A[0] = 0x0040;  // a bf16 denormal (~5.9e-39)
  B[0] = bf(1.f);
  EXPECT_EQ(dp_once(cfg_bf16(1, 1, 1), A, B, C)[0], 0.f);
  A[0] = bf(std::ldexp(1.f, -100)), B[0] = bf(std::ldexp(1.f, -30));  // a denormal product sum
  EXPECT_EQ(dp_once(cfg_bf16(1, 1, 1), A, B, C)[0], 0.f);
  C[0] = std::numeric_limits<float>::denorm_min();  // a denormal accumulator reads as zero
  A[0] = bf(0.f);
  EXPECT_EQ(dp_once(cfg_bf16(1, 1, 1), A, B, C)[0], 0.f);
}

TEST(HalfAmxModel, FaultsOnShapesThatDoNotAgree) {
  TileModel t;
  TileConfig c = cfg_bf16(16, 16, 16);
  c.rows[2] = 8;  // B must have K rows
  t.config(c);
  EXPECT_THROW((t.dpbf16ps<0, 1, 2>()), Error);
  t.config(cfg_bf16(16, 16, 16));
  EXPECT_THROW((t.dpbf16ps<0, 0, 2>()), Error);
}

TEST(HalfAmx, LaneOrderActivations) {
  REQUIRE_MODEL();
  for (int64_t n : {16, 512, 528, 1040}) {
    const int nt = 19;
    const int64_t ldx = n + 16, J = halfdot::amx::lane_stride(n);
    ASSERT_EQ(J % 32, 0);
    ASSERT_GE(J, n / 16);
    const auto x = rounded_acts(n, nt, ldx, 70);
    std::vector<uint16_t> lanes(halfdot::amx::lanes_size(n, nt), 0xFFFF);
    halfdot::amx::to_lanes(x.data(), ldx, n, nt, 3, 11, lanes.data());  // a token sub-range
    for (int L = 0; L < 16; ++L)
      for (int t = 0; t < nt; ++t)
        for (int64_t j = 0; j < J; ++j) {
          const uint16_t v = lanes[size_t((L * nt + t) * J + j)];
          if (t < 3 || t >= 11) {
            ASSERT_EQ(v, 0xFFFF) << "token " << t << " outside the range was written";
            continue;
          }
          const uint16_t want = j < n / 16 ? bf(x[size_t(t * ldx + 16 * j + L)]) : 0;
          ASSERT_EQ(v, want) << "n " << n << " lane " << L << " token " << t << " j " << j;
        }
  }
}

TEST(HalfAmx, ModelMatchesScalarReferenceAcrossShapes) {
  REQUIRE_MODEL();
  uint32_t seed = 10;
  for (int64_t n : {16, 512, 528, 1040})
    for (int64_t rows : {16, 24, 32, 48, 52})
      for (int nt : {16, 17, 31, 32, 33, 48}) {
        check({n, rows, 0, rows, nt, 0, 0, seed++});
        if (HasFatalFailure()) return;
      }
}

TEST(HalfAmx, ModelSubRangesStridesAndLongPrompts) {
  REQUIRE_MODEL();
  check({1024, 96, 16, 80, 40, 16, 5, 1});   // whole groups inside the matrix
  check({512, 64, 8, 60, 35, 0, 3, 2});      // unaligned ends: rows before the first group on AVX-512
  check({2048, 32, 0, 32, 128, 32, 0, 3});   // many token tiles
  check({512, 48, 16, 16, 32, 0, 0, 4});     // empty range
  check({512, 16, 0, 16, 5, 0, 0, 5});       // fewer tokens than a tile
}

TEST(HalfAmx, SelfCheckAcceptsTheModelAndRejectsAFaultyBackend) {
  REQUIRE_MODEL();
  test::expect_self_check<halfdot::amx::GemmFn>(halfdot::amx::self_check, halfdot::amx::gemm_model, halfdot::amx::gemm_model_faulty,
                                          "AMX-BF16 self-check failed (faulty model");
}

// matmul() on BF16 weights: plain products of >= 16 tokens take the AMX kernel
// when usable() (the tile hardware, or the model under LARQL_AMX=model), and
// every path gives the scalar 16-lane reference's bits.
TEST(HalfAmxDispatch, MatmulOnBf16WeightsMatchesTheReference) {
  const char* mode = std::getenv("LARQL_AMX");
  if (mode && std::string(mode) == "model" && halfdot::amx::model_runnable()) {
    EXPECT_TRUE(halfdot::amx::usable()) << "LARQL_AMX=model must route BF16 prefill through the model";
  }
  ThreadPool pool(2);
  for (int64_t rows : {48, 100})
    for (int nt : {16, 37}) {
      const int64_t n = 1040;
      auto w = bf16_rows(n, rows, uint32_t(rows + nt));
      std::vector<float> x(size_t(n * nt));
      std::mt19937 g(9);
      std::normal_distribution<float> d(0.f, 1.f);
      for (auto& v : x) v = d(g);
      const WeightView wv{GGMLType::BF16, w.data(), n, rows, uint64_t(2 * n)};
      std::vector<float> y(size_t(rows * nt)), ref(y.size());
      matmul(wv, x.data(), nt, y.data(), pool);
      std::vector<float> xr(x.size());
      halfdot::round_acts(GGMLType::BF16, x.data(), int64_t(x.size()), xr.data());
      halfdot::gemm_scalar(halfdot::Rows{GGMLType::BF16, w.data(), size_t(2 * n), n}, true, 0, rows, xr.data(), n, nt,
                           ref.data(), rows);
      ASSERT_EQ(std::memcmp(y.data(), ref.data(), y.size() * 4), 0) << "rows " << rows << " nt " << nt;
    }
}
