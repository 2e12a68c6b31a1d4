// Helpers shared by the tensor-module tests.
#pragma once
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "format/ggml_types.h"
#include "tensor/quants.h"

namespace larql::test {

// sqrt(sum (x-y)^2 / sum x^2): RMSE relative to the data RMS.
inline double rel_rmse(const std::vector<float>& x, const std::vector<float>& y) {
  double e = 0, s = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    e += (static_cast<double>(x[i]) - y[i]) * (static_cast<double>(x[i]) - y[i]);
    s += static_cast<double>(x[i]) * x[i];
  }
  return std::sqrt(e / s);
}

inline std::vector<float> gaussian(size_t n, uint32_t seed, float sigma = 0.02f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.f, sigma);
  std::vector<float> x(n);
  for (auto& v : x) v = nd(rng);
  return x;
}

inline std::vector<uint8_t> quantize(GGMLType t, const std::vector<float>& x, const float* imp = nullptr) {
  std::vector<uint8_t> q(ggml_row_size(t, x.size()));
  quantize_row(t, x.data(), q.data(), static_cast<int64_t>(x.size()), imp);
  return q;
}

inline std::vector<float> dequantize(GGMLType t, const uint8_t* q, size_t n) {
  std::vector<float> y(n);
  dequantize_row(t, q, y.data(), static_cast<int64_t>(n));
  return y;
}

inline uint16_t le16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | (p[1] << 8)); }

}  // namespace larql::test
