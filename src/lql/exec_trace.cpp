// TRACE: per layer and position, the residual, the attention and FFN deltas,
// and a logit lens (final norm, head, soft-cap) following one token.
#include <cmath>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

#include "lql/exec_internal.h"
#include "util/error.h"

namespace larql::lql {

namespace {

double norm(const float* v, int64_t n) {
  double s = 0;
  for (int64_t i = 0; i < n; ++i) s += static_cast<double>(v[i]) * v[i];
  return std::sqrt(s);
}

// Replays embed + deltas in forward order; returns the largest difference
// from the recorded residuals (0 when the decomposition is exact).
double replay_error(const ForwardTrace& t) {
  std::vector<float> x = t.embed;
  double worst = 0;
  auto step = [&](const std::vector<float>& d, const std::vector<float>& r) {
    for (size_t i = 0; i < x.size(); ++i) {
      x[i] += d[i];
      worst = std::max(worst, std::fabs(static_cast<double>(x[i]) - r[i]));
    }
  };
  for (int64_t l = 0; l < t.n_layer; ++l) {
    step(t.attn_delta[static_cast<size_t>(l)], t.attn_resid[static_cast<size_t>(l)]);
    step(t.ffn_delta[static_cast<size_t>(l)], t.ffn_resid[static_cast<size_t>(l)]);
  }
  return worst;
}

void save(const std::string& path, const ForwardTrace& t, Analyzer& an) {
  nlohmann::json j;
  j["tokens"] = t.tokens;
  nlohmann::json pieces = nlohmann::json::array();
  for (int32_t id : t.tokens) pieces.push_back(an.piece(id));
  j["pieces"] = pieces;
  j["n_embd"] = t.n_embd;
  j["embed"] = t.embed;
  nlohmann::json layers = nlohmann::json::array();
  for (int64_t l = 0; l < t.n_layer; ++l) {
    const size_t i = static_cast<size_t>(l);
    layers.push_back({{"layer", l}, {"attn_delta", t.attn_delta[i]}, {"attn_resid", t.attn_resid[i]},
                      {"ffn_delta", t.ffn_delta[i]}, {"ffn_resid", t.ffn_resid[i]}});
  }
  j["layers"] = layers;
  j["layout"] = "each vector is [n_tokens, n_embd] row-major; resid = previous resid + delta";
  std::ofstream f(path, std::ios::binary);
  if (!f) throw Error("TRACE SAVE: cannot write \"" + path + "\"");
  f << j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
  if (!f) throw Error("TRACE SAVE: write to \"" + path + "\" failed");
}

}  // namespace

Result exec_trace(const Bound& b, Context& ctx) {
  const Statement& st = *b.st;
  Analyzer& an = ctx.analyzer();
  const std::vector<int32_t> ids = an.encode(st.text);
  ForwardTrace t = an.forward(ids);
  const int64_t E = t.n_embd;
  const int32_t pred = top_k(t.logits, 1)[0];
  const int32_t target = b.for_token >= 0 ? b.for_token : pred;
  const bool follow = b.for_token >= 0;
  Result r;
  r.header.push_back("trace \"" + st.text + "\" (" + std::to_string(t.n_tok) + " tokens) -> " + an.piece(pred) +
                     (follow ? ", following \"" + b.for_piece + "\"" : ""));
  r.add_column("layer", ColType::Int);
  r.add_column("pos", ColType::Int);
  r.add_column("token", ColType::Text);
  r.add_column("resid", ColType::Float, 2);
  r.add_column("attn", ColType::Float, 2);
  r.add_column("ffn", ColType::Float, 2);
  r.add_column("lens_top", ColType::Text);
  if (follow) {
    r.add_column("rank", ColType::Int);
    r.add_column("prob", ColType::Float, 4);
    r.add_column("d_attn", ColType::Float, 2);
    r.add_column("d_ffn", ColType::Float, 2);
    r.add_column("moved_by", ColType::Text);
  }
  if (st.decompose) r.add_column("top_ffn_features", ColType::Text);

  const int64_t p0 = st.positions_all ? 0 : t.n_tok - 1;
  std::vector<float> before, mid, after, head, a, dv(static_cast<size_t>(E));
  if (st.decompose) an.head_row(target, head);
  int64_t first_top = -1;
  std::string first_by;
  for (int64_t p = p0; p < t.n_tok; ++p) {
    an.lens(t.embed.data() + p * E, before);
    for (int64_t l = 0; l < t.n_layer; ++l) {
      an.lens(t.at(t.attn_resid, l, p), mid);
      an.lens(t.at(t.ffn_resid, l, p), after);
      const bool shown = l >= b.lo && l <= b.hi;
      const size_t T = static_cast<size_t>(target);
      const double da = mid[T] - before[T], df = after[T] - mid[T];
      const int64_t rank = rank_of(after, target);
      const std::string by = std::fabs(da) >= std::fabs(df) ? "attn" : "ffn";
      if (follow && p == t.n_tok - 1 && rank == 0 && first_top < 0) {
        first_top = l;
        first_by = rank_of(mid, target) == 0 ? "attn" : "ffn";
      }
      if (shown) {
        Row row{l, p, an.piece(t.tokens[static_cast<size_t>(p)]), norm(t.at(t.ffn_resid, l, p), E),
                norm(t.at(t.attn_delta, l, p), E), norm(t.at(t.ffn_delta, l, p), E), an.piece(top_k(after, 1)[0])};
        if (follow) {
          const std::vector<float> pr = softmax_probs(after);
          row.insert(row.end(), {rank, static_cast<double>(pr[T]), da, df, by + fmt(" %+.2f", by == "attn" ? da : df)});
        }
        if (st.decompose) {
          // FFN features by direct effect on the target's logit (linearised through the final norm).
          an.activations(l, t.at(t.attn_resid, l, p), a);
          const float inv = an.final_inv_rms(t.at(t.ffn_resid, l, p));
          std::vector<float> eff(a.size());
          for (size_t f = 0; f < a.size(); ++f) {
            an.down(l, static_cast<int64_t>(f), dv.data());
            double d = 0;
            for (int64_t i = 0; i < E; ++i) d += static_cast<double>(head[static_cast<size_t>(i)]) * dv[static_cast<size_t>(i)];
            eff[f] = static_cast<float>(a[f] * d * inv);
          }
          std::string s;
          for (int32_t f : top_k(eff, 3)) {
            const std::string lab = an.label(l, f);
            s += (s.empty() ? "" : ", ") + std::to_string(f) + fmt(":%+.2f", eff[static_cast<size_t>(f)]) + (lab.empty() ? "" : "(" + lab + ")");
          }
          row.push_back(s);
        }
        r.rows.push_back(std::move(row));
      }
      before.swap(after);
    }
  }
  if (follow) {
    if (b.for_multi) r.notes.push_back("\"" + st.for_token + "\" is several tokens; following the first, \"" + b.for_piece + "\"");
    r.notes.push_back(first_top >= 0 ? "\"" + b.for_piece + "\" becomes the top token at layer " + std::to_string(first_top) + " (" + first_by + ")"
                                     : "\"" + b.for_piece + "\" never becomes the top token");
  }
  const double err = replay_error(t);
  r.notes.push_back(err == 0 ? "residual = embedding + sum of attention and FFN deltas: exact"
                             : "residual decomposition off by " + fmt("%.3g", err));
  if (!st.save.empty()) {
    save(st.save, t, an);
    r.notes.push_back("saved to " + st.save);
  }
  return r;
}

}  // namespace larql::lql
