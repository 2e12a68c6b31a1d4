// A loaded model: its source (GGUF or safetensors), hyperparameters, family
// switches, bound weights and tokenizer. Immutable once loaded; any number of
// Sessions can run on it.
#pragma once
#include <memory>
#include <string>

#include "engine/family.h"
#include "engine/weights.h"
#include "model/model_source.h"
#include "tokenizer/tokenizer.h"

namespace larql {
class ExpertCache;

class Model {
 public:
  static std::unique_ptr<Model> load(const std::string& path);
  static std::unique_ptr<Model> from_source(std::unique_ptr<ModelSource> src);

  const HParams& hparams() const { return hp_; }
  const Family& family() const { return fam_; }
  const ModelWeights& weights() const { return w_; }
  const Tokenizer& tokenizer() const { return *tok_; }
  const ModelSource& source() const { return *src_; }
  // --ram-budget: routed experts come from this cache instead of the mapping
  // (engine/expert_cache.h). Set before any Session runs; shared by all of them.
  void set_expert_cache(std::shared_ptr<ExpertCache> c) { experts_ = std::move(c); }
  ExpertCache* expert_cache() const { return experts_.get(); }
  // Copies the routed experts into the packed layout (weights.h repack_experts)
  // when they fit in the memory this process may still take with a margin
  // (util/memory.h). Call before any Session runs, never with an expert cache.
  // Returns the bytes packed; 0 leaves them mapped (*why says why, when given).
  uint64_t pack_experts(std::string* why = nullptr);

 private:
  std::unique_ptr<ModelSource> src_;
  HParams hp_;
  Family fam_;
  ModelWeights w_;
  std::unique_ptr<Tokenizer> tok_;
  std::shared_ptr<ExpertCache> experts_;
};

}  // namespace larql
