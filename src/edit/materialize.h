// Baking a composed FfnPatch into dense F32 copies of the tensors it touches
// (docs/editing.md): a FEATURE slot s writes row s of ffn_gate/ffn_up and
// column s of ffn_down; a masked feature zeroes its down column; a low-rank
// term adds A·Bᵀ to ffn_down. The result is handed to compile::write_model.
#pragma once
#include <string>
#include <vector>

#include "compile/compile.h"
#include "engine/ffn_patch.h"

namespace larql {
class ModelSource;
}

namespace larql::edit {

compile::Overrides materialize(const ModelSource& src, const FfnPatch& patch);
// Same, applied to one tensor already in memory (tests): down is [n_embd rows][n_ff], gate/up [n_ff rows][n_embd].
void materialize_layer(const FfnLayerPatch& L, int64_t n_embd, int64_t n_ff, std::vector<float>* gate,
                       std::vector<float>* up, std::vector<float>& down);

}  // namespace larql::edit
