// Probe labels: run "relation: template with {X}" prompts for each entity and
// label the features that fire most at the last position, per relation.
#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <sstream>

#include <nlohmann/json.hpp>

#include "engine/model.h"
#include "engine/session.h"
#include "kernels/ops.h"
#include "util/error.h"
#include "util/thread_pool.h"
#include "vindex/extract_internal.h"

namespace larql::vindex {
namespace {

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t\r\n"), e = s.find_last_not_of(" \t\r\n");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

struct ProbeFile {
  std::vector<std::pair<std::string, std::string>> templates;  // relation, template
  std::vector<std::string> entities;
};

ProbeFile parse_probe_file(const std::string& path) {
  std::ifstream f(path);
  if (!f) throw Error("cannot read probes file '" + path + "'");
  ProbeFile p;
  std::string line;
  for (int ln = 1; std::getline(f, line); ++ln) {
    const std::string t = trim(line);
    if (t.empty() || t[0] == '#') continue;
    const auto colon = t.find(':');
    const std::string where = path + ":" + std::to_string(ln);
    if (colon == std::string::npos || colon == 0) throw Error(where + ": expected 'relation: template' or 'entities: a, b'");
    const std::string key = trim(t.substr(0, colon)), val = trim(t.substr(colon + 1));
    if (key == "entities") {
      std::stringstream ss(val);
      std::string e;
      while (std::getline(ss, e, ','))
        if (!trim(e).empty()) p.entities.push_back(trim(e));
    } else {
      if (val.find("{X}") == std::string::npos) throw Error(where + ": template for '" + key + "' has no {X}");
      p.templates.emplace_back(key, val);
    }
  }
  if (p.templates.empty()) throw Error(path + ": no templates");
  if (p.entities.empty()) throw Error(path + ": no 'entities:' line");
  return p;
}

}  // namespace

void build_probes(const std::string& model_path, const std::string& probes_file, const std::string& root, Manifest& m,
                  ThreadPool& pool) {
  const ProbeFile pf = parse_probe_file(probes_file);
  auto model = Model::load(model_path);
  const Family& fam = model->family();
  const HParams& hp = model->hparams();
  const int64_t E = hp.n_embd, L = hp.n_layer;
  const int64_t top = 8;  // features per layer and prompt that count as "firing"
  struct Acc { int64_t hits = 0; double sum = 0; };
  // relation -> (layer, feature) -> accumulated activation
  std::map<std::string, std::map<std::pair<int64_t, int64_t>, Acc>> acc;
  std::map<std::string, int64_t> n_prompts;
  SessionOptions so;
  so.n_ctx = 256;
  Session s(*model, so);
  std::vector<std::vector<float>> resid(static_cast<size_t>(L), std::vector<float>(static_cast<size_t>(E)));
  s.set_observer([&](int64_t layer, Sublayer sub, const float*, const float* residual, int64_t n_tok) {
    if (sub == Sublayer::Attention && layer >= 0 && layer < L)
      std::copy(residual + (n_tok - 1) * E, residual + n_tok * E, resid[static_cast<size_t>(layer)].begin());
  });
  std::vector<float> x(static_cast<size_t>(E)), logits;
  for (const auto& [rel, tmpl] : pf.templates) {
    for (const auto& ent : pf.entities) {
      std::string prompt = tmpl;
      prompt.replace(prompt.find("{X}"), 3, ent);
      auto toks = model->tokenizer().encode(prompt, true, false);
      if (toks.empty()) continue;
      s.reset();
      s.eval(toks.data(), static_cast<int64_t>(toks.size()), false, logits);
      ++n_prompts[rel];
      for (int64_t l = 0; l < L; ++l) {
        const LayerWeights& lw = model->weights().layers[static_cast<size_t>(l)];
        if (!lw.ffn_up.valid() || !lw.ffn_down.valid()) continue;  // MoE layer: no dense features
        const int64_t F = lw.ffn_down.n_in;
        const float* r = resid[static_cast<size_t>(l)].data();
        if (fam.norm == NormKind::Layer)
          ops::layer_norm(r, lw.ffn_norm.ptr(), lw.ffn_norm_b.ptr(), static_cast<float>(hp.norm_eps), E, x.data());
        else
          ops::rms_norm(r, lw.ffn_norm.ptr(), static_cast<float>(hp.norm_eps), E, x.data());
        std::vector<float> up(static_cast<size_t>(lw.ffn_up.n_out)), g;
        matmul(lw.ffn_up, x.data(), 1, up.data(), pool);
        std::vector<float> act(static_cast<size_t>(F));
        if (fam.fused_gate_up) {
          for (int64_t i = 0; i < F; ++i) act[static_cast<size_t>(i)] = ops::silu(up[static_cast<size_t>(i)]) * up[static_cast<size_t>(F + i)];
        } else if (lw.ffn_gate.valid()) {
          g.resize(static_cast<size_t>(F));
          matmul(lw.ffn_gate, x.data(), 1, g.data(), pool);
          for (int64_t i = 0; i < F; ++i) {
            const float gi = g[static_cast<size_t>(i)];
            act[static_cast<size_t>(i)] = (fam.ffn == FFNKind::GeGLU ? ops::gelu_tanh(gi) : ops::silu(gi)) * up[static_cast<size_t>(i)];
          }
        } else {
          for (int64_t i = 0; i < F; ++i) act[static_cast<size_t>(i)] = ops::gelu_tanh(up[static_cast<size_t>(i)]);
        }
        for (int64_t i : top_k_indices(act.data(), F, top, true)) {
          Acc& a = acc[rel][{l, i}];
          ++a.hits;
          a.sum += std::fabs(act[static_cast<size_t>(i)]);
        }
      }
    }
  }
  // A feature is labelled with a relation when it fired in at least half of
  // that relation's prompts; a feature claimed by several keeps the one where
  // it fired most consistently (then most strongly).
  std::map<std::pair<int64_t, int64_t>, ProbeLabel> best;
  for (const auto& [rel, feats] : acc) {
    const int64_t n = n_prompts[rel];
    for (const auto& [lf, a] : feats) {
      if (2 * a.hits < n) continue;
      ProbeLabel pl{{lf.first, -1, lf.second}, rel, static_cast<float>(a.sum / n), a.hits};
      auto it = best.find(lf);
      const double frac = static_cast<double>(a.hits) / n;
      if (it == best.end() || frac > static_cast<double>(it->second.hits) / n_prompts[it->second.relation] ||
          (frac == static_cast<double>(it->second.hits) / n_prompts[it->second.relation] && pl.score > it->second.score))
        best[lf] = pl;
    }
  }
  nlohmann::json j = nlohmann::json::array();
  for (const auto& [lf, p] : best)
    j.push_back({{"layer", p.addr.layer}, {"expert", -1}, {"feature", p.addr.feature}, {"relation", p.relation},
                 {"score", p.score}, {"hits", p.hits}});
  write_file(root, "probes.json", j.dump(1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n", m);
  // The templates travel with the vindex: DESCRIBE reads probes.txt when USEd.
  std::ifstream src(probes_file, std::ios::binary);
  std::stringstream text;
  text << src.rdbuf();
  write_file(root, "probes.txt", text.str(), m);
  m.has_probes = true;
}

}  // namespace larql::vindex
