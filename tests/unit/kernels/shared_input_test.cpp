// SharedInput: products reading one input through it give exactly the bits of
// separate matmul() calls (several weight types, packed and row-major, 1..70
// tokens); write_rows() quantizes as it writes and later products reuse those
// activations instead of quantizing again; a width mismatch is an error.
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <vector>

#include "kernels/matmul.h"
#include "kernels/repack.h"
#include "repack_test_data.h"
#include "tensor/quants.h"
#include "util/error.h"
#include "util/thread_pool.h"

using namespace larql;

namespace {

struct Matrix {
  std::vector<uint8_t> bytes;
  std::unique_ptr<repack::Packed> packed;
  WeightView view;
};

Matrix make(GGMLType t, int64_t n_in, int64_t n_out, uint32_t seed, bool pack, ThreadPool& pool) {
  Matrix m;
  if (t == GGMLType::F32 || t == GGMLType::F16) {
    std::mt19937 g(seed);
    std::normal_distribution<float> d(0.f, 1.f);
    std::vector<float> f(size_t(n_in * n_out));
    for (auto& e : f) e = d(g);
    m.bytes.resize(ggml_row_size(t, uint64_t(n_in)) * uint64_t(n_out));
    for (int64_t r = 0; r < n_out; ++r)
      quantize_row(t, f.data() + r * n_in, m.bytes.data() + ggml_row_size(t, uint64_t(n_in)) * uint64_t(r), n_in);
  } else {
    m.bytes = test::weights(t, n_in, n_out, seed, test::Fill::Real);
  }
  m.view = WeightView{t, m.bytes.data(), n_in, n_out, ggml_row_size(t, uint64_t(n_in))};
  if (pack && repack::packable(t, n_in, n_out)) {
    m.packed = repack::pack(m.view, &pool);
    m.view.packed = m.packed.get();
  }
  return m;
}

std::vector<float> input(int64_t n_in, int nt, uint32_t seed) {
  std::mt19937 g(seed);
  std::normal_distribution<float> d(0.f, 1.f);
  std::vector<float> x(size_t(n_in * nt));
  for (auto& e : x) e = d(g);
  return x;
}

bool same(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * 4) == 0;
}

}  // namespace

// q/k/v-like products of different weight types (two share Q8_K activations,
// Q4_0 uses Q8_0's, F16 and F32 read converted or plain floats), one input.
TEST(SharedInput, SameBitsAsSeparateProducts) {
  ThreadPool pool(2);
  const int64_t n_in = 512, n_out = 48;
  const GGMLType types[] = {GGMLType::Q4_K, GGMLType::Q6_K, GGMLType::Q4_0, GGMLType::Q8_0, GGMLType::F16, GGMLType::F32};
  for (bool pack : {false, true})
    for (int nt : {1, 3, 4, 70}) {
      std::vector<Matrix> ms;
      for (GGMLType t : types) ms.push_back(make(t, n_in, n_out, uint32_t(nt * 10 + ms.size()), pack, pool));
      const auto x = input(n_in, nt, uint32_t(nt));
      SharedInput in;
      in.reset(x.data(), nt, n_in);
      for (const Matrix& m : ms) {
        std::vector<float> y0(size_t(n_out * nt)), y1(y0.size());
        matmul(m.view, x.data(), nt, y0.data(), pool);
        matmul(m.view, in, y1.data(), pool);
        EXPECT_TRUE(same(y0, y1)) << ggml_type_name(uint32_t(m.view.type)) << " nt=" << nt << " packed=" << pack;
      }
    }
}

// write_rows() runs the producer and the quantization row by row; the products
// then read those activations: they match a product on the finished floats,
// and overwriting the floats afterwards no longer changes a quantized product.
TEST(SharedInput, WriteRowsQuantizesOnceForAllReaders) {
  ThreadPool pool(2);
  const int64_t n_in = 256, n_out = 32;
  for (int nt : {1, 5}) {
    Matrix q = make(GGMLType::Q4_K, n_in, n_out, 3, true, pool);
    Matrix v = make(GGMLType::Q6_K, n_in, n_out, 4, false, pool);
    const auto src = input(n_in, nt, 9);
    std::vector<float> h(src.size(), 0.f);
    SharedInput in;
    in.reset(h.data(), nt, n_in);
    in.write_rows(GGMLType::Q4_K, pool, [&](int64_t t) {
      for (int64_t i = 0; i < n_in; ++i) h[size_t(t * n_in + i)] = 2.f * src[size_t(t * n_in + i)];
    });
    std::vector<float> ref_q(size_t(n_out * nt)), ref_v(ref_q.size()), yq(ref_q.size()), yv(ref_q.size());
    matmul(q.view, h.data(), nt, ref_q.data(), pool);
    matmul(v.view, h.data(), nt, ref_v.data(), pool);
    std::fill(h.begin(), h.end(), 100.f);  // the shared activations were made before this
    matmul(q.view, in, yq.data(), pool);
    matmul(v.view, in, yv.data(), pool);  // same Q8_K activations, its own corrections
    EXPECT_TRUE(same(ref_q, yq)) << "nt=" << nt;
    EXPECT_TRUE(same(ref_v, yv)) << "nt=" << nt;
    // reset() forgets them: the next product quantizes the new contents.
    in.reset(h.data(), nt, n_in);
    matmul(q.view, in, yq.data(), pool);
    EXPECT_FALSE(same(ref_q, yq));
  }
}

TEST(SharedInput, WidthMismatchIsAnError) {
  ThreadPool pool(1);
  Matrix m = make(GGMLType::Q8_0, 64, 16, 1, false, pool);
  std::vector<float> x(128, 1.f), y(16);
  SharedInput in;
  in.reset(x.data(), 1, 128);
  EXPECT_THROW(matmul(m.view, in, y.data(), pool), Error);
}
