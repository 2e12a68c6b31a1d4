// The row-interleaved (repacked) kernels against the sequential-order scalar
// reference qdot::dot_seq_scalar, bit for bit: random bit patterns and real
// quantized rows, saturating activations, 1..11 tokens, 1..3 blocks per row;
// the scalar reader of the packed layout and the AVX-512 VNNI kernels alike;
// and matmul() with and without the packed copy.
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <vector>

#include "kernels/matmul.h"
#include "kernels/qdot.h"
#include "kernels/repack.h"
#include "repack_test_data.h"
#include "tensor/quants.h"
#include "util/error.h"
#include "util/thread_pool.h"

using namespace larql;

namespace {

const GGMLType kTypes[] = {GGMLType::Q8_0, GGMLType::Q4_0, GGMLType::Q4_K, GGMLType::Q5_K, GGMLType::Q6_K};
// Plus Q5_0, packed only for routed experts (plain Q5_0 products keep ggml's order).
const GGMLType kPackTypes[] = {GGMLType::Q8_0, GGMLType::Q4_0, GGMLType::Q5_0, GGMLType::Q4_K, GGMLType::Q5_K,
                               GGMLType::Q6_K};

int blk(GGMLType t) { return (t == GGMLType::Q8_0 || t == GGMLType::Q4_0 || t == GGMLType::Q5_0) ? 32 : 256; }

// n_out rows of n_in: random bytes with sane fp16 scales, or real quantized rows.
std::vector<uint8_t> weights(GGMLType t, int64_t n_in, int64_t n_out, uint32_t seed, bool random_bits) {
  return test::weights(t, n_in, n_out, seed, random_bits ? test::Fill::RandomBits : test::Fill::Real);
}

std::vector<uint8_t> acts(GGMLType t, int64_t n_in, int nt, uint32_t seed, bool saturate, size_t* ab) {
  std::mt19937 g(seed);
  std::normal_distribution<float> d(0.f, 2.f);
  *ab = qdot::act_bytes(t, n_in);
  std::vector<uint8_t> a(*ab * size_t(nt));
  std::vector<float> x(static_cast<size_t>(n_in));
  for (int k = 0; k < nt; ++k) {
    for (auto& v : x) v = saturate ? ((g() & 1) ? 3.f : -3.f) : d(g);
    qdot::quantize_act(t, x.data(), n_in, a.data() + *ab * size_t(k));
  }
  return a;
}

void check_family(qdot::Isa f, GGMLType t, int64_t n_in, int64_t n_out, int nt, uint32_t seed, bool rb, bool sat) {
  auto w = weights(t, n_in, n_out, seed, rb);
  const uint64_t rbytes = ggml_row_size(t, uint64_t(n_in));
  WeightView v{t, w.data(), n_in, n_out, rbytes};
  ASSERT_TRUE(repack::packable(t, n_in, n_out));
  auto p = repack::pack(v);
  size_t ab;
  auto a = acts(t, n_in, nt, seed + 7, sat, &ab);
  const size_t xn = repack::aux_count(t, n_in);
  std::vector<int32_t> aux(xn * size_t(nt));
  for (int k = 0; k < nt; ++k) repack::act_aux(t, a.data() + ab * size_t(k), n_in, aux.data() + xn * size_t(k));
  std::vector<float> y(size_t(n_out) * size_t(nt), -1.f);
  repack::gemm(f, *p, a.data(), ab, aux.data(), xn, nt, 0, n_out / repack::kRows, y.data(), n_out);
  for (int k = 0; k < nt; ++k)
    for (int64_t r = 0; r < n_out; ++r) {
      const float ref = qdot::dot_seq_scalar(t, w.data() + rbytes * uint64_t(r), a.data() + ab * size_t(k), n_in);
      const float got = y[size_t(k * n_out + r)];
      ASSERT_EQ(std::memcmp(&ref, &got, 4), 0)
          << qdot::isa_name(f) << " " << ggml_type_name(uint32_t(t)) << " n_in=" << n_in << " n_out=" << n_out
          << " nt=" << nt << " row " << r << " token " << k << ": " << got << " vs " << ref;
    }
}

void check_all(qdot::Isa f) {
  uint32_t seed = 1;
  for (GGMLType t : kPackTypes)
    for (int nbk : {1, 2, 3})
      for (int64_t n_out : {16, 32, 48})
        for (int nt : {1, 2, 3, 4, 5, 8, 11}) {
          const bool rb = (seed % 2) == 0, sat = (seed % 5) == 0;
          check_family(f, t, nbk * blk(t), n_out, nt, seed++, rb, sat);
          if (::testing::Test::HasFatalFailure()) return;
        }
}

}  // namespace

TEST(Repack, ScalarReaderMatchesSequentialReference) { check_all(qdot::Isa::Scalar); }

TEST(Repack, Avx512VnniMatchesSequentialReference) {
  if (!qdot::isa_available(qdot::Isa::Avx512Vnni)) GTEST_SKIP() << "CPU lacks AVX-512 VNNI (or clang build)";
  check_all(qdot::Isa::Avx512Vnni);
}

TEST(Repack, PackableShapesAndTypes) {
  EXPECT_TRUE(repack::packable(GGMLType::Q4_K, 256, 32));
  EXPECT_TRUE(repack::packable(GGMLType::Q4_K, 256, 48));
  EXPECT_FALSE(repack::packable(GGMLType::Q8_0, 32, 40));  // not whole groups of 16 rows
  EXPECT_TRUE(repack::packable(GGMLType::Q5_0, 32, 32));
  EXPECT_FALSE(repack::packable(GGMLType::Q5_1, 32, 32));
  EXPECT_FALSE(repack::packable(GGMLType::F32, 32, 32));
  EXPECT_FALSE(repack::packable(GGMLType::Q6_K, 100, 32));
  WeightView v{GGMLType::Q4_0, nullptr, 64, 40, 36};
  EXPECT_THROW(repack::pack(v), Error);
}

// matmul() over a view carrying its packed copy equals the row-major sequential
// path exactly; a slice of the view (other data or rows) ignores the copy.
TEST(Repack, MatmulUsesPackedCopyWithSameBits) {
  ThreadPool pool(2);
  for (GGMLType t : kTypes)
    for (int nt : {1, 3, 4, 9, 70}) {
      const int64_t n_in = 2 * blk(t), n_out = 64;
      auto w = weights(t, n_in, n_out, 40 + nt, nt % 2 == 0);
      WeightView v{t, w.data(), n_in, n_out, ggml_row_size(t, uint64_t(n_in))};
      auto p = repack::pack(v, &pool);
      WeightView pv = v;
      pv.packed = p.get();
      ASSERT_TRUE(repack::matches(pv.packed, pv));
      std::mt19937 g(nt);
      std::normal_distribution<float> d(0.f, 1.f);
      std::vector<float> x(size_t(n_in * nt));
      for (auto& e : x) e = d(g);
      std::vector<float> y0(size_t(n_out * nt)), y1(y0.size());
      matmul(v, x.data(), nt, y0.data(), pool);
      matmul(pv, x.data(), nt, y1.data(), pool);
      ASSERT_EQ(std::memcmp(y0.data(), y1.data(), y0.size() * 4), 0) << ggml_type_name(uint32_t(t)) << " nt=" << nt;
      WeightView slice = pv;
      slice.data += slice.row_bytes * 32;
      slice.n_out = 32;
      EXPECT_FALSE(repack::matches(slice.packed, slice));
    }
}
