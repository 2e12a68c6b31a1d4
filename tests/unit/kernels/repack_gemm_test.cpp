// The register-blocked prefill GEMM (repack::avx512vnni::gemm_blocked, Q8_0,
// Q4_0, Q5_0, Q4_K, Q5_K and Q6_K) against the sequential-order scalar reference qdot::dot_seq_scalar on
// the original (unpacked) rows, bit for bit: random bit patterns and real
// quantized rows, extreme codes and saturating activations, row-group ranges
// that leave 1 or 2 groups over (3-group passes), token counts that leave 1..3
// over (4-token passes) and cross the 128-token block, strided activations
// and outputs. Outputs outside the requested range must stay untouched.
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


struct Case {
  GGMLType t;
  int64_t n_in, n_out;
  int nt;
  int64_t g0, g1;  // row-group range computed
  size_t pad_a;    // extra bytes between tokens' activations
  int64_t pad_y;   // extra floats per output row (ldy = n_out + pad_y)
  Fill fill;
  bool saturate;
  uint32_t seed;
};

void check(const Case& c) {
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
  std::vector<float> y(size_t(ldy) * size_t(c.nt), sentinel);
  repack::avx512vnni::gemm_blocked(*p, a.data(), ab, aux.data(), xn, c.nt, c.g0, c.g1, y.data(), ldy);
  for (int k = 0; k < c.nt; ++k)
    for (int64_t r = 0; r < ldy; ++r) {
      const float got = y[size_t(k * ldy + r)];
      if (r < c.g0 * repack::kRows || r >= c.g1 * repack::kRows) {
        ASSERT_EQ(got, sentinel) << "wrote outside rows [" << c.g0 * 16 << ", " << c.g1 * 16 << "): row " << r;
        continue;
      }
      const float ref = qdot::dot_seq_scalar(c.t, w.data() + rbytes * uint64_t(r), a.data() + ab * size_t(k), c.n_in);
      ASSERT_EQ(std::memcmp(&ref, &got, 4), 0)
          << ggml_type_name(uint32_t(c.t)) << " n_in=" << c.n_in << " n_out=" << c.n_out << " nt=" << c.nt
          << " groups [" << c.g0 << ", " << c.g1 << ") row " << r << " token " << k << ": " << got << " vs " << ref;
    }
}

const GGMLType kTypes[] = {GGMLType::Q8_0, GGMLType::Q4_0, GGMLType::Q5_0, GGMLType::Q4_K, GGMLType::Q5_K, GGMLType::Q6_K};
int64_t block(GGMLType t) { return (t == GGMLType::Q8_0 || t == GGMLType::Q4_0 || t == GGMLType::Q5_0) ? 32 : 256; }

bool have_vnni() { return qdot::isa_available(qdot::Isa::Avx512Vnni); }

}  // namespace

TEST(RepackGemm, SupportedTypes) {
  EXPECT_TRUE(repack::avx512vnni::gemm_blocked_supported(GGMLType::Q8_0));
  EXPECT_TRUE(repack::avx512vnni::gemm_blocked_supported(GGMLType::Q4_0));
  EXPECT_TRUE(repack::avx512vnni::gemm_blocked_supported(GGMLType::Q5_0));
  EXPECT_TRUE(repack::avx512vnni::gemm_blocked_supported(GGMLType::Q4_K));
  EXPECT_TRUE(repack::avx512vnni::gemm_blocked_supported(GGMLType::Q5_K));
  EXPECT_TRUE(repack::avx512vnni::gemm_blocked_supported(GGMLType::Q6_K));
  EXPECT_FALSE(repack::avx512vnni::gemm_blocked_supported(GGMLType::F32));
}

TEST(RepackGemm, OddRowGroupsAndTokensMatchSequentialReference) {
  if (!have_vnni()) GTEST_SKIP() << "CPU lacks AVX-512 VNNI (or clang build)";
  uint32_t seed = 100;
  for (GGMLType t : kTypes)
    for (int64_t ng : {1, 2, 3, 4, 5, 7})
      for (int nt : {1, 2, 3, 4, 5, 6, 7, 9, 13}) {
        const Fill f = seed % 3 == 0 ? Fill::RandomBits : seed % 3 == 1 ? Fill::Real : Fill::Extreme;
        check({t, block(t) * (1 + seed % 4), 16 * ng, nt, 0, ng, 0, 0, f, seed % 5 == 0, seed});
        ++seed;
        if (::testing::Test::HasFatalFailure()) return;
      }
}

TEST(RepackGemm, SubRangesStridesAndTokenBlocks) {
  if (!have_vnni()) GTEST_SKIP() << "CPU lacks AVX-512 VNNI (or clang build)";
  for (GGMLType t : kTypes) {
    const int64_t k = block(t) / 32;  // element counts below are for 32-blocks
    // Row-group sub-ranges as the thread pool hands them out, padded strides.
    check({t, 96 * k, 16 * 8, 11, 1, 6, 6, 5, Fill::Real, false, 7});
    check({t, 64 * k, 16 * 8, 6, 3, 5, 0, 16, Fill::RandomBits, true, 8});
    check({t, 32 * k, 16 * 5, 3, 4, 5, 64, 1, Fill::Extreme, true, 9});
    // More tokens than one 128-token block (remainder 3), and exactly two blocks.
    check({t, 64 * k, 16 * 4, 259, 0, 4, 0, 0, Fill::Real, false, 10});
    check({t, 32 * k, 16 * 2, 256, 0, 2, 0, 0, Fill::Extreme, true, 11});
    if (::testing::Test::HasFatalFailure()) return;
  }
}

// The dispatching gemm() (blocked for nt >= 2) and the previous one-group kernel
// agree with the blocked one on a model-sized shape.
TEST(RepackGemm, DispatchAndRowGroupKernelAgree) {
  if (!have_vnni()) GTEST_SKIP() << "CPU lacks AVX-512 VNNI (or clang build)";
  for (GGMLType t : kTypes) {
    const int64_t n_in = 512, n_out = 16 * 11;
    const int nt = 37;
    auto w = weights(t, n_in, n_out, 21, Fill::Real);
    auto p = repack::pack(WeightView{t, w.data(), n_in, n_out, ggml_row_size(t, uint64_t(n_in))});
    const size_t ab = qdot::act_bytes(t, n_in), xn = repack::aux_count(t, n_in);
    std::vector<uint8_t> a(ab * nt);
    std::vector<int32_t> aux(xn * nt);
    std::mt19937 g(5);
    std::normal_distribution<float> d(0.f, 1.f);
    std::vector<float> x(n_in);
    for (int k = 0; k < nt; ++k) {
      for (auto& v : x) v = d(g);
      qdot::quantize_act(t, x.data(), n_in, a.data() + ab * k);
      repack::act_aux(t, a.data() + ab * k, n_in, aux.data() + xn * k);
    }
    std::vector<float> y0(n_out * nt), y1(y0.size()), y2(y0.size());
    repack::avx512vnni::gemm_blocked(*p, a.data(), ab, aux.data(), xn, nt, 0, n_out / 16, y0.data(), n_out);
    repack::avx512vnni::gemm(*p, a.data(), ab, aux.data(), xn, nt, 0, n_out / 16, y1.data(), n_out);
    repack::avx512vnni::gemm_rowgroup(*p, a.data(), ab, aux.data(), xn, nt, 0, n_out / 16, y2.data(), n_out);
    EXPECT_EQ(std::memcmp(y0.data(), y1.data(), y0.size() * 4), 0);
    EXPECT_EQ(std::memcmp(y0.data(), y2.data(), y0.size() * 4), 0);
  }
}
