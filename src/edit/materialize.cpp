#include "edit/materialize.h"

#include <algorithm>

#include "model/model_source.h"
#include "util/error.h"

namespace larql::edit {

void materialize_layer(const FfnLayerPatch& L, int64_t E, int64_t F, std::vector<float>* gate, std::vector<float>* up,
                       std::vector<float>& down) {
  if (down.size() != static_cast<size_t>(E * F)) throw Error("materialize: ffn_down has the wrong size");
  // Low-rank first: masked and slot columns are then overwritten whole, which is
  // what the live patch computes (their hidden value never reaches A·Bᵀ).
  for (int64_t r = 0; r < L.rank; ++r) {
    const float* a = L.A.data() + r * E;
    const float* b = L.B.data() + r * F;
    for (int64_t e = 0; e < E; ++e) {
      float* row = down.data() + e * F;
      for (int64_t j = 0; j < F; ++j) row[j] += a[e] * b[j];
    }
  }
  for (int64_t m : L.masked)
    for (int64_t e = 0; e < E; ++e) down[static_cast<size_t>(e * F + m)] = 0.0f;
  for (const FfnSlot& s : L.slots) {
    if (!gate || !up) throw Error("materialize: a FEATURE slot needs ffn_gate and ffn_up");
    std::copy(s.gate.begin(), s.gate.end(), gate->begin() + s.feature * E);
    std::copy(s.up.begin(), s.up.end(), up->begin() + s.feature * E);
    for (int64_t e = 0; e < E; ++e) down[static_cast<size_t>(e * F + s.feature)] = s.down[static_cast<size_t>(e)];
  }
}

compile::Overrides materialize(const ModelSource& src, const FfnPatch& patch) {
  const HParams& hp = src.hparams();
  compile::Overrides out;
  for (const auto& [il, L] : patch.layers) {
    if (L.empty()) continue;
    const std::string p = "blk." + std::to_string(il) + ".";
    std::vector<float> down = compile::read_f32(src, p + "ffn_down.weight");
    std::vector<float> gate, up;
    if (!L.slots.empty()) {
      gate = compile::read_f32(src, p + "ffn_gate.weight");
      up = compile::read_f32(src, p + "ffn_up.weight");
    }
    materialize_layer(L, hp.n_embd, hp.n_ff, L.slots.empty() ? nullptr : &gate, L.slots.empty() ? nullptr : &up, down);
    out[p + "ffn_down.weight"].data = std::move(down);
    if (!L.slots.empty()) {
      out[p + "ffn_gate.weight"].data = std::move(gate);
      out[p + "ffn_up.weight"].data = std::move(up);
    }
  }
  return out;
}

}  // namespace larql::edit
