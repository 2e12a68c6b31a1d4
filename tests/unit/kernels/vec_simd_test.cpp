// The SIMD SwiGLU gate and activation quantizers (kernels/vec_simd.h) against
// their scalar references, bit for bit.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "kernels/ops.h"
#include "kernels/qdot.h"
#include "kernels/vec_simd.h"
#include "util/cpu.h"

using namespace larql;

namespace {

bool have_avx512() {
  const CpuFeatures& c = cpu_features();
  return c.avx2 && c.fma && c.avx512f && c.avx512bw && c.avx512vl && c.avx512dq;
}
bool have_avx2() { return cpu_features().avx2 && cpu_features().fma; }

// Values that exercise exp's whole range: ordinary, large (overflow to inf and
// underflow to 0 and subnormals inside expf_fast), signed zeros and tiny values.
std::vector<float> gate_values(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.f, 3.f);
  std::uniform_real_distribution<float> wide(-200.f, 200.f);
  std::vector<float> v(n);
  const float special[] = {0.f, -0.f, 1e-30f, -1e-30f, 87.f, -87.f, 88.7f, -88.7f, 103.f, -103.f, 133.f, -133.f,
                           150.f, -150.f, 1e30f, -1e30f, 3.4e38f, -3.4e38f};
  for (size_t i = 0; i < n; ++i) v[i] = i < std::size(special) ? special[i] : (i % 3 ? nd(rng) : wide(rng));
  return v;
}

void expect_same_bits(const std::vector<float>& a, const std::vector<float>& b, const char* what) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    uint32_t x, y;
    std::memcpy(&x, &a[i], 4);
    std::memcpy(&y, &b[i], 4);
    ASSERT_EQ(x, y) << what << " at " << i << ": " << a[i] << " vs " << b[i];
  }
}

TEST(VecSimd, SwigluMatchesScalarBitForBit) {
  for (int64_t n : {1, 7, 8, 15, 16, 17, 100, 8192}) {
    const std::vector<float> g = gate_values(static_cast<size_t>(n), 1u + static_cast<uint32_t>(n));
    const std::vector<float> u = gate_values(static_cast<size_t>(n), 99u + static_cast<uint32_t>(n));
    std::vector<float> ref(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) ref[i] = ops::silu(g[i]) * u[i];
    std::vector<float> out(static_cast<size_t>(n));
    ops::swiglu(g.data(), u.data(), out.data(), n);
    expect_same_bits(ref, out, "dispatched");
    if (have_avx2()) {
      vec::avx2::swiglu(g.data(), u.data(), out.data(), n);
      expect_same_bits(ref, out, "avx2");
    }
    if (have_avx512()) {
      vec::avx512::swiglu(g.data(), u.data(), out.data(), n);
      expect_same_bits(ref, out, "avx512");
    }
    std::vector<float> inplace = g;  // out aliasing g
    ops::swiglu(inplace.data(), u.data(), inplace.data(), n);
    expect_same_bits(ref, inplace, "in place");
  }
  if (!have_avx2()) GTEST_SKIP() << "no AVX2 on this CPU: only the dispatched (scalar) path was checked";
}

// Rows with the cases the reference's choices depend on: the first element of
// largest magnitude sets the sign of the scale (ties of opposite sign), zero
// blocks, a code that lands on exactly .5, and ordinary random data.
std::vector<float> act_row(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.f, 1.f);
  std::vector<float> x(static_cast<size_t>(n));
  for (auto& v : x) v = nd(rng);
  if (n >= 512) {
    for (int i = 0; i < 256; ++i) x[static_cast<size_t>(i)] = 0.f;  // block 0 all zeros
    x[256 + 10] = -4.f;  // block 1: -4 first, then +4
    x[256 + 200] = 4.f;
  }
  if (n >= 1024) {
    x[512 + 3] = 127.f;  // block 2: scale 1, and halves that round to even
    x[512 + 4] = 2.5f;
    x[512 + 5] = -3.5f;
    x[512 + 6] = 1e-40f;  // subnormal
  }
  return x;
}

void check_quant(GGMLType w, int64_t n, uint32_t seed) {
  const std::vector<float> x = act_row(n, seed);
  const size_t bytes = qdot::act_bytes(w, n);
  std::vector<uint8_t> ref(bytes), out(bytes, 0xAB);
  qdot::quantize_act_scalar(w, x.data(), n, ref.data());
  qdot::quantize_act(w, x.data(), n, out.data());
  EXPECT_EQ(0, std::memcmp(ref.data(), out.data(), bytes)) << "dispatched, type " << static_cast<int>(w);
  const GGMLType a = qdot::act_type(w);
  auto run = [&](auto q8k, auto q80, const char* isa) {
    std::fill(out.begin(), out.end(), 0xAB);
    const bool ok = a == GGMLType::Q8_K ? q8k(x.data(), out.data(), n / 256)
                                        : q80(x.data(), out.data(), n / 32, a == GGMLType::Q8_1);
    ASSERT_TRUE(ok) << isa;
    EXPECT_EQ(0, std::memcmp(ref.data(), out.data(), bytes)) << isa << ", type " << static_cast<int>(w);
  };
  if (have_avx2()) run(vec::avx2::quant_q8_k, vec::avx2::quant_q8_0, "avx2");
  if (have_avx512()) run(vec::avx512::quant_q8_k, vec::avx512::quant_q8_0, "avx512");
}

TEST(VecSimd, ActivationQuantizersMatchScalar) {
  // Q4_K pairs with Q8_K, Q8_0 with Q8_0, Q4_1 with Q8_1.
  for (GGMLType w : {GGMLType::Q4_K, GGMLType::Q8_0, GGMLType::Q4_1})
    for (int64_t n : {256, 1024, 4096})
      for (uint32_t seed : {1u, 2u, 3u}) check_quant(w, n, seed);
  if (!have_avx2()) GTEST_SKIP() << "no AVX2 on this CPU: only the dispatched (scalar) path was checked";
}

TEST(VecSimd, QuantizersHandOffNaNRowsToTheReference) {
  std::vector<float> x = act_row(512, 5);
  x[300] = std::nanf("");
  std::vector<uint8_t> out(qdot::act_bytes(GGMLType::Q4_K, 512));
  if (have_avx2()) {
    EXPECT_FALSE(vec::avx2::quant_q8_k(x.data(), out.data(), 2));
    EXPECT_FALSE(vec::avx2::quant_q8_0(x.data(), out.data(), 16, false));
  }
  if (have_avx512()) {
    EXPECT_FALSE(vec::avx512::quant_q8_k(x.data(), out.data(), 2));
    EXPECT_FALSE(vec::avx512::quant_q8_0(x.data(), out.data(), 16, true));
  }
  qdot::quantize_act(GGMLType::Q4_K, x.data(), 512, out.data());  // falls back, does not crash
  if (!have_avx2()) GTEST_SKIP() << "no AVX2 on this CPU";
}

}  // namespace
