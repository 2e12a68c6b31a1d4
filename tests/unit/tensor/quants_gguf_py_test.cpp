// Cross-check of the decoders against gguf-py's numpy reference dequantizers
// (an implementation independent of ggml's C code), on random blocks.
// data/gguf_py_vectors.bin was produced by data/gen_gguf_py_vectors.py with
// llama.cpp c392e50's gguf-py 0.15.0 and numpy 1.24 (see that script).
// Covers Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, F16, BF16
// (gguf-py 0.15 has no MXFP4 or Q8_K; those are covered by the hand-built
// blocks in quants_known_blocks_test.cpp).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <iterator>
#include <set>
#include <string>
#include <vector>

#include "quants_test_util.h"
#include "tensor/quants.h"

using namespace larql;

namespace {

struct Vector {
  GGMLType type;
  std::vector<uint8_t> blocks;
  std::vector<float> expected;
};

std::vector<Vector> load_vectors() {
  const std::string path = std::string(LARQL_SOURCE_DIR) + "/tests/unit/tensor/data/gguf_py_vectors.bin";
  std::ifstream f(path, std::ios::binary);
  std::vector<uint8_t> d((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  size_t pos = 0;
  auto u32 = [&]() {
    if (pos + 4 > d.size()) throw std::runtime_error("truncated " + path);
    uint32_t v;
    std::memcpy(&v, d.data() + pos, 4);
    pos += 4;
    return v;
  };
  if (d.size() < 12 || std::memcmp(d.data(), "LQTV", 4) != 0) throw std::runtime_error("bad or missing " + path);
  pos = 4;
  if (u32() != 1) throw std::runtime_error("bad version in " + path);
  const uint32_t count = u32();
  std::vector<Vector> out;
  for (uint32_t r = 0; r < count; ++r) {
    Vector v;
    v.type = static_cast<GGMLType>(u32());
    const uint32_t n = u32(), m = u32();
    if (pos + m + 4ull * n > d.size()) throw std::runtime_error("truncated " + path);
    v.blocks.assign(d.begin() + pos, d.begin() + pos + m);
    pos += m;
    v.expected.resize(n);
    std::memcpy(v.expected.data(), d.data() + pos, 4ull * n);
    pos += 4ull * n;
    out.push_back(std::move(v));
  }
  return out;
}

}  // namespace

TEST(QuantsGgufPy, DecodersMatchReference) {
  const auto vectors = load_vectors();
  std::set<std::string> seen;
  for (const auto& v : vectors) {
    const std::string name = ggml_type_name(static_cast<uint32_t>(v.type));
    SCOPED_TRACE(name);
    seen.insert(name);
    ASSERT_EQ(ggml_row_size(v.type, v.expected.size()), v.blocks.size());
    const auto y = test::dequantize(v.type, v.blocks.data(), v.expected.size());
    int mismatches = 0;
    for (size_t i = 0; i < y.size(); ++i) {
      // Same operation order as the reference, so results are bit-identical.
      const bool same = y[i] == v.expected[i] || (std::isnan(y[i]) && std::isnan(v.expected[i]));
      if (!same && ++mismatches <= 5)
        ADD_FAILURE() << "element " << i << ": got " << y[i] << ", gguf-py " << v.expected[i];
    }
    EXPECT_EQ(mismatches, 0);
  }
  for (const char* t : {"Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0", "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K", "F16", "BF16"})
    EXPECT_TRUE(seen.count(t)) << t << " missing from the vectors file";
}
