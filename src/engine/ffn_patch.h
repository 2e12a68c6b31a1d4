// An edit to the dense FFN blocks of a model, applied inside the forward pass
// (engine/session.cpp) without touching the weights. Per layer:
//   a        = act(gate·h) ⊙ (up·h)               the base hidden vector [n_ff]
//   a[m] = 0 for every masked feature m           (deleted features, and slots)
//   out      = W_down·a                            (the base product)
//            + Σ_slots act(g_s·h)·(u_s·h) · d_s    (features written into a slot)
//            + A·(Bᵀ·a)                            (low-rank down update, MEMIT)
// A slot replaces feature s: its base activation is masked and the slot's own
// gate/up rows and down vector take its place, so materializing the patch
// (writing g_s, u_s into row s of gate/up and d_s into column s of down, and
// W_down += A·Bᵀ) gives the same function. The low-rank term reads the masked
// hidden vector, so materialization adds A·Bᵀ first and then overwrites the
// masked and slot columns of W_down (edit/materialize.cpp): exact for any mix.
#pragma once
#include <cstdint>
#include <map>
#include <vector>

namespace larql {

struct FfnSlot {
  int64_t feature = 0;        // the feature index it replaces
  std::vector<float> gate;    // n_embd
  std::vector<float> up;      // n_embd
  std::vector<float> down;    // n_embd
};

struct FfnLayerPatch {
  std::vector<int64_t> masked;   // activation forced to 0 (sorted, unique)
  std::vector<FfnSlot> slots;
  int64_t rank = 0;
  std::vector<float> A;          // [rank][n_embd]: column j of A stored contiguously
  std::vector<float> B;          // [rank][n_ff]
  bool empty() const { return masked.empty() && slots.empty() && rank == 0; }
};

class FfnPatch {
 public:
  std::map<int64_t, FfnLayerPatch> layers;

  bool touches(int64_t layer) const;
  // Checks sizes against the model (n_embd, n_ff, n_layer); throws larql::Error.
  void validate(int64_t n_layer, int64_t n_embd, int64_t n_ff) const;
  // Before the down product: masks features of `a` ([n, n_ff]) and stores
  // each slot's activation in slot_act ([n, n_slots]). h is the FFN input [n, n_embd].
  void before_down(int64_t layer, const float* h, float* a, int64_t n, int64_t n_embd, int64_t n_ff,
                   std::vector<float>& slot_act) const;
  // After it: adds the slot writes and the low-rank term to out ([n, n_embd]).
  void after_down(int64_t layer, const float* a, const std::vector<float>& slot_act, float* out, int64_t n,
                  int64_t n_embd, int64_t n_ff) const;
  // Appends another patch on top (masks union, slots appended, ranks stacked).
  void merge(const FfnPatch& other);
};

}  // namespace larql
