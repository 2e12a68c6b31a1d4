#include "lql/analysis.h"

#include <algorithm>
#include <cmath>
#include <thread>

#include "engine/model.h"
#include "engine/session.h"
#include "kernels/matmul.h"
#include "kernels/ops.h"
#include "tokenizer/tokenizer.h"
#include "util/error.h"
#include "util/thread_pool.h"

namespace larql::lql {

Analyzer::Analyzer(const Model* model, const vindex::Vindex* vx, int n_threads)
    : model_(model), vx_(vx), n_threads_(n_threads) {
  pool_ = std::make_shared<ThreadPool>(n_threads > 0 ? n_threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
  if (!model_ && !vx_) throw Error("nothing loaded: USE a vindex or USE MODEL first");
  const HParams& hp = model_ ? model_->hparams() : vx_->manifest().hparams;
  n_layer_ = hp.n_layer;
  n_embd_ = hp.n_embd;
  down_norms_.resize(static_cast<size_t>(n_layer_));
  down_mat_.resize(static_cast<size_t>(n_layer_));
}

const Tokenizer& Analyzer::tokenizer() const { return model_ ? model_->tokenizer() : vx_->tokenizer(); }
int64_t Analyzer::n_vocab() const { return model_ ? model_->hparams().n_vocab : vx_->manifest().hparams.n_vocab; }

int64_t Analyzer::n_features(int64_t layer) const {
  if (vx_) return vx_->n_features(layer);
  return model_->weights().layers.at(static_cast<size_t>(layer)).ffn_down.n_in;
}

std::vector<int32_t> Analyzer::encode(const std::string& text) const {
  std::vector<int32_t> ids = tokenizer().encode(text, true, false);
  if (ids.empty()) throw Error("the text \"" + text + "\" gives no tokens");
  return ids;
}

std::string Analyzer::piece(int32_t id) const {
  std::string s = tokenizer().token_to_piece(id);
  const size_t a = s.find_first_not_of(" \t\n");
  if (a == std::string::npos) return s;  // whitespace-only token: keep it visible
  const size_t b = s.find_last_not_of(" \t\n");
  return s.substr(a, b - a + 1);
}

ForwardTrace Analyzer::forward(const std::vector<int32_t>& tokens) {
  if (!model_) throw Error("this statement runs the model, but the vindex has no inference weights (extracted WITH BROWSE); USE MODEL or re-extract");
  const HParams& hp = model_->hparams();
  ForwardTrace t;
  t.tokens = tokens;
  t.n_tok = static_cast<int64_t>(tokens.size());
  t.n_embd = n_embd_;
  t.n_layer = n_layer_;
  if (t.n_tok > hp.n_ctx && hp.n_ctx > 0)
    throw Error("prompt has " + std::to_string(t.n_tok) + " tokens; the model's context is " + std::to_string(hp.n_ctx));
  const size_t sz = static_cast<size_t>(t.n_tok * n_embd_);
  t.attn_delta.assign(static_cast<size_t>(n_layer_), std::vector<float>(sz));
  t.attn_resid = t.ffn_delta = t.ffn_resid = t.attn_delta;
  // The embedding exactly as the spine builds it (so the sum invariant is exact).
  const Family& fam = model_->family();
  const ModelWeights& W = model_->weights();
  t.embed.resize(sz);
  std::vector<float> tmp(static_cast<size_t>(n_embd_));
  for (int64_t p = 0; p < t.n_tok; ++p) {
    float* x = t.embed.data() + p * n_embd_;
    weight_row(W.token_embd, tokens[static_cast<size_t>(p)], x);
    if (fam.scale_embeddings) {
      const float s = std::sqrt(static_cast<float>(n_embd_));
      for (int64_t i = 0; i < n_embd_; ++i) x[i] *= s;
    }
    if (fam.learned_positions) {
      weight_row(W.position_embd, p, tmp.data());
      for (int64_t i = 0; i < n_embd_; ++i) x[i] += tmp[static_cast<size_t>(i)];
    }
  }
  SessionOptions so;
  so.pool = pool_;
  so.n_ctx = std::max<int64_t>(t.n_tok, 1);
  so.ffn_patch = edit_ffn_;
  Session s(*model_, so);
  s.set_observer([&](int64_t il, Sublayer which, const float* delta, const float* resid, int64_t n) {
    if (il < 0 || il >= n_layer_ || n != t.n_tok) return;
    auto& d = which == Sublayer::Attention ? t.attn_delta : t.ffn_delta;
    auto& r = which == Sublayer::Attention ? t.attn_resid : t.ffn_resid;
    std::copy(delta, delta + sz, d[static_cast<size_t>(il)].begin());
    std::copy(resid, resid + sz, r[static_cast<size_t>(il)].begin());
  });
  s.eval(tokens.data(), t.n_tok, false, t.logits);
  t.logits.resize(static_cast<size_t>(hp.n_vocab));
  if (edit_hook_) edit_hook_(t, edit_notes_);
  return t;
}

void Analyzer::set_edits(std::shared_ptr<const FfnPatch> ffn, EditHook hook) {
  edit_ffn_ = std::move(ffn);
  edit_hook_ = std::move(hook);
  edit_notes_.clear();
}

void Analyzer::activations(int64_t layer, const float* residual, std::vector<float>& a) const {
  if (!model_) throw Error("FFN activations need inference weights");
  const HParams& hp = model_->hparams();
  const Family& fam = model_->family();
  const LayerWeights& L = model_->weights().layers.at(static_cast<size_t>(layer));
  const int64_t F = L.ffn_down.n_in;
  std::vector<float> h(static_cast<size_t>(n_embd_));
  const float eps = static_cast<float>(hp.norm_eps);
  if (fam.norm == NormKind::Layer) ops::layer_norm(residual, L.ffn_norm.ptr(), L.ffn_norm_b.ptr(), eps, n_embd_, h.data());
  else ops::rms_norm(residual, L.ffn_norm.ptr(), eps, n_embd_, h.data());
  ThreadPool& pool = *pool_;
  a.assign(static_cast<size_t>(F), 0.f);
  if (fam.ffn == FFNKind::GELU) {
    matmul(L.ffn_up, h.data(), 1, a.data(), pool);
    for (int64_t i = 0; i < F; ++i) {
      float v = a[static_cast<size_t>(i)] + (L.ffn_up_b.v.empty() ? 0.f : L.ffn_up_b.v[static_cast<size_t>(i)]);
      a[static_cast<size_t>(i)] = fam.gelu_fp16_table ? ops::gelu_ggml(v) : ops::gelu_tanh(v);
    }
    return;
  }
  std::vector<float> g(static_cast<size_t>(F)), u(static_cast<size_t>(F));
  if (fam.fused_gate_up) {
    std::vector<float> gu(static_cast<size_t>(2 * F));
    matmul(L.ffn_up, h.data(), 1, gu.data(), pool);
    std::copy(gu.begin(), gu.begin() + F, g.begin());
    std::copy(gu.begin() + F, gu.end(), u.begin());
  } else {
    matmul(L.ffn_gate, h.data(), 1, g.data(), pool);
    matmul(L.ffn_up, h.data(), 1, u.data(), pool);
  }
  for (int64_t i = 0; i < F; ++i) {
    const float gi = g[static_cast<size_t>(i)];
    const float act = fam.ffn == FFNKind::GeGLU ? (fam.gelu_fp16_table ? ops::gelu_ggml(gi) : ops::gelu_tanh(gi)) : ops::silu(gi);
    a[static_cast<size_t>(i)] = act * u[static_cast<size_t>(i)];
  }
}

void Analyzer::embedding_scores(int64_t layer, int32_t token, std::vector<float>& s) const {
  if (!vx_) throw Error("embedding fallback needs a vindex");
  std::vector<float> e(static_cast<size_t>(n_embd_)), h(e.size());
  vx_->embedding(token, e.data());
  vx_->ffn_input(layer, e.data(), h.data());
  s.assign(static_cast<size_t>(vx_->n_features(layer)), 0.f);
  vx_->gate_scores(layer, -1, h.data(), s.data());
}

void Analyzer::gate_scores(int64_t layer, const float* residual, std::vector<float>& s) const {
  const int64_t F = n_features(layer);
  s.assign(static_cast<size_t>(F), 0.f);
  std::vector<float> h(static_cast<size_t>(n_embd_));
  if (vx_) {
    vx_->ffn_input(layer, residual, h.data());
    vx_->gate_scores(layer, -1, h.data(), s.data());
    return;
  }
  const Family& fam = model_->family();
  const LayerWeights& L = model_->weights().layers.at(static_cast<size_t>(layer));
  const float eps = static_cast<float>(model_->hparams().norm_eps);
  if (fam.norm == NormKind::Layer) ops::layer_norm(residual, L.ffn_norm.ptr(), L.ffn_norm_b.ptr(), eps, n_embd_, h.data());
  else ops::rms_norm(residual, L.ffn_norm.ptr(), eps, n_embd_, h.data());
  ThreadPool& pool = *pool_;
  if (fam.ffn == FFNKind::GELU || fam.fused_gate_up) {
    std::vector<float> o(static_cast<size_t>(L.ffn_up.n_out));
    matmul(L.ffn_up, h.data(), 1, o.data(), pool);
    std::copy(o.begin(), o.begin() + F, s.begin());
  } else {
    matmul(L.ffn_gate, h.data(), 1, s.data(), pool);
  }
}

void Analyzer::embedding(int32_t token, float* out) const {
  if (token < 0 || token >= n_vocab()) throw Error("token id " + std::to_string(token) + " out of range");
  if (vx_) vx_->embedding(token, out);
  else weight_row(model_->weights().token_embd, token, out);
}

std::vector<FeatureScore> Analyzer::top_features(int64_t layer, const std::vector<float>& a, int64_t k) {
  const std::vector<float>& dn = down_norms(layer);
  std::vector<FeatureScore> all;
  all.reserve(a.size());
  for (size_t f = 0; f < a.size() && f < dn.size(); ++f)
    all.push_back({layer, static_cast<int64_t>(f), a[f], std::fabs(a[f]) * dn[f]});
  k = std::min<int64_t>(k, static_cast<int64_t>(all.size()));
  std::partial_sort(all.begin(), all.begin() + k, all.end(), [](const FeatureScore& x, const FeatureScore& y) {
    return x.contribution != y.contribution ? x.contribution > y.contribution : x.feature < y.feature;
  });
  all.resize(static_cast<size_t>(k));
  return all;
}

const std::vector<float>& Analyzer::down_matrix(int64_t layer) {
  std::vector<float>& m = down_mat_.at(static_cast<size_t>(layer));
  if (m.empty()) {
    const WeightView& d = model_->weights().layers.at(static_cast<size_t>(layer)).ffn_down;
    m.resize(static_cast<size_t>(d.n_out * d.n_in));
    for (int64_t r = 0; r < d.n_out; ++r) weight_row(d, r, m.data() + r * d.n_in);
  }
  return m;
}

void Analyzer::down(int64_t layer, int64_t f, float* out) {
  if (layer < 0 || layer >= n_layer_ || f < 0 || f >= n_features(layer)) throw Error("feature L" + std::to_string(layer) + ":" + std::to_string(f) + " out of range");
  if (vx_) { vx_->down({layer, -1, f}, out); return; }
  const std::vector<float>& m = down_matrix(layer);
  const int64_t F = n_features(layer);
  for (int64_t e = 0; e < n_embd_; ++e) out[e] = m[static_cast<size_t>(e * F + f)];
}

const std::vector<float>& Analyzer::down_norms(int64_t layer) {
  std::vector<float>& dn = down_norms_.at(static_cast<size_t>(layer));
  if (dn.empty()) {
    const int64_t F = n_features(layer);
    dn.resize(static_cast<size_t>(F));
    std::vector<float> v(static_cast<size_t>(n_embd_));
    for (int64_t f = 0; f < F; ++f) {
      down(layer, f, v.data());
      double s = 0;
      for (float x : v) s += static_cast<double>(x) * x;
      dn[static_cast<size_t>(f)] = static_cast<float>(std::sqrt(s));
    }
  }
  return dn;
}

std::vector<vindex::TokenScore> Analyzer::writes(int64_t layer, int64_t f, int64_t k) {
  if (vx_) {
    std::vector<vindex::TokenScore> m = vx_->down_meta({layer, -1, f});
    if (!m.empty()) {
      if (static_cast<int64_t>(m.size()) > k) m.resize(static_cast<size_t>(k));
      return m;
    }
  }
  std::vector<float> v(static_cast<size_t>(n_embd_));
  down(layer, f, v.data());
  if (vx_) return vx_->project_to_vocab(v.data(), k);
  // head · (norm_w ⊙ v), as the vindex's down_meta does.
  const ModelWeights& W = model_->weights();
  for (int64_t i = 0; i < n_embd_ && !W.output_norm.v.empty(); ++i) v[static_cast<size_t>(i)] *= W.output_norm.v[static_cast<size_t>(i)];
  std::vector<float> logits(static_cast<size_t>(n_vocab()));
  matmul(W.output, v.data(), 1, logits.data(), *pool_);
  const double cap = model_->hparams().final_softcap;
  if (cap > 0)
    for (float& x : logits) x = static_cast<float>(std::tanh(x / cap) * cap);
  std::vector<vindex::TokenScore> out;
  for (int32_t t : top_k(logits, k)) out.push_back({t, logits[static_cast<size_t>(t)]});
  return out;
}

std::string Analyzer::label(int64_t layer, int64_t f) const { return vx_ ? vx_->label({layer, -1, f}) : std::string(); }

void Analyzer::lens(const float* residual, std::vector<float>& logits) const {
  if (!model_) throw Error("the logit lens needs inference weights");
  const HParams& hp = model_->hparams();
  const ModelWeights& W = model_->weights();
  std::vector<float> h(static_cast<size_t>(n_embd_));
  const float eps = static_cast<float>(hp.norm_eps);
  if (model_->family().norm == NormKind::Layer) ops::layer_norm(residual, W.output_norm.ptr(), W.output_norm_b.ptr(), eps, n_embd_, h.data());
  else ops::rms_norm(residual, W.output_norm.ptr(), eps, n_embd_, h.data());
  logits.assign(static_cast<size_t>(hp.n_vocab), 0.f);
  matmul(W.output, h.data(), 1, logits.data(), *pool_);
  if (hp.final_softcap > 0) {
    const float cap = static_cast<float>(hp.final_softcap);
    for (float& x : logits) x = std::tanh(x / cap) * cap;
  }
}

float Analyzer::final_inv_rms(const float* residual) const {
  double s = 0;
  for (int64_t i = 0; i < n_embd_; ++i) s += static_cast<double>(residual[i]) * residual[i];
  return static_cast<float>(1.0 / std::sqrt(s / static_cast<double>(n_embd_) + model_->hparams().norm_eps));
}

void Analyzer::head_row(int32_t token, std::vector<float>& out) const {
  const ModelWeights& W = model_->weights();
  out.assign(static_cast<size_t>(n_embd_), 0.f);
  weight_row(W.output, token, out.data());
  for (int64_t i = 0; i < n_embd_ && !W.output_norm.v.empty(); ++i) out[static_cast<size_t>(i)] *= W.output_norm.v[static_cast<size_t>(i)];
}

std::vector<float> softmax_probs(const std::vector<float>& logits) {
  std::vector<float> p(logits.size());
  if (logits.empty()) return p;
  const float mx = *std::max_element(logits.begin(), logits.end());
  double sum = 0;
  for (float x : logits) sum += std::exp(static_cast<double>(x) - mx);
  for (size_t i = 0; i < logits.size(); ++i) p[i] = static_cast<float>(std::exp(static_cast<double>(logits[i]) - mx) / sum);
  return p;
}

int64_t rank_of(const std::vector<float>& logits, int32_t token) {
  const float v = logits.at(static_cast<size_t>(token));
  int64_t r = 0;
  for (size_t i = 0; i < logits.size(); ++i)
    if (logits[i] > v || (logits[i] == v && static_cast<int32_t>(i) < token)) ++r;
  return r;
}

std::vector<int32_t> top_k(const std::vector<float>& v, int64_t k) {
  std::vector<int32_t> idx(v.size());
  for (size_t i = 0; i < v.size(); ++i) idx[i] = static_cast<int32_t>(i);
  k = std::clamp<int64_t>(k, 0, static_cast<int64_t>(idx.size()));
  std::partial_sort(idx.begin(), idx.begin() + k, idx.end(), [&](int32_t a, int32_t b) {
    return v[static_cast<size_t>(a)] != v[static_cast<size_t>(b)] ? v[static_cast<size_t>(a)] > v[static_cast<size_t>(b)] : a < b;
  });
  idx.resize(static_cast<size_t>(k));
  return idx;
}

}  // namespace larql::lql
