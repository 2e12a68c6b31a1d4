// MEMIT inserts: a least-squares update of W_down over a range of layers.
// For facts i with keys k_i (the FFN hidden vector at the prompt's last
// position) and wanted residual changes r_i, at each layer l of the range
//   ΔW_l = R Kᵀ (λC + K Kᵀ)⁻¹,   C = E[a aᵀ] over the covariance text,
// stored as A = R (n_embd × N), B = (λC + K Kᵀ)⁻¹ K (n_ff × N): rank N.
// The target change δ_i at the last layer of the range is α_i·(target
// direction), α_i found by a search with a rank-1 trial update; each layer
// takes its share of what is still missing (recomputed after the layers
// before it were patched), and α of facts that still lose grows and the
// solve is redone (at most 4 rounds). A whole-word target adds one row
// (key, change) per further target token, keyed on the prompt followed by the
// tokens before it; op.column_fact maps the rows (rank columns) to facts.
#include <algorithm>
#include <cmath>

#include "edit/editor.h"
#include "engine/model.h"
#include "engine/session.h"
#include "util/error.h"
#include "util/thread_pool.h"

namespace larql::edit {

void cholesky_solve(std::vector<double>& M, int64_t n, std::vector<double>& Y, int64_t k) {
  for (int64_t j = 0; j < n; ++j) {
    double d = M[static_cast<size_t>(j * n + j)];
    for (int64_t p = 0; p < j; ++p) d -= M[static_cast<size_t>(j * n + p)] * M[static_cast<size_t>(j * n + p)];
    if (!(d > 0)) throw Error("linear solve: matrix is not positive definite (pivot " + std::to_string(j) + ")");
    const double ljj = std::sqrt(d);
    M[static_cast<size_t>(j * n + j)] = ljj;
    for (int64_t i = j + 1; i < n; ++i) {
      double s = M[static_cast<size_t>(i * n + j)];
      const double* ri = &M[static_cast<size_t>(i * n)];
      const double* rj = &M[static_cast<size_t>(j * n)];
      for (int64_t p = 0; p < j; ++p) s -= ri[p] * rj[p];
      M[static_cast<size_t>(i * n + j)] = s / ljj;
    }
  }
  for (int64_t c = 0; c < k; ++c) {
    for (int64_t i = 0; i < n; ++i) {  // L z = y
      double s = Y[static_cast<size_t>(i * k + c)];
      for (int64_t p = 0; p < i; ++p) s -= M[static_cast<size_t>(i * n + p)] * Y[static_cast<size_t>(p * k + c)];
      Y[static_cast<size_t>(i * k + c)] = s / M[static_cast<size_t>(i * n + i)];
    }
    for (int64_t i = n - 1; i >= 0; --i) {  // Lᵀ x = z
      double s = Y[static_cast<size_t>(i * k + c)];
      for (int64_t p = i + 1; p < n; ++p) s -= M[static_cast<size_t>(p * n + i)] * Y[static_cast<size_t>(p * k + c)];
      Y[static_cast<size_t>(i * k + c)] = s / M[static_cast<size_t>(i * n + i)];
    }
  }
}

const std::vector<double>& Editor::covariance(int64_t layer, const std::vector<std::string>& lines) {
  auto it = cov_.find(layer);
  if (it != cov_.end()) return it->second;
  if (lines.empty()) throw Error("MEMIT needs covariance text (WITH COVARIANCE \"file.txt\"): no lines given");
  const HParams& hp = m_.hparams();
  const int64_t E = hp.n_embd, F = hp.n_ff;
  constexpr int64_t kMaxTokens = 6000;  // enough for a stable C on small models; bounded cost
  std::vector<double> C(static_cast<size_t>(F * F), 0.0);
  std::vector<float> a;
  int64_t count = 0;
  for (const std::string& line : lines) {
    if (count >= kMaxTokens) break;
    std::vector<int32_t> toks = encode(line);
    const int64_t ctx = hp.n_ctx > 0 ? hp.n_ctx : 512;
    if (static_cast<int64_t>(toks.size()) > ctx) toks.resize(static_cast<size_t>(ctx));
    std::vector<float> h_all;
    SessionOptions so;
    so.pool = pool_;
    so.n_ctx = static_cast<int64_t>(toks.size());
    Session s(m_, so);
    s.set_observer([&](int64_t il, Sublayer w, const float*, const float* resid, int64_t nt) {
      if (il != layer || w != Sublayer::Attention) return;
      h_all.resize(static_cast<size_t>(nt * E));
      for (int64_t t = 0; t < nt; ++t)
        ops::rms_norm(resid + t * E, m_.weights().layers[static_cast<size_t>(il)].ffn_norm.ptr(),
                      static_cast<float>(hp.norm_eps), E, h_all.data() + t * E);
    });
    std::vector<float> logits;
    s.eval(toks.data(), static_cast<int64_t>(toks.size()), false, logits);
    const int64_t nt = static_cast<int64_t>(toks.size());
    std::vector<double> ad(static_cast<size_t>(F));
    for (int64_t t = 0; t < nt && count < kMaxTokens; ++t, ++count) {
      a = hidden(layer, h_all.data() + t * E, nullptr);
      for (int64_t j = 0; j < F; ++j) ad[static_cast<size_t>(j)] = a[static_cast<size_t>(j)];
      pool_->parallel_for(F, [&](int64_t b, int64_t e, int) {
        for (int64_t i = b; i < e; ++i) {
          const double ai = ad[static_cast<size_t>(i)];
          double* ci = &C[static_cast<size_t>(i * F)];
          for (int64_t j = 0; j <= i; ++j) ci[j] += ai * ad[static_cast<size_t>(j)];
        }
      });
    }
  }
  for (int64_t i = 0; i < F; ++i)
    for (int64_t j = 0; j <= i; ++j) {
      const double v = C[static_cast<size_t>(i * F + j)] / static_cast<double>(std::max<int64_t>(1, count));
      C[static_cast<size_t>(i * F + j)] = C[static_cast<size_t>(j * F + i)] = v;
    }
  return cov_[layer] = std::move(C);
}

Operation Editor::insert_memit(const std::vector<Fact>& facts, const std::vector<std::string>& cov_lines,
                               const FfnPatch* current, const EditOptions& o) {
  const HParams& hp = m_.hparams();
  const int64_t E = hp.n_embd, F = hp.n_ff;
  if (facts.empty()) throw Error("MEMIT: no facts");
  // One row of the least-squares system per target token of each fact: its
  // key is taken at the prompt followed by the target's earlier tokens.
  struct Row { std::vector<int32_t> ctx; int32_t token; int64_t fact; };
  std::vector<Row> rows;
  for (size_t i = 0; i < facts.size(); ++i) {
    const std::vector<std::vector<int32_t>> ctx = step_contexts(facts[i]);
    const std::vector<int32_t> toks = facts[i].steps();
    for (size_t k = 0; k < ctx.size(); ++k) rows.push_back({ctx[k], toks[k], static_cast<int64_t>(i)});
  }
  const int64_t N = static_cast<int64_t>(rows.size());
  const int64_t last = o.layer ? *o.layer : default_layer(Mode::Memit);
  const int64_t first = std::max<int64_t>(0, last - std::max<int64_t>(1, o.memit_layers) + 1);
  if (last < 0 || last >= hp.n_layer) throw Error("AT LAYER " + std::to_string(last) + " is out of range");
  for (int64_t l = first; l <= last; ++l)
    if (m_.family().layer_is_moe(l)) throw Error("layer " + std::to_string(l) + " is a mixture-of-experts layer; MEMIT needs dense FFNs");
  const FfnPatch base = current ? *current : FfnPatch{};

  // Per row: the residual after `last` before the edit, and the change δ_i
  // there that makes the target win: a rank-1 trial update (δ kᵀ/|k|²) at
  // `last`, its direction steered away from whichever tokens compete, its
  // size grown until the target wins (bounded by 4x the residual norm).
  std::vector<std::vector<float>> r0(static_cast<size_t>(N)), delta(static_cast<size_t>(N));
  std::vector<double> cap(static_cast<size_t>(N));
  const double margin = o.margin * o.confidence;
  for (int64_t i = 0; i < N; ++i) {
    const Row& f = rows[static_cast<size_t>(i)];
    RunCapture c = run(f.ctx, &base);
    r0[i] = c.resid[static_cast<size_t>(last)];
    double rn = 0;
    for (float v : r0[i]) rn += double(v) * v;
    rn = std::sqrt(rn);
    cap[i] = 4.0 * rn;
    std::vector<float> d = target_direction(c.logits, f.token);
    const std::vector<float> k = hidden(last, c.ffn_in[static_cast<size_t>(last)].data(), &base);
    double kk = 0;
    for (float v : k) kk += double(v) * v;
    double alpha = o.alpha ? *o.alpha : 0.05 * rn;
    for (int it = 0; !o.alpha && it < 80 && alpha <= cap[i]; ++it) {
      FfnPatch p = base, one;
      FfnLayerPatch& L = one.layers[last];
      L.rank = 1;
      for (float v : d) L.A.push_back(static_cast<float>(alpha * v));
      for (float v : k) L.B.push_back(static_cast<float>(v / kk));
      p.merge(one);
      const std::vector<float> lg = run(f.ctx, &p).logits;
      if (wins(lg, f.token, margin)) break;
      const std::vector<float> d2 = target_direction(lg, f.token);
      double nn = 0;
      for (int64_t e = 0; e < E; ++e) d[e] += d2[e], nn += double(d[e]) * d[e];
      for (float& v : d) v = static_cast<float>(v / std::sqrt(nn));
      alpha *= 1.12;
    }
    delta[i].resize(static_cast<size_t>(E));
    for (int64_t e = 0; e < E; ++e) delta[i][e] = static_cast<float>(std::min(alpha, cap[i]) * d[e]);
  }

  Operation op;
  op.mode = Mode::Memit;
  op.facts = facts;
  op.confidence = o.confidence;
  for (const Row& w : rows) op.column_fact.push_back(w.fact);
  for (int64_t l = first; l <= last; ++l) op.layers.push_back(l);
  for (int round = 0; round < 4; ++round) {
    op.ffn = FfnPatch{};
    for (int64_t l = first; l <= last; ++l) {
      FfnPatch cur = base;
      cur.merge(op.ffn);
      // Keys at l and what is still missing at `last`, shared over the remaining layers.
      std::vector<double> K(static_cast<size_t>(F * N)), R(static_cast<size_t>(E * N));
      for (int64_t i = 0; i < N; ++i) {
        RunCapture c = run(rows[static_cast<size_t>(i)].ctx, &cur);
        const std::vector<float> k = hidden(l, c.ffn_in[static_cast<size_t>(l)].data(), &cur);
        for (int64_t j = 0; j < F; ++j) K[static_cast<size_t>(j * N + i)] = k[static_cast<size_t>(j)];
        const double share = 1.0 / static_cast<double>(last - l + 1);
        for (int64_t e = 0; e < E; ++e) {
          const double want = r0[i][e] + delta[i][e];
          R[static_cast<size_t>(e * N + i)] = (want - c.resid[static_cast<size_t>(last)][e]) * share;
        }
      }
      std::vector<double> M = covariance(l, cov_lines);
      for (double& v : M) v *= o.memit_lambda;
      for (int64_t a = 0; a < F; ++a)
        for (int64_t b = 0; b < F; ++b) {
          double s = 0;
          for (int64_t i = 0; i < N; ++i) s += K[static_cast<size_t>(a * N + i)] * K[static_cast<size_t>(b * N + i)];
          M[static_cast<size_t>(a * F + b)] += s + (a == b ? 1e-6 : 0.0);
        }
      std::vector<double> Bm = K;  // F × N
      cholesky_solve(M, F, Bm, N);
      // Features the composed patch masks or replaces get no share of ΔW (their hidden value is 0 there).
      if (cur.layers.count(l)) {
        const FfnLayerPatch& P = cur.layers.at(l);
        auto zero = [&](int64_t j) { for (int64_t i = 0; i < N; ++i) Bm[static_cast<size_t>(j * N + i)] = 0; };
        for (int64_t m : P.masked) zero(m);
        for (const FfnSlot& s : P.slots) zero(s.feature);
      }
      FfnLayerPatch& L = op.ffn.layers[l];
      L.rank = N;
      L.A.resize(static_cast<size_t>(N * E));
      L.B.resize(static_cast<size_t>(N * F));
      for (int64_t i = 0; i < N; ++i) {
        for (int64_t e = 0; e < E; ++e) L.A[static_cast<size_t>(i * E + e)] = static_cast<float>(R[static_cast<size_t>(e * N + i)]);
        for (int64_t j = 0; j < F; ++j) L.B[static_cast<size_t>(i * F + j)] = static_cast<float>(Bm[static_cast<size_t>(j * N + i)]);
      }
    }
    if (o.alpha) break;
    FfnPatch all = base;
    all.merge(op.ffn);
    bool ok = true;
    for (int64_t i = 0; i < N; ++i)
      if (!wins(run(rows[static_cast<size_t>(i)].ctx, &all).logits, rows[static_cast<size_t>(i)].token, margin)) {
        double n2 = 0;
        for (float v : delta[i]) n2 += double(v) * v;
        if (1.3 * std::sqrt(n2) <= cap[i])
          for (float& v : delta[i]) v *= 1.3f;
        ok = false;
      }
    if (ok) break;
  }
  double mean = 0;
  for (const auto& dl : delta) {
    double n2 = 0;
    for (float v : dl) n2 += double(v) * v;
    mean += std::sqrt(n2) / static_cast<double>(N);
  }
  op.alpha = mean;  // mean |δ|
  return op;
}

}  // namespace larql::edit
