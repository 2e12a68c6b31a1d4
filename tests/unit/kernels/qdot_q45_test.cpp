// Q5_0 / Q4_1 / Q5_1 SIMD kernels: every family bit for bit equal to the scalar
// reference (ggml's vec_dot lane order), over random blocks with all-ones / zero
// fifth bits, extreme fp16 scales, odd block counts and 1..19 activation rows;
// and the scalar reference itself against an independent float64 dot product.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "format/ggml_types.h"
#include "kernels/qdot.h"
#include "tensor/quants.h"
#include "tensor/quants_impl.h"  // load_half / store_half

using namespace larql;
using larql::quant::store_half;

namespace {

const GGMLType kTypes[] = {GGMLType::Q5_0, GGMLType::Q4_1, GGMLType::Q5_1};

// Weight-row patterns: 0 random; 1 qh all ones; 2 qh zero; 3 extreme scales
// (fp16 max / subnormal / negative); 4 quantized from real floats.
std::vector<uint8_t> make_weights(GGMLType t, int64_t n, int mode, std::mt19937& g) {
  const size_t bs = ggml_type_traits(uint32_t(t))->type_size;
  std::vector<uint8_t> w(ggml_row_size(t, uint64_t(n)));
  if (mode == 4 && t == GGMLType::Q5_0) {  // the only one of the three with an encoder
    std::normal_distribution<float> d(0.f, 1.f);
    std::vector<float> f(static_cast<size_t>(n));
    for (auto& v : f) v = d(g);
    quantize_row(t, f.data(), w.data(), n);
    return w;
  }
  for (auto& b : w) b = uint8_t(g());
  const bool has_m = t != GGMLType::Q5_0;
  const size_t qh_off = t == GGMLType::Q5_0 ? 2 : 4;
  const uint16_t extreme[] = {0x7BFF, 0xFBFF, 0x0001, 0x8001, 0x3C00, 0x0000};
  for (size_t blk = 0; blk < w.size() / bs; ++blk) {
    uint8_t* p = w.data() + blk * bs;
    auto put = [&](size_t off, uint16_t h) { std::memcpy(p + off, &h, 2); };
    put(0, mode == 3 ? extreme[g() % 6] : uint16_t(0x2E66 | ((g() & 1) << 15)));  // ~±0.1
    if (has_m) put(2, mode == 3 ? extreme[g() % 6] : uint16_t(0x2E66 | ((g() & 1) << 15)));
    if (t != GGMLType::Q4_1 && (mode == 1 || mode == 2)) std::memset(p + qh_off, mode == 1 ? 0xFF : 0x00, 4);
  }
  return w;
}

// nt activation rows: random codes in [-127, 127] (saturated when sat) with sane
// scales; Q8_1's s is d * sum(codes) as quantize_act stores it.
std::vector<uint8_t> make_acts(GGMLType t, int64_t n, int nt, bool sat, std::mt19937& g) {
  const size_t ab = qdot::act_bytes(t, n);
  const bool q81 = qdot::act_type(t) == GGMLType::Q8_1;
  const size_t bs = q81 ? 36 : 34, qoff = q81 ? 4 : 2;
  std::vector<uint8_t> a(ab * size_t(nt));
  for (int k = 0; k < nt; ++k)
    for (int64_t blk = 0; blk < n / 32; ++blk) {
      uint8_t* p = a.data() + ab * size_t(k) + size_t(blk) * bs;
      const float d = 0.01f + 0.05f * float(g() % 100) / 100.f;
      store_half(p, d);
      int sum = 0;
      for (int j = 0; j < 32; ++j) {
        const int v = sat ? ((g() & 1) ? 127 : -127) : int(g() % 255) - 127;
        p[qoff + size_t(j)] = uint8_t(int8_t(v));
        sum += v;
      }
      if (q81) store_half(p + 2, d * float(sum));
    }
  return a;
}

std::vector<qdot::Isa> families() {
  std::vector<qdot::Isa> v;
  for (auto f : {qdot::Isa::Scalar, qdot::Isa::Avx2, qdot::Isa::Avx512, qdot::Isa::Avx512Vnni})
    if (qdot::isa_available(f)) v.push_back(f);
  return v;
}

uint32_t bits(float f) { uint32_t u; std::memcpy(&u, &f, 4); return u; }

}  // namespace

TEST(QDotQ45, EveryFamilyBitIdenticalToScalar) {
  std::mt19937 g(5);
  int checked = 0;
  for (GGMLType t : kTypes)
    for (int64_t n : {32, 96, 1408, 2048, 32 * 65})  // 1, 3, 44, 64, 65 blocks
      for (int nt : {1, 3, 4, 8, 13, 19})
        for (int mode = 0; mode < 5; ++mode) {
          const auto w = make_weights(t, n, mode, g);
          const auto a = make_acts(t, n, nt, mode == 2, g);
          const size_t ab = qdot::act_bytes(t, n);
          for (auto f : families()) {
            std::vector<float> got(size_t(nt), NAN);
            qdot::dot_rows(f, t, w.data(), a.data(), ab, n, nt, got.data());
            for (int k = 0; k < nt; ++k) {
              const float ref = qdot::dot_scalar(t, w.data(), a.data() + ab * size_t(k), n);
              ASSERT_TRUE(std::isfinite(ref));
              EXPECT_EQ(bits(got[size_t(k)]), bits(ref))
                  << ggml_type_name(uint32_t(t)) << " " << qdot::isa_name(f) << " n=" << n << " nt=" << nt
                  << " k=" << k << " mode=" << mode << " got " << got[size_t(k)] << " want " << ref;
            }
            ++checked;
          }
        }
  EXPECT_GT(checked, 0);
  if (families().size() == 1) GTEST_SKIP() << "no SIMD family on this CPU: only the scalar path was checked";
}

// The scalar reference against an independent float64 evaluation of the block
// formulas: sum_b d_w*d_a*sum(q*a) (+ m*s for the types with a min), with the
// codes decoded here bit by bit.
TEST(QDotQ45, ScalarMatchesFloat64Reference) {
  std::mt19937 g(9);
  for (GGMLType t : kTypes)
    for (int mode : {0, 1, 2, 3, 4}) {
      const int64_t n = 1408;
      const auto w = make_weights(t, n, mode, g);
      const auto a = make_acts(t, n, 1, false, g);
      const size_t wbs = ggml_type_traits(uint32_t(t))->type_size;
      const bool min = t != GGMLType::Q5_0, five = t != GGMLType::Q4_1;
      const size_t abs_ = min ? 36 : 34, aq = min ? 4 : 2, wq = t == GGMLType::Q5_1 ? 8 : t == GGMLType::Q5_0 ? 6 : 4;
      double ref = 0, mag = 0;
      for (int64_t b = 0; b < n / 32; ++b) {
        const uint8_t* x = w.data() + size_t(b) * wbs;
        const uint8_t* y = a.data() + size_t(b) * abs_;
        uint32_t qh = 0;
        if (five) std::memcpy(&qh, x + (min ? 4 : 2), 4);
        double s = 0, sa = 0;
        for (int j = 0; j < 32; ++j) {
          const int nib = j < 16 ? (x[wq + size_t(j)] & 15) : (x[wq + size_t(j - 16)] >> 4);
          const int q = (nib | int((qh >> j) & 1) << 4) - (min ? 0 : 16);
          const int v = int8_t(y[aq + size_t(j)]);
          s += double(q) * v;
          sa += std::fabs(double(q) * v);
        }
        const double dd = double(quant::load_half(x)) * quant::load_half(y);
        ref += dd * s;
        mag += std::fabs(dd) * sa;
        if (min) {
          const double ms = double(quant::load_half(x + 2)) * quant::load_half(y + 2);
          ref += ms;
          mag += std::fabs(ms);
        }
      }
      EXPECT_NEAR(qdot::dot_scalar(t, w.data(), a.data(), n), ref, 1e-6 * mag + 1e-30)
          << ggml_type_name(uint32_t(t)) << " mode=" << mode;
    }
}

// One hand-computed Q5_0 block: codes q - 16 with the fifth bit from qh.
TEST(QDotQ45, Q5_0HandComputed) {
  uint8_t w[22] = {};
  store_half(w, 0.5f);
  const uint32_t qh = 0x80000001u;  // bit 0 (element 0) and bit 31 (element 31)
  std::memcpy(w + 2, &qh, 4);
  for (int j = 0; j < 16; ++j) w[6 + j] = uint8_t((j & 0x0F) | (15 - j) << 4);
  uint8_t a[34] = {};
  store_half(a, 2.0f);
  for (int j = 0; j < 32; ++j) a[2 + j] = uint8_t(int8_t(j - 10));
  long s = 0;
  for (int j = 0; j < 16; ++j) {
    const int q0 = (j | (j == 0 ? 16 : 0)) - 16, q1 = ((15 - j) | (j == 15 ? 16 : 0)) - 16;
    s += long(q0) * (j - 10) + long(q1) * (j + 16 - 10);
  }
  for (auto f : families()) {
    float got;
    qdot::dot_rows(f, GGMLType::Q5_0, w, a, 34, 32, 1, &got);
    EXPECT_EQ(got, float(s)) << qdot::isa_name(f);  // d_w * d_a = 1, S small: exact
  }
}
