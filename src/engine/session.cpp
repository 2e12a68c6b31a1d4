// The forward spine: one parameterised pass for every dense family.
//   x = embed(tokens)                       (* sqrt(E) for gemma, + positions for gpt2)
//   per layer: h = norm(x); a = attention(h); [post-norm]; x += a
//              h = norm(x); f = ffn(h);       [post-norm]; x += f
//   logits = head(norm(x))                  (soft-capped for gemma2)
// Rows of several sessions are stacked so each weight matrix is read once per
// step for all of them; only the KV writes and attention are per session.
#include "engine/session.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>

#include "engine/mla.h"
#include "engine/moe.h"
#include "kernels/ik_order.h"
#include "kernels/ops.h"
#include "util/error.h"
#include "util/half.h"

namespace larql {

// Cache storage is left uninitialised: only positions < n_past are ever read,
// and every one of them was written first, so a large context costs no
// up-front page touching.
struct Session::KV {
  std::unique_ptr<float[]> k32, v32;
  std::unique_ptr<uint16_t[]> k16, v16;
  KVCacheView view(KVType t) const {
    if (t == KVType::F32) return {t, k32.get(), v32.get()};
    return {t, k16.get(), v16.get()};
  }
};

// Activation buffers reused across steps: they only grow, so steady-state
// decode allocates nothing.
struct Session::Scratch {
  std::vector<float> x, h, tmp, q, k, v, att, g, u, a, qkv, head_in, head_out;
  std::vector<int64_t> pos;
  SharedInput in;  // h, quantized once for every product that reads it
  MoEScratch moe;
  MLAScratch mla;
};

Session::Session(const Model& model, const SessionOptions& opt)
    : model_(&model), opt_(opt), scratch_(std::make_unique<Scratch>()) {
  if (opt.ffn_patch) set_ffn_patch(opt.ffn_patch);
  const HParams& hp = model.hparams();
  n_ctx_ = opt.n_ctx > 0 ? opt.n_ctx : std::min<int64_t>(hp.n_ctx > 0 ? hp.n_ctx : 4096, 4096);
  if (model.family().learned_positions && n_ctx_ > hp.n_ctx) n_ctx_ = hp.n_ctx;
  if (opt.pool) {
    pool_ = opt.pool;
  } else {
    int nt = opt.n_threads > 0 ? opt.n_threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    pool_ = std::make_shared<ThreadPool>(nt);
  }
  // MLA caches one latent row per position in k (no v).
  const bool mla = model.family().mla;
  const size_t kn = static_cast<size_t>(n_ctx_ * (mla ? mla_cache_width(hp) : hp.n_head_kv * hp.head_dim_k));
  const size_t vn = static_cast<size_t>(mla ? 1 : n_ctx_ * hp.n_head_kv * hp.head_dim_v);
  for (int64_t i = 0; i < hp.n_layer; ++i) {
    auto kv = std::make_unique<KV>();
    if (opt.kv_type == KVType::F32) {
      kv->k32.reset(new float[kn]);
      kv->v32.reset(new float[vn]);
    } else {
      kv->k16.reset(new uint16_t[kn]);
      kv->v16.reset(new uint16_t[vn]);
    }
    kv_.push_back(std::move(kv));
  }
}

void Session::set_ffn_patch(std::shared_ptr<const FfnPatch> p) {
  if (p) {
    const HParams& hp = model_->hparams();
    p->validate(hp.n_layer, hp.n_embd, hp.n_ff);
    for (const auto& [il, L] : p->layers)
      if (!L.empty() && model_->family().layer_is_moe(il))
        throw Error("FFN patch: layer " + std::to_string(il) + " is a mixture-of-experts layer; edits need a dense FFN");
  }
  opt_.ffn_patch = std::move(p);
}

Session::~Session() = default;
Session::Session(Session&&) noexcept = default;

void Session::eval(const int32_t* tokens, int64_t n, bool all_logits, std::vector<float>& logits) {
  const BatchItem item{this, tokens, n, all_logits, &logits};
  eval_batch(std::span<const BatchItem>(&item, 1));
}

// Rope for one layer: the family's base (sliding layers may have their own),
// and the model's long-context scaling (linear, YaRN, or Llama 3 frequency factors).
ops::RopeConfig Session::rope_config(int64_t il) const {
  const HParams& hp = model_->hparams();
  const Family& fam = model_->family();
  const bool swa = fam.layer_is_swa(il, hp.sliding_window);
  ops::RopeConfig c;
  c.n_rot = hp.rope_dim;
  c.mode = fam.rope_mode;
  c.freq_base = swa && fam.rope_base_swa > 0 ? fam.rope_base_swa : static_cast<float>(hp.rope_base);
  c.freq_factors = model_->weights().rope_freqs.ptr();
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

namespace {

void add_bias(float* y, const float* b, int64_t n_tok, int64_t n) {
  if (!b) return;
  for (int64_t t = 0; t < n_tok; ++t)
    for (int64_t i = 0; i < n; ++i) y[t * n + i] += b[i];
}

void to_f16(const float* in, uint16_t* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) out[i] = fp32_to_fp16(in[i]);
}

template <typename V>
void grow(V& v, int64_t n) {
  v.resize(static_cast<size_t>(n));
}

void validate(std::span<const BatchItem> items) {
  if (items.empty()) throw Error("eval: no sequences");
  const Model& m = items[0].session ? items[0].session->model() : throw Error("eval: null session");
  for (size_t i = 0; i < items.size(); ++i) {
    const BatchItem& it = items[i];
    if (!it.session || !it.logits) throw Error("eval: null session or logits");
    if (&it.session->model() != &m) throw Error("eval: sessions of different models cannot be batched");
    for (size_t j = 0; j < i; ++j)
      if (items[j].session == it.session) throw Error("eval: a session appears twice in one batch");
    if (it.n <= 0) throw Error("eval: no tokens");
    const Session& s = *it.session;
    if (s.n_past() + it.n > s.n_ctx())
      throw Error("context is full: " + std::to_string(s.n_past()) + " + " + std::to_string(it.n) +
                  " tokens exceed the " + std::to_string(s.n_ctx()) + "-token context (use --ctx to enlarge it)");
    const int64_t V = m.hparams().n_vocab;
    for (int64_t t = 0; t < it.n; ++t)
      if (it.tokens[t] < 0 || it.tokens[t] >= V)
        throw Error("token id " + std::to_string(it.tokens[t]) + " is outside the vocabulary (0.." +
                    std::to_string(V - 1) + ")");
  }
}

}  // namespace

// The spine, as a friend of Session so it can reach each session's cache.
class Forward {
 public:
  explicit Forward(std::span<const BatchItem> items)
      : items_(items), lead_(*items[0].session), m_(lead_.model()), hp_(m_.hparams()), fam_(m_.family()),
        W_(m_.weights()), S_(*lead_.scratch_), pool_(*lead_.pool_) {}

  void run();

 private:
  using clock = std::chrono::steady_clock;
  static double since(clock::time_point t) {
    return std::chrono::duration<double, std::milli>(clock::now() - t).count();
  }
  // fn(r) for r < rows, split over the pool when there are several (row-wise
  // operations are independent, so the split never changes a value).
  template <class F>
  void per_row(int64_t rows, F&& fn) const {
    if (rows >= 2) pool_.parallel_for(rows, [&](int64_t r0, int64_t r1, int) { for (int64_t r = r0; r < r1; ++r) fn(r); });
    else if (rows == 1) fn(0);
  }
  // One row of the family's norm.
  void norm_row(const float* in, const Vec& w, const Vec& b, float* out, int64_t width) const {
    const float eps = static_cast<float>(hp_.norm_eps);
    if (fam_.norm == NormKind::Layer) ops::layer_norm(in, w.ptr(), b.ptr(), eps, width, out);
    else ops::rms_norm(in, w.ptr(), eps, width, out);
  }
  void norm_rows(const float* in, const Vec& w, const Vec& b, float* out, int64_t width, int64_t rows) const {
    per_row(rows, [&](int64_t t) { norm_row(in + t * width, w, b, out + t * width, width); });
  }
  // h = norm(x) fused with quantizing h for the block's products (their
  // weight type `reader`; F32 when they read floats), kept in S_.in.
  void norm_input(const Vec& w, const Vec& b, GGMLType reader) const {
    const int64_t E = hp_.n_embd;
    const float* in = S_.x.data();
    float* out = S_.h.data();
    S_.in.reset(out, N_, E);
    S_.in.write_rows(reader, pool_, [&](int64_t t) { norm_row(in + t * E, w, b, out + t * E, E); });
  }
  // x += d over rows of width.
  void add_rows(float* x, const float* d, int64_t width, int64_t rows) const {
    per_row(rows, [&](int64_t t) { for (int64_t i = t * width; i < (t + 1) * width; ++i) x[i] += d[i]; });
  }
  // The family's GELU; under the ik_llama.cpp profile that engine's own formula.
  float gelu(float x) const {
    if (ik::enabled()) return ik::gelu(x);
    return fam_.gelu_fp16_table ? ops::gelu_ggml(x) : ops::gelu_tanh(x);
  }
  void embed();
  void attention_block(int64_t il, const LayerWeights& L);
  void mla_block(int64_t il, const LayerWeights& L);
  void ffn_block(int64_t il, const LayerWeights& L);
  void observe(int64_t il, Sublayer which);
  void head();

  std::span<const BatchItem> items_;
  Session& lead_;
  const Model& m_;
  const HParams& hp_;
  const Family& fam_;
  const ModelWeights& W_;
  Session::Scratch& S_;
  ThreadPool& pool_;
  int64_t N_ = 0;  // rows over all items
};

void Forward::embed() {
  const int64_t E = hp_.n_embd;
  int64_t r = 0;
  for (const BatchItem& it : items_) {
    for (int64_t t = 0; t < it.n; ++t, ++r) {
      S_.pos[static_cast<size_t>(r)] = it.session->n_past() + t;
      float* xr = S_.x.data() + r * E;
      weight_row(W_.token_embd, it.tokens[t], xr);
      if (fam_.scale_embeddings) {
        const float s = std::sqrt(static_cast<float>(E));
        for (int64_t i = 0; i < E; ++i) xr[i] *= s;
      }
      if (fam_.learned_positions) {
        weight_row(W_.position_embd, S_.pos[static_cast<size_t>(r)], S_.tmp.data());
        for (int64_t i = 0; i < E; ++i) xr[i] += S_.tmp[static_cast<size_t>(i)];
      }
    }
  }
}

// DeepSeek MLA (engine/mla.cpp): latent cache per session, same output projection.
void Forward::mla_block(int64_t il, const LayerWeights& L) {
  std::vector<MLASequence> seqs;
  for (const BatchItem& it : items_) {
    Session& s = *it.session;
    Session::KV& kv = *s.kv_[static_cast<size_t>(il)];
    void* cache = s.kv_type() == KVType::F32 ? static_cast<void*>(kv.k32.get()) : static_cast<void*>(kv.k16.get());
    seqs.push_back({cache, s.kv_type(), s.n_past(), it.n});
  }
  mla_attention(hp_, fam_, L, lead_.rope_config(il), S_.h.data(), N_, S_.pos.data(), seqs.data(), seqs.size(),
                S_.att.data(), S_.mla, pool_);
  matmul(L.wo, S_.att.data(), N_, S_.tmp.data(), pool_);
}

void Forward::attention_block(int64_t il, const LayerWeights& L) {
  if (fam_.mla) return mla_block(il, L);
  const int64_t E = hp_.n_embd, H = hp_.n_head, HKV = hp_.n_head_kv, dk = hp_.head_dim_k, dv = hp_.head_dim_v;
  const int64_t q_dim = H * dk, kv_dim = HKV * dk, v_dim = HKV * dv, n = N_;
  const float eps = static_cast<float>(hp_.norm_eps);
  float *q = S_.q.data(), *k = S_.k.data(), *v = S_.v.data();
  if (fam_.fused_qkv) {
    const int64_t w = q_dim + kv_dim + v_dim;
    grow(S_.qkv, n * w);
    matmul(L.wqkv, S_.in, S_.qkv.data(), pool_);
    add_bias(S_.qkv.data(), L.bqkv.ptr(), n, w);
    for (int64_t t = 0; t < n; ++t) {
      const float* r = S_.qkv.data() + t * w;
      std::memcpy(q + t * q_dim, r, sizeof(float) * q_dim);
      std::memcpy(k + t * kv_dim, r + q_dim, sizeof(float) * kv_dim);
      std::memcpy(v + t * v_dim, r + q_dim + kv_dim, sizeof(float) * v_dim);
    }
  } else {
    matmul(L.wq, S_.in, q, pool_);
    matmul(L.wk, S_.in, k, pool_);
    matmul(L.wv, S_.in, v, pool_);
    add_bias(q, L.bq.ptr(), n, q_dim);
    add_bias(k, L.bk.ptr(), n, kv_dim);
    add_bias(v, L.bv.ptr(), n, v_dim);
  }
  if (fam_.qk_norm)
    per_row(n, [&](int64_t t) {
      for (int64_t r = t * H; r < (t + 1) * H; ++r) ops::rms_norm(q + r * dk, L.q_norm.ptr(), eps, dk, q + r * dk);
      for (int64_t r = t * HKV; r < (t + 1) * HKV; ++r) ops::rms_norm(k + r * dk, L.k_norm.ptr(), eps, dk, k + r * dk);
    });
  if (fam_.rope) {
    const ops::RopeConfig rc = lead_.rope_config(il);
    per_row(n, [&](int64_t t) {
      ops::rope(q + t * q_dim, H, dk, S_.pos[static_cast<size_t>(t)], rc);
      ops::rope(k + t * kv_dim, HKV, dk, S_.pos[static_cast<size_t>(t)], rc);
    });
  }
  if (fam_.scale_q_before_kq)
    for (int64_t i = 0; i < n * q_dim; ++i) q[i] *= fam_.attn_scale;

  AttentionParams ap;
  ap.n_head = H;
  ap.n_head_kv = HKV;
  ap.dk = dk;
  ap.dv = dv;
  ap.window = fam_.layer_is_swa(il, hp_.sliding_window) ? hp_.sliding_window : 0;
  ap.scale = fam_.scale_q_before_kq ? 1.0f : fam_.attn_scale;
  ap.softcap = static_cast<float>(hp_.attn_softcap);
  ap.sinks = L.attn_sinks.ptr();  // gpt-oss
  int64_t r0 = 0;
  for (const BatchItem& it : items_) {
    Session& s = *it.session;
    Session::KV& kv = *s.kv_[static_cast<size_t>(il)];
    // Append this session's k, v to its cache, then attend over it.
    for (int64_t t = 0; t < it.n; ++t) {
      const int64_t p = s.n_past() + t, row = r0 + t;
      if (s.kv_type() == KVType::F32) {
        std::memcpy(kv.k32.get() + p * kv_dim, k + row * kv_dim, sizeof(float) * kv_dim);
        std::memcpy(kv.v32.get() + p * v_dim, v + row * v_dim, sizeof(float) * v_dim);
      } else {
        to_f16(k + row * kv_dim, kv.k16.get() + p * kv_dim, kv_dim);
        to_f16(v + row * v_dim, kv.v16.get() + p * v_dim, v_dim);
      }
    }
    attend(ap, kv.view(s.kv_type()), q + r0 * q_dim, it.n, s.n_past(), S_.att.data() + r0 * H * dv, pool_);
    r0 += it.n;
  }
  matmul(L.wo, S_.att.data(), n, S_.tmp.data(), pool_);
  add_bias(S_.tmp.data(), L.bo.ptr(), n, E);
}

void Forward::ffn_block(int64_t il, const LayerWeights& L) {
  const int64_t F = hp_.n_ff, n = N_, E = hp_.n_embd;
  if (fam_.layer_is_moe(il)) {
    const ExpertSource es{m_.expert_cache(), il, S_.x.data()};  // cache null unless --ram-budget
    return moe_ffn(fam_, hp_, L, S_.h.data(), n, S_.tmp.data(), S_.moe, pool_, &lead_.moe_stats_, &es);
  }
  float* a = S_.a.data();
  // The gate is element-wise: one row per token, split over the pool.
  if (fam_.fused_gate_up) {
    grow(S_.g, n * 2 * F);
    matmul(L.ffn_up, S_.in, S_.g.data(), pool_);
    const float* g = S_.g.data();
    per_row(n, [&](int64_t t) { ops::swiglu(g + t * 2 * F, g + t * 2 * F + F, a + t * F, F); });
  } else if (fam_.ffn == FFNKind::GELU) {
    matmul(L.ffn_up, S_.in, a, pool_);
    add_bias(a, L.ffn_up_b.ptr(), n, F);
    per_row(n, [&](int64_t t) { for (int64_t i = t * F; i < (t + 1) * F; ++i) a[i] = gelu(a[i]); });
  } else {
    grow(S_.g, n * F);
    grow(S_.u, n * F);
    matmul(L.ffn_gate, S_.in, S_.g.data(), pool_);
    matmul(L.ffn_up, S_.in, S_.u.data(), pool_);
    const float *g = S_.g.data(), *u = S_.u.data();
    if (fam_.ffn == FFNKind::GeGLU)
      per_row(n, [&](int64_t t) { for (int64_t i = t * F; i < (t + 1) * F; ++i) a[i] = gelu(g[i]) * u[i]; });
    else
      per_row(n, [&](int64_t t) { ops::swiglu(g + t * F, u + t * F, a + t * F, F); });
  }
  // Edits (engine/ffn_patch.h) act on each patched session's own rows.
  bool patched = false;
  for (const BatchItem& it : items_) patched |= it.session->ffn_patch() && it.session->ffn_patch()->touches(il);
  std::vector<std::vector<float>> slot_act(patched ? items_.size() : 0);
  int64_t r0 = 0;
  for (size_t i = 0; patched && i < items_.size(); r0 += items_[i].n, ++i)
    if (const FfnPatch* p = items_[i].session->ffn_patch(); p && p->touches(il))
      p->before_down(il, S_.h.data() + r0 * E, a + r0 * F, items_[i].n, E, F, slot_act[i]);
  matmul(L.ffn_down, a, n, S_.tmp.data(), pool_);
  add_bias(S_.tmp.data(), L.ffn_down_b.ptr(), n, E);
  r0 = 0;
  for (size_t i = 0; patched && i < items_.size(); r0 += items_[i].n, ++i)
    if (const FfnPatch* p = items_[i].session->ffn_patch(); p && p->touches(il))
      p->after_down(il, a + r0 * F, slot_act[i], S_.tmp.data() + r0 * E, items_[i].n, E, F);
}

void Forward::observe(int64_t il, Sublayer which) {
  const int64_t E = hp_.n_embd;
  int64_t r0 = 0;
  for (const BatchItem& it : items_) {
    if (it.session->observer_) it.session->observer_(il, which, S_.tmp.data() + r0 * E, S_.x.data() + r0 * E, it.n);
    r0 += it.n;
  }
}

// Output head over the rows that want logits (all of an item's, or its last).
void Forward::head() {
  const int64_t E = hp_.n_embd, V = hp_.n_vocab;
  int64_t rows = 0;
  for (const BatchItem& it : items_) rows += it.all_logits ? it.n : 1;
  grow(S_.head_in, rows * E);
  int64_t r0 = 0, o = 0;
  for (const BatchItem& it : items_) {
    const int64_t first = it.all_logits ? 0 : it.n - 1, cnt = it.n - first;
    norm_rows(S_.x.data() + (r0 + first) * E, W_.output_norm, W_.output_norm_b, S_.head_in.data() + o * E, E, cnt);
    r0 += it.n;
    o += cnt;
  }
  // A single item writes straight into its logits; several share one product.
  const bool direct = items_.size() == 1;
  std::vector<float>& out = direct ? *items_[0].logits : S_.head_out;
  grow(out, rows * V);
  matmul(W_.output, S_.head_in.data(), rows, out.data(), pool_);
  if (hp_.final_softcap > 0) {
    const float cap = static_cast<float>(hp_.final_softcap);
    for (int64_t i = 0; i < rows * V; ++i) out[static_cast<size_t>(i)] = std::tanh(out[static_cast<size_t>(i)] / cap) * cap;
  }
  if (direct) return;
  o = 0;
  for (const BatchItem& it : items_) {
    const int64_t cnt = it.all_logits ? it.n : 1;
    it.logits->assign(out.begin() + o * V, out.begin() + (o + cnt) * V);
    o += cnt;
  }
}

void Forward::run() {
  const int64_t E = hp_.n_embd;
  for (const BatchItem& it : items_) N_ += it.n;
  const int64_t n = N_;
  grow(S_.x, n * E);
  grow(S_.h, n * E);
  grow(S_.tmp, std::max(n * E, E));
  grow(S_.q, n * hp_.n_head * hp_.head_dim_k);
  grow(S_.k, n * hp_.n_head_kv * hp_.head_dim_k);
  grow(S_.v, n * hp_.n_head_kv * hp_.head_dim_v);
  grow(S_.att, n * hp_.n_head * hp_.head_dim_v);
  grow(S_.a, n * hp_.n_ff);
  grow(S_.pos, n);

  auto t_start = clock::now();
  double attn_ms = 0, ffn_ms = 0;
  embed();
  for (int64_t il = 0; il < hp_.n_layer; ++il) {
    const LayerWeights& L = W_.layers[static_cast<size_t>(il)];
    const GGMLType attn_reader = fam_.mla ? GGMLType::F32 : fam_.fused_qkv ? L.wqkv.type : L.wq.type;
    norm_input(L.attn_norm, L.attn_norm_b, attn_reader);
    auto t0 = clock::now();
    attention_block(il, L);
    attn_ms += since(t0);
    if (fam_.sandwich_norm) norm_rows(S_.tmp.data(), L.post_attn_norm, Vec{}, S_.tmp.data(), E, n);
    add_rows(S_.x.data(), S_.tmp.data(), E, n);
    observe(il, Sublayer::Attention);

    const GGMLType ffn_reader = fam_.layer_is_moe(il)                                   ? GGMLType::F32
                                : fam_.fused_gate_up || fam_.ffn == FFNKind::GELU ? L.ffn_up.type
                                                                                  : L.ffn_gate.type;
    norm_input(L.ffn_norm, L.ffn_norm_b, ffn_reader);
    t0 = clock::now();
    ffn_block(il, L);
    ffn_ms += since(t0);
    if (fam_.sandwich_norm) norm_rows(S_.tmp.data(), L.post_ffw_norm, Vec{}, S_.tmp.data(), E, n);
    add_rows(S_.x.data(), S_.tmp.data(), E, n);
    observe(il, Sublayer::FFN);
  }
  auto t_head = clock::now();
  head();
  const double head_ms = since(t_head), total_ms = since(t_start);
  StageTimes& T = lead_.times_;
  T.attention_ms += attn_ms;
  T.ffn_ms += ffn_ms;
  T.head_ms += head_ms;
  T.other_ms += total_ms - attn_ms - ffn_ms - head_ms;
  for (const BatchItem& it : items_) it.session->n_past_ += it.n;
}

void eval_batch(std::span<const BatchItem> items) {
  validate(items);
  Forward(items).run();
}

}  // namespace larql
