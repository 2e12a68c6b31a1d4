// Single-thread throughput of the row codecs. Opt-in (timings on a shared CI
// machine are noise): LARQL_BENCH=1 ./test_tensor --gtest_filter='QuantsBench.*'
// The numbers in docs/tensor-types.md come from this.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "quants_test_util.h"
#include "tensor/quants.h"

using namespace larql;

TEST(QuantsBench, Throughput) {
  if (!std::getenv("LARQL_BENCH")) GTEST_SKIP() << "SKIPPED: set LARQL_BENCH=1 to run the throughput benchmark";
  const int64_t row = 4096, rows = 1024, n = row * rows;  // 4M elements, rows of 4096 like a 4096-wide matrix
  const auto x = test::gaussian(static_cast<size_t>(n), 1);
  std::vector<float> y(static_cast<size_t>(n));
  const GGMLType types[] = {GGMLType::F16,  GGMLType::BF16, GGMLType::Q8_0, GGMLType::Q4_0, GGMLType::Q4_K,
                            GGMLType::Q5_K, GGMLType::Q6_K, GGMLType::Q8_K};
  using clock = std::chrono::steady_clock;
  std::printf("  type   quantize M elem/s   dequantize M elem/s   rel RMSE\n");
  for (GGMLType t : types) {
    const size_t rb = ggml_row_size(t, row);
    std::vector<uint8_t> q(rb * rows);
    double tq = 1e30, td = 1e30;
    for (int rep = 0; rep < 3; ++rep) {  // best of 3
      auto t0 = clock::now();
      for (int64_t r = 0; r < rows; ++r) quantize_row(t, x.data() + r * row, q.data() + rb * r, row);
      auto t1 = clock::now();
      dequantize_row(t, q.data(), y.data(), n);
      auto t2 = clock::now();
      tq = std::min(tq, std::chrono::duration<double>(t1 - t0).count());
      td = std::min(td, std::chrono::duration<double>(t2 - t1).count());
    }
    std::printf("  %-5s  %10.1f          %10.1f            %.5f\n", ggml_type_name(static_cast<uint32_t>(t)).c_str(),
                n / tq / 1e6, n / td / 1e6, test::rel_rmse(x, y));
  }
}
