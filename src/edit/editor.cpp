#include "edit/editor.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "engine/model.h"
#include "engine/session.h"
#include "kernels/matmul.h"
#include "kernels/ops.h"
#include "util/error.h"
#include "util/thread_pool.h"

namespace larql::edit {

Editor::Editor(const Model& m, std::shared_ptr<ThreadPool> pool) : m_(m), pool_(std::move(pool)) {
  const Family& fam = m.family();
  if (fam.ffn != FFNKind::SwiGLU || fam.fused_gate_up || fam.norm != NormKind::RMS || fam.sandwich_norm)
    throw Error("editing supports SiLU-gated FFNs with RMS norm (Llama-style families); '" + m.hparams().arch + "' is not one");
  if (!pool_) pool_ = std::make_shared<ThreadPool>(1);
}

int64_t Editor::default_layer(Mode mode) const {
  const int64_t L = m_.hparams().n_layer;
  return mode == Mode::Memit ? std::max<int64_t>(0, L / 2) : L - 1;
}

std::vector<int32_t> Editor::encode(const std::string& text) const {
  std::vector<int32_t> ids = m_.tokenizer().encode(text, true, false);
  if (ids.empty()) throw Error("the text \"" + text + "\" gives no tokens");
  return ids;
}

int32_t Editor::target_token(const std::string& target) const { return target_tokens(target).front(); }

std::vector<int32_t> Editor::target_tokens(const std::string& target) const {
  if (target.empty()) throw Error("the target is empty");
  // The answer's tokens as they follow a prompt (SentencePiece merges the space into the first).
  const std::vector<int32_t> a = encode("x"), b = encode("x " + target);
  if (b.size() <= a.size() || !std::equal(a.begin(), a.end(), b.begin()))
    throw Error("the target \"" + target + "\" gives no token");
  return std::vector<int32_t>(b.begin() + static_cast<long>(a.size()), b.end());
}

std::vector<std::vector<int32_t>> Editor::step_contexts(const Fact& f) const {
  std::vector<std::vector<int32_t>> out = {encode(f.prompt)};
  const std::vector<int32_t> t = f.steps();
  for (size_t k = 0; k + 1 < t.size(); ++k) {
    out.push_back(out.back());
    out.back().push_back(t[k]);
  }
  return out;
}

RunCapture Editor::run(const std::string& prompt, const FfnPatch* patch) const { return run(encode(prompt), patch); }

RunCapture Editor::run(const std::vector<int32_t>& toks, const FfnPatch* patch) const {
  const HParams& hp = m_.hparams();
  const int64_t E = hp.n_embd, n = static_cast<int64_t>(toks.size());
  RunCapture c;
  c.ffn_in.assign(static_cast<size_t>(hp.n_layer), std::vector<float>(static_cast<size_t>(E)));
  c.resid = c.ffn_in;
  SessionOptions so;
  so.pool = pool_;
  so.n_ctx = std::max<int64_t>(n, 1);
  Session s(m_, so);
  if (patch) s.set_ffn_patch(std::shared_ptr<const FfnPatch>(patch, [](const FfnPatch*) {}));
  s.set_observer([&](int64_t il, Sublayer which, const float*, const float* resid, int64_t nt) {
    const float* last = resid + (nt - 1) * E;
    if (which == Sublayer::Attention)
      ops::rms_norm(last, m_.weights().layers[static_cast<size_t>(il)].ffn_norm.ptr(), static_cast<float>(hp.norm_eps), E,
                    c.ffn_in[static_cast<size_t>(il)].data());
    else
      std::copy(last, last + E, c.resid[static_cast<size_t>(il)].begin());
  });
  s.eval(toks.data(), n, false, c.logits);
  c.logits.resize(static_cast<size_t>(hp.n_vocab));
  return c;
}

std::vector<float> Editor::hidden(int64_t layer, const float* h, const FfnPatch* patch) const {
  const HParams& hp = m_.hparams();
  const LayerWeights& L = m_.weights().layers.at(static_cast<size_t>(layer));
  const int64_t F = hp.n_ff;
  std::vector<float> g(static_cast<size_t>(F)), u(static_cast<size_t>(F));
  matmul(L.ffn_gate, h, 1, g.data(), *pool_);
  matmul(L.ffn_up, h, 1, u.data(), *pool_);
  for (int64_t i = 0; i < F; ++i) g[static_cast<size_t>(i)] = ops::silu(g[static_cast<size_t>(i)]) * u[static_cast<size_t>(i)];
  if (patch && patch->touches(layer)) {
    std::vector<float> slot;
    patch->before_down(layer, h, g.data(), 1, hp.n_embd, F, slot);
  }
  return g;
}

bool Editor::wins(const std::vector<float>& logits, int32_t target, double margin) {
  const float t = logits[static_cast<size_t>(target)];
  for (size_t i = 0; i < logits.size(); ++i)
    if (static_cast<int32_t>(i) != target && logits[i] > t - margin) return false;
  return true;
}

std::vector<float> Editor::target_direction(const std::vector<float>& logits, int32_t target) const {
  // d = norm_w ⊙ (head_target − mean of the 5 strongest competitors' head rows).
  const HParams& hp = m_.hparams();
  const int64_t E = hp.n_embd;
  std::vector<int32_t> idx(logits.size());
  std::iota(idx.begin(), idx.end(), 0);
  const size_t top = std::min<size_t>(6, idx.size());
  std::partial_sort(idx.begin(), idx.begin() + static_cast<long>(top), idx.end(), [&](int32_t a, int32_t b) { return logits[a] > logits[b]; });
  std::vector<float> d(static_cast<size_t>(E)), row(static_cast<size_t>(E));
  const WeightView& head = m_.weights().output;
  weight_row(head, target, d.data());
  int k = 0;
  std::vector<float> comp(static_cast<size_t>(E), 0.0f);
  for (size_t i = 0; i < top && k < 5; ++i) {
    if (idx[static_cast<size_t>(i)] == target) continue;
    weight_row(head, idx[static_cast<size_t>(i)], row.data());
    for (int64_t j = 0; j < E; ++j) comp[static_cast<size_t>(j)] += row[static_cast<size_t>(j)];
    ++k;
  }
  const float* w = m_.weights().output_norm.ptr();
  double nn = 0;
  for (int64_t j = 0; j < E; ++j) {
    float v = d[static_cast<size_t>(j)] - comp[static_cast<size_t>(j)] / static_cast<float>(std::max(1, k));
    if (w) v *= w[j];
    d[static_cast<size_t>(j)] = v;
    nn += double(v) * v;
  }
  const float inv = nn > 0 ? static_cast<float>(1.0 / std::sqrt(nn)) : 0.0f;
  for (float& v : d) v *= inv;
  return d;
}

Operation Editor::insert_knn(const Fact& f, const EditOptions& o) const {
  Operation op;
  op.mode = Mode::KNN;
  op.confidence = o.confidence;
  const int64_t layer = o.layer ? *o.layer : default_layer(Mode::KNN);
  op.layers = {layer};
  op.facts = {f};
  // One entry per target token, keyed on the prompt extended by the tokens before it.
  const std::vector<std::vector<int32_t>> ctx = step_contexts(f);
  const std::vector<int32_t> toks = f.steps();
  for (size_t k = 0; k < ctx.size(); ++k) {
    RunCapture c = run(ctx[k], nullptr);
    KnnEntry e{layer, c.resid[static_cast<size_t>(layer)], o.knn_threshold, f};
    if (k > 0) e.step = static_cast<int64_t>(k), e.token = toks[k];
    op.knn.push_back(std::move(e));
  }
  return op;
}

Operation Editor::delete_fact(const Fact& f, const FfnPatch* current) const {
  // Greedy: mask the features whose write raises the target most on its prompt.
  const HParams& hp = m_.hparams();
  const int64_t E = hp.n_embd, F = hp.n_ff;
  Operation op;
  op.op = "delete";
  op.mode = Mode::Mask;
  op.facts = {f};
  FfnPatch trial;
  if (current) trial = *current;
  std::vector<float> col(static_cast<size_t>(F));
  for (int round = 0; round < 16; ++round) {
    RunCapture c = run(f.prompt, &trial);
    if (!wins(c.logits, f.target_token, 0.0)) break;
    const std::vector<float> d = target_direction(c.logits, f.target_token);
    struct Cand { int64_t layer, feature; double score; };
    std::vector<Cand> cands;
    for (int64_t il = 0; il < hp.n_layer; ++il) {
      const std::vector<float> a = hidden(il, c.ffn_in[static_cast<size_t>(il)].data(), &trial);
      // down column f's projection on d: (Wdownᵀ d)[f], via one product over the transposed view.
      const WeightView& W = m_.weights().layers[static_cast<size_t>(il)].ffn_down;
      std::vector<double> proj(static_cast<size_t>(F), 0.0);
      std::vector<float> row(static_cast<size_t>(F));
      for (int64_t e = 0; e < E; ++e) {
        weight_row(W, e, row.data());
        for (int64_t j = 0; j < F; ++j) proj[static_cast<size_t>(j)] += double(row[static_cast<size_t>(j)]) * d[static_cast<size_t>(e)];
      }
      for (int64_t j = 0; j < F; ++j) cands.push_back({il, j, a[static_cast<size_t>(j)] * proj[static_cast<size_t>(j)]});
    }
    const size_t nc = std::min<size_t>(8, cands.size());
    std::partial_sort(cands.begin(), cands.begin() + static_cast<long>(nc), cands.end(), [](const Cand& x, const Cand& y) { return x.score > y.score; });
    for (size_t i = 0; i < nc && cands[i].score > 0; ++i) {
      op.ffn.layers[cands[i].layer].masked.push_back(cands[i].feature);
      trial.layers[cands[i].layer].masked.push_back(cands[i].feature);
    }
  }
  for (auto& [il, L] : op.ffn.layers) {
    std::sort(L.masked.begin(), L.masked.end());
    L.masked.erase(std::unique(L.masked.begin(), L.masked.end()), L.masked.end());
    op.layers.push_back(il);
  }
  return op;
}

}  // namespace larql::edit
