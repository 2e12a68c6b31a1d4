// llama.cpp's attention order for an F32 cache (fast SIMD and scalar reference,
// bit-identical) and ik_llama.cpp's for an F16 cache; see docs/numerics.md.
#include "engine/attention.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "engine/attention_exact.h"
#include "engine/attention_tiled.h"
#include "kernels/f32dot.h"
#include "kernels/ik_order.h"
#include "kernels/matmul.h"

#include "kernels/ops.h"
#include "util/half.h"
#include "util/thread_pool.h"

namespace larql {

namespace attn_detail {

// Branch-free so it vectorizes.
bool all_finite(const float* x, int64_t n) {
  uint32_t bad = 0;
  for (int64_t i = 0; i < n; ++i) {
    uint32_t u;
    std::memcpy(&u, x + i, 4);
    bad |= static_cast<uint32_t>((u & 0x7f800000u) == 0x7f800000u);
  }
  return bad == 0;
}
}  // namespace attn_detail

namespace attn_detail {
// F32 cache in llama.cpp's order: keys padded to a multiple of 32, scores by
// its 4x16 dot, softmax summed per 16 in float then in double, values by the
// 16-lane dot for batches and the 4x16 dot for single tokens.
void attend_f32_reference(const AttentionParams& P, const float* k32, const float* v32, const float* q, int64_t n, int64_t pos0,
                float* out, ThreadPool& pool) {
  const int64_t H = P.n_head, HKV = P.n_head_kv, dk = P.dk, dv = P.dv, group = H / HKV;
  const int64_t n_real = pos0 + n, n_kv = (n_real + 31) / 32 * 32;
  pool.parallel_for(n * H, [&](int64_t b, int64_t e, int) {
    std::vector<float> p(static_cast<size_t>(n_kv)), vc(static_cast<size_t>(n_kv));
    for (int64_t job = b; job < e; ++job) {
      const int64_t t = job / H, h = job % H, kvh = h / group, pos = pos0 + t;
      const int64_t first = P.window > 0 ? std::max<int64_t>(0, pos - P.window + 1) : 0;
      const float* qv = q + (t * H + h) * dk;
      float mx = -INFINITY;
      for (int64_t j = 0; j < n_kv; ++j) {
        if (j < first || j > pos) { p[static_cast<size_t>(j)] = -INFINITY; continue; }
        float s = f32dot::dot4x16_ref(k32 + (j * HKV + kvh) * dk, qv, dk);
        if (P.softcap > 0) s = std::tanh(s / P.softcap) * P.softcap;
        s *= P.scale;
        p[static_cast<size_t>(j)] = s;
        mx = std::max(mx, s);
      }
      mx = sink_max(P, h, mx);
      double sum = 0;
      for (int64_t j0 = 0; j0 < n_kv; j0 += 16) {
        for (int64_t j = j0; j < j0 + 16; ++j) {
          float& pj = p[static_cast<size_t>(j)];
          pj = pj == -INFINITY ? 0.0f : ops::expf_fast(pj - mx);
        }
        sum += static_cast<double>(f32dot::tree16(p.data() + j0));
      }
      sum += sink_term(P, h, mx);
      const float inv = static_cast<float>(1.0 / sum);
      for (int64_t j = 0; j < n_kv; ++j) p[static_cast<size_t>(j)] *= inv;
      float* o = out + (t * H + h) * dv;
      for (int64_t d = 0; d < dv; ++d) {
        for (int64_t j = 0; j < n_kv; ++j)
          vc[static_cast<size_t>(j)] = j < n_real ? v32[(j * HKV + kvh) * dv + d] : 0.0f;
        o[d] = n >= 2 ? f32dot::lanes16_ref(vc.data(), p.data(), n_kv) : f32dot::dot4x16_ref(vc.data(), p.data(), n_kv);
      }
    }
  });
}


// The same order, fast: scores by the SIMD 4x16 dot, values accumulated per
// position into 16 (or 64) lane rows vectorized over the head dimension.
// Masked positions (p = +0) are skipped when the values are finite; see
// f32dot::weighted_cols for why that gives the same bits.
void attend_f32(const AttentionParams& P, const float* k32, const float* v32, const float* q, int64_t n, int64_t pos0,
                float* out, ThreadPool& pool) {
  // Batches and decode: the tiled kernels (GQA heads x query blocks share K/V
  // loads). For 2..15 queries the per-call V transpose is not worth it.
  if ((n == 1 || n >= 16) && attend_f32_tiled(P, k32, v32, q, n, pos0, out, pool)) return;
  attend_f32_untiled(P, k32, v32, q, n, pos0, out, pool);
}

void attend_f32_untiled(const AttentionParams& P, const float* k32, const float* v32, const float* q, int64_t n,
                        int64_t pos0, float* out, ThreadPool& pool) {
  const int64_t H = P.n_head, HKV = P.n_head_kv, dk = P.dk, dv = P.dv, group = H / HKV;
  const int64_t n_real = pos0 + n, n_kv = (n_real + 31) / 32 * 32;
  const bool four16 = n < 2;
  // Masked positions are skipped only if their values are finite (0 * inf is
  // NaN in the reference). Skipped: below the last query's window start, and
  // after the first query.
  const int64_t first_last = P.window > 0 ? std::max<int64_t>(0, n_real - P.window) : 0;
  const bool finite = all_finite(v32, first_last * HKV * dv) &&
                      all_finite(v32 + (pos0 + 1) * HKV * dv, (n_real - pos0 - 1) * HKV * dv);
  pool.parallel_for(n * H, [&](int64_t b, int64_t e, int) {
    thread_local std::vector<float> p, scratch;
    if (p.size() < static_cast<size_t>(n_kv)) p.resize(static_cast<size_t>(n_kv));
    if (scratch.size() < static_cast<size_t>(64 * dv)) scratch.resize(static_cast<size_t>(64 * dv));
    for (int64_t job = b; job < e; ++job) {
      const int64_t t = job / H, h = job % H, kvh = h / group, pos = pos0 + t;
      const int64_t first = P.window > 0 ? std::max<int64_t>(0, pos - P.window + 1) : 0;
      const float* qv = q + (t * H + h) * dk;
      float mx = -INFINITY;
      f32dot::dot4x16_rows(k32 + kvh * dk, HKV * dk, qv, dk, first, pos + 1, p.data());
      for (int64_t j = 0; j < n_kv; ++j) {
        if (j < first || j > pos) { p[static_cast<size_t>(j)] = -INFINITY; continue; }
        float s = p[static_cast<size_t>(j)];
        if (P.softcap > 0) s = std::tanh(s / P.softcap) * P.softcap;
        s *= P.scale;
        p[static_cast<size_t>(j)] = s;
        mx = std::max(mx, s);
      }
      mx = sink_max(P, h, mx);
      double sum = 0;
      for (int64_t j0 = 0; j0 < n_kv; j0 += 16) {
        for (int64_t j = j0; j < j0 + 16; ++j) {
          float& pj = p[static_cast<size_t>(j)];
          pj = pj == -INFINITY ? 0.0f : ops::expf_fast(pj - mx);
        }
        sum += static_cast<double>(f32dot::tree16(p.data() + j0));
      }
      sum += sink_term(P, h, mx);
      const float inv = static_cast<float>(1.0 / sum);
      for (int64_t j = 0; j < n_kv; ++j) p[static_cast<size_t>(j)] *= inv;
      const f32dot::ValueCols vc{v32 + kvh * dv, HKV * dv, n_real};
      f32dot::weighted_cols(four16, vc, p.data(), finite ? first : 0, finite ? pos + 1 : n_kv, n_kv, dv,
                            scratch.data(), out + (t * H + h) * dv);
    }
  });
}
}  // namespace attn_detail

namespace attn_detail {
// ik_llama.cpp (f16 cache, no flash attention): keys padded to a multiple of
// 32; scores = 16-lane dot of the f16 key (widened) with the unrounded f32 query;
// score*scale then + mask; exp summed in 16 float lanes over all chunks, one
// tree, then double; 1/sum in double, multiplied as float; output = 16-lane dot
// of the f16 value column (zeros past the cache) with the unrounded probabilities.
void attend_ik_f16(const AttentionParams& P, const uint16_t* k16, const uint16_t* v16, const float* q, int64_t n,
                   int64_t pos0, float* out, ThreadPool& pool) {
  const int64_t H = P.n_head, HKV = P.n_head_kv, dk = P.dk, dv = P.dv, group = H / HKV;
  const int64_t n_real = pos0 + n, n_kv = (n_real + 31) / 32 * 32;
  // (query, head) pairs are independent: threads change no operation order.
  pool.parallel_for(n * H, [&](int64_t jb, int64_t jend, int) {
    std::vector<float> p(static_cast<size_t>(n_kv)), vc(static_cast<size_t>(n_kv)), kr(static_cast<size_t>(dk));
    for (int64_t job = jb; job < jend; ++job) {
      const int64_t t = job / H, h = job % H;
      const int64_t kvh = h / group, pos = pos0 + t;
      const int64_t first = P.window > 0 ? std::max<int64_t>(0, pos - P.window + 1) : 0;
      const float* qv = q + (t * H + h) * dk;
      float mx = -INFINITY;
      for (int64_t j = 0; j < n_kv; ++j) {
        float s = -INFINITY;
        if (j >= first && j <= pos) {
          for (int64_t d = 0; d < dk; ++d) kr[static_cast<size_t>(d)] = fp16_to_fp32(k16[(j * HKV + kvh) * dk + d]);
          s = ik::dot16(kr.data(), qv, dk);
          if (P.softcap > 0) s = std::tanh(s / P.softcap) * P.softcap;
          s *= P.scale;
        }
        p[static_cast<size_t>(j)] = s;
        mx = std::max(mx, s);
      }
      mx = sink_max(P, h, mx);
      float lanes[16] = {};
      for (int64_t j = 0; j < n_kv; ++j) {
        float& pj = p[static_cast<size_t>(j)];
        pj = ops::expf_fast(pj - mx);
        lanes[j % 16] += pj;
      }
      float t8[8], t4[4];
      for (int i = 0; i < 8; ++i) t8[i] = lanes[i] + lanes[i + 8];
      for (int i = 0; i < 4; ++i) t4[i] = t8[i] + t8[i + 4];
      const double sum = static_cast<double>((t4[0] + t4[2]) + (t4[1] + t4[3])) + sink_term(P, h, mx);
      const float inv = static_cast<float>(1.0 / sum);
      for (int64_t j = 0; j < n_kv; ++j) p[static_cast<size_t>(j)] *= inv;
      float* o = out + (t * H + h) * dv;
      for (int64_t d = 0; d < dv; ++d) {
        for (int64_t j = 0; j < n_kv; ++j)
          vc[static_cast<size_t>(j)] = j < n_real ? fp16_to_fp32(v16[(j * HKV + kvh) * dv + d]) : 0.0f;
        o[d] = ik::dot16(vc.data(), p.data(), n_kv);
      }
    }
  });
}
}  // namespace attn_detail

}  // namespace larql
