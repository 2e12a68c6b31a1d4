#include "edit/workspace.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include "engine/model.h"
#include "util/error.h"

namespace larql::edit {

Workspace::Workspace(const Model& m, std::shared_ptr<ThreadPool> pool, std::string source)
    : ed_(m, std::move(pool)), base_(base_id(m, source)) {}

Patch& Workspace::open_patch() {
  if (open_ < 0) {
    Patch p;
    p.base = base_;
    p.description = "session patch";
    stack_.patches.push_back(std::move(p));
    open_ = static_cast<int>(stack_.patches.size()) - 1;
  }
  return stack_.patches[static_cast<size_t>(open_)];
}

void Workspace::begin(const std::string& path) {
  for (size_t i = 0; i < stack_.patches.size(); ++i)
    if (stack_.patches[i].path == path) { open_ = static_cast<int>(i); return; }
  Patch p;
  if (std::filesystem::exists(path)) {
    p = load_patch(path);
    if (!(p.base == base_)) throw Error("patch '" + path + "' was made for another model (base fingerprint " + p.base.fingerprint + ", this one " + base_.fingerprint + ")");
  } else {
    p.base = base_;
    p.path = path;
  }
  stack_.patches.push_back(std::move(p));
  open_ = static_cast<int>(stack_.patches.size()) - 1;
  stack_.compose();
}

std::string Workspace::save() {
  if (open_ < 0 || stack_.patches[static_cast<size_t>(open_)].path.empty())
    throw Error("no named patch is open: BEGIN PATCH \"file.vlp\" first");
  const Patch& p = stack_.patches[static_cast<size_t>(open_)];
  save_patch(p, p.path);
  return p.path;
}

void Workspace::apply(const std::string& path) {
  for (const Patch& p : stack_.patches)
    if (p.path == path) throw Error("patch '" + path + "' is already applied");
  Patch p = load_patch(path);
  if (!(p.base == base_))
    throw Error("patch '" + path + "' was made for another model: its base is " + p.base.family + " (fingerprint " +
                p.base.fingerprint + (p.base.source.empty() ? "" : ", from " + p.base.source) + "), this model's fingerprint is " + base_.fingerprint);
  stack_.patches.push_back(std::move(p));
  stack_.compose();
}

void Workspace::remove(const std::string& path) {
  for (size_t i = 0; i < stack_.patches.size(); ++i)
    if (stack_.patches[i].path == path) {
      stack_.patches.erase(stack_.patches.begin() + static_cast<long>(i));
      if (open_ == static_cast<int>(i)) open_ = -1;
      else if (open_ > static_cast<int>(i)) --open_;
      stack_.compose();
      return;
    }
  throw Error("patch '" + path + "' is not applied (SHOW PATCHES lists them)");
}

void Workspace::add(Operation op) {
  open_patch().ops.push_back(std::move(op));
  stack_.compose();
}

std::vector<Workspace::Row> Workspace::rows() const {
  std::vector<Row> out;
  for (const Patch& p : stack_.patches)
    for (const Operation& o : p.ops)
      for (const Fact& f : o.facts) out.push_back({f, o.mode, p.path.empty() ? "(session)" : p.path, o.op});
  return out;
}

std::vector<std::string> Workspace::explain(const std::vector<std::vector<float>>& ffn_in, const KnnEntry* hit, float cos,
                                            const std::string& answer) const {
  std::vector<std::string> out;
  char buf[512];
  if (hit) {
    std::snprintf(buf, sizeof buf, "answer '%s': lookup (KNN overlay), not a weight change: %s / %s -> %s (cosine %.3f at layer %lld)",
                  answer.c_str(), hit->fact.entity.c_str(), hit->fact.relation.c_str(), hit->fact.target.c_str(), cos,
                  static_cast<long long>(hit->layer));
    out.push_back(buf);
  }
  // An edit that fires but whose target is not the answer did not decide it:
  // say so rather than credit it.
  const auto lead = [&](const Fact& fact) {
    bool decided = false;  // the answer is one of the target's tokens (whole-word edits steer each)
    for (int32_t t : fact.steps()) decided |= t >= 0 && model().tokenizer().token_to_piece(t) == answer;
    return decided ? "answer '" + answer + "' from" : "answer '" + answer + "', not this edit's target:";
  };
  const FfnPatch* f = stack_.ffn().get();
  std::vector<const Fact*> said;  // one line per MEMIT fact, not per layer
  if (f) {
    const int64_t E = model().hparams().n_embd, F = model().hparams().n_ff;
    for (const EditRef& r : stack_.refs()) {
      if (r.layer < 0 || static_cast<size_t>(r.layer) >= ffn_in.size() || !f->layers.count(r.layer)) continue;
      const FfnLayerPatch& L = f->layers.at(r.layer);
      const float* h = ffn_in[static_cast<size_t>(r.layer)].data();
      double strength = 0;
      if (r.mode == Mode::Feature) {
        for (const FfnSlot& s : L.slots)
          if (s.feature == r.feature) {
            double g = 0, u = 0;
            for (int64_t e = 0; e < E; ++e) g += double(s.gate[e]) * h[e], u += double(s.up[e]) * h[e];
            strength = g / (1 + std::exp(-g)) * u;
          }
        if (strength < 1.0) continue;
        std::snprintf(buf, sizeof buf, "%s FEATURE edit %s / %s -> %s fired (layer %lld feature %lld, activation %.2f; %s)",
                      lead(*r.fact).c_str(), r.fact->entity.c_str(), r.fact->relation.c_str(), r.fact->target.c_str(),
                      static_cast<long long>(r.layer), static_cast<long long>(r.feature), strength, r.patch.c_str());
      } else {
        const std::vector<float> a = ed_.hidden(r.layer, h, f);
        if (r.feature >= L.rank) continue;
        for (int64_t j = 0; j < F; ++j) strength += double(L.B[static_cast<size_t>(r.feature * F + j)]) * a[static_cast<size_t>(j)];
        if (strength < 0.25 || std::find(said.begin(), said.end(), r.fact) != said.end()) continue;
        said.push_back(r.fact);
        std::snprintf(buf, sizeof buf, "%s MEMIT edit %s / %s -> %s active (layer %lld, key match %.2f; %s)",
                      lead(*r.fact).c_str(), r.fact->entity.c_str(), r.fact->relation.c_str(), r.fact->target.c_str(),
                      static_cast<long long>(r.layer), strength, r.patch.c_str());
      }
      out.push_back(buf);
    }
  }
  if (out.empty() && !stack_.empty())
    out.push_back("answer '" + answer + "': from the model's weights (no edit fired on this prompt)");
  return out;
}

}  // namespace larql::edit
