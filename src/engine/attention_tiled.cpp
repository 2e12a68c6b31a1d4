// Tiled prefill attention, F32 cache, llama.cpp's order (see attention_tiled.h
// and attn_detail::attend_f32_reference for the definition).
//
// Work unit: one KV head x a block of queries (all heads of the GQA group).
//  1. V is transposed once per call to vt[kv_head][d][pos] (zeros past the
//     cache), so the 16-lane value dot runs down contiguous columns.
//  2. Scores: for each 16-row K block, every job of the unit computes its 16
//     dot4x16 products with the block hot in L1 and reduces them together.
//  3. Softmax per job row, vectorized (same per-16 float trees, double sum).
//  4. Values: 4 jobs x 4 columns per register tile over the jobs' joint
//     unmasked range. Masked positions carry p = +0; skipping them (values
//     finite) can only flip the sign of a zero output, so zero outputs are
//     recomputed over every position (as f32dot::weighted_cols does).
#include "engine/attention_tiled.h"
#include "engine/attention_exact.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "kernels/f32dot.h"
#include "kernels/matmul.h"
#include "util/cpu.h"
#include "util/thread_pool.h"

namespace larql {

namespace attn_tile {
bool available() {
  static const bool ok = [] {
    const CpuFeatures& c = cpu_features();
    const char* e = std::getenv("LARQL_ATTN_TILED");  // "0": off, for A/B timing
    return (c.avx512f || (c.avx2 && c.fma)) && !c.force_scalar && !(e && std::strcmp(e, "0") == 0);
  }();
  return ok;
}

const Kernels& kernels() {
  static const Kernels k512{avx512::score_block, avx512::row_max, avx512::row_exp,
                            avx512::row_scale,   avx512::values4, avx512::exp_fast16};
  static const Kernels k256{avx2::score_block, avx2::row_max, avx2::row_exp,
                            avx2::row_scale,   avx2::values4, avx2::exp_fast16};
  // LARQL_ATTN_ISA=avx2 on an AVX-512 CPU: the AVX2 set (A/B runs and tests).
  static const bool wide = [] {
    const char* e = std::getenv("LARQL_ATTN_ISA");
    return cpu_features().avx512f && !(e && std::strcmp(e, "avx2") == 0);
  }();
  return wide ? k512 : k256;
}
}  // namespace attn_tile

namespace attn_detail {
namespace {

struct Shape {
  int64_t H, HKV, dk, dv, group, n, pos0, n_real, n_kv, qb;
};

// One unit: kv head kvh, queries t0..t1-1. rows: scratch of (t1-t0)*group*n_kv.
// vt: the transposed values, or for decode (n == 1) the cache's own v.
void run_unit(const AttentionParams& P, const Shape& S, const float* k32, const float* vt, const float* q,
              bool finite, int64_t kvh, int64_t t0, int64_t t1, float* rows, float* out) {
  const attn_tile::Kernels& K = attn_tile::kernels();
  const int64_t nj = (t1 - t0) * S.group;
  auto first_of = [&](int64_t t) { return P.window > 0 ? std::max<int64_t>(0, S.pos0 + t - P.window + 1) : 0; };
  auto job_t = [&](int64_t i) { return t0 + i / S.group; };
  auto job_h = [&](int64_t i) { return kvh * S.group + i % S.group; };
  auto row = [&](int64_t i) { return rows + i * S.n_kv; };

  // Scores: each K block once into L1, then every job's 16 dots from it.
  const int64_t lo = first_of(t0), hi = S.pos0 + t1;
  const float* kb = k32 + kvh * S.dk;
  const int64_t ks = S.HKV * S.dk;
  for (int64_t j0 = lo & ~int64_t{15}; j0 < hi; j0 += 16) {
    const int rows16 = static_cast<int>(std::min<int64_t>(16, S.n_real - j0));
    for (int64_t i = 0; i < nj; ++i) {
      const int64_t t = job_t(i);
      if (j0 + 16 <= first_of(t) || j0 > S.pos0 + t) continue;
      K.score_block(kb + j0 * ks, ks, rows16, q + (t * S.H + job_h(i)) * S.dk, S.dk, row(i) + j0);
    }
  }
  // Softmax per row.
  for (int64_t i = 0; i < nj; ++i) {
    const int64_t t = job_t(i), h = job_h(i), first = first_of(t), last = S.pos0 + t + 1;
    float mx = K.row_max(row(i), first, last, P.softcap, P.scale);
    mx = sink_max(P, h, mx);
    const double sum = K.row_exp(row(i), first, last, S.n_kv, mx) + sink_term(P, h, mx);
    K.row_scale(row(i), S.n_kv, static_cast<float>(1.0 / sum));
  }
  if (S.n == 1) {  // decode: llama.cpp's 4x16 value order, straight from the cache
    thread_local std::vector<float> scratch;
    if (scratch.size() < static_cast<size_t>(64 * S.dv)) scratch.resize(static_cast<size_t>(64 * S.dv));
    const f32dot::ValueCols vc{vt + kvh * S.dv, S.HKV * S.dv, S.n_real};
    const int64_t first = first_of(0);
    for (int64_t i = 0; i < nj; ++i)
      f32dot::weighted_cols(true, vc, row(i), finite ? first : 0, finite ? S.n_real : S.n_kv, S.n_kv, S.dv,
                            scratch.data(), out + job_h(i) * S.dv);
    return;
  }
  // Values, 4 jobs at a time over their joint range.
  const float* vth = vt + kvh * S.dv * S.n_kv;
  for (int64_t i0 = 0; i0 < nj; i0 += 4) {
    const int np = static_cast<int>(std::min<int64_t>(4, nj - i0));
    const float* pr[4];
    float* po[4];
    int64_t jb = S.n_kv, je = 0;
    for (int i = 0; i < np; ++i) {
      const int64_t t = job_t(i0 + i);
      pr[i] = row(i0 + i);
      po[i] = out + (t * S.H + job_h(i0 + i)) * S.dv;
      jb = std::min(jb, first_of(t) & ~int64_t{15});
      je = std::max(je, (S.pos0 + t + 16) & ~int64_t{15});
    }
    if (!finite) jb = 0, je = S.n_kv;
    K.values4(vth, S.n_kv, S.dv, pr, np, jb, je, po);
    if (jb == 0 && je == S.n_kv) continue;
    for (int i = 0; i < np; ++i)  // a skipped +0 term may have changed a zero's sign
      for (int64_t d = 0; d < S.dv; ++d)
        if (po[i][d] == 0.0f) po[i][d] = dot_f32_lanes16(vth + d * S.n_kv, pr[i], S.n_kv);
  }
}

}  // namespace

bool attend_f32_tiled(const AttentionParams& P, const float* k32, const float* v32, const float* q, int64_t n,
                      int64_t pos0, float* out, ThreadPool& pool) {
  // Decode parallelizes over KV heads only (the group shares each K block).
  if (!attn_tile::available() || (n == 1 && P.n_head_kv < pool.size())) return false;
  Shape S{};
  S.H = P.n_head, S.HKV = P.n_head_kv, S.dk = P.dk, S.dv = P.dv, S.group = S.H / S.HKV, S.n = n, S.pos0 = pos0;
  S.n_real = pos0 + n, S.n_kv = (S.n_real + 31) / 32 * 32;
  S.qb = std::max<int64_t>(1, 16 / S.group);
  // Same rule as attend_f32: skip masked positions only where values are finite.
  const int64_t first_last = P.window > 0 ? std::max<int64_t>(0, S.n_real - P.window) : 0;
  const bool finite = all_finite(v32, first_last * S.HKV * S.dv) &&
                      all_finite(v32 + (pos0 + 1) * S.HKV * S.dv, (S.n_real - pos0 - 1) * S.HKV * S.dv);

  if (n == 1) {
    pool.parallel_for(S.HKV, [&](int64_t b, int64_t e, int) {
      thread_local std::vector<float> rows;
      if (rows.size() < static_cast<size_t>(S.group * S.n_kv)) rows.resize(static_cast<size_t>(S.group * S.n_kv));
      for (int64_t kvh = b; kvh < e; ++kvh) run_unit(P, S, k32, v32, q, finite, kvh, 0, 1, rows.data(), out);
    });
    return true;
  }
  // 1. vt[kvh][d][j] (grow-only, owned by the calling thread).
  thread_local std::vector<float> vt;
  const size_t vt_size = static_cast<size_t>(S.HKV * S.dv * S.n_kv);
  if (vt.size() < vt_size) vt.resize(vt_size);
  float* vtp = vt.data();
  const int64_t nb = S.n_kv / 16;
  pool.parallel_for(S.HKV * nb, [&](int64_t b, int64_t e, int) {
    for (int64_t u = b; u < e; ++u) {
      const int64_t kvh = u / nb, j0 = (u % nb) * 16;
      float* dst = vtp + kvh * S.dv * S.n_kv + j0;
      for (int64_t jj = 0; jj < 16; ++jj) {
        const int64_t j = j0 + jj;
        const float* src = v32 + (j * S.HKV + kvh) * S.dv;
        if (j < S.n_real)
          for (int64_t d = 0; d < S.dv; ++d) dst[d * S.n_kv + jj] = src[d];
        else
          for (int64_t d = 0; d < S.dv; ++d) dst[d * S.n_kv + jj] = 0.0f;
      }
    }
  });

  // 2-4. Units ordered query-block major; thread w takes every T-th one so the
  // causal growth of the cost is shared evenly (static, deterministic).
  const int64_t n_qb = (n + S.qb - 1) / S.qb, n_units = n_qb * S.HKV, T = pool.size();
  pool.parallel_for(T, [&](int64_t b, int64_t e, int) {
    thread_local std::vector<float> rows;
    const size_t need = static_cast<size_t>(S.qb * S.group * S.n_kv);
    if (rows.size() < need) rows.resize(need);
    for (int64_t w = b; w < e; ++w)
      for (int64_t u = w; u < n_units; u += T) {
        const int64_t qb = u / S.HKV, kvh = u % S.HKV, t0 = qb * S.qb;
        run_unit(P, S, k32, vtp, q, finite, kvh, t0, std::min(n, t0 + S.qb), rows.data(), out);
      }
  });
  return true;
}

}  // namespace attn_detail
}  // namespace larql
