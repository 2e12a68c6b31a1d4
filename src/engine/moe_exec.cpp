// Routed experts of one MoE layer in four pool dispatches instead of three
// matrix products (each with its own activation quantization and dispatch)
// per selected expert:
//   1. quantize each token row once (gate and up share the activation type);
//   2. gate and up rows of every selected expert, split by (expert, 16 rows)
//      across threads, with the activation applied to each finished tile;
//   3. quantize every (row, expert) activation for down;
//   4. down rows of every selected expert, written straight to its slot.
// Each output is still one qdot::dot_rows call over the full row in ggml's
// MUL_MAT_ID order, so values are bit-identical to the per-expert matmul path.
// Experts with row-interleaved copies (Model::pack_experts) run the packed
// kernels instead (kernels/repack.h: the sequential order, 16 rows per vector),
// ~4x faster per byte in decode; their units are 48 rows (3 packed groups).
#include <algorithm>
#include <cstring>

#include "engine/moe.h"
#include "kernels/ops.h"
#include "kernels/qdot.h"
#include "kernels/repack.h"
#include "util/thread_pool.h"

namespace larql {

namespace {

constexpr int64_t kUnitRows = 16;  // weight rows per work unit (gate+up: 2 x 16 rows, ~36 KB of Q4_K)
constexpr int64_t kUnitRowsPacked = 48;  // packed: 3 groups of 16, the blocked GEMM's row tile
constexpr int kTokGroup = 8;       // dot_rows unpacks a weight block once per 8 activation rows

bool all_packed(const ExpertWeights& w) { return !w.packed.empty(); }

bool fusable(const ExpertWeights& w) {
  return w.valid() && w.w.type != GGMLType::F32 && qdot::supported(w.w.type);
}

// Units of every selected expert (c > 0), n_chunks each, and per-thread
// boundaries so every thread gets about the same rows x tokens (static: the
// values never depend on the split).
void plan_units(const MoEScratch& S, int64_t X, int64_t n_chunks, int threads, std::vector<int64_t>& units,
                std::vector<int64_t>& split) {
  units.clear();
  int64_t total = 0;
  for (int64_t e = 0; e < X; ++e) {
    const int64_t c = S.start[static_cast<size_t>(e + 1)] - S.start[static_cast<size_t>(e)];
    if (c == 0) continue;
    for (int64_t k = 0; k < n_chunks; ++k) units.push_back(e * n_chunks + k);
    total += c * n_chunks;
  }
  split.assign(static_cast<size_t>(threads + 1), static_cast<int64_t>(units.size()));
  split[0] = 0;
  int64_t acc = 0, th = 1;
  for (size_t i = 0; i < units.size() && th < threads; ++i) {
    const int64_t e = units[i] / n_chunks;
    acc += S.start[static_cast<size_t>(e + 1)] - S.start[static_cast<size_t>(e)];
    while (th < threads && acc * threads >= total * th) split[static_cast<size_t>(th++)] = static_cast<int64_t>(i) + 1;
  }
}

// Runs fn(unit) for the planned units, one contiguous share per thread.
template <class Fn>
void run_units(ThreadPool& pool, const std::vector<int64_t>& units, const std::vector<int64_t>& split, Fn&& fn) {
  const int T = static_cast<int>(split.size()) - 1;
  pool.parallel_for(T, [&](int64_t t0, int64_t t1, int) {
    for (int64_t t = t0; t < t1; ++t)
      for (int64_t i = split[static_cast<size_t>(t)]; i < split[static_cast<size_t>(t + 1)]; ++i)
        fn(units[static_cast<size_t>(i)]);
  });
}

// Quantizes n rows of n_in floats (row i at x_of(i)) into out, stride ab.
template <class XOf>
void quantize_rows(GGMLType type, int64_t n, int64_t n_in, XOf&& x_of, uint8_t* out, size_t ab, ThreadPool& pool) {
  auto q = [&](int64_t r0, int64_t r1, int) {
    for (int64_t r = r0; r < r1; ++r) qdot::quantize_act(type, x_of(r), n_in, out + ab * static_cast<size_t>(r));
  };
  if (n >= 4) pool.parallel_for(n, q);
  else q(0, n, 0);
}

}  // namespace

bool moe_experts_fused(const Family& fam, const LayerWeights& L, const float* x, int64_t n, int64_t E, int64_t F,
                       int64_t K, int64_t X, MoEScratch& S, ThreadPool& pool) {
  const ExpertWeights &G = L.gate_exps, &U = L.up_exps, &D = L.down_exps;
  if (!fusable(G) || !fusable(U) || !fusable(D)) return false;
  if (qdot::act_type(G.w.type) != qdot::act_type(U.w.type)) return false;
  if (G.w.n_in != E || U.w.n_in != E || D.w.n_in != F || G.w.n_out != F || U.w.n_out != F || D.w.n_out != E)
    return false;
  const int64_t P = n * K;  // (row, expert) slots, in bucket order
  const int T = std::max(1, pool.size());

  // 1. Token rows quantized once, then gathered into bucket order.
  const size_t ab = qdot::act_bytes(G.w.type, E);
  if (S.qx.size() < ab * static_cast<size_t>(n)) S.qx.resize(ab * static_cast<size_t>(n));
  if (S.qa.size() < ab * static_cast<size_t>(P)) S.qa.resize(ab * static_cast<size_t>(P));
  quantize_rows(G.w.type, n, E, [&](int64_t t) { return x + t * E; }, S.qx.data(), ab, pool);
  for (int64_t p = 0; p < P; ++p)
    std::memcpy(S.qa.data() + ab * static_cast<size_t>(p),
                S.qx.data() + ab * static_cast<size_t>(S.order[static_cast<size_t>(p)] / K), ab);
  const bool pgu = all_packed(G) && all_packed(U) && G.w.type == U.w.type, pd = all_packed(D);
  const qdot::Isa isa = qdot::isa();
  const size_t xn = pgu ? repack::aux_count(G.w.type, E) : 0;
  if (pgu) {
    if (S.xq.size() < xn * static_cast<size_t>(P)) S.xq.resize(xn * static_cast<size_t>(P));
    for (int64_t p = 0; p < P; ++p)
      repack::act_aux(G.w.type, S.qa.data() + ab * static_cast<size_t>(p), E, S.xq.data() + xn * static_cast<size_t>(p));
  }

  // 2. Gate and up, then the activation, per (expert, 16 rows) unit.
  S.g.resize(static_cast<size_t>(P * F));
  S.u.resize(static_cast<size_t>(P * F));
  const int64_t ur_a = pgu ? kUnitRowsPacked : kUnitRows, nc_a = (F + ur_a - 1) / ur_a;
  plan_units(S, X, nc_a, T, S.units, S.split);
  const float *gbias = L.gate_exps_b.ptr(), *ubias = L.up_exps_b.ptr();
  run_units(pool, S.units, S.split, [&](int64_t unit) {
    const int64_t e = unit / nc_a, r0 = unit % nc_a * ur_a, r1 = std::min(F, r0 + ur_a);
    const int64_t b = S.start[static_cast<size_t>(e)], c = S.start[static_cast<size_t>(e + 1)] - b;
    const WeightView gw = G.at(e), uw = U.at(e);
    float o[kTokGroup];
    if (pgu) {  // F % 16 == 0 (packable), so [r0, r1) is whole groups
      const uint8_t* a = S.qa.data() + ab * static_cast<size_t>(b);
      const int32_t* ax = S.xq.data() + xn * static_cast<size_t>(b);
      const int nt = static_cast<int>(c);
      repack::gemm(isa, *gw.packed, a, ab, ax, xn, nt, r0 / repack::kRows, r1 / repack::kRows, S.g.data() + b * F, F);
      repack::gemm(isa, *uw.packed, a, ab, ax, xn, nt, r0 / repack::kRows, r1 / repack::kRows, S.u.data() + b * F, F);
    } else {
      for (int64_t t = 0; t < c; t += kTokGroup) {
        const int nt = static_cast<int>(std::min<int64_t>(kTokGroup, c - t));
        const uint8_t* a = S.qa.data() + ab * static_cast<size_t>(b + t);
        for (int64_t r = r0; r < r1; ++r) {
          qdot::dot_rows(gw.type, gw.data + static_cast<uint64_t>(r) * gw.row_bytes, a, ab, E, nt, o);
          for (int k = 0; k < nt; ++k) S.g[static_cast<size_t>((b + t + k) * F + r)] = o[k];
          qdot::dot_rows(uw.type, uw.data + static_cast<uint64_t>(r) * uw.row_bytes, a, ab, E, nt, o);
          for (int k = 0; k < nt; ++k) S.u[static_cast<size_t>((b + t + k) * F + r)] = o[k];
        }
      }
    }
    // Same per-element operations as the per-expert path (bias, then activation).
    for (int64_t t = 0; t < c; ++t) {
      float *gr = S.g.data() + (b + t) * F, *ur = S.u.data() + (b + t) * F;
      for (int64_t i = r0; i < r1; ++i) {
        if (gbias) gr[i] += gbias[e * F + i];
        if (ubias) ur[i] += ubias[e * F + i];
        if (fam.ffn == FFNKind::SwiGLUClamped) gr[i] = swiglu_clamped(gr[i], ur[i]);
      }
      if (fam.ffn != FFNKind::SwiGLUClamped) ops::swiglu(gr + r0, ur + r0, gr + r0, r1 - r0);
    }
  });

  // 3. Each slot's activation quantized for down.
  const size_t ab2 = qdot::act_bytes(D.w.type, F);
  if (S.qh.size() < ab2 * static_cast<size_t>(P)) S.qh.resize(ab2 * static_cast<size_t>(P));
  quantize_rows(D.w.type, P, F, [&](int64_t p) { return S.g.data() + p * F; }, S.qh.data(), ab2, pool);
  const size_t xn2 = pd ? repack::aux_count(D.w.type, F) : 0;
  if (pd) {
    if (S.xh.size() < xn2 * static_cast<size_t>(P)) S.xh.resize(xn2 * static_cast<size_t>(P));
    for (int64_t p = 0; p < P; ++p)
      repack::act_aux(D.w.type, S.qh.data() + ab2 * static_cast<size_t>(p), F, S.xh.data() + xn2 * static_cast<size_t>(p));
    S.yb.resize(static_cast<size_t>(P * E));
  }

  // 4. Down rows, each result stored at its (row, selection) slot (packed:
  // in bucket order first, then moved to the slots below).
  S.ys.resize(static_cast<size_t>(P * E));
  const int64_t ur_d = pd ? kUnitRowsPacked : kUnitRows, nc_d = (E + ur_d - 1) / ur_d;
  plan_units(S, X, nc_d, T, S.units, S.split);
  const float* dbias = L.down_exps_b.ptr();
  run_units(pool, S.units, S.split, [&](int64_t unit) {
    const int64_t e = unit / nc_d, r0 = unit % nc_d * ur_d, r1 = std::min(E, r0 + ur_d);
    const int64_t b = S.start[static_cast<size_t>(e)], c = S.start[static_cast<size_t>(e + 1)] - b;
    const WeightView dw = D.at(e);
    float o[kTokGroup];
    if (pd) {
      repack::gemm(isa, *dw.packed, S.qh.data() + ab2 * static_cast<size_t>(b), ab2,
                   S.xh.data() + xn2 * static_cast<size_t>(b), xn2, static_cast<int>(c), r0 / repack::kRows,
                   r1 / repack::kRows, S.yb.data() + b * E, E);
    } else {
      for (int64_t t = 0; t < c; t += kTokGroup) {
        const int nt = static_cast<int>(std::min<int64_t>(kTokGroup, c - t));
        for (int64_t r = r0; r < r1; ++r) {
          qdot::dot_rows(dw.type, dw.data + static_cast<uint64_t>(r) * dw.row_bytes,
                         S.qh.data() + ab2 * static_cast<size_t>(b + t), ab2, F, nt, o);
          for (int k = 0; k < nt; ++k) {
            float v = o[k];
            if (dbias) v += dbias[e * E + r];
            S.ys[static_cast<size_t>(S.order[static_cast<size_t>(b + t + k)]) * E + r] = v;
          }
        }
      }
    }
  });
  if (pd)
    for (int64_t e = 0; e < X; ++e)
      for (int64_t p = S.start[static_cast<size_t>(e)]; p < S.start[static_cast<size_t>(e + 1)]; ++p) {
        const float* src = S.yb.data() + p * E;
        float* dst = S.ys.data() + static_cast<size_t>(S.order[static_cast<size_t>(p)]) * E;
        if (dbias)
          for (int64_t r = 0; r < E; ++r) dst[r] = src[r] + dbias[e * E + r];
        else std::memcpy(dst, src, static_cast<size_t>(E) * sizeof(float));
      }
  return true;
}

}  // namespace larql
