// repack::pack() (the AVX-512 or AVX2 packer, the best the CPU has) and every
// SIMD packer the CPU can run (repack::pack_using) byte for byte against
// repack::pack_portable(), the straightforward packer (decode each row's block,
// then interleave element by element; the kernels' tests read its layout back
// against the unpacked rows): all six packable types, random bits
// (every code and scale pattern) and real quantized rows, several shapes
// including tails (1..5 blocks, Q8_0/Q4_0 block counts not a multiple of the
// SIMD packer's step), row padding, the thread-pool split, and every packable
// tensor of the llama.cpp-quantized facts model.
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <vector>

#include "format/gguf.h"
#include "kernels/qdot.h"
#include "kernels/repack.h"
#include "tensor/quants.h"
#include "../test_paths.h"
#include "util/error.h"
#include "util/thread_pool.h"

using namespace larql;

namespace {

constexpr int R = repack::kRows;

// ---- inputs ----
const GGMLType kTypes[] = {GGMLType::Q8_0, GGMLType::Q4_0, GGMLType::Q5_0, GGMLType::Q4_K, GGMLType::Q5_K, GGMLType::Q6_K};
int blk(GGMLType t) { return (t == GGMLType::Q8_0 || t == GGMLType::Q4_0 || t == GGMLType::Q5_0) ? 32 : 256; }

// n_out rows of n_in, row_bytes apart (>= the row size: padding bytes are noise).
std::vector<uint8_t> weights(GGMLType t, int64_t n_in, int64_t n_out, uint64_t row_bytes, uint32_t seed, bool random_bits) {
  std::mt19937 g(seed);
  std::vector<uint8_t> w(row_bytes * uint64_t(n_out));
  for (auto& b : w) b = uint8_t(g());
  if (!random_bits) {
    std::normal_distribution<float> d(0.f, 1.f);
    std::vector<float> row(static_cast<size_t>(n_in));
    for (int64_t r = 0; r < n_out; ++r) {
      for (auto& v : row) v = d(g) * (1.f + float(r % 5));
      quantize_row(t, row.data(), w.data() + row_bytes * uint64_t(r), n_in);
    }
  }
  return w;
}

void expect_same(const WeightView& v, const repack::Packed& p, const char* what) {
  const int be = blk(v.type);
  const int64_t nb = v.n_in / be;
  const size_t mb[] = {32, 32, 32, 320, 320, 288}, cb[] = {512, 256, 320, 2048, 2560, 3072};
  const size_t ti = v.type == GGMLType::Q8_0 ? 0 : v.type == GGMLType::Q4_0 ? 1 : v.type == GGMLType::Q5_0 ? 2
                    : v.type == GGMLType::Q4_K ? 3 : v.type == GGMLType::Q5_K ? 4 : 5;
  const size_t pm = (2 * mb[ti] + 63) / 64 * 64, pb = pm + 2 * cb[ti];
  ASSERT_EQ(p.blk.mb, mb[ti]);
  ASSERT_EQ(p.blk.cb, cb[ti]);
  ASSERT_EQ(p.blk.pm, pm);
  ASSERT_EQ(p.blk.pb, pb);
  ASSERT_EQ(p.group_bytes, size_t(nb / 2) * pb + (nb % 2 ? pm + cb[ti] : 0));  // an odd last block: half a pair
  ASSERT_EQ(p.bytes, p.group_bytes * size_t(v.n_out / R));
  for (int64_t b = 0; b < nb; ++b) {  // one stream: each block's scales, then codes, after the previous block's
    ASSERT_EQ(p.blk.meta(b), size_t(b / 2) * pb + size_t(b % 2) * mb[ti]);
    ASSERT_EQ(p.blk.codes(b), size_t(b / 2) * pb + pm + size_t(b % 2) * cb[ti]);
  }
  const auto rp = repack::pack_portable(v);
  const uint8_t* ref = rp->data;
  // Bytes between a pair's scale records and its codes are padding nobody reads.
  for (size_t i = 0; i < p.bytes; ++i) {
    const size_t in_group = i % p.group_bytes, pair = in_group / pb, in_pair = in_group % pb;
    const size_t records = pair == size_t(nb / 2) ? 1 : 2;
    if (in_pair >= records * mb[ti] && in_pair < pm) continue;
    if (p.data[i] != ref[i]) {
      ADD_FAILURE() << what << ": " << ggml_type_name(uint32_t(v.type)) << " " << v.n_in << "x" << v.n_out
                    << " first differing byte " << i << " (group " << i / p.group_bytes << ", offset " << in_group
                    << "): got " << int(p.data[i]) << " want " << int(ref[i]);
      return;
    }
  }
}

void check(GGMLType t, int64_t nblocks, int64_t n_out, bool random_bits, uint64_t pad, ThreadPool* pool, uint32_t seed) {
  const int64_t n_in = nblocks * blk(t);
  const uint64_t rb = ggml_row_size(t, uint64_t(n_in)) + pad;
  auto w = weights(t, n_in, n_out, rb, seed, random_bits);
  const WeightView v{t, w.data(), n_in, n_out, rb};
  auto p = repack::pack(v, pool);
  expect_same(v, *p, random_bits ? "random bits" : "quantized rows");
  for (qdot::Isa f : {qdot::Isa::Avx2, qdot::Isa::Avx512})
    if (auto q = repack::pack_using(v, f, pool)) expect_same(v, *q, qdot::isa_name(f));
}

TEST(RepackPack, SimdPackersRun) {  // says which packers the byte comparisons covered here
#if defined(__clang__)
  constexpr bool kSimdBuilt = false;  // the SIMD packers are built by GCC only
#else
  constexpr bool kSimdBuilt = true;
#endif
  bool any = false;
  for (qdot::Isa f : {qdot::Isa::Avx2, qdot::Isa::Avx512}) {
    std::vector<uint8_t> w(16 * 34, 1);
    const bool runs = repack::pack_using(WeightView{GGMLType::Q8_0, w.data(), 32, 16, 34}, f) != nullptr;
    EXPECT_EQ(runs, kSimdBuilt && qdot::isa_available(f)) << qdot::isa_name(f);
    any = any || runs;
  }
  if (!any) GTEST_SKIP() << "no SIMD packer on this CPU/build: only the portable packer was compared";
}

TEST(RepackPack, ByteIdenticalToReference) {
  uint32_t seed = 1;
  for (GGMLType t : kTypes)
    for (int64_t nb : {1, 2, 3, 4, 5, 8})
      for (int64_t n_out : {16, 48})
        for (bool random_bits : {true, false}) check(t, nb, n_out, random_bits, 0, nullptr, seed++);
}

TEST(RepackPack, PaddedRowsAndThreadPool) {
  ThreadPool pool(3);
  uint32_t seed = 100;
  for (GGMLType t : kTypes) {
    check(t, 3, 64, true, 7, nullptr, seed++);   // rows not block-aligned in memory
    check(t, 7, 160, false, 0, &pool, seed++);  // groups split over threads
    check(t, 2, 32, true, 0, &pool, seed++);
  }
}

// Every packable tensor of a model quantized by llama.cpp (Q4_K, Q6_K, Q8_0 ...).
TEST(RepackPack, FactsModelTensors) {
  LARQL_REQUIRE_FIXTURES();
  int packed = 0;
  for (const char* name : {"facts-Q4_K_M.gguf", "facts-Q8_0.gguf"}) {
    auto f = gguf::File::open(test::fixtures_dir() + "/models/facts/" + name);
    for (const auto& ti : f->tensors()) {
      const int64_t n_in = ti.ne[0], n_out = ti.rows();
      if (!repack::packable(ti.type, n_in, n_out)) continue;
      const WeightView v{ti.type, ti.data, n_in, n_out, ggml_row_size(ti.type, uint64_t(n_in))};
      auto p = repack::pack(v);
      expect_same(v, *p, ti.name.c_str());
      if (auto q = repack::pack_using(v, qdot::Isa::Avx2)) expect_same(v, *q, ti.name.c_str());
      ++packed;
    }
  }
  EXPECT_GT(packed, 4);
}

TEST(RepackPack, RejectsUnpackable) {
  std::vector<uint8_t> w(4096);
  EXPECT_THROW(repack::pack(WeightView{GGMLType::Q4_K, w.data(), 256, 8, 144}), Error);     // 8 rows
  EXPECT_THROW(repack::pack(WeightView{GGMLType::Q8_0, w.data(), 48, 16, 51}), Error);      // part block
  EXPECT_THROW(repack::pack(WeightView{GGMLType::F32, w.data(), 16, 16, 64}), Error);       // type
}

}  // namespace
