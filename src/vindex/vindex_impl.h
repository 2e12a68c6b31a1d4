// Vindex internals shared by the reader and its ModelSource.
#pragma once
#include <map>
#include <memory>
#include <mutex>
#include <tuple>

#include "util/mapped_file.h"
#include "vindex/layout.h"
#include "vindex/vindex.h"

namespace larql::vindex {

struct Bound {  // a manifest tensor with its mapped bytes
  const TensorEntry* entry = nullptr;
  const uint8_t* data = nullptr;
};

struct Vindex::Impl {
  std::string dir;
  Manifest m;
  std::vector<std::shared_ptr<MappedFile>> files;  // shared with model sources
  std::map<std::string, Bound> tensors;
  std::vector<FfnLayout> dense, experts;           // per layer
  std::unique_ptr<Tokenizer> tok;
  std::unique_ptr<VocabProjector> proj;
  std::vector<Cluster> clusters;
  std::vector<ProbeLabel> probes;
  std::map<std::tuple<int64_t, int64_t, int64_t>, size_t> probe_index;
  // The global ThreadPool takes one job at a time: concurrent readers queue here.
  mutable std::mutex pool_mu;

  const Bound* find(const std::string& name) const {
    auto it = tensors.find(name);
    return it == tensors.end() ? nullptr : &it->second;
  }
  const Bound& require(const std::string& name) const;
  const FfnLayout& ffn(const FeatureAddr& a) const;  // throws on a bad address
  std::unique_ptr<Tokenizer> load_tokenizer() const;
};

// A ModelSource over a vindex's inference tensors.
std::unique_ptr<ModelSource> make_model_source(const Vindex::Impl& v);

}  // namespace larql::vindex
