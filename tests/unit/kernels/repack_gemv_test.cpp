// The one-token packed kernels (repack::avx512vnni::gemv, and the shared gemm
// with nt = 1) against the sequential-order scalar reference
// qdot::dot_seq_scalar, bit for bit: Q4_K / Q5_K / Q6_K / Q8_0 / Q4_0 / Q5_0, random bit patterns and
// real quantized rows, saturating activations, 1..5 blocks per row (odd counts
// end on half a block pair), group counts and sub-ranges [g0, g1) starting on odd
// groups (Q6_K's two-half pass with one or more groups per half, and its
// one-group tail), plus the repack::gemm dispatcher.
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

const GGMLType kTypes[] = {GGMLType::Q4_K, GGMLType::Q5_K, GGMLType::Q6_K, GGMLType::Q8_0, GGMLType::Q4_0, GGMLType::Q5_0};

// Elements per row for nbk "units": K-quants whole 256-blocks; Q8_0 / Q4_0 three
// 32-blocks per unit, so most rows are not a multiple of 256.
int64_t row_elems(GGMLType t, int nbk) {
  return (t == GGMLType::Q8_0 || t == GGMLType::Q4_0 || t == GGMLType::Q5_0) ? 96 * nbk : 256 * nbk;
}

// n_out rows of n_in: random bytes with sane fp16 scales, or real quantized rows.
std::vector<uint8_t> weights(GGMLType t, int64_t n_in, int64_t n_out, uint32_t seed, bool random_bits) {
  return test::weights(t, n_in, n_out, seed, random_bits ? test::Fill::RandomBits : test::Fill::Real);
}

enum class Path { Gemv, GemmNt1, Dispatch };

void check(Path path, GGMLType t, int64_t n_in, int64_t n_out, int64_t g0, int64_t g1, uint32_t seed, bool rb,
           bool sat) {
  auto w = weights(t, n_in, n_out, seed, rb);
  const uint64_t rbytes = ggml_row_size(t, uint64_t(n_in));
  auto p = repack::pack(WeightView{t, w.data(), n_in, n_out, rbytes});
  std::mt19937 g(seed + 11);
  std::normal_distribution<float> d(0.f, 2.f);
  std::vector<float> x(static_cast<size_t>(n_in));
  for (auto& v : x) v = sat ? ((g() & 1) ? 3.f : -3.f) : d(g);
  std::vector<uint8_t> a(qdot::act_bytes(t, n_in));
  qdot::quantize_act(t, x.data(), n_in, a.data());
  std::vector<int32_t> aux(repack::aux_count(t, n_in));
  repack::act_aux(t, a.data(), n_in, aux.data());
  std::vector<float> y(static_cast<size_t>(n_out), -7.f);
  switch (path) {
    case Path::Gemv: repack::avx512vnni::gemv(*p, a.data(), aux.data(), g0, g1, y.data()); break;
    case Path::GemmNt1: repack::avx512vnni::gemm(*p, a.data(), 0, aux.data(), 0, 1, g0, g1, y.data(), n_out); break;
    case Path::Dispatch:
      repack::gemm(qdot::Isa::Avx512Vnni, *p, a.data(), 0, aux.data(), 0, 1, g0, g1, y.data(), n_out);
      break;
  }
  for (int64_t r = 0; r < n_out; ++r) {
    const float got = y[size_t(r)];
    if (r < g0 * repack::kRows || r >= g1 * repack::kRows) {
      ASSERT_EQ(got, -7.f) << "row " << r << " outside [g0, g1) was written";
      continue;
    }
    const float ref = qdot::dot_seq_scalar(t, w.data() + rbytes * uint64_t(r), a.data(), n_in);
    ASSERT_EQ(std::memcmp(&ref, &got, 4), 0) << "path " << int(path) << " " << ggml_type_name(uint32_t(t))
                                             << " n_in=" << n_in << " n_out=" << n_out << " g0=" << g0 << " g1=" << g1
                                             << " row " << r << ": " << got << " vs " << ref;
  }
}

void check_all(Path path) {
  uint32_t seed = 100;
  for (GGMLType t : kTypes)
    for (int nbk : {1, 2, 3, 5})
      for (int64_t ng : {1, 2, 3, 4, 5, 7, 8, 13}) {
        const bool rb = seed % 2 == 0, sat = seed % 5 == 0;
        check(path, t, row_elems(t, nbk), 16 * ng, 0, ng, seed++, rb, sat);
        if (::testing::Test::HasFatalFailure()) return;
        if (ng >= 3) check(path, t, row_elems(t, nbk), 16 * ng, 1, ng - (ng % 2), seed++, !rb, !sat);  // odd start
        if (::testing::Test::HasFatalFailure()) return;
      }
}

bool vnni() { return qdot::isa_available(qdot::Isa::Avx512Vnni) && repack::avx512vnni::gemv_handles(GGMLType::Q4_K); }

}  // namespace

TEST(RepackGemv, HandlesEveryPackableType) {
  if (!vnni()) GTEST_SKIP() << "CPU lacks AVX-512 VNNI (or clang build)";
  for (GGMLType t : kTypes) EXPECT_TRUE(repack::avx512vnni::gemv_handles(t));
  EXPECT_FALSE(repack::avx512vnni::gemv_handles(GGMLType::F32));
}

TEST(RepackGemv, GemvMatchesSequentialReference) {
  if (!vnni()) GTEST_SKIP() << "CPU lacks AVX-512 VNNI (or clang build)";
  check_all(Path::Gemv);
}

TEST(RepackGemv, SharedGemmOneTokenMatchesSequentialReference) {
  if (!vnni()) GTEST_SKIP() << "CPU lacks AVX-512 VNNI (or clang build)";
  check_all(Path::GemmNt1);
}

TEST(RepackGemv, DispatcherOneTokenMatchesSequentialReference) {
  if (!vnni()) GTEST_SKIP() << "CPU lacks AVX-512 VNNI (or clang build)";
  check_all(Path::Dispatch);
}

// The one-token kernels prefetch share_step's bytes of every block, in 1, 8 or
// 16 steps per block: those spans must tile each group's stream (scale records
// included), or some lines come on demand. An odd block count leaves the last
// pm / 2 bytes (its trailing block is pm + cb long, not half a pair).
TEST(RepackGemv, PrefetchStepsTileEachGroup) {
  for (GGMLType t : kTypes)
    for (int nbk : {1, 2, 3, 5, 8})
      for (int steps : {1, 8, 16}) {
        const int64_t n_in = row_elems(t, nbk);
        auto w = weights(t, n_in, 32, 5, true);
        auto p = repack::pack(WeightView{t, w.data(), n_in, 32, ggml_row_size(t, uint64_t(n_in))});
        ASSERT_TRUE(p);
        const int64_t nb = n_in / ((t == GGMLType::Q8_0 || t == GGMLType::Q4_0 || t == GGMLType::Q5_0) ? 32 : 256);
        size_t next = 0;
        for (int64_t b = 0; b < nb; ++b)
          for (int k = 0; k < steps; ++k) {
            const repack::ShareStep s = repack::share_step(p->blk, b, k, steps);
            ASSERT_EQ(s.first, next) << ggml_type_name(uint32_t(t)) << " block " << b << " step " << k << " of " << steps;
            ASSERT_GT(s.bytes, 0u);
            next = s.first + s.bytes;
          }
        const size_t tail = nb % 2 ? p->blk.pm / 2 : 0;
        EXPECT_EQ(next + tail, p->group_bytes) << ggml_type_name(uint32_t(t)) << " " << nb << " blocks, " << steps << " steps";
      }
}
