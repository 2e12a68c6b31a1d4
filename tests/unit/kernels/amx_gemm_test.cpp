// The AMX-INT8 prefill GEMM (kernels/amx.h), run through the software model of
// the tile instructions, against the packed layout's scalar reference
// (repack::gemm with qdot::Isa::Scalar, itself tested against qdot's sequential
// reference on the unpacked rows) byte for byte: every supported type, random
// bit patterns, real quantized rows and extreme codes, odd row-group counts,
// token counts around the 16-token tile (16, 17, 31, 32, 512), row-group
// sub-ranges, padded strides; outputs outside the range must stay untouched.
// Also the run-time self-check: it passes the model and rejects a backend with
// a wrong TDPBSSD, printing one line.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <random>
#include <vector>

#include "kernels/amx.h"
#include "kernels/qdot.h"
#include "kernels/repack.h"
#include "repack_test_data.h"
#include "tensor/quants.h"
#include "util/cpu.h"
#include "self_check_expect.h"

using namespace larql;

namespace {

using test::Fill;
using test::weights;


struct Case {
  GGMLType t;
  int64_t n_in, n_out;
  int nt;
  int64_t g0, g1;
  size_t pad_a;   // extra bytes between tokens' activations
  int64_t pad_y;  // ldy = n_out + pad_y
  Fill fill;
  bool saturate;  // activations at +-127
  uint32_t seed;
};

constexpr float kSentinel = -12345.f;

// Runs fn and the scalar reference on case c (outputs start as a sentinel).
void run(const Case& c, repack::amx::GemmFn fn, std::vector<float>& ref, std::vector<float>& got) {
  auto w = weights(c.t, c.n_in, c.n_out, c.seed, c.fill);
  auto p = repack::pack(WeightView{c.t, w.data(), c.n_in, c.n_out, ggml_row_size(c.t, uint64_t(c.n_in))});
  const size_t ab = qdot::act_bytes(c.t, c.n_in) + c.pad_a, xn = repack::aux_count(c.t, c.n_in);
  std::vector<uint8_t> a(ab * size_t(c.nt), 0xEE);
  std::vector<int32_t> aux(xn * size_t(c.nt));
  std::mt19937 g(c.seed + 11);
  std::normal_distribution<float> d(0.f, 2.f);
  std::vector<float> x(static_cast<size_t>(c.n_in));
  for (int k = 0; k < c.nt; ++k) {
    for (auto& v : x) v = c.saturate ? ((g() & 1) ? 3.f : -3.f) : d(g);
    qdot::quantize_act(c.t, x.data(), c.n_in, a.data() + ab * size_t(k));
    repack::act_aux(c.t, a.data() + ab * size_t(k), c.n_in, aux.data() + xn * size_t(k));
  }
  const int64_t ldy = c.n_out + c.pad_y;
  ref.assign(size_t(ldy) * size_t(c.nt), kSentinel);
  got.assign(ref.size(), kSentinel);
  repack::gemm(qdot::Isa::Scalar, *p, a.data(), ab, aux.data(), xn, c.nt, c.g0, c.g1, ref.data(), ldy);
  fn(*p, a.data(), ab, aux.data(), xn, c.nt, c.g0, c.g1, got.data(), ldy);
}

void check(const Case& c, repack::amx::GemmFn fn = repack::amx::gemm_model) {
  std::vector<float> ref, got;
  run(c, fn, ref, got);
  const int64_t ldy = c.n_out + c.pad_y;
  for (int k = 0; k < c.nt; ++k)
    for (int64_t r = 0; r < ldy; ++r) {
      const size_t i = size_t(k * ldy + r);
      if (r < c.g0 * 16 || r >= c.g1 * 16) {
        ASSERT_EQ(got[i], kSentinel) << "wrote outside rows [" << c.g0 * 16 << ", " << c.g1 * 16 << "): row " << r;
        continue;
      }
      ASSERT_EQ(std::memcmp(&ref[i], &got[i], 4), 0)
          << ggml_type_name(uint32_t(c.t)) << " n_in=" << c.n_in << " n_out=" << c.n_out << " nt=" << c.nt
          << " groups [" << c.g0 << ", " << c.g1 << ") row " << r << " token " << k << ": " << got[i] << " vs "
          << ref[i];
    }
}

const GGMLType kTypes[] = {GGMLType::Q8_0, GGMLType::Q4_0, GGMLType::Q5_0, GGMLType::Q4_K, GGMLType::Q5_K, GGMLType::Q6_K};
int64_t block(GGMLType t) { return (t == GGMLType::Q8_0 || t == GGMLType::Q4_0 || t == GGMLType::Q5_0) ? 32 : 256; }

}  // namespace

#define REQUIRE_MODEL() \
  if (!repack::amx::model_runnable()) GTEST_SKIP() << "the kernel's float step needs AVX-512 VNNI (GCC build)"

TEST(RepackAmx, SupportedTypes) {
  for (GGMLType t : kTypes) EXPECT_TRUE(repack::amx::supported(t));
  EXPECT_FALSE(repack::amx::supported(GGMLType::F32));
  EXPECT_FALSE(repack::amx::supported(GGMLType::Q8_K));
}

TEST(RepackAmx, ModelMatchesScalarReferenceAcrossShapes) {
  REQUIRE_MODEL();
  uint32_t seed = 300;
  for (GGMLType t : kTypes)
    for (int64_t ng : {1, 2, 3})
      for (int nt : {16, 17, 31, 32, 48}) {
        const Fill f = seed % 3 == 0 ? Fill::RandomBits : seed % 3 == 1 ? Fill::Real : Fill::Extreme;
        // n_in: 1, 3, 5 or 7 blocks (legacy types: odd unit counts leave the last unit unpaired,
        // and 1..4 pairs end on either set of C tiles)
        check({t, block(t) * (1 + 2 * (seed % 4)), 16 * ng, nt, 0, ng, 0, 0, f, seed % 5 == 0, seed});
        ++seed;
        if (HasFatalFailure()) return;
      }
}

TEST(RepackAmx, ModelSubRangesStridesAndLongPrompts) {
  REQUIRE_MODEL();
  for (GGMLType t : kTypes) {
    const int64_t k = block(t) / 32;
    check({t, 96 * k, 16 * 8, 33, 1, 6, 6, 5, Fill::Real, false, 7});
    check({t, 64 * k, 16 * 8, 16, 3, 5, 0, 16, Fill::RandomBits, true, 8});
    check({t, 32 * k, 16 * 5, 20, 4, 5, 64, 1, Fill::Extreme, true, 9});
    check({t, 64 * k, 16 * 3, 512, 0, 3, 0, 0, Fill::Real, false, 10});
    check({t, 32 * k, 16 * 2, 16, 1, 1, 0, 0, Fill::Real, false, 12});  // empty range
    if (HasFatalFailure()) return;
  }
}

TEST(RepackAmx, FewerThanOneTileGoesToTheVnniKernel) {
  REQUIRE_MODEL();
  for (GGMLType t : kTypes) check({t, block(t) * 2, 32, 5, 0, 2, 0, 0, Fill::Real, false, 40});
}

TEST(RepackAmx, SelfCheckAcceptsTheModelAndRejectsAFaultyBackend) {
  REQUIRE_MODEL();
  test::expect_self_check<repack::amx::GemmFn>(repack::amx::self_check, repack::amx::gemm_model, repack::amx::gemm_model_faulty,
                                          "AMX self-check failed (faulty model, Q8_0");
}

// The faulty backend really is caught by the byte comparison the tests use.
TEST(RepackAmx, FaultyBackendDiffersFromReference) {
  REQUIRE_MODEL();
  const Case c{GGMLType::Q4_K, 256, 16, 16, 0, 1, 0, 0, Fill::Real, false, 3};
  std::vector<float> ref, got;
  run(c, repack::amx::gemm_model_faulty, ref, got);
  EXPECT_NE(std::memcmp(ref.data(), got.data(), ref.size() * 4), 0);
  run(c, repack::amx::gemm_model, ref, got);
  EXPECT_EQ(std::memcmp(ref.data(), got.data(), ref.size() * 4), 0);
}

TEST(RepackAmx, AvailabilityFollowsTheCpu) {
  const CpuFeatures& f = cpu_features();
  if (!f.amx_tile || !f.amx_int8) {
    EXPECT_FALSE(amx::available());
  }
  EXPECT_EQ(amx::cpu_supported(), f.amx_tile && f.amx_int8);
  const char* e = std::getenv("LARQL_AMX");
  if (e && std::string(e) == "model") {  // the dispatch goes through the software model
    EXPECT_FALSE(amx::available());
    EXPECT_EQ(repack::amx::usable(), repack::amx::model_runnable());
    EXPECT_EQ(repack::amx::kernel(), &repack::amx::gemm_model);
  } else if (!amx::available()) {  // no AMX (or LARQL_AMX=0): nothing runs on tiles
    EXPECT_FALSE(repack::amx::usable());
  } else {
    EXPECT_EQ(repack::amx::kernel(), &repack::amx::gemm);
  }
  std::printf("cpu: %s; AMX %s\n", cpu_features_string().c_str(), amx::available() ? "available" : "not available");
}
