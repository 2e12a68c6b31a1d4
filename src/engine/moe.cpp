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
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <limits>

#include "engine/expert_cache.h"
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

// gpt-oss: top-k of the (biased) logits themselves, then a softmax over only
// the k chosen (ggml's SOFTMAX_WEIGHT gating); no renormalisation or scale.
void route_softmax_selected(int64_t X, int64_t k, const float* logits, int32_t* sel, float* w) {
  thread_local std::vector<uint8_t> taken;
  taken.assign(static_cast<size_t>(X), 0);
  for (int64_t j = 0; j < k; ++j) sel[j] = static_cast<int32_t>(take_max(logits, taken, X));
  const float m = logits[sel[0]];  // the largest
  double sum = 0;
  for (int64_t j = 0; j < k; ++j) sum += w[j] = std::exp(logits[sel[j]] - m);
  const float inv = static_cast<float>(1.0 / sum);
  for (int64_t j = 0; j < k; ++j) w[j] *= inv;
}

// gpt-oss's clamped SwiGLU: the gate is capped at limit, the up projection
// clamped to [-limit, limit] and shifted by one.
constexpr float kOaiAlpha = 1.702f, kOaiLimit = 7.0f;

}  // namespace

float swiglu_clamped(float g, float u) {
  const float x = std::min(g, kOaiLimit), y = std::max(std::min(u, kOaiLimit), -kOaiLimit);
  return x / (1.0f + std::exp(-kOaiAlpha * x)) * (y + 1.0f);
}

void moe_route(const Family& fam, int64_t n_expert, int64_t k, const float* logits, const float* bias, int32_t* sel,
               float* w, std::vector<float>& tmp) {
  const int64_t X = n_expert;
  if (fam.gating == Gating::SoftmaxSelected) return route_softmax_selected(X, k, logits, sel, w);
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

namespace {
// g[i] = act(g[i] (+ gate bias), u[i] (+ up bias)) over c rows of F for expert e.
void expert_act(const Family& fam, const LayerWeights& L, int64_t e, int64_t c, int64_t F, float* g, float* u) {
  const float *gb = L.gate_exps_b.ptr(), *ub = L.up_exps_b.ptr();
  if (gb) gb += e * F;
  if (ub) ub += e * F;
  for (int64_t r = 0; r < c; ++r) {
    float *gr = g + r * F, *ur = u + r * F;
    if (gb) for (int64_t i = 0; i < F; ++i) gr[i] += gb[i];
    if (ub) for (int64_t i = 0; i < F; ++i) ur[i] += ub[i];
    if (fam.ffn == FFNKind::SwiGLUClamped) for (int64_t i = 0; i < F; ++i) gr[i] = swiglu_clamped(gr[i], ur[i]);
    else ops::swiglu(gr, ur, gr, F);
  }
}
// LARQL_MOE_FUSED=0: the per-expert products (A/B measurements).
bool fused_enabled() {
  static const bool on = [] {
    const char* e = std::getenv("LARQL_MOE_FUSED");
    return !(e && std::strcmp(e, "0") == 0);
  }();
  return on;
}
}  // namespace

void moe_ffn(const Family& fam, const HParams& hp, const LayerWeights& L, const float* x, int64_t n, float* out,
             MoEScratch& S, ThreadPool& pool, MoEStats* stats, const ExpertSource* src) {
  const int64_t E = hp.n_embd, X = hp.n_expert, K = hp.n_expert_used, F = hp.n_ff_exp;
  S.logits.resize(static_cast<size_t>(n * X));
  S.sel.resize(static_cast<size_t>(n * K));
  S.w.resize(static_cast<size_t>(n * K));
  matmul(L.ffn_gate_inp, x, n, S.logits.data(), pool);
  if (const float* rb = L.ffn_gate_inp_b.ptr())  // gpt-oss router bias
    for (int64_t t = 0; t < n; ++t)
      for (int64_t e = 0; e < X; ++e) S.logits[static_cast<size_t>(t * X + e)] += rb[e];
  for (int64_t t = 0; t < n; ++t)
    moe_route(fam, X, K, S.logits.data() + t * X, L.exp_probs_b.ptr(), S.sel.data() + t * K, S.w.data() + t * K, S.route);

  // Bucket the (row, slot) pairs by expert.
  S.start.assign(static_cast<size_t>(X + 1), 0);
  for (int64_t i = 0; i < n * K; ++i) ++S.start[static_cast<size_t>(S.sel[static_cast<size_t>(i)]) + 1];
  for (int64_t e = 0; e < X; ++e) S.start[static_cast<size_t>(e + 1)] += S.start[static_cast<size_t>(e)];
  S.order.resize(static_cast<size_t>(n * K));
  S.fill.assign(S.start.begin(), S.start.end() - 1);
  for (int64_t i = 0; i < n * K; ++i)
    S.order[static_cast<size_t>(S.fill[static_cast<size_t>(S.sel[static_cast<size_t>(i)])]++)] = static_cast<int32_t>(i);

  S.ys.resize(static_cast<size_t>(n * K * E));
  experts_begin(src, S.start, n);  // --ram-budget: queue missing experts, predict the next layer
  // Mapped experts: all selected experts' products in a few dispatches (moe_exec.cpp).
  const bool fused = (!src || !src->cache) && !S.force_per_expert && fused_enabled() && moe_experts_fused(fam, L, x, n, E, F, K, X, S, pool);
  if (fused && stats)
    for (int64_t e = 0; e < X; ++e) {
      const int64_t c = S.start[static_cast<size_t>(e + 1)] - S.start[static_cast<size_t>(e)];
      if (c == 0) continue;
      stats->expert_matmuls += 1;
      stats->expert_uses += static_cast<uint64_t>(c);
      stats->expert_bytes += L.gate_exps.expert_bytes + L.up_exps.expert_bytes + L.down_exps.expert_bytes;
    }
  for (int64_t e = 0; e < X && !fused; ++e) {
    const int64_t b = S.start[static_cast<size_t>(e)], c = S.start[static_cast<size_t>(e + 1)] - b;
    if (c == 0) continue;
    S.xg.resize(static_cast<size_t>(c * E));
    S.g.resize(static_cast<size_t>(c * F));
    S.u.resize(static_cast<size_t>(c * F));
    S.y.resize(static_cast<size_t>(c * E));
    for (int64_t i = 0; i < c; ++i)
      std::memcpy(S.xg.data() + i * E, x + (S.order[static_cast<size_t>(b + i)] / K) * E, sizeof(float) * E);
    const ExpertPin ex(L, src, e);  // the expert's weights: mapped, or a pinned cache slot
    matmul(ex.h.gate, S.xg.data(), c, S.g.data(), pool, Product::Expert);
    matmul(ex.h.up, S.xg.data(), c, S.u.data(), pool, Product::Expert);
    expert_act(fam, L, e, c, F, S.g.data(), S.u.data());
    matmul(ex.h.down, S.g.data(), c, S.y.data(), pool, Product::Expert);
    if (const float* db = L.down_exps_b.ptr())  // gpt-oss expert down bias
      for (int64_t i = 0; i < c; ++i)
        for (int64_t o = 0; o < E; ++o) S.y[static_cast<size_t>(i * E + o)] += db[e * E + o];
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
  if (n >= 2)
    pool.parallel_for(n, [&](int64_t t0, int64_t t1, int) {
      ops::swiglu(S.g.data() + t0 * SF, S.u.data() + t0 * SF, S.g.data() + t0 * SF, (t1 - t0) * SF);
    });
  else ops::swiglu(S.g.data(), S.u.data(), S.g.data(), SF);
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
