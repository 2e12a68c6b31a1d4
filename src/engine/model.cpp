#include "engine/model.h"

#include <cmath>

#include "util/error.h"

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

}  // namespace larql
