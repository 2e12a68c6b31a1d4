#include "kernels/matmul.h"

#include <vector>

#include "kernels/qdot.h"
#include "tensor/quants.h"
#include "util/thread_pool.h"

namespace larql {

void weight_row(const WeightView& w, int64_t row, float* out) {
  dequantize_row(w.type, w.data + static_cast<uint64_t>(row) * w.row_bytes, out, w.n_in);
}

// Reference path: each thread dequantizes its rows once and dots them with
// every token's activations (float accumulation, 4 lanes like ggml's vec_dot).
void matmul(const WeightView& w, const float* x, int64_t n_tok, float* y, ThreadPool& pool) {
  const int64_t n_in = w.n_in, n_out = w.n_out;
  if (qdot::supported(w.type)) {
    // Activations are quantized once per call, then every row is an integer dot product.
    const size_t ab = qdot::act_bytes(w.type, n_in);
    thread_local std::vector<uint8_t> act;
    act.resize(ab * static_cast<size_t>(n_tok));
    for (int64_t t = 0; t < n_tok; ++t) qdot::quantize_act(w.type, x + t * n_in, n_in, act.data() + ab * t);
    const uint8_t* a = act.data();
    pool.parallel_for(n_out, [&](int64_t r0, int64_t r1, int) {
      for (int64_t r = r0; r < r1; ++r) {
        const uint8_t* row = w.data + static_cast<uint64_t>(r) * w.row_bytes;
        int64_t t = 0;
        for (; t + 4 <= n_tok; t += 4) {
          float o[4];
          qdot::dot4(w.type, row, a + ab * t, ab, n_in, o);
          for (int k = 0; k < 4; ++k) y[(t + k) * n_out + r] = o[k];
        }
        for (; t < n_tok; ++t) y[t * n_out + r] = qdot::dot(w.type, row, a + ab * t, n_in);
      }
    });
    return;
  }
  pool.parallel_for(n_out, [&](int64_t r0, int64_t r1, int) {
    thread_local std::vector<float> row;
    row.resize(static_cast<size_t>(n_in));
    for (int64_t r = r0; r < r1; ++r) {
      const float* src = row.data();
      if (w.type == GGMLType::F32) src = reinterpret_cast<const float*>(w.data + static_cast<uint64_t>(r) * w.row_bytes);
      else weight_row(w, r, row.data());
      for (int64_t t = 0; t < n_tok; ++t) {
        const float* xv = x + t * n_in;
        float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
        int64_t i = 0;
        for (; i + 8 <= n_in; i += 8)
          for (int k = 0; k < 8; ++k) acc[k] += src[i + k] * xv[i + k];
        float s = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
        for (; i < n_in; ++i) s += src[i] * xv[i];
        y[t * n_out + r] = s;
      }
    }
  });
}

}  // namespace larql
