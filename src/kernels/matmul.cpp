#include "kernels/matmul.h"

#include <algorithm>
#include <vector>

#include "kernels/amx.h"
#include "kernels/f32dot.h"
#include "kernels/halfdot.h"
#include "kernels/ik_order.h"
#include "kernels/qdot.h"
#include "kernels/repack.h"
#include "tensor/quants.h"
#include "util/error.h"
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

// Packed path (kernels/repack.h): the input's activations plus their integer
// corrections, then each thread sweeps its range of 16-row groups.
void matmul_packed(const WeightView& w, SharedInput& in, float* y, ThreadPool& pool) {
  size_t ab = 0, xn = 0;
  const uint8_t* a = in.acts(w.type, pool, ab);
  const int32_t* ax = in.aux(w.type, pool, xn);
  const int nt = static_cast<int>(in.n_tok());
  const qdot::Isa f = qdot::isa();
  const auto part = [&](int64_t g0, int64_t g1, int) { repack::gemm(f, *w.packed, a, ab, ax, xn, nt, g0, g1, y, w.n_out); };
  const int64_t groups = w.n_out / repack::kRows;
  // Decode streams each matrix once, a few hundred microseconds split over the
  // threads; balanced chunks of ~256 KiB keep one slow thread from idling the others.
  if (nt == 1) pool.parallel_for_balanced(groups, std::max<int64_t>(1, (256 << 10) / w.packed->group_bytes), part);
  else pool.parallel_for(groups, part);
}

void matmul_quant(const WeightView& w, SharedInput& in, float* y, ThreadPool& pool, bool seq) {
  if (seq && repack::matches(w.packed, w)) {
    matmul_packed(w, in, y, pool);
    return;
  }
  const int64_t n_in = w.n_in, n_out = w.n_out, n_tok = in.n_tok();
  size_t ab = 0;
  const uint8_t* a = in.acts(w.type, pool, ab);
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

// Whether products with weight type w read quantized activations (F16 / BF16
// read rounded floats, F32 the floats themselves).
bool reads_acts(GGMLType w) {
  return w != GGMLType::F32 && !halfdot::handles(w) && qdot::supported(w) && !ik::enabled();
}

// F16 / BF16 weights (halfdot.h) in ggml's float orders: its 16-lane GEMM for
// plain products of >= 2 tokens with K % 16 == 0 and rows % 4 == 0, else its
// vec_dot_f16 order. Activations are rounded to the weight type once.
void matmul_half(const WeightView& w, SharedInput& in, float* y, ThreadPool& pool, Product kind) {
  const int64_t n_tok = in.n_tok();
  const bool lanes = kind == Product::Plain && n_tok >= 2 && w.n_in % 16 == 0 && w.n_out % 4 == 0;
  const float* x = in.rounded(w.type, pool);
  const halfdot::Rows m{w.type, w.data, w.row_bytes, w.n_in};
  if (lanes && w.type == GGMLType::BF16 && n_tok >= halfdot::amx::kMinTokens && halfdot::amx::usable()) {
    // AMX-BF16, the same order on the tiles: contiguous ranges of 16-row groups.
    const uint16_t* xl = in.bf16_lanes(pool);
    const halfdot::amx::GemmFn fn = halfdot::amx::kernel();
    pool.parallel_for((w.n_out + 15) / 16, [&](int64_t g0, int64_t g1, int) {
      fn(m, g0 * 16, std::min(w.n_out, g1 * 16), xl, x, w.n_in, static_cast<int>(n_tok), y, w.n_out);
    });
    return;
  }
  // Contiguous row ranges in multiples of 4 (the kernel's row block).
  pool.parallel_for((w.n_out + 3) / 4, [&](int64_t b0, int64_t b1, int) {
    halfdot::gemm(m, lanes, b0 * 4, std::min(w.n_out, b1 * 4), x, w.n_in, static_cast<int>(n_tok), y, w.n_out);
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

void SharedInput::reset(const float* x, int64_t n_tok, int64_t n_in) {
  x_ = x;
  n_tok_ = n_tok;
  n_in_ = n_in;
  for (Slot& s : acts_) s.ready = false;
  for (Slot& s : aux_) s.ready = false;
  for (Slot& s : rounded_) s.ready = false;
  for (Slot& s : lanes_) s.ready = false;
}

// The slot of `list` for `key` (added on first use), its buffer grown to
// n_tok rows of `stride` elements; capacity is kept across reset().
template <class T>
SharedInput::Slot& SharedInput::slot(std::vector<Slot>& list, GGMLType key, size_t stride, std::vector<T> Slot::*buf) {
  auto it = std::find_if(list.begin(), list.end(), [&](const Slot& s) { return s.key == key; });
  Slot& s = it != list.end() ? *it : list.emplace_back();
  s.key = key;
  s.stride = stride;
  std::vector<T>& b = s.*buf;
  if (b.size() < stride * static_cast<size_t>(n_tok_)) b.resize(stride * static_cast<size_t>(n_tok_));
  return s;
}

SharedInput::Slot& SharedInput::act_slot(GGMLType w) {
  // A 64-byte stride keeps every token's blocks cache-line aligned for the packed kernels.
  return slot(acts_, qdot::act_type(w), (qdot::act_bytes(w, n_in_) + 63) / 64 * 64, &Slot::bytes);
}

SharedInput::Slot& SharedInput::aux_slot(GGMLType w) {
  return slot(aux_, w, repack::aux_count(w, n_in_), &Slot::ints);
}

SharedInput::Slot& SharedInput::rounded_slot(GGMLType w) {
  return slot(rounded_, w, static_cast<size_t>(n_in_), &Slot::floats);
}

const float* SharedInput::rounded(GGMLType w, ThreadPool& pool) {
  Slot& s = rounded_slot(w);
  if (!s.ready) {
    auto rows = [&](int64_t t0, int64_t t1, int) {
      for (int64_t t = t0; t < t1; ++t) halfdot::round_acts(w, x_ + t * n_in_, n_in_, s.floats.data() + s.stride * t);
    };
    if (n_tok_ >= 4) pool.parallel_for(n_tok_, rows);
    else rows(0, n_tok_, 0);
    s.ready = true;
  }
  return s.floats.data();
}

const uint16_t* SharedInput::bf16_lanes(ThreadPool& pool) {
  const float* xr = rounded(GGMLType::BF16, pool);
  Slot& s = slot(lanes_, GGMLType::BF16, halfdot::amx::lanes_size(n_in_, 1) * sizeof(uint16_t), &Slot::bytes);
  uint16_t* out = reinterpret_cast<uint16_t*>(s.bytes.data());
  if (!s.ready) {
    const int nt = static_cast<int>(n_tok_);
    pool.parallel_for(n_tok_, [&](int64_t t0, int64_t t1, int) {
      halfdot::amx::to_lanes(xr, n_in_, n_in_, nt, static_cast<int>(t0), static_cast<int>(t1), out);
    });
    s.ready = true;
  }
  return out;
}

void SharedInput::quantize_rows(GGMLType w, Slot& s, int64_t t0, int64_t t1) const {
  for (int64_t t = t0; t < t1; ++t) qdot::quantize_act(w, x_ + t * n_in_, n_in_, s.bytes.data() + s.stride * t);
}

void SharedInput::write_rows(GGMLType w, ThreadPool& pool, const std::function<void(int64_t)>& make_row) {
  Slot* s = reads_acts(w) ? &act_slot(w) : nullptr;
  Slot* h = halfdot::handles(w) && !ik::enabled() ? &rounded_slot(w) : nullptr;
  auto rows = [&](int64_t t0, int64_t t1, int) {
    for (int64_t t = t0; t < t1; ++t) {
      make_row(t);
      if (s) quantize_rows(w, *s, t, t + 1);
      if (h) halfdot::round_acts(w, x_ + t * n_in_, n_in_, h->floats.data() + h->stride * t);
    }
  };
  if (n_tok_ >= 2) pool.parallel_for(n_tok_, rows);
  else rows(0, n_tok_, 0);
  if (s) s->ready = true;
  if (h) h->ready = true;
}

const uint8_t* SharedInput::acts(GGMLType w, ThreadPool& pool, size_t& stride) {
  Slot& s = act_slot(w);
  if (!s.ready) {
    // Split by token when there are several.
    if (n_tok_ >= 4) pool.parallel_for(n_tok_, [&](int64_t t0, int64_t t1, int) { quantize_rows(w, s, t0, t1); });
    else quantize_rows(w, s, 0, n_tok_);
    s.ready = true;
  }
  stride = s.stride;
  return s.bytes.data();
}

const int32_t* SharedInput::aux(GGMLType w, ThreadPool& pool, size_t& aux_stride) {
  size_t ab = 0;
  const uint8_t* a = acts(w, pool, ab);
  Slot& s = aux_slot(w);
  if (!s.ready) {
    auto rows = [&](int64_t t0, int64_t t1, int) {
      for (int64_t t = t0; t < t1; ++t) repack::act_aux(w, a + ab * t, n_in_, s.ints.data() + s.stride * t);
    };
    if (n_tok_ >= 4) pool.parallel_for(n_tok_, rows);
    else rows(0, n_tok_, 0);
    s.ready = true;
  }
  aux_stride = s.stride;
  return s.ints.data();
}

void matmul(const WeightView& w, const float* x, int64_t n_tok, float* y, ThreadPool& pool, Product kind) {
  if (n_tok <= 0) return;
  thread_local SharedInput in;
  in.reset(x, n_tok, w.n_in);
  matmul(w, in, y, pool, kind);
}

void matmul(const WeightView& w, SharedInput& in, float* y, ThreadPool& pool, Product kind) {
  const int64_t n_tok = in.n_tok();
  const float* x = in.x();
  if (n_tok <= 0) return;
  if (in.n_in() != w.n_in)
    throw Error("matmul: input rows have " + std::to_string(in.n_in()) + " values, the weight expects " + std::to_string(w.n_in));
  // The ik_llama.cpp profile reproduces that engine's kernels (scalar, for parity checks).
  if (kind == Product::Plain && ik::enabled() && ik::matmul(w, x, n_tok, y)) return;
  if (w.type == GGMLType::F32) {
    matmul_f32(w, x, n_tok, y, pool, kind);
    return;
  }
  if (halfdot::handles(w.type)) {
    matmul_half(w, in, y, pool, kind);
    return;
  }
  if (qdot::supported(w.type)) {
    matmul_quant(w, in, y, pool, kind == Product::Plain && qdot::seq_order(w.type, w.n_out));
    return;
  }
  // Other float types: each thread dequantizes its rows once and dots them with
  // every token's activations (float accumulation, 8 lanes).
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
