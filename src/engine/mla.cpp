// MLA forward (see mla.h). Two equivalent ways to attend over the latent cache,
// chosen per sequence by arithmetic cost:
//  * expanded: K_nope/V of every cached position = attn_kv_b . c (one int8
//    matrix product over the positions), then ordinary attention per head. This
//    is llama.cpp's graph; it is the cheaper one for a fresh prompt (nothing to
//    re-expand) and matches the reference bit for bit on quantized files.
//  * absorbed: W_kb folded into the queries and W_vb applied after attention,
//    so a decode step touches only the latent rows: O(n_kv * (2*kv_lora + rope))
//    per head instead of re-expanding n_kv positions.
#include "engine/mla.h"

#include <cmath>
#include <cstring>

#include "kernels/matmul.h"
#include "util/half.h"
#include "util/thread_pool.h"

namespace larql {

namespace {

struct Dims {
  int64_t H, dk, dv, dr, nope, R, W;
  explicit Dims(const HParams& hp)
      : H(hp.n_head), dk(hp.head_dim_k), dv(hp.head_dim_v), dr(hp.rope_dim), nope(hp.head_dim_k - hp.rope_dim),
        R(hp.kv_lora_rank), W(hp.kv_lora_rank + hp.rope_dim) {}
};

// Dot product with independent partial sums, so the compiler can vectorise it.
float dot(const float* a, const float* b, int64_t n) {
  float s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int k = 0; k < 8; ++k) s[k] += a[i + k] * b[i + k];
  float r = ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
  for (; i < n; ++i) r += a[i] * b[i];
  return r;
}

void store(const float* src, void* cache, KVType t, int64_t off, int64_t n) {
  if (t == KVType::F32) {
    std::memcpy(static_cast<float*>(cache) + off, src, sizeof(float) * n);
  } else {
    uint16_t* d = static_cast<uint16_t*>(cache) + off;
    for (int64_t i = 0; i < n; ++i) d[i] = fp32_to_fp16(src[i]);
  }
}

// Cache row j as floats (fp16 rows are converted into buf).
const float* cache_row(const MLASequence& sq, int64_t W, int64_t j, float* buf) {
  if (sq.type == KVType::F32) return static_cast<const float*>(sq.cache) + j * W;
  const uint16_t* c = static_cast<const uint16_t*>(sq.cache) + j * W;
  for (int64_t i = 0; i < W; ++i) buf[i] = fp16_to_fp32(c[i]);
  return buf;
}

// In-place softmax of sc[0..n) (scores already scaled); returns 1/sum.
float softmax_inplace(float* sc, int64_t n) {
  float m = -INFINITY;
  for (int64_t j = 0; j < n; ++j) m = std::max(m, sc[j]);
  float sum = 0;
  for (int64_t j = 0; j < n; ++j) sum += sc[j] = std::exp(sc[j] - m);
  return 1.0f / sum;
}

// Expanded attention of one sequence's rows (batch rows r0..r0+sq.n).
void attend_expanded(const Dims& d, const Family& fam, const LayerWeights& L, const MLASequence& sq, int64_t r0,
                     MLAScratch& S, float* att, ThreadPool& pool) {
  const int64_t n_kv = sq.n_past + sq.n, KV = d.H * (d.nope + d.dv);
  S.lat.resize(static_cast<size_t>(n_kv * d.R));
  std::vector<float> buf(static_cast<size_t>(d.W));
  for (int64_t j = 0; j < n_kv; ++j) std::memcpy(S.lat.data() + j * d.R, cache_row(sq, d.W, j, buf.data()), sizeof(float) * d.R);
  S.o.resize(static_cast<size_t>(n_kv * KV));
  matmul(L.wkv_b, S.lat.data(), n_kv, S.o.data(), pool);
  const float* kv = S.o.data();
  pool.parallel_for(d.H * sq.n, [&](int64_t p0, int64_t p1, int) {
    std::vector<float> sc(static_cast<size_t>(n_kv)), cb(static_cast<size_t>(d.W));
    for (int64_t p = p0; p < p1; ++p) {
      const int64_t h = p / sq.n, t = p % sq.n, row = r0 + t, last = sq.n_past + t;
      const float* qn = S.q.data() + (row * d.H + h) * d.dk;
      const float* qp = S.qpe.data() + (row * d.H + h) * d.dr;
      for (int64_t j = 0; j <= last; ++j)
        sc[static_cast<size_t>(j)] =
            (dot(qn, kv + j * KV + h * (d.nope + d.dv), d.nope) + dot(qp, cache_row(sq, d.W, j, cb.data()) + d.R, d.dr)) *
            fam.attn_scale;
      const float inv = softmax_inplace(sc.data(), last + 1);
      float* o = att + (row * d.H + h) * d.dv;
      std::fill(o, o + d.dv, 0.0f);
      for (int64_t j = 0; j <= last; ++j) {
        const float a = sc[static_cast<size_t>(j)] * inv;
        const float* v = kv + j * KV + h * (d.nope + d.dv) + d.nope;
        for (int64_t i = 0; i < d.dv; ++i) o[i] += a * v[i];
      }
    }
  });
}

// Absorbed attention of one sequence's rows; writes lat[h][row] (latent-space outputs).
void attend_absorbed(const Dims& d, const Family& fam, const LayerWeights& L, const MLASequence& sq, int64_t r0,
                     int64_t n, MLAScratch& S, ThreadPool& pool) {
  // qabs[h][t] = sum_r q_nope[t][h][r] * W_kb[h][r][:] over this sequence's rows.
  S.qabs.assign(static_cast<size_t>(d.H * sq.n * d.R), 0.0f);
  pool.parallel_for(d.H, [&](int64_t h0, int64_t h1, int) {
    for (int64_t h = h0; h < h1; ++h)
      for (int64_t r = 0; r < d.nope; ++r) {
        const float* row = L.wkb.v.data() + (h * d.nope + r) * d.R;  // = weight_row(wkv_b, h * (nope + dv) + r)
        for (int64_t t = 0; t < sq.n; ++t) {
          const float qv = S.q[static_cast<size_t>(((r0 + t) * d.H + h) * d.dk + r)];
          float* qa = S.qabs.data() + (h * sq.n + t) * d.R;
          for (int64_t i = 0; i < d.R; ++i) qa[i] += qv * row[i];
        }
      }
  });
  const int64_t n_kv = sq.n_past + sq.n;
  pool.parallel_for(d.H * sq.n, [&](int64_t p0, int64_t p1, int) {
    std::vector<float> sc(static_cast<size_t>(n_kv)), cb(static_cast<size_t>(d.W));
    for (int64_t p = p0; p < p1; ++p) {
      const int64_t h = p / sq.n, t = p % sq.n, row = r0 + t, last = sq.n_past + t;
      const float* qa = S.qabs.data() + (h * sq.n + t) * d.R;
      const float* qp = S.qpe.data() + (row * d.H + h) * d.dr;
      for (int64_t j = 0; j <= last; ++j) {
        const float* c = cache_row(sq, d.W, j, cb.data());
        sc[static_cast<size_t>(j)] = (dot(qa, c, d.R) + dot(qp, c + d.R, d.dr)) * fam.attn_scale;
      }
      const float inv = softmax_inplace(sc.data(), last + 1);
      float* o = S.lat.data() + (h * n + row) * d.R;
      std::fill(o, o + d.R, 0.0f);
      for (int64_t j = 0; j <= last; ++j) {
        const float* c = cache_row(sq, d.W, j, cb.data());
        const float a = sc[static_cast<size_t>(j)] * inv;
        for (int64_t i = 0; i < d.R; ++i) o[i] += a * c[i];
      }
    }
  });
}

// Multiply-adds of each strategy for one sequence (causal halving ignored).
bool expand_is_cheaper(const Dims& d, const MLASequence& sq) {
  const double n = static_cast<double>(sq.n), n_kv = static_cast<double>(sq.n_past + sq.n);
  const double expanded = n_kv * d.R * d.H * (d.nope + d.dv) + n * n_kv * d.H * (d.dk + d.dv);
  const double absorbed = n * d.H * d.R * (d.nope + d.dv) + n * n_kv * d.H * (2 * d.R + d.dr);
  return expanded <= absorbed;
}

}  // namespace

void mla_attention(const HParams& hp, const Family& fam, const LayerWeights& L, ops::RopeConfig rope, const float* h,
                   int64_t n, const int64_t* pos, const MLASequence* seqs, size_t n_seqs, float* att, MLAScratch& S,
                   ThreadPool& pool) {
  const Dims d(hp);
  const float eps = static_cast<float>(hp.norm_eps);

  // Queries (optionally through the compressed q_a -> norm -> q_b path).
  S.q.resize(static_cast<size_t>(n * d.H * d.dk));
  if (L.wq_a.valid()) {
    const int64_t QR = L.wq_a.n_out;
    S.qa.resize(static_cast<size_t>(n * QR));
    matmul(L.wq_a, h, n, S.qa.data(), pool);
    for (int64_t t = 0; t < n; ++t) ops::rms_norm(S.qa.data() + t * QR, L.q_a_norm.ptr(), eps, QR, S.qa.data() + t * QR);
    matmul(L.wq_b, S.qa.data(), n, S.q.data(), pool);
  } else {
    matmul(L.wq, h, n, S.q.data(), pool);
  }
  // Latent and shared rope key.
  S.kva.resize(static_cast<size_t>(n * d.W));
  matmul(L.wkv_a, h, n, S.kva.data(), pool);
  // llama.cpp hands rope a pre-divided attn_factor so YaRN's magnitude
  // correction cancels; the scale lives in the attention scale instead.
  if (rope.freq_scale != 1.0f) rope.attn_factor = 1.0f / (1.0f + 0.1f * std::log(1.0f / rope.freq_scale));
  S.qpe.resize(static_cast<size_t>(n * d.H * d.dr));
  for (int64_t t = 0; t < n; ++t) {
    float* kv = S.kva.data() + t * d.W;
    ops::rms_norm(kv, L.kv_a_norm.ptr(), eps, d.R, kv);
    ops::rope(kv + d.R, 1, d.dr, pos[t], rope);
    float* qp = S.qpe.data() + t * d.H * d.dr;
    for (int64_t hh = 0; hh < d.H; ++hh)
      std::memcpy(qp + hh * d.dr, S.q.data() + (t * d.H + hh) * d.dk + d.nope, sizeof(float) * d.dr);
    ops::rope(qp, d.H, d.dr, pos[t], rope);
  }

  // Per sequence: append to its cache, then attend the cheaper way.
  std::vector<char> absorbed(n_seqs, 0);
  bool any_absorbed = false;
  int64_t r0 = 0;
  for (size_t si = 0; si < n_seqs; ++si) {
    const MLASequence& sq = seqs[si];
    for (int64_t t = 0; t < sq.n; ++t) store(S.kva.data() + (r0 + t) * d.W, sq.cache, sq.type, (sq.n_past + t) * d.W, d.W);
    if (expand_is_cheaper(d, sq)) {
      attend_expanded(d, fam, L, sq, r0, S, att, pool);
    } else {
      absorbed[si] = 1;
      any_absorbed = true;
    }
    r0 += sq.n;
  }
  if (!any_absorbed) return;
  S.lat.resize(static_cast<size_t>(d.H * n * d.R));  // after the expanded sequences, which reuse lat
  r0 = 0;
  for (size_t si = 0; si < n_seqs; ++si) {
    if (absorbed[si]) attend_absorbed(d, fam, L, seqs[si], r0, n, S, pool);
    r0 += seqs[si].n;
  }
  // W_vb per head over all absorbed rows at once: att[t][h] = W_vb[h] . lat[h][t].
  // One dispatch over heads, each head's product on the worker that owns it (a
  // one-thread pool): a decode step hands off once per layer instead of once per
  // head, and matmul's values do not depend on how its rows are split.
  S.o.resize(static_cast<size_t>(d.H * n * d.dv));
  pool.parallel_for(d.H, [&](int64_t h0, int64_t h1, int) {
    thread_local ThreadPool one(1);
    for (int64_t hh = h0; hh < h1; ++hh) {
      WeightView vb = L.wkv_b;
      vb.data += static_cast<uint64_t>(hh * (d.nope + d.dv) + d.nope) * vb.row_bytes;
      vb.n_out = d.dv;
      vb.packed = nullptr;
      matmul(vb, S.lat.data() + hh * n * d.R, n, S.o.data() + hh * n * d.dv, one);
    }
  });
  for (int64_t hh = 0; hh < d.H; ++hh) {
    r0 = 0;
    for (size_t si = 0; si < n_seqs; ++si) {
      if (absorbed[si])
        for (int64_t t = r0; t < r0 + seqs[si].n; ++t)
          std::memcpy(att + (t * d.H + hh) * d.dv, S.o.data() + (hh * n + t) * d.dv, sizeof(float) * d.dv);
      r0 += seqs[si].n;
    }
  }
}

}  // namespace larql
