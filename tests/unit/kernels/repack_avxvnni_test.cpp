// The 256-bit packed-layout kernels (repack_ymm_inl.h: AVX-VNNI and plain AVX2
// for every packed type; Q8_0 on AVX2 by signed codes for one token, by int16
// vpmaddwd over widened activations for several) through repack::gemm, bit for bit
// against the sequential-order scalar reference qdot::dot_seq_scalar on the
// original (unpacked) rows and against gemm_scalar (repack::gemm with
// Isa::Scalar): real quantized rows, random bit patterns, extreme codes (all
// nibbles / fifth bits / Q6_K high bits set, Q8_0 -128 / 127) with saturating
// activations, 1..9, 131 and 512 tokens (AVX2 Q8_0 widens 64 at a time and runs
// 8 per pass: whole and partial passes), row-group sub-ranges, padded strides.
// Outputs outside the requested rows must stay untouched.
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <vector>

#include "kernels/qdot.h"
#include "kernels/repack.h"
#include "repack_test_data.h"
#include "tensor/quants.h"

using namespace larql;

namespace {

using test::Fill;
using test::weights;


const GGMLType kTypes[] = {GGMLType::Q8_0, GGMLType::Q4_0, GGMLType::Q5_0, GGMLType::Q4_K, GGMLType::Q5_K, GGMLType::Q6_K};
int64_t blk(GGMLType t) { return (t == GGMLType::Q8_0 || t == GGMLType::Q4_0 || t == GGMLType::Q5_0) ? 32 : 256; }


struct Case {
  GGMLType t;
  int64_t n_in, n_out;
  int nt;
  int64_t g0, g1;
  size_t pad_a;
  int64_t pad_y;
  Fill fill;
  bool saturate;
  uint32_t seed;
};

void check(qdot::Isa f, const Case& c) {
  auto w = weights(c.t, c.n_in, c.n_out, c.seed, c.fill);
  const uint64_t rbytes = ggml_row_size(c.t, uint64_t(c.n_in));
  auto p = repack::pack(WeightView{c.t, w.data(), c.n_in, c.n_out, rbytes});
  const size_t ab = qdot::act_bytes(c.t, c.n_in) + c.pad_a;
  std::vector<uint8_t> a(ab * size_t(c.nt), 0xEE);
  std::mt19937 g(c.seed + 11);
  std::normal_distribution<float> d(0.f, 2.f);
  std::vector<float> x(static_cast<size_t>(c.n_in));
  for (int k = 0; k < c.nt; ++k) {
    for (auto& v : x) v = c.saturate ? ((g() & 1) ? 3.f : -3.f) : d(g);
    qdot::quantize_act(c.t, x.data(), c.n_in, a.data() + ab * size_t(k));
  }
  const size_t xn = repack::aux_count(c.t, c.n_in);
  std::vector<int32_t> aux(xn * size_t(c.nt));
  for (int k = 0; k < c.nt; ++k) repack::act_aux(c.t, a.data() + ab * size_t(k), c.n_in, aux.data() + xn * size_t(k));
  const int64_t ldy = c.n_out + c.pad_y;
  const float sentinel = -12345.f;
  std::vector<float> y(size_t(ldy) * size_t(c.nt), sentinel), ys(y);
  repack::gemm(f, *p, a.data(), ab, aux.data(), xn, c.nt, c.g0, c.g1, y.data(), ldy);
  repack::gemm(qdot::Isa::Scalar, *p, a.data(), ab, aux.data(), xn, c.nt, c.g0, c.g1, ys.data(), ldy);
  ASSERT_EQ(std::memcmp(y.data(), ys.data(), y.size() * 4), 0)
      << qdot::isa_name(f) << " " << ggml_type_name(uint32_t(c.t)) << " differs from gemm_scalar";
  for (int k = 0; k < c.nt; ++k)
    for (int64_t r = 0; r < ldy; ++r) {
      const float got = y[size_t(k * ldy + r)];
      if (r < c.g0 * repack::kRows || r >= c.g1 * repack::kRows) {
        ASSERT_EQ(got, sentinel) << "wrote outside rows [" << c.g0 * 16 << ", " << c.g1 * 16 << "): row " << r;
        continue;
      }
      const float ref = qdot::dot_seq_scalar(c.t, w.data() + rbytes * uint64_t(r), a.data() + ab * size_t(k), c.n_in);
      ASSERT_EQ(std::memcmp(&ref, &got, 4), 0)
          << qdot::isa_name(f) << " " << ggml_type_name(uint32_t(c.t)) << " n_in=" << c.n_in << " n_out=" << c.n_out
          << " nt=" << c.nt << " groups [" << c.g0 << ", " << c.g1 << ") row " << r << " token " << k << ": " << got
          << " vs " << ref;
    }
}

// The maddubs family serves AVX2 and AVX-512 without VNNI alike.
bool maddubs(qdot::Isa f) { return f == qdot::Isa::Avx2 || f == qdot::Isa::Avx512; }
bool runs(qdot::Isa f, GGMLType t) { return !maddubs(f) || repack::avx2::handles(t); }

void shapes(qdot::Isa f) {
  uint32_t seed = 1;
  for (GGMLType t : kTypes) {
    if (!runs(f, t)) continue;
    for (int64_t nbk : {1, 2, 3, 5})
      for (int64_t ng : {1, 2, 3, 5})
        for (int nt = 1; nt <= 9; ++nt) {
          if ((nbk * ng + nt) % 3 != 0 && nt > 4) continue;  // a third of the larger token counts suffices
          const Fill fl = seed % 3 == 0 ? Fill::RandomBits : seed % 3 == 1 ? Fill::Real : Fill::Extreme;
          check(f, {t, nbk * blk(t), 16 * ng, nt, 0, ng, 0, 0, fl, seed % 4 == 0 || fl == Fill::Extreme, seed});
          ++seed;
          if (::testing::Test::HasFatalFailure()) return;
        }
  }
}

void ranges(qdot::Isa f) {
  for (GGMLType t : kTypes) {
    if (!runs(f, t)) continue;
    const int64_t k = blk(t) / 32;  // counts below are of 32-element blocks
    check(f, {t, 96 * k, 16 * 8, 11, 1, 6, 6, 5, Fill::Real, false, 7});
    check(f, {t, 64 * k, 16 * 8, 1, 3, 8, 0, 16, Fill::RandomBits, true, 8});
    check(f, {t, 32 * k, 16 * 5, 3, 4, 5, 64, 1, Fill::Extreme, true, 9});
    check(f, {t, 32 * k, 16 * 3, 512, 0, 3, 0, 0, Fill::Real, false, 10});  // four 128-token blocks
    check(f, {t, 160 * k, 16 * 2, 131, 1, 2, 0, 3, Fill::Extreme, true, 11});
    // AVX2 staged prefill: K chunks of 8 blocks (K-quants: 8 + 8 + 5) or 64 (Q8_0: 64 + 64 + 22), partial passes
    check(f, {t, (blk(t) == 32 ? 150 : 21) * blk(t), 16 * 2, 37, 0, 2, 0, 0, Fill::Real, false, 12});
    if (::testing::Test::HasFatalFailure()) return;
  }
}

bool have(qdot::Isa f) { return qdot::isa_available(f); }

}  // namespace

TEST(RepackYmm, IsaNamesAndOrder) {
  EXPECT_STREQ(qdot::isa_name(qdot::Isa::AvxVnni), "avxvnni");
  EXPECT_LT(qdot::Isa::Avx2, qdot::Isa::AvxVnni);
  EXPECT_LT(qdot::Isa::AvxVnni, qdot::Isa::Avx512);
  EXPECT_TRUE(repack::avx2::handles(GGMLType::Q4_K));
  EXPECT_TRUE(repack::avx2::handles(GGMLType::Q5_0));
  EXPECT_TRUE(repack::avx2::handles(GGMLType::Q8_0));  // by |w| x (a * sgn w): no vpmaddubsw saturation
  if (repack::enabled()) {
    EXPECT_TRUE(repack::enabled(GGMLType::Q8_0));
    EXPECT_TRUE(repack::enabled(GGMLType::Q6_K));
  } else {
    EXPECT_FALSE(repack::enabled(GGMLType::Q4_K));
  }
}

TEST(RepackYmm, AvxVnniShapesMatchReference) {
  if (!have(qdot::Isa::AvxVnni)) GTEST_SKIP() << "CPU lacks AVX-VNNI (or clang build)";
  shapes(qdot::Isa::AvxVnni);
}

TEST(RepackYmm, AvxVnniRangesStridesAndTokenBlocks) {
  if (!have(qdot::Isa::AvxVnni)) GTEST_SKIP() << "CPU lacks AVX-VNNI (or clang build)";
  ranges(qdot::Isa::AvxVnni);
}

TEST(RepackYmm, Avx2ShapesMatchReference) {
#if defined(__clang__)
  GTEST_SKIP() << "packed kernels are built by GCC only";
#endif
  if (!have(qdot::Isa::Avx2)) GTEST_SKIP() << "CPU lacks AVX2+FMA";
  shapes(qdot::Isa::Avx2);
}

TEST(RepackYmm, Avx2RangesStridesAndTokenBlocks) {
#if defined(__clang__)
  GTEST_SKIP() << "packed kernels are built by GCC only";
#endif
  if (!have(qdot::Isa::Avx2)) GTEST_SKIP() << "CPU lacks AVX2+FMA";
  ranges(qdot::Isa::Avx2);
}

// AVX-512 CPUs without VNNI (Skylake-SP) take the same 256-bit kernels.
TEST(RepackYmm, Avx512WithoutVnniShapesMatchReference) {
#if defined(__clang__)
  GTEST_SKIP() << "packed kernels are built by GCC only";
#else
  if (!have(qdot::Isa::Avx512)) GTEST_SKIP() << "CPU lacks AVX-512F/BW/VL";
  shapes(qdot::Isa::Avx512);
  ranges(qdot::Isa::Avx512);
#endif
}

// Q8_0 on AVX2 with every code at -128 or 127 and activations at +-127: the
// largest vpmaddubsw pair sums (2 x 128 x 127, one token) and vpmaddwd pair sums
// (several) stay exact.
TEST(RepackYmm, Avx2Q8_0ExtremeCodesStayExact) {
  if (!have(qdot::Isa::Avx2)) GTEST_SKIP() << "CPU lacks AVX2+FMA";
  for (int nt : {1, 3, 8, 33}) check(qdot::Isa::Avx2, {GGMLType::Q8_0, 256, 32, nt, 0, 2, 0, 0, Fill::Extreme, true, uint32_t(5 + nt)});
}

// AvxVnni has no row-major kernels: dot_rows / seq_rows with it must give the
// AVX2 family's bits (and not fall to the scalar path or crash).
TEST(RepackYmm, AvxVnniRowMajorProductsAreTheAvx2Ones) {
  if (!have(qdot::Isa::AvxVnni)) GTEST_SKIP() << "CPU lacks AVX-VNNI (or clang build)";
  for (GGMLType t : kTypes) {
    const int64_t n = 2 * blk(t);
    auto w = weights(t, n, 1, 3, Fill::Real);
    std::vector<float> x(static_cast<size_t>(n));
    for (size_t i = 0; i < x.size(); ++i) x[i] = float(int(i * 37 % 101) - 50) / 16.f;
    const size_t ab = qdot::act_bytes(t, n);
    std::vector<uint8_t> a(ab * 5);
    for (int k = 0; k < 5; ++k) qdot::quantize_act(t, x.data(), n, a.data() + ab * size_t(k));
    float r2[5], rv[5];
    qdot::dot_rows(qdot::Isa::Avx2, t, w.data(), a.data(), ab, n, 5, r2);
    qdot::dot_rows(qdot::Isa::AvxVnni, t, w.data(), a.data(), ab, n, 5, rv);
    EXPECT_EQ(std::memcmp(r2, rv, sizeof r2), 0) << "dot_rows " << ggml_type_name(uint32_t(t));
    qdot::seq_rows(qdot::Isa::Avx2, t, w.data(), a.data(), ab, n, 5, r2);
    qdot::seq_rows(qdot::Isa::AvxVnni, t, w.data(), a.data(), ab, n, 5, rv);
    EXPECT_EQ(std::memcmp(r2, rv, sizeof r2), 0) << "seq_rows " << ggml_type_name(uint32_t(t));
    const float ref = qdot::dot_seq_scalar(t, w.data(), a.data(), n);
    EXPECT_EQ(std::memcmp(&ref, rv, 4), 0) << "seq_rows vs scalar " << ggml_type_name(uint32_t(t));
  }
}
