#include "engine/ffn_patch.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "util/error.h"

namespace larql {

namespace {
// Slots are SwiGLU features (the edit module only writes SiLU-gated families).
inline float silu(float x) { return x / (1.0f + std::exp(-x)); }
inline float dot(const float* a, const float* b, int64_t n) {
  double s = 0;
  for (int64_t i = 0; i < n; ++i) s += static_cast<double>(a[i]) * b[i];
  return static_cast<float>(s);
}
}  // namespace

bool FfnPatch::touches(int64_t layer) const {
  auto it = layers.find(layer);
  return it != layers.end() && !it->second.empty();
}

void FfnPatch::validate(int64_t n_layer, int64_t n_embd, int64_t n_ff) const {
  for (const auto& [il, L] : layers) {
    const std::string at = "FFN patch layer " + std::to_string(il) + ": ";
    if (il < 0 || il >= n_layer) throw Error(at + "out of range (0-" + std::to_string(n_layer - 1) + ")");
    for (int64_t m : L.masked)
      if (m < 0 || m >= n_ff) throw Error(at + "masked feature " + std::to_string(m) + " out of range");
    for (const FfnSlot& s : L.slots) {
      if (s.feature < 0 || s.feature >= n_ff) throw Error(at + "slot feature " + std::to_string(s.feature) + " out of range");
      const size_t E = static_cast<size_t>(n_embd);
      if (s.gate.size() != E || s.up.size() != E || s.down.size() != E)
        throw Error(at + "slot " + std::to_string(s.feature) + " vectors must have n_embd = " + std::to_string(n_embd) + " values");
    }
    if (L.rank < 0 || L.A.size() != static_cast<size_t>(L.rank * n_embd) || L.B.size() != static_cast<size_t>(L.rank * n_ff))
      throw Error(at + "low-rank update has the wrong size for rank " + std::to_string(L.rank));
  }
}

void FfnPatch::before_down(int64_t layer, const float* h, float* a, int64_t n, int64_t E, int64_t F,
                           std::vector<float>& slot_act) const {
  const FfnLayerPatch& L = layers.at(layer);
  const int64_t S = static_cast<int64_t>(L.slots.size());
  slot_act.assign(static_cast<size_t>(n * S), 0.0f);
  for (int64_t t = 0; t < n; ++t) {
    float* at = a + t * F;
    for (int64_t m : L.masked) at[m] = 0;
    for (int64_t s = 0; s < S; ++s) {
      const FfnSlot& sl = L.slots[static_cast<size_t>(s)];
      at[sl.feature] = 0;
      const float* ht = h + t * E;
      slot_act[static_cast<size_t>(t * S + s)] = silu(dot(sl.gate.data(), ht, E)) * dot(sl.up.data(), ht, E);
    }
  }
}

void FfnPatch::after_down(int64_t layer, const float* a, const std::vector<float>& slot_act, float* out, int64_t n,
                          int64_t E, int64_t F) const {
  const FfnLayerPatch& L = layers.at(layer);
  const int64_t S = static_cast<int64_t>(L.slots.size());
  std::vector<float> c(static_cast<size_t>(L.rank));
  for (int64_t t = 0; t < n; ++t) {
    float* o = out + t * E;
    for (int64_t s = 0; s < S; ++s) {
      const float v = slot_act[static_cast<size_t>(t * S + s)];
      const float* d = L.slots[static_cast<size_t>(s)].down.data();
      for (int64_t i = 0; i < E; ++i) o[i] += v * d[i];
    }
    for (int64_t j = 0; j < L.rank; ++j) c[static_cast<size_t>(j)] = dot(L.B.data() + j * F, a + t * F, F);
    for (int64_t j = 0; j < L.rank; ++j) {
      const float cj = c[static_cast<size_t>(j)];
      const float* col = L.A.data() + j * E;
      for (int64_t i = 0; i < E; ++i) o[i] += cj * col[i];
    }
  }
}

void FfnPatch::merge(const FfnPatch& other) {
  for (const auto& [il, src] : other.layers) {
    FfnLayerPatch& dst = layers[il];
    dst.masked.insert(dst.masked.end(), src.masked.begin(), src.masked.end());
    std::sort(dst.masked.begin(), dst.masked.end());
    dst.masked.erase(std::unique(dst.masked.begin(), dst.masked.end()), dst.masked.end());
    // A later slot on the same feature replaces the earlier one.
    for (const FfnSlot& s : src.slots) {
      std::erase_if(dst.slots, [&](const FfnSlot& d) { return d.feature == s.feature; });
      dst.slots.push_back(s);
    }
    dst.rank += src.rank;
    dst.A.insert(dst.A.end(), src.A.begin(), src.A.end());
    dst.B.insert(dst.B.end(), src.B.begin(), src.B.end());
  }
}

}  // namespace larql
