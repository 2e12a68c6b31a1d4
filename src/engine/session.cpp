// The forward spine: one parameterised pass for every dense family.
//   x = embed(tokens)                       (* sqrt(E) for gemma, + positions for gpt2)
//   per layer: h = norm(x); a = attention(h); [post-norm]; x += a
//              h = norm(x); f = ffn(h);       [post-norm]; x += f
//   logits = head(norm(x))                  (soft-capped for gemma2)
#include "engine/session.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>

#include "kernels/ops.h"
#include "util/error.h"
#include "util/half.h"

namespace larql {

// Cache storage is left uninitialised: only positions < n_past are ever read,
// and every one of them was written first, so a large context costs no
// up-front page touching.
template <typename T>
struct Buf {
  std::unique_ptr<T[]> p;
  void resize(size_t n) { p.reset(new T[n]); }
  T* data() { return p.get(); }
  const T* data() const { return p.get(); }
  T& operator[](size_t i) { return p[i]; }
  const T& operator[](size_t i) const { return p[i]; }
};

struct Session::KV {
  Buf<float> k32, v32;
  Buf<uint16_t> k16, v16;
};

Session::Session(const Model& model, const SessionOptions& opt) : model_(model), opt_(opt) {
  const HParams& hp = model.hparams();
  n_ctx_ = opt.n_ctx > 0 ? opt.n_ctx : std::min<int64_t>(hp.n_ctx > 0 ? hp.n_ctx : 4096, 4096);
  if (model.family().learned_positions && n_ctx_ > hp.n_ctx) n_ctx_ = hp.n_ctx;
  int nt = opt.n_threads > 0 ? opt.n_threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  pool_ = std::make_unique<ThreadPool>(nt);
  const size_t kn = static_cast<size_t>(n_ctx_ * hp.n_head_kv * hp.head_dim_k);
  const size_t vn = static_cast<size_t>(n_ctx_ * hp.n_head_kv * hp.head_dim_v);
  for (int64_t i = 0; i < hp.n_layer; ++i) {
    auto kv = std::make_unique<KV>();
    if (opt.kv_type == KVType::F32) { kv->k32.resize(kn); kv->v32.resize(vn); }
    else { kv->k16.resize(kn); kv->v16.resize(vn); }
    kv_.push_back(std::move(kv));
  }
}

Session::~Session() = default;

namespace {

void add_bias(float* y, const float* b, int64_t n_tok, int64_t n) {
  if (!b) return;
  for (int64_t t = 0; t < n_tok; ++t)
    for (int64_t i = 0; i < n; ++i) y[t * n + i] += b[i];
}

float round_f16(float x) { return fp16_to_fp32(fp32_to_fp16(x)); }

}  // namespace

// Causal (and, on sliding layers, windowed) attention of n new queries over
// the cache. q: [n, n_head * hd_k] (already roped); out: [n, n_head * hd_v].
void Session::attention(int64_t il, const float* q, int64_t n, float* out) {
  const HParams& hp = model_.hparams();
  const Family& fam = model_.family();
  const int64_t H = hp.n_head, HKV = hp.n_head_kv, dk = hp.head_dim_k, dv = hp.head_dim_v;
  const int64_t group = H / HKV;
  const bool swa = fam.layer_is_swa(il, hp.sliding_window);
  const float scale = fam.scale_q_before_kq ? 1.0f : fam.attn_scale;
  const float cap = static_cast<float>(hp.attn_softcap);
  const bool f16 = opt_.kv_type == KVType::F16;
  const KV& kv = *kv_[static_cast<size_t>(il)];
  pool_->parallel_for(n * H, [&](int64_t b, int64_t e, int) {
    std::vector<float> p(static_cast<size_t>(n_past_ + n));
    std::vector<float> qh(static_cast<size_t>(dk));
    for (int64_t job = b; job < e; ++job) {
      const int64_t t = job / H, h = job % H, kvh = h / group;
      const int64_t pos = n_past_ + t;
      const int64_t first = swa ? std::max<int64_t>(0, pos - hp.sliding_window + 1) : 0;
      const float* qv = q + (t * H + h) * dk;
      // With an f16 cache ggml converts q (and later the probabilities) to f16 for the products.
      for (int64_t d = 0; d < dk; ++d) qh[static_cast<size_t>(d)] = f16 ? round_f16(qv[d]) : qv[d];
      float mx = -INFINITY;
      for (int64_t j = first; j <= pos; ++j) {
        const size_t off = static_cast<size_t>((j * HKV + kvh) * dk);
        float s = 0;
        if (f16) for (int64_t d = 0; d < dk; ++d) s += qh[d] * fp16_to_fp32(kv.k16[off + d]);
        else for (int64_t d = 0; d < dk; ++d) s += qh[d] * kv.k32[off + d];
        if (cap > 0) s = std::tanh(s / cap) * cap;
        s *= scale;
        p[static_cast<size_t>(j)] = s;
        mx = std::max(mx, s);
      }
      double sum = 0;
      for (int64_t j = first; j <= pos; ++j) {
        const float ev = ops::expf_fast(p[static_cast<size_t>(j)] - mx);
        p[static_cast<size_t>(j)] = ev;
        sum += ev;
      }
      const float inv = static_cast<float>(1.0 / sum);
      float* o = out + (t * H + h) * dv;
      std::fill(o, o + dv, 0.0f);
      for (int64_t j = first; j <= pos; ++j) {
        float pj = p[static_cast<size_t>(j)] * inv;
        if (f16) pj = round_f16(pj);
        const size_t off = static_cast<size_t>((j * HKV + kvh) * dv);
        if (f16) for (int64_t d = 0; d < dv; ++d) o[d] += pj * fp16_to_fp32(kv.v16[off + d]);
        else for (int64_t d = 0; d < dv; ++d) o[d] += pj * kv.v32[off + d];
      }
    }
  });
}

// Rope for one layer: the family's base (sliding layers may have their own),
// and the model's long-context scaling (linear, YaRN, or Llama 3 frequency factors).
ops::RopeConfig Session::rope_config(int64_t il) const {
  const HParams& hp = model_.hparams();
  const Family& fam = model_.family();
  const bool swa = fam.layer_is_swa(il, hp.sliding_window);
  ops::RopeConfig c;
  c.n_rot = hp.rope_dim;
  c.mode = fam.rope_mode;
  c.freq_base = swa && fam.rope_base_swa > 0 ? fam.rope_base_swa : static_cast<float>(hp.rope_base);
  c.freq_factors = model_.weights().rope_freqs.ptr();
  const bool scaled = !(swa && fam.rope_base_swa > 0);  // gemma3's local layers are never scaled
  if (scaled && hp.rope_scale > 0 && hp.rope_scale != 1.0 && (hp.rope_scaling == "linear" || hp.rope_scaling == "yarn"))
    c.freq_scale = static_cast<float>(1.0 / hp.rope_scale);
  if (scaled && hp.rope_scaling == "yarn") {
    c.ext_factor = 1.0f;
    const int64_t orig = hp.rope_orig_ctx > 0 ? hp.rope_orig_ctx : hp.n_ctx;
    ops::rope_yarn_corr_dims(hp.rope_dim, orig, c.freq_base, 32.0f, 1.0f, c.corr_dims);
  }
  return c;
}

void Session::eval(const int32_t* tokens, int64_t n, bool all_logits, std::vector<float>& logits) {
  const HParams& hp = model_.hparams();
  const Family& fam = model_.family();
  const ModelWeights& W = model_.weights();
  if (n <= 0) throw Error("eval: no tokens");
  if (n_past_ + n > n_ctx_)
    throw Error("context is full: " + std::to_string(n_past_) + " + " + std::to_string(n) + " tokens exceed the " +
                std::to_string(n_ctx_) + "-token context (use --ctx to enlarge it)");
  for (int64_t t = 0; t < n; ++t)
    if (tokens[t] < 0 || tokens[t] >= hp.n_vocab)
      throw Error("token id " + std::to_string(tokens[t]) + " is outside the vocabulary (0.." +
                  std::to_string(hp.n_vocab - 1) + ")");
  ThreadPool& pool = *pool_;
  const int64_t E = hp.n_embd, H = hp.n_head, HKV = hp.n_head_kv, dk = hp.head_dim_k, dv = hp.head_dim_v;
  const int64_t q_dim = H * dk, kv_dim = HKV * dk, v_dim = HKV * dv, F = hp.n_ff;
  const float eps = static_cast<float>(hp.norm_eps);

  std::vector<float> x(static_cast<size_t>(n * E)), h(static_cast<size_t>(n * E)), tmp(static_cast<size_t>(n * E));
  std::vector<float> q(static_cast<size_t>(n * q_dim)), k(static_cast<size_t>(n * kv_dim)), v(static_cast<size_t>(n * v_dim));
  std::vector<float> att(static_cast<size_t>(n * H * dv));
  std::vector<float> g, u, a(static_cast<size_t>(n * F));
  using clock = std::chrono::steady_clock;
  auto t_start = clock::now();
  double attn_ms = 0, ffn_ms = 0;
  auto since = [](clock::time_point t) { return std::chrono::duration<double, std::milli>(clock::now() - t).count(); };

  // Embeddings.
  for (int64_t t = 0; t < n; ++t) {
    float* xr = x.data() + t * E;
    weight_row(W.token_embd, tokens[t], xr);
    if (fam.scale_embeddings) {
      const float s = std::sqrt(static_cast<float>(E));
      for (int64_t i = 0; i < E; ++i) xr[i] *= s;
    }
    if (fam.learned_positions) {
      weight_row(W.position_embd, n_past_ + t, tmp.data());
      for (int64_t i = 0; i < E; ++i) xr[i] += tmp[static_cast<size_t>(i)];
    }
  }

  auto norm_rows = [&](const float* in, const Vec& w, const Vec& b, float* out, int64_t width, int64_t rows) {
    for (int64_t t = 0; t < rows; ++t) {
      if (fam.norm == NormKind::Layer) ops::layer_norm(in + t * width, w.ptr(), b.ptr(), eps, width, out + t * width);
      else ops::rms_norm(in + t * width, w.ptr(), eps, width, out + t * width);
    }
  };

  for (int64_t il = 0; il < hp.n_layer; ++il) {
    const LayerWeights& L = W.layers[static_cast<size_t>(il)];
    // --- attention ---
    norm_rows(x.data(), L.attn_norm, L.attn_norm_b, h.data(), E, n);
    auto t_attn = clock::now();
    if (fam.fused_qkv) {
      std::vector<float> qkv(static_cast<size_t>(n * (q_dim + kv_dim + v_dim)));
      matmul(L.wqkv, h.data(), n, qkv.data(), pool);
      add_bias(qkv.data(), L.bqkv.ptr(), n, q_dim + kv_dim + v_dim);
      for (int64_t t = 0; t < n; ++t) {
        const float* r = qkv.data() + t * (q_dim + kv_dim + v_dim);
        std::memcpy(q.data() + t * q_dim, r, sizeof(float) * q_dim);
        std::memcpy(k.data() + t * kv_dim, r + q_dim, sizeof(float) * kv_dim);
        std::memcpy(v.data() + t * v_dim, r + q_dim + kv_dim, sizeof(float) * v_dim);
      }
    } else {
      matmul(L.wq, h.data(), n, q.data(), pool);
      matmul(L.wk, h.data(), n, k.data(), pool);
      matmul(L.wv, h.data(), n, v.data(), pool);
      add_bias(q.data(), L.bq.ptr(), n, q_dim);
      add_bias(k.data(), L.bk.ptr(), n, kv_dim);
      add_bias(v.data(), L.bv.ptr(), n, v_dim);
    }
    if (fam.qk_norm) {
      for (int64_t r = 0; r < n * H; ++r) ops::rms_norm(q.data() + r * dk, L.q_norm.ptr(), eps, dk, q.data() + r * dk);
      for (int64_t r = 0; r < n * HKV; ++r) ops::rms_norm(k.data() + r * dk, L.k_norm.ptr(), eps, dk, k.data() + r * dk);
    }
    if (fam.rope) {
      const ops::RopeConfig rc = rope_config(il);
      for (int64_t t = 0; t < n; ++t) {
        ops::rope(q.data() + t * q_dim, H, dk, n_past_ + t, rc);
        ops::rope(k.data() + t * kv_dim, HKV, dk, n_past_ + t, rc);
      }
    }
    if (fam.scale_q_before_kq)
      for (float& qv : q) qv *= fam.attn_scale;
    // Append k, v to the cache.
    KV& kv = *kv_[static_cast<size_t>(il)];
    for (int64_t t = 0; t < n; ++t) {
      const size_t ko = static_cast<size_t>((n_past_ + t) * kv_dim), vo = static_cast<size_t>((n_past_ + t) * v_dim);
      if (opt_.kv_type == KVType::F32) {
        std::memcpy(kv.k32.data() + ko, k.data() + t * kv_dim, sizeof(float) * kv_dim);
        std::memcpy(kv.v32.data() + vo, v.data() + t * v_dim, sizeof(float) * v_dim);
      } else {
        for (int64_t i = 0; i < kv_dim; ++i) kv.k16[ko + i] = fp32_to_fp16(k[static_cast<size_t>(t * kv_dim + i)]);
        for (int64_t i = 0; i < v_dim; ++i) kv.v16[vo + i] = fp32_to_fp16(v[static_cast<size_t>(t * v_dim + i)]);
      }
    }
    attention(il, q.data(), n, att.data());
    matmul(L.wo, att.data(), n, tmp.data(), pool);
    add_bias(tmp.data(), L.bo.ptr(), n, E);
    attn_ms += since(t_attn);
    if (fam.sandwich_norm) norm_rows(tmp.data(), L.post_attn_norm, Vec{}, tmp.data(), E, n);
    for (size_t i = 0; i < x.size(); ++i) x[i] += tmp[i];
    if (observer_) observer_(il, Sublayer::Attention, tmp.data(), x.data(), n);

    // --- feed-forward ---
    norm_rows(x.data(), L.ffn_norm, L.ffn_norm_b, h.data(), E, n);
    auto t_ffn = clock::now();
    if (fam.fused_gate_up) {
      g.resize(static_cast<size_t>(n * 2 * F));
      matmul(L.ffn_up, h.data(), n, g.data(), pool);
      for (int64_t t = 0; t < n; ++t)
        for (int64_t i = 0; i < F; ++i)
          a[static_cast<size_t>(t * F + i)] = ops::silu(g[static_cast<size_t>(t * 2 * F + i)]) * g[static_cast<size_t>(t * 2 * F + F + i)];
    } else if (fam.ffn == FFNKind::GELU) {
      matmul(L.ffn_up, h.data(), n, a.data(), pool);
      add_bias(a.data(), L.ffn_up_b.ptr(), n, F);
      for (float& av : a) av = fam.gelu_fp16_table ? ops::gelu_ggml(av) : ops::gelu_tanh(av);
    } else {
      g.resize(static_cast<size_t>(n * F));
      u.resize(static_cast<size_t>(n * F));
      matmul(L.ffn_gate, h.data(), n, g.data(), pool);
      matmul(L.ffn_up, h.data(), n, u.data(), pool);
      if (fam.ffn == FFNKind::GeGLU)
        for (size_t i = 0; i < a.size(); ++i)
          a[i] = (fam.gelu_fp16_table ? ops::gelu_ggml(g[i]) : ops::gelu_tanh(g[i])) * u[i];
      else
        for (size_t i = 0; i < a.size(); ++i) a[i] = ops::silu(g[i]) * u[i];
    }
    matmul(L.ffn_down, a.data(), n, tmp.data(), pool);
    add_bias(tmp.data(), L.ffn_down_b.ptr(), n, E);
    ffn_ms += since(t_ffn);
    if (fam.sandwich_norm) norm_rows(tmp.data(), L.post_ffw_norm, Vec{}, tmp.data(), E, n);
    for (size_t i = 0; i < x.size(); ++i) x[i] += tmp[i];
    if (observer_) observer_(il, Sublayer::FFN, tmp.data(), x.data(), n);
  }

  auto t_head = clock::now();
  // Output head, for every row or only the last.
  const int64_t first = all_logits ? 0 : n - 1, rows = n - first;
  norm_rows(x.data() + first * E, W.output_norm, W.output_norm_b, h.data(), E, rows);
  logits.resize(static_cast<size_t>(rows * hp.n_vocab));
  matmul(W.output, h.data(), rows, logits.data(), pool);
  if (hp.final_softcap > 0) {
    const float cap = static_cast<float>(hp.final_softcap);
    for (float& l : logits) l = std::tanh(l / cap) * cap;
  }
  const double head_ms = since(t_head), total_ms = since(t_start);
  times_.attention_ms += attn_ms;
  times_.ffn_ms += ffn_ms;
  times_.head_ms += head_ms;
  times_.other_ms += total_ms - attn_ms - ffn_ms - head_ms;
  n_past_ += n;
}

}  // namespace larql
