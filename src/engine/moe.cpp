// Mixture-of-experts FFN. Routing follows llama.cpp's graph (llm_build_moe_ffn)
// and the Hugging Face reference implementations:
//   p = softmax(logits) | sigmoid(logits);  s = p (+ exp_probs_b, DeepSeek V3)
//   [group limit: keep the best groups of s, mask the rest]
//   sel = top-k(s);  w = p[sel] (/ sum, if normalised) * routed scale
//   out = sum_j w_j * down_j(silu(gate_j x) * up_j x)  [+ shared expert]
// Execution: rows are bucketed by expert (counting sort), so each selected
// expert is one matrix product over its rows through the same int8 kernels as
// the dense FFN; unselected experts' bytes are never touched.
#include "engine/moe.h"

#include <cmath>
#include <cstring>
#include <limits>

#include "kernels/matmul.h"
#include "kernels/ops.h"
#include "util/thread_pool.h"

namespace larql {

namespace {

// Index of the largest value among the not-yet-taken ones (ties: lower index).
int64_t take_max(const float* s, std::vector<uint8_t>& taken, int64_t n) {
  int64_t best = -1;
  for (int64_t i = 0; i < n; ++i)
    if (!taken[static_cast<size_t>(i)] && (best < 0 || s[i] > s[best])) best = i;
  taken[static_cast<size_t>(best)] = 1;
  return best;
}

// DeepSeek group-limited routing: rank groups of experts, keep the best
// `used`, and mask the scores of every expert outside them.
void limit_groups(const Family& fam, int64_t n_expert, float* s) {
  const int64_t G = fam.expert_groups, per = n_expert / G;
  thread_local std::vector<float> gs;
  thread_local std::vector<uint8_t> taken;
  gs.assign(static_cast<size_t>(G), 0.0f);
  for (int64_t g = 0; g < G; ++g) {
    const float* x = s + g * per;
    float a = -std::numeric_limits<float>::infinity(), b = a;  // best two
    for (int64_t i = 0; i < per; ++i) {
      if (x[i] > a) { b = a; a = x[i]; }
      else if (x[i] > b) b = x[i];
    }
    gs[static_cast<size_t>(g)] = fam.group_score == GroupScore::Top2Sum && per > 1 ? a + b : a;
  }
  taken.assign(static_cast<size_t>(G), 0);
  for (int64_t j = 0; j < fam.expert_groups_used; ++j) take_max(gs.data(), taken, G);
  for (int64_t g = 0; g < G; ++g)
    if (!taken[static_cast<size_t>(g)])
      for (int64_t i = 0; i < per; ++i) s[g * per + i] = -std::numeric_limits<float>::infinity();
}

}  // namespace

void moe_route(const Family& fam, int64_t n_expert, int64_t k, const float* logits, const float* bias, int32_t* sel,
               float* w, std::vector<float>& tmp) {
  const int64_t X = n_expert;
  tmp.resize(static_cast<size_t>(2 * X));
  float *p = tmp.data(), *s = p + X;
  if (fam.gating == Gating::Softmax) {
    float m = logits[0];
    for (int64_t i = 1; i < X; ++i) m = std::max(m, logits[i]);
    double sum = 0;
    for (int64_t i = 0; i < X; ++i) sum += p[i] = std::exp(logits[i] - m);
    const float inv = static_cast<float>(1.0 / sum);
    for (int64_t i = 0; i < X; ++i) p[i] *= inv;
  } else {
    for (int64_t i = 0; i < X; ++i) p[i] = 1.0f / (1.0f + std::exp(-logits[i]));
  }
  for (int64_t i = 0; i < X; ++i) s[i] = bias ? p[i] + bias[i] : p[i];
  if (fam.expert_groups > 1 && fam.expert_groups_used < fam.expert_groups) limit_groups(fam, X, s);
  thread_local std::vector<uint8_t> taken;
  taken.assign(static_cast<size_t>(X), 0);
  float sum = 0;
  for (int64_t j = 0; j < k; ++j) {
    const int64_t e = take_max(s, taken, X);
    sel[j] = static_cast<int32_t>(e);
    w[j] = p[e];
    sum += w[j];
  }
  for (int64_t j = 0; j < k; ++j) w[j] = (fam.moe_norm_topk ? w[j] / sum : w[j]) * fam.moe_scale;
}

void moe_ffn(const Family& fam, const HParams& hp, const LayerWeights& L, const float* x, int64_t n, float* out,
             MoEScratch& S, ThreadPool& pool, MoEStats* stats) {
  const int64_t E = hp.n_embd, X = hp.n_expert, K = hp.n_expert_used, F = hp.n_ff_exp;
  S.logits.resize(static_cast<size_t>(n * X));
  S.sel.resize(static_cast<size_t>(n * K));
  S.w.resize(static_cast<size_t>(n * K));
  matmul(L.ffn_gate_inp, x, n, S.logits.data(), pool);
  for (int64_t t = 0; t < n; ++t)
    moe_route(fam, X, K, S.logits.data() + t * X, L.exp_probs_b.ptr(), S.sel.data() + t * K, S.w.data() + t * K, S.route);

  // Bucket the (row, slot) pairs by expert.
  S.start.assign(static_cast<size_t>(X + 1), 0);
  for (int64_t i = 0; i < n * K; ++i) ++S.start[static_cast<size_t>(S.sel[static_cast<size_t>(i)]) + 1];
  for (int64_t e = 0; e < X; ++e) S.start[static_cast<size_t>(e + 1)] += S.start[static_cast<size_t>(e)];
  S.order.resize(static_cast<size_t>(n * K));
  {
    std::vector<int64_t> fill(S.start.begin(), S.start.end() - 1);
    for (int64_t i = 0; i < n * K; ++i)
      S.order[static_cast<size_t>(fill[static_cast<size_t>(S.sel[static_cast<size_t>(i)])]++)] = static_cast<int32_t>(i);
  }

  S.ys.resize(static_cast<size_t>(n * K * E));
  for (int64_t e = 0; e < X; ++e) {
    const int64_t b = S.start[static_cast<size_t>(e)], c = S.start[static_cast<size_t>(e + 1)] - b;
    if (c == 0) continue;
    S.xg.resize(static_cast<size_t>(c * E));
    S.g.resize(static_cast<size_t>(c * F));
    S.u.resize(static_cast<size_t>(c * F));
    S.y.resize(static_cast<size_t>(c * E));
    for (int64_t i = 0; i < c; ++i)
      std::memcpy(S.xg.data() + i * E, x + (S.order[static_cast<size_t>(b + i)] / K) * E, sizeof(float) * E);
    matmul(L.gate_exps.at(e), S.xg.data(), c, S.g.data(), pool, Product::Expert);
    matmul(L.up_exps.at(e), S.xg.data(), c, S.u.data(), pool, Product::Expert);
    for (int64_t i = 0; i < c * F; ++i) S.g[static_cast<size_t>(i)] = ops::silu(S.g[static_cast<size_t>(i)]) * S.u[static_cast<size_t>(i)];
    matmul(L.down_exps.at(e), S.g.data(), c, S.y.data(), pool, Product::Expert);
    for (int64_t i = 0; i < c; ++i)
      std::memcpy(S.ys.data() + S.order[static_cast<size_t>(b + i)] * E, S.y.data() + i * E, sizeof(float) * E);
    if (stats) {
      stats->expert_matmuls += 1;
      stats->expert_uses += static_cast<uint64_t>(c);
      stats->expert_bytes += L.gate_exps.expert_bytes + L.up_exps.expert_bytes + L.down_exps.expert_bytes;
    }
  }
  if (stats) stats->rows += static_cast<uint64_t>(n);

  // Weighted sum in selection order (llama.cpp's order of additions).
  for (int64_t t = 0; t < n; ++t) {
    float* o = out + t * E;
    for (int64_t j = 0; j < K; ++j) {
      const float wj = S.w[static_cast<size_t>(t * K + j)];
      const float* y = S.ys.data() + (t * K + j) * E;
      if (j == 0) for (int64_t i = 0; i < E; ++i) o[i] = wj * y[i];
      else for (int64_t i = 0; i < E; ++i) o[i] += wj * y[i];
    }
  }

  if (fam.shared_expert == SharedExpert::None) return;
  const int64_t SF = L.ffn_gate_shexp.n_out;
  S.g.resize(static_cast<size_t>(n * SF));
  S.u.resize(static_cast<size_t>(n * SF));
  S.sh.resize(static_cast<size_t>(n * E));
  matmul(L.ffn_gate_shexp, x, n, S.g.data(), pool);
  matmul(L.ffn_up_shexp, x, n, S.u.data(), pool);
  for (int64_t i = 0; i < n * SF; ++i) S.g[static_cast<size_t>(i)] = ops::silu(S.g[static_cast<size_t>(i)]) * S.u[static_cast<size_t>(i)];
  matmul(L.ffn_down_shexp, S.g.data(), n, S.sh.data(), pool);
  for (int64_t t = 0; t < n; ++t) {
    float gate = 1.0f;
    if (fam.shared_expert == SharedExpert::SigmoidGated) {
      const float* gw = L.ffn_gate_inp_shexp.ptr();
      float d = 0;
      for (int64_t i = 0; i < E; ++i) d += gw[i] * x[t * E + i];
      gate = 1.0f / (1.0f + std::exp(-d));
    }
    for (int64_t i = 0; i < E; ++i) out[t * E + i] += gate * S.sh[static_cast<size_t>(t * E + i)];
  }
}

}  // namespace larql
