// Weight matrices for the packed-kernel tests (repack_gemm, AMX, 256-bit):
// real quantized rows, random bit patterns with sane fp16 scales, or codes at
// both ends of their range (alternating by block) to exercise saturation.
#pragma once
#include <cstdint>
#include <random>
#include <vector>

#include "format/ggml_types.h"
#include "tensor/quants.h"

namespace larql::test {

enum class Fill { Real, RandomBits, Extreme };

inline std::vector<uint8_t> weights(GGMLType t, int64_t n_in, int64_t n_out, uint32_t seed, Fill f) {
  std::mt19937 g(seed);
  const uint64_t rb = ggml_row_size(t, uint64_t(n_in));
  std::vector<uint8_t> w(rb * uint64_t(n_out));
  if (f == Fill::Real) {
    std::normal_distribution<float> d(0.f, 1.f);
    std::vector<float> row(static_cast<size_t>(n_in));
    for (int64_t r = 0; r < n_out; ++r) {
      for (auto& v : row) v = d(g);
      quantize_row(t, row.data(), w.data() + rb * uint64_t(r), n_in);
    }
    return w;
  }
  const size_t ts = ggml_type_traits(uint32_t(t))->type_size;  // 34 (Q8_0), 18 (Q4_0), 144 / 176 (Q4_K / Q5_K)
  const bool kq = t == GGMLType::Q4_K || t == GGMLType::Q5_K, q6 = t == GGMLType::Q6_K;
  for (size_t k = 0; k < w.size(); ++k) {
    // Extreme: Q8_0 codes -128 / 127, nibbles (and Q5_K's fifth bits) all 0 / all 1 (alternating by block).
    const uint8_t ext = t == GGMLType::Q8_0 ? ((k / ts) % 2 ? 0x80 : 0x7F) : ((k / ts) % 2 ? 0x00 : 0xFF);
    w[k] = f == Fill::Extreme ? ext : uint8_t(g());
  }
  for (size_t k = 0; k < w.size() / ts; ++k) {  // sane fp16 scales ~0.06..0.5 (either sign; K-quant d, dmin > 0)
    for (size_t off : kq ? std::vector<size_t>{0, 2} : q6 ? std::vector<size_t>{208} : std::vector<size_t>{0}) {
      w[k * ts + off] = uint8_t(g());
      w[k * ts + off + 1] = uint8_t(0x2C + g() % 4) | ((!kq && (g() & 1)) ? 0x80 : 0);
    }
    if (kq && f == Fill::Extreme)  // 6-bit scales and mins at their maximum too
      for (size_t i = 4; i < 16; ++i) w[k * ts + i] = 0xFF;
  }
  return w;
}

}  // namespace larql::test
