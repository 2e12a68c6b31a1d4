// PatchStack::compose: the forward's view of a stack of patches.
#include <algorithm>

#include "edit/patch.h"

namespace larql::edit {

namespace {
bool matches(const Fact& ins, const Fact& del) {
  // A delete names entity and relation; its target (when set) must match too.
  return ins.entity == del.entity && ins.relation == del.relation && (del.target.empty() || ins.target == del.target);
}
}  // namespace

bool PatchStack::empty() const {
  for (const Patch& p : patches)
    if (!p.ops.empty()) return false;
  return true;
}

void PatchStack::compose() {
  struct Active {
    Operation op;           // a copy: cancelled MEMIT columns are zeroed in it
    std::string patch;
    std::vector<bool> live; // per fact
  };
  std::vector<Active> act;
  FfnPatch masks;
  for (const Patch& p : patches) {
    const std::string name = p.path.empty() ? "(session)" : p.path;
    for (const Operation& o : p.ops) {
      if (o.op == "insert") {
        act.push_back({o, name, std::vector<bool>(o.facts.size(), true)});
        continue;
      }
      if (!o.cancels) {
        masks.merge(o.ffn);
        continue;
      }
      for (Active& a : act)
        for (size_t j = 0; j < a.op.facts.size(); ++j)
          for (const Fact& d : o.facts)
            if (a.live[j] && matches(a.op.facts[j], d)) a.live[j] = false;
    }
  }
  auto f = std::make_shared<FfnPatch>();
  knn_.clear();
  refs_.clear();
  std::map<int64_t, int64_t> rank_at;  // composed rank per layer so far
  for (Active& a : act) {
    const bool any = std::find(a.live.begin(), a.live.end(), true) != a.live.end();
    if (!any) continue;
    Operation& o = a.op;
    if (o.mode == Mode::KNN) {
      for (KnnEntry& e : o.knn) {
        bool live = true;
        for (size_t j = 0; j < o.facts.size(); ++j)
          if (!a.live[j] && o.facts[j].entity == e.fact.entity && o.facts[j].relation == e.fact.relation) live = false;
        if (live) knn_.push_back(e);
      }
      continue;
    }
    for (auto& [il, L] : o.ffn.layers) {
      // MEMIT: column j of A/B belongs to fact j; a cancelled fact's column is zeroed.
      for (int64_t j = 0; j < L.rank; ++j) {
        const size_t fj = static_cast<int64_t>(o.column_fact.size()) == L.rank
                              ? static_cast<size_t>(o.column_fact[static_cast<size_t>(j)])
                              : static_cast<size_t>(j) % std::max<size_t>(1, o.facts.size());
        if (fj < a.live.size() && !a.live[fj])
          std::fill(L.A.begin() + j * (L.A.size() / L.rank), L.A.begin() + (j + 1) * (L.A.size() / L.rank), 0.0f);
        else if (fj < o.facts.size())
          refs_.push_back({&o.facts[fj], o.mode, a.patch, il, rank_at[il] + j});
      }
      rank_at[il] += L.rank;
      for (const FfnSlot& s : L.slots) refs_.push_back({&o.facts.front(), o.mode, a.patch, il, s.feature});
    }
    f->merge(o.ffn);
  }
  f->merge(masks);
  ffn_ = f->layers.empty() ? nullptr : f;
  // refs_ point into act's copies: keep them alive with the stack.
  kept_.clear();
  for (Active& a : act) kept_.push_back(std::move(a.op));
  // Moving the Operations keeps their facts vectors' buffers, so the pointers stay valid.
}

}  // namespace larql::edit

namespace larql::edit {

const KnnEntry* knn_match(const std::vector<KnnEntry>& knn, const std::vector<std::vector<float>>& resid, float* cos) {
  const KnnEntry* best = nullptr;
  float best_c = -2;
  for (const KnnEntry& e : knn) {
    if (e.layer < 0 || static_cast<size_t>(e.layer) >= resid.size() || resid[static_cast<size_t>(e.layer)].size() != e.key.size()) continue;
    const float c = cosine(e.key.data(), resid[static_cast<size_t>(e.layer)].data(), static_cast<int64_t>(e.key.size()));
    if (c >= e.threshold && c > best_c) best = &e, best_c = c;
  }
  if (cos) *cos = best_c;
  return best;
}

void knn_apply(const KnnEntry& e, std::vector<float>& logits) {
  if (e.steers() < 0) return;
  const size_t t = static_cast<size_t>(e.steers());
  if (t >= logits.size()) return;
  float mx = -1e30f;
  for (size_t i = 0; i < logits.size(); ++i)
    if (i != t) mx = std::max(mx, logits[i]);
  logits[t] = std::max(logits[t], mx + 1.0f);
}

}  // namespace larql::edit
