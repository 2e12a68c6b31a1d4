#include "engine/model.h"

#include <cmath>

#include "util/error.h"
#include "util/memory.h"

namespace larql {

std::unique_ptr<Model> Model::load(const std::string& path) { return from_source(open_model(path)); }

std::unique_ptr<Model> Model::from_source(std::unique_ptr<ModelSource> src) {
  auto m = std::unique_ptr<Model>(new Model());
  m->src_ = std::move(src);
  m->hp_ = m->src_->hparams();
  if (m->hp_.n_vocab <= 0) throw Error("model has no vocabulary size");
  m->fam_ = family_for(m->hp_);
  // gemma2 27B scales queries by 1/sqrt(n_embd/n_head) instead of 1/sqrt(head_dim) (llama.cpp keys this on 46 layers).
  if (m->hp_.arch == "gemma2" && m->hp_.n_layer == 46)
    m->fam_.attn_scale = 1.0f / std::sqrt(static_cast<float>(m->hp_.n_embd / m->hp_.n_head));
  m->w_ = bind_weights(*m->src_, m->hp_, m->fam_);
  m->tok_ = m->src_->tokenizer();
  return m;
}

uint64_t Model::pack_experts(std::string* why) {
  if (experts_) throw Error("pack_experts: the model reads its experts through a --ram-budget cache");
  const uint64_t need = packable_expert_bytes(w_);
  if (need == 0) return 0;
  // The copies replace the mapped pages as they are made, but the file's page
  // cache stays until reclaimed: ask for the whole size with a 20 % margin.
  const uint64_t avail = available_memory_bytes();
  if (avail != UINT64_MAX && need + need / 5 > avail) {
    if (why)
      *why = "experts left memory-mapped: packing " + std::to_string(need >> 20) + " MiB needs more than the " +
             std::to_string(avail >> 20) + " MiB available (use --ram-budget for models larger than RAM)";
    return 0;
  }
  return repack_experts(w_);
}

}  // namespace larql
