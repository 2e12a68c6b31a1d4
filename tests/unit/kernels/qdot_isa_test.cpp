// Every SIMD kernel family against the scalar reference, over random blocks
// (arbitrary bit patterns with sane fp16 scales, and real quantized rows), for
// 1..19 activation rows at once; AVX-512 families must equal AVX2 bit for bit.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "format/ggml_types.h"
#include "kernels/matmul.h"
#include "kernels/qdot.h"
#include "tensor/quants.h"
#include "util/thread_pool.h"

using namespace larql;

namespace {

const GGMLType kTypes[] = {GGMLType::Q8_0, GGMLType::Q4_0, GGMLType::Q4_K, GGMLType::Q5_K, GGMLType::Q6_K};

std::vector<float> randf(size_t n, uint32_t seed, float scale = 1.f) {
  std::mt19937 g(seed);
  std::normal_distribution<float> d(0.f, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = d(g);
  return v;
}

// Random bytes with every fp16 scale set to a small positive value (~0.1).
std::vector<uint8_t> random_blocks(GGMLType t, int64_t n, uint32_t seed) {
  std::mt19937 g(seed);
  const auto tr = *ggml_type_traits(uint32_t(t));
  std::vector<uint8_t> w(ggml_row_size(t, uint64_t(n)));
  for (auto& b : w) b = uint8_t(g());
  for (size_t blk = 0; blk < w.size() / tr.type_size; ++blk) {
    uint8_t* p = w.data() + blk * tr.type_size;
    auto put = [&](size_t off) { p[off] = 0x66; p[off + 1] = 0x2E; };
    if (t == GGMLType::Q4_K || t == GGMLType::Q5_K) { put(0); put(2); }
    else if (t == GGMLType::Q6_K) put(208);
    else put(0);
  }
  return w;
}

struct Case {
  std::vector<uint8_t> w, act;
  size_t ab = 0;
  std::vector<double> mag;  // per activation row: sum |w_i x_i| (scale of float rounding)
};

Case make_case(GGMLType t, int64_t n, int nt, uint32_t seed, bool random_bits, bool saturate) {
  Case c;
  if (random_bits) {
    c.w = random_blocks(t, n, seed);
  } else {
    auto wf = randf(size_t(n), seed);
    c.w.resize(ggml_row_size(t, uint64_t(n)));
    quantize_row(t, wf.data(), c.w.data(), n);
  }
  c.ab = qdot::act_bytes(t, n);
  c.act.resize(c.ab * size_t(nt));
  for (int k = 0; k < nt; ++k) {
    auto x = randf(size_t(n), seed * 31 + uint32_t(k), 1.f + float(k));
    // Every activation at +-max: codes +-127 everywhere (worst case for int16 pair sums).
    if (saturate) for (size_t i = 0; i < x.size(); ++i) x[i] = (i + size_t(k)) % 3 ? 5.f : -5.f;
    qdot::quantize_act(t, x.data(), n, c.act.data() + c.ab * size_t(k));
  }
  std::vector<float> wd(size_t(n), 0.f), xd(size_t(n), 0.f);
  dequantize_row(t, c.w.data(), wd.data(), n);
  for (int k = 0; k < nt; ++k) {
    dequantize_row(qdot::act_type(t), c.act.data() + c.ab * size_t(k), xd.data(), n);
    double m = 0;
    for (int64_t i = 0; i < n; ++i) m += std::fabs(double(wd[size_t(i)]) * xd[size_t(i)]);
    c.mag.push_back(m);
  }
  return c;
}

std::vector<qdot::Isa> simd_families() {
  std::vector<qdot::Isa> v;
  for (auto f : {qdot::Isa::Avx2, qdot::Isa::Avx512, qdot::Isa::Avx512Vnni})
    if (qdot::isa_available(f)) v.push_back(f);
  return v;
}

}  // namespace

TEST(QDotIsa, EveryFamilyMatchesScalar) {
  const auto fams = simd_families();
  if (fams.empty()) GTEST_SKIP() << "no SIMD kernel family on this CPU";
  int checked = 0;
  uint32_t seed = 100;
  for (GGMLType t : kTypes)
    for (int64_t n : {256, 288 * 8, 4096})  // 288*8 = 72 Q8_0 blocks; 256 -> 8 (even), 4096 -> 128
      for (int nt : {1, 3, 4, 8, 13, 19})
        for (int mode = 0; mode < 3; ++mode) {
          const Case c = make_case(t, n, nt, ++seed, mode == 1, mode == 2);
          std::vector<float> ref(size_t(nt), 0.f);
          for (int k = 0; k < nt; ++k) ref[size_t(k)] = qdot::dot_scalar(t, c.w.data(), c.act.data() + c.ab * size_t(k), n);
          std::vector<float> avx2(static_cast<size_t>(nt));
          for (auto f : fams) {
            std::vector<float> got(size_t(nt), NAN);
            qdot::dot_rows(f, t, c.w.data(), c.act.data(), c.ab, n, nt, got.data());
            for (int k = 0; k < nt; ++k) {
              const float r = ref[size_t(k)];
              EXPECT_NEAR(got[size_t(k)], r, 2e-5 * c.mag[size_t(k)] + 1e-6)
                  << ggml_type_name(uint32_t(t)) << " " << qdot::isa_name(f) << " n=" << n << " nt=" << nt << " k=" << k
                  << " mode=" << mode;
            }
            if (f == qdot::Isa::Avx2) {
              avx2 = got;
            } else if (fams.front() == qdot::Isa::Avx2) {
              for (int k = 0; k < nt; ++k)
                EXPECT_EQ(got[size_t(k)], avx2[size_t(k)]) << "not bit-identical to AVX2: " << ggml_type_name(uint32_t(t))
                                                          << " " << qdot::isa_name(f) << " n=" << n << " nt=" << nt;
            }
            ++checked;
          }
        }
  EXPECT_GT(checked, 0);
}

// Odd block counts for the two-blocks-per-register Q8_0/Q4_0 kernels.
TEST(QDotIsa, OddBlockCounts) {
  for (auto f : simd_families())
    for (GGMLType t : {GGMLType::Q8_0, GGMLType::Q4_0})
      for (int64_t n : {32, 96, 32 * 65}) {
        const Case c = make_case(t, n, 5, uint32_t(n), true, false);
        float got[5];
        qdot::dot_rows(f, t, c.w.data(), c.act.data(), c.ab, n, 5, got);
        for (int k = 0; k < 5; ++k) {
          const float r = qdot::dot_scalar(t, c.w.data(), c.act.data() + c.ab * size_t(k), n);
          EXPECT_NEAR(got[k], r, 2e-5 * c.mag[size_t(k)] + 1e-6) << qdot::isa_name(f) << " n=" << n;
        }
      }
}

// The tiled matmul gives exactly the per-(row, token) dot products, for any
// token count (tails of the 8-token groups) and thread split.
TEST(QDotIsa, TiledMatmulEqualsRowDots) {
  ThreadPool pool(2);
  for (GGMLType t : {GGMLType::Q8_0, GGMLType::Q4_K, GGMLType::Q6_K}) {
    const int64_t n_in = 512, n_out = 37;
    std::vector<uint8_t> w;
    for (int64_t r = 0; r < n_out; ++r) {
      auto wf = randf(size_t(n_in), uint32_t(7 + r));
      std::vector<uint8_t> row(ggml_row_size(t, uint64_t(n_in)));
      quantize_row(t, wf.data(), row.data(), n_in);
      w.insert(w.end(), row.begin(), row.end());
    }
    WeightView wv{t, w.data(), n_in, n_out, ggml_row_size(t, uint64_t(n_in))};
    for (int64_t n_tok : {1, 2, 9, 21}) {
      auto x = randf(size_t(n_in * n_tok), uint32_t(n_tok));
      std::vector<float> y(size_t(n_tok * n_out));
      matmul(wv, x.data(), n_tok, y.data(), pool);
      std::vector<uint8_t> a(qdot::act_bytes(t, n_in));
      for (int64_t tk = 0; tk < n_tok; ++tk) {
        qdot::quantize_act(t, x.data() + tk * n_in, n_in, a.data());
        for (int64_t r = 0; r < n_out; ++r)
          ASSERT_EQ(y[size_t(tk * n_out + r)], qdot::dot(t, w.data() + r * wv.row_bytes, a.data(), n_in))
              << ggml_type_name(uint32_t(t)) << " tok " << tk << " row " << r;
      }
    }
  }
}
