#include "kernels/matmul.h"

#include <algorithm>
#include <vector>

#include "kernels/f32dot.h"
#include "kernels/ik_order.h"
#include "kernels/qdot.h"
#include "kernels/repack.h"
#include "tensor/quants.h"
#include "util/thread_pool.h"

namespace larql {

void weight_row(const WeightView& w, int64_t row, float* out) {
  dequantize_row(w.type, w.data + static_cast<uint64_t>(row) * w.row_bytes, out, w.n_in);
}

namespace {

// Quantized path. Each thread owns a contiguous range of weight rows (static
// partitioning). Inside it, a tile of kTileBytes worth of weight rows is swept
// once per group of kTokGroup tokens: the tile stays in L1/L2 while a token
// group's activations (reused by every row of the tile) stay in L1. Each
// (row, token) result is one full-length kernel call, so the tiling never
// changes a value.
constexpr uint64_t kTileBytes = 16 * 1024;
constexpr int kTokGroup = 8;

// Packed path (kernels/repack.h): activations quantized once plus their integer
// corrections, then each thread sweeps its range of 16-row groups.
void matmul_packed(const WeightView& w, const float* x, int64_t n_tok, float* y, ThreadPool& pool) {
  const repack::Packed& p = *w.packed;
  const int64_t n_in = w.n_in;
  const size_t ab = (qdot::act_bytes(w.type, n_in) + 63) / 64 * 64;
  const size_t xn = repack::aux_count(w.type, n_in);
  thread_local std::vector<uint8_t> act;
  thread_local std::vector<int32_t> aux;
  if (act.size() < ab * static_cast<size_t>(n_tok)) act.resize(ab * static_cast<size_t>(n_tok));
  if (aux.size() < xn * static_cast<size_t>(n_tok)) aux.resize(xn * static_cast<size_t>(n_tok));
  uint8_t* a = act.data();
  int32_t* ax = aux.data();
  auto quant = [&](int64_t t0, int64_t t1, int) {
    for (int64_t t = t0; t < t1; ++t) {
      qdot::quantize_act(w.type, x + t * n_in, n_in, a + ab * t);
      repack::act_aux(w.type, a + ab * t, n_in, ax + xn * t);
    }
  };
  if (n_tok >= 4) pool.parallel_for(n_tok, quant);
  else quant(0, n_tok, 0);
  const qdot::Isa f = qdot::isa();
  pool.parallel_for(w.n_out / repack::kRows, [&](int64_t g0, int64_t g1, int) {
    repack::gemm(f, p, a, ab, ax, xn, static_cast<int>(n_tok), g0, g1, y, w.n_out);
  });
}

void matmul_quant(const WeightView& w, const float* x, int64_t n_tok, float* y, ThreadPool& pool, bool seq) {
  if (seq && repack::matches(w.packed, w)) {
    matmul_packed(w, x, n_tok, y, pool);
    return;
  }
  const int64_t n_in = w.n_in, n_out = w.n_out;
  const size_t ab = qdot::act_bytes(w.type, n_in);
  thread_local std::vector<uint8_t> act;
  if (act.size() < ab * static_cast<size_t>(n_tok)) act.resize(ab * static_cast<size_t>(n_tok));
  uint8_t* a = act.data();
  // Activations are quantized once per call (split by token when there are several).
  if (n_tok >= 4)
    pool.parallel_for(n_tok, [&](int64_t t0, int64_t t1, int) {
      for (int64_t t = t0; t < t1; ++t) qdot::quantize_act(w.type, x + t * n_in, n_in, a + ab * t);
    });
  else
    for (int64_t t = 0; t < n_tok; ++t) qdot::quantize_act(w.type, x + t * n_in, n_in, a + ab * t);
  const int64_t tile = std::max<int64_t>(1, static_cast<int64_t>(kTileBytes / std::max<uint64_t>(w.row_bytes, 1)));
  pool.parallel_for(n_out, [&](int64_t r0, int64_t r1, int) {
    float o[kTokGroup];
    for (int64_t rb = r0; rb < r1; rb += tile) {
      const int64_t re = std::min(r1, rb + tile);
      for (int64_t t = 0; t < n_tok; t += kTokGroup) {
        const int nt = static_cast<int>(std::min<int64_t>(kTokGroup, n_tok - t));
        for (int64_t r = rb; r < re; ++r) {
          const uint8_t* row = w.data + static_cast<uint64_t>(r) * w.row_bytes;
          if (seq) qdot::seq_rows(w.type, row, a + ab * t, ab, n_in, nt, o);
          else qdot::dot_rows(w.type, row, a + ab * t, ab, n_in, nt, o);
          for (int k = 0; k < nt; ++k) y[(t + k) * n_out + r] = o[k];
        }
      }
    }
  });
}

// F32 weights in ggml's orders: its 16-lane product (llamafile sgemm) for
// plain products of >= 2 tokens with K % 16 == 0 and rows % 4 == 0, else its
// 4 x 16 vec_dot.
void matmul_f32(const WeightView& w, const float* x, int64_t n_tok, float* y, ThreadPool& pool, Product kind) {
  const int64_t n_in = w.n_in, n_out = w.n_out;
  const bool lanes = kind == Product::Plain && n_tok >= 2 && n_in % 16 == 0 && n_out % 4 == 0;
  pool.parallel_for(n_out, [&](int64_t r0, int64_t r1, int) {
    for (int64_t r = r0; r < r1; ++r) {
      const float* row = reinterpret_cast<const float*>(w.data + static_cast<uint64_t>(r) * w.row_bytes);
      int64_t t = 0;
      if (lanes)  // 4 tokens per pass over the row; each output keeps its own lane order
        for (; t + 4 <= n_tok; t += 4) {
          float o[4];
          f32dot::lanes16_x4(row, x + t * n_in, n_in, n_in, o);
          for (int k = 0; k < 4; ++k) y[(t + k) * n_out + r] = o[k];
        }
      for (; t < n_tok; ++t)
        y[t * n_out + r] = lanes ? dot_f32_lanes16(row, x + t * n_in, n_in) : dot_f32_4x16(row, x + t * n_in, n_in);
    }
  });
}

}  // namespace

// Other float types: each thread dequantizes its rows once and dots them with
// every token's activations (float accumulation, 8 lanes).
void matmul(const WeightView& w, const float* x, int64_t n_tok, float* y, ThreadPool& pool, Product kind) {
  if (n_tok <= 0) return;
  // The ik_llama.cpp profile reproduces that engine's kernels (scalar, for parity checks).
  if (kind == Product::Plain && ik::enabled() && ik::matmul(w, x, n_tok, y)) return;
  if (w.type == GGMLType::F32) {
    matmul_f32(w, x, n_tok, y, pool, kind);
    return;
  }
  if (qdot::supported(w.type)) {
    matmul_quant(w, x, n_tok, y, pool, kind == Product::Plain && qdot::seq_order(w.type, w.n_out));
    return;
  }
  const int64_t n_in = w.n_in, n_out = w.n_out;
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
