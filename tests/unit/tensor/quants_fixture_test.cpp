// Cross-checks against llama.cpp's own output: the fixture models were
// quantized by llama-quantize (llama.cpp c392e50) from the F32 files next to
// them (see ../shared/fixtures/README.md).
//  - Decoding: every quantized tensor, decoded by us, must match the F32
//    original to within the quantization step stored in its own blocks.
//  - Encoding: our Q8_0 must reproduce llama-quantize's bytes exactly, and our
//    K-quants must reach at most llama-quantize's error on the same weights.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "../test_paths.h"
#include "format/gguf.h"
#include "quants_test_util.h"
#include "tensor/quants.h"
#include "util/half.h"

using namespace larql;

namespace {

std::string model(const std::string& rel) { return test::fixtures_dir() + "/models/" + rel; }

std::vector<float> f32_of(const gguf::TensorInfo& t) {
  EXPECT_EQ(t.type, GGMLType::F32);
  return test::dequantize(GGMLType::F32, t.data, t.n_elements);
}

// Quantization step (distance between adjacent codes) of every element,
// read from the blocks with a parser written from the format description.
std::vector<float> steps_of(const gguf::TensorInfo& t) {
  std::vector<float> step(t.n_elements);
  const uint8_t* p = t.data;
  switch (t.type) {
    case GGMLType::Q8_0:
      for (uint64_t b = 0; b < t.n_elements / 32; ++b, p += 34)
        for (int j = 0; j < 32; ++j) step[32 * b + j] = fp16_to_fp32(test::le16(p));
      break;
    case GGMLType::Q4_K:
    case GGMLType::Q5_K: {
      const int bytes = t.type == GGMLType::Q4_K ? 144 : 176;
      for (uint64_t b = 0; b < t.n_elements / 256; ++b, p += bytes) {
        const float d = fp16_to_fp32(test::le16(p));
        const uint8_t* s = p + 4;
        for (int j = 0; j < 8; ++j) {
          const int sc = j < 4 ? (s[j] & 63) : ((s[j + 4] & 15) | ((s[j - 4] >> 6) << 4));
          for (int l = 0; l < 32; ++l) step[256 * b + 32 * j + l] = d * static_cast<float>(sc);
        }
      }
      break;
    }
    case GGMLType::Q6_K:
      for (uint64_t b = 0; b < t.n_elements / 256; ++b, p += 210) {
        const float d = fp16_to_fp32(test::le16(p + 208));
        for (int j = 0; j < 16; ++j)
          for (int l = 0; l < 16; ++l)
            step[256 * b + 16 * j + l] = std::fabs(d * static_cast<float>(static_cast<int8_t>(p[192 + j])));
      }
      break;
    default:
      ADD_FAILURE() << "no step parser for " << ggml_type_name(static_cast<uint32_t>(t.type));
  }
  return step;
}

struct TypeStats {
  int tensors = 0;
  double err_llama = 0, err_ours = 0, sum_x2 = 0;  // squared errors over all tensors of the type
};

// Checks every quantized tensor of `qfile` against the same tensor in `ffile`.
std::map<GGMLType, TypeStats> check_file(const std::string& ffile, const std::string& qfile) {
  auto f = gguf::File::open(ffile);
  auto q = gguf::File::open(qfile);
  std::map<GGMLType, TypeStats> stats;
  for (const auto& tq : q->tensors()) {
    if (tq.type == GGMLType::F32) continue;
    SCOPED_TRACE(tq.name + " " + ggml_type_name(static_cast<uint32_t>(tq.type)));
    const auto* tf = f->find_tensor(tq.name);
    if (!tf) {
      ADD_FAILURE() << "missing in F32 file";
      continue;
    }
    EXPECT_EQ(tf->n_elements, tq.n_elements);
    const auto x = f32_of(*tf);
    const auto y = test::dequantize(tq.type, tq.data, tq.n_elements);
    const auto step = steps_of(tq);

    // Rounding to the nearest code leaves at most half a step, plus the
    // fp16 rounding of the block scale (Q8_0: |q| <= 127 steps of 2^-11).
    // K-quant sub-blocks may clamp a few outliers at the ends of their range
    // (the fit trades them for a finer step), so allow those up to 1.5 steps,
    // but no more than 0.5% of the elements past half a step.
    const double slack = tq.type == GGMLType::Q8_0 ? 127.0 * 0x1p-11 : 1e-3;
    size_t past_half = 0;
    for (uint64_t i = 0; i < tq.n_elements; ++i) {
      const double err = std::fabs(static_cast<double>(x[i]) - y[i]);
      const double half = (0.5 + slack) * step[i] + 1e-12;
      if (err > half) {
        ++past_half;
        if (tq.type == GGMLType::Q8_0 || err > 1.5 * step[i] + 1e-12) {
          ADD_FAILURE() << "element " << i << ": F32 " << x[i] << ", decoded " << y[i] << ", step " << step[i];
          break;
        }
      }
    }
    EXPECT_LE(past_half, tq.n_elements / 200) << past_half << " elements beyond half a step";

    // Our encoder on the same F32 weights.
    const auto mine = test::quantize(tq.type, x);
    if (tq.type == GGMLType::Q8_0) {
      EXPECT_TRUE(std::equal(mine.begin(), mine.end(), tq.data)) << "Q8_0 bytes differ from llama-quantize's";
    }
    const auto ym = test::dequantize(tq.type, mine.data(), tq.n_elements);
    TypeStats& s = stats[tq.type];
    ++s.tensors;
    for (uint64_t i = 0; i < tq.n_elements; ++i) {
      s.err_llama += (static_cast<double>(x[i]) - y[i]) * (static_cast<double>(x[i]) - y[i]);
      s.err_ours += (static_cast<double>(x[i]) - ym[i]) * (static_cast<double>(x[i]) - ym[i]);
      s.sum_x2 += static_cast<double>(x[i]) * x[i];
    }
  }
  return stats;
}

// Upper bounds on RMSE / RMS for the fixture weights, per type.
double rel_bound(GGMLType t) {
  switch (t) {
    case GGMLType::Q8_0: return 0.006;
    case GGMLType::Q6_K: return 0.02;
    case GGMLType::Q5_K: return 0.04;
    case GGMLType::Q4_K: return 0.08;
    default: return 0;
  }
}

void report_and_check(const std::map<GGMLType, TypeStats>& stats, std::initializer_list<GGMLType> expected) {
  for (GGMLType t : expected) EXPECT_TRUE(stats.count(t)) << ggml_type_name(static_cast<uint32_t>(t)) << " absent";
  for (const auto& [t, s] : stats) {
    const std::string name = ggml_type_name(static_cast<uint32_t>(t));
    const double llama = std::sqrt(s.err_llama / s.sum_x2), ours = std::sqrt(s.err_ours / s.sum_x2);
    std::printf("  %-5s %2d tensors: rel RMSE llama-quantize %.5f, ours %.5f (ratio %.4f)\n", name.c_str(),
                s.tensors, llama, ours, ours / llama);
    EXPECT_LT(llama, rel_bound(t)) << name;
    // Our search matches llama.cpp's (Q6_K identical algorithm, Q4_K/Q5_K
    // slightly better thanks to the final (d, dmin) refit).
    EXPECT_LE(ours, llama * 1.002) << name;
  }
}

}  // namespace

TEST(QuantsFixtures, FactsQ8_0) {
  LARQL_REQUIRE_FIXTURES();
  report_and_check(check_file(model("facts/facts-F32.gguf"), model("facts/facts-Q8_0.gguf")), {GGMLType::Q8_0});
}

TEST(QuantsFixtures, FactsQ4_K_M) {
  LARQL_REQUIRE_FIXTURES();
  report_and_check(check_file(model("facts/facts-F32.gguf"), model("facts/facts-Q4_K_M.gguf")),
                   {GGMLType::Q4_K, GGMLType::Q6_K});
}

TEST(QuantsFixtures, DeepseekQ4_K_M) {
  LARQL_REQUIRE_FIXTURES();
  report_and_check(check_file(model("synthetic/tiny-deepseek2-mla-F32.gguf"),
                              model("synthetic/tiny-deepseek2-mla-Q4_K_M.gguf")),
                   {GGMLType::Q4_K, GGMLType::Q5_K, GGMLType::Q6_K});
}

// The 8-expert models' attn_k/attn_v stay Q8_0 inside Q4_K_M (llama.cpp's
// rule), so the mixtral file adds Q8_0 tensors of random N(0, 0.02) weights.
TEST(QuantsFixtures, MixtralQ4_K_M) {
  LARQL_REQUIRE_FIXTURES();
  report_and_check(check_file(model("synthetic/tiny-mixtral-8x2-F32.gguf"),
                              model("synthetic/tiny-mixtral-8x2-Q4_K_M.gguf")),
                   {GGMLType::Q4_K, GGMLType::Q6_K, GGMLType::Q8_0});
}
