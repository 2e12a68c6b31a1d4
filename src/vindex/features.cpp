// Feature reads and gate KNN over a mapped vindex, plus FeatureStore's
// default walk/knn/label built on the virtual primitives.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "kernels/ops.h"
#include "tensor/quants.h"
#include "tokenizer/tokenizer.h"
#include "util/error.h"
#include "util/thread_pool.h"
#include "vindex/vindex_impl.h"

namespace larql::vindex {

int64_t FeatureStore::n_layers() const { return manifest().hparams.n_layer; }
int64_t FeatureStore::n_embd() const { return manifest().hparams.n_embd; }

std::vector<FeatureHit> FeatureStore::gate_knn(int64_t layer, const float* q, int64_t k, bool abs,
                                               int64_t expert) const {
  const int64_t n = n_features(layer, expert);
  std::vector<float> s(static_cast<size_t>(n));
  gate_scores(layer, expert, q, s.data());
  std::vector<FeatureHit> out;
  for (int64_t i : top_k_indices(s.data(), n, k, abs)) out.push_back({{layer, expert, i}, s[static_cast<size_t>(i)]});
  return out;
}

std::vector<std::vector<FeatureHit>> FeatureStore::walk(const float* q, int64_t first, int64_t last, int64_t k,
                                                        bool abs) const {
  if (first < 0 || last >= n_layers() || first > last)
    throw Error("walk: layer range " + std::to_string(first) + "-" + std::to_string(last) + " outside 0-" +
                std::to_string(n_layers() - 1));
  std::vector<std::vector<FeatureHit>> out;
  for (int64_t l = first; l <= last; ++l)
    out.push_back(n_features(l, -1) > 0 ? gate_knn(l, q, k, abs) : std::vector<FeatureHit>{});
  return out;
}

std::string FeatureStore::label(const FeatureAddr& a) const {
  const ProbeLabel* best = nullptr;
  for (const auto& p : probe_labels())
    if (p.addr == a && (!best || p.score > best->score)) best = &p;
  if (best) return best->relation;
  const int64_t c = cluster_of(a);
  const auto& cs = clusters();
  return c >= 0 && c < static_cast<int64_t>(cs.size()) ? cs[static_cast<size_t>(c)].label : "";
}

int64_t Vindex::n_features(int64_t layer, int64_t expert) const {
  if (layer < 0 || layer >= static_cast<int64_t>(impl_->dense.size()))
    throw Error("layer " + std::to_string(layer) + " out of range (0.." + std::to_string(impl_->dense.size()) + ")");
  const FfnLayout& f = expert < 0 ? impl_->dense[static_cast<size_t>(layer)] : impl_->experts[static_cast<size_t>(layer)];
  if (expert >= 0 && expert >= f.n_experts) throw Error("expert " + std::to_string(expert) + " out of range");
  return f.present() ? f.n_features : 0;
}

namespace {

// Row `row` of a (possibly 3-D) tensor as floats.
void read_row(const Bound& b, int64_t n_in, int64_t row, float* out) {
  const uint64_t rb = ggml_row_size(b.entry->type, static_cast<uint64_t>(n_in));
  dequantize_row(b.entry->type, b.data + static_cast<uint64_t>(row) * rb, out, n_in);
}

int64_t expert_row0(const FeatureAddr& a, const FfnLayout& f) { return std::max<int64_t>(0, a.expert) * f.n_features; }

}  // namespace

void Vindex::gate(const FeatureAddr& a, float* out) const {
  const FfnLayout& f = impl_->ffn(a);
  read_row(impl_->require(f.gate), n_embd(), f.gate_row0 + expert_row0(a, f) + a.feature, out);
}

void Vindex::up(const FeatureAddr& a, float* out) const {
  const FfnLayout& f = impl_->ffn(a);
  if (f.up.empty()) {
    std::fill(out, out + n_embd(), 0.0f);
    return;
  }
  read_row(impl_->require(f.up), n_embd(), f.up_row0 + expert_row0(a, f) + a.feature, out);
}

void Vindex::down(const FeatureAddr& a, float* out) const {
  const FfnLayout& f = impl_->ffn(a);
  read_row(impl_->require(f.down_feat), n_embd(), expert_row0(a, f) + a.feature, out);
}

void Vindex::gate_scores(int64_t layer, int64_t expert, const float* q, float* scores) const {
  const FfnLayout& f = impl_->ffn({layer, expert, 0});
  const Bound& g = impl_->require(f.gate);
  WeightView w = make_view(g.entry->type, g.data, n_embd(), f.gate_row0 + std::max<int64_t>(0, expert) * f.n_features,
                           f.n_features);
  std::lock_guard<std::mutex> lock(impl_->pool_mu);
  matmul(w, q, 1, scores, ThreadPool::global());
}

std::vector<TokenScore> Vindex::down_meta(const FeatureAddr& a) const {
  const FfnLayout& f = impl_->ffn(a);
  const int64_t k = impl_->m.down_top_k;
  const Bound* t = impl_->find(f.meta_tok);
  const Bound* s = impl_->find(f.meta_score);
  std::vector<TokenScore> out;
  if (k <= 0 || !t || !s) return out;
  const uint64_t base = static_cast<uint64_t>(expert_row0(a, f) + a.feature) * static_cast<uint64_t>(k);
  for (int64_t j = 0; j < k; ++j) {
    int32_t tok;
    float sc;
    std::memcpy(&tok, t->data + (base + j) * 4, 4);
    std::memcpy(&sc, s->data + (base + j) * 4, 4);
    out.push_back({tok, sc});
  }
  return out;
}

const std::vector<Cluster>& Vindex::clusters() const { return impl_->clusters; }

int64_t Vindex::cluster_of(const FeatureAddr& a) const {
  const FfnLayout& f = impl_->ffn(a);
  const Bound* c = impl_->find(f.cluster);
  if (!c) return -1;
  int32_t id;
  std::memcpy(&id, c->data + static_cast<uint64_t>(expert_row0(a, f) + a.feature) * 4, 4);
  return id >= 0 && id < static_cast<int32_t>(impl_->clusters.size()) ? id : -1;
}

const std::vector<ProbeLabel>& Vindex::probe_labels() const { return impl_->probes; }

void Vindex::embedding(int32_t token, float* out) const {
  const Bound& e = impl_->require("token_embd.weight");
  if (token < 0 || token >= e.entry->ne[1])
    throw Error("token id " + std::to_string(token) + " out of range (vocabulary " + std::to_string(e.entry->ne[1]) + ")");
  read_row(e, n_embd(), token, out);
}

void Vindex::ffn_input(int64_t layer, const float* residual, float* out) const {
  if (layer < 0 || layer >= n_layers()) throw Error("layer " + std::to_string(layer) + " out of range");
  const int64_t E = n_embd();
  const std::string p = "blk." + std::to_string(layer) + ".";
  const Bound* w = impl_->find(p + "ffn_norm.weight");
  if (!w) w = impl_->find(p + "attn_norm.weight");  // parallel-block families: the FFN reads attn_norm
  std::vector<float> wf(static_cast<size_t>(E), 1.0f), bf;
  if (w) dequantize_row(w->entry->type, w->data, wf.data(), E);
  const HParams& hp = impl_->m.hparams;
  if (hp.use_layernorm) {
    bf.assign(static_cast<size_t>(E), 0.0f);
    if (const Bound* b = impl_->find(p + "ffn_norm.bias")) dequantize_row(b->entry->type, b->data, bf.data(), E);
    ops::layer_norm(residual, wf.data(), bf.data(), static_cast<float>(hp.norm_eps), E, out);
  } else {
    ops::rms_norm(residual, wf.data(), static_cast<float>(hp.norm_eps), E, out);
  }
}

std::vector<TokenScore> Vindex::project_to_vocab(const float* v, int64_t k) const {
  if (!impl_->proj) throw Error("vindex has no output head");
  std::lock_guard<std::mutex> lock(impl_->pool_mu);
  return impl_->proj->top(v, 1, k, ThreadPool::global())[0];
}

}  // namespace larql::vindex
