// The vindex as a ModelSource: its stored inference tensors under their GGUF
// names, so the engine runs on a vindex exactly as on the source file.
#include <filesystem>

#include "model/model_source.h"
#include "tokenizer/tokenizer.h"
#include "vindex/vindex_impl.h"

namespace larql::vindex {
namespace {

// Names the vindex adds on top of the source's tensors.
bool vindex_only(const std::string& n) {
  return n.ends_with("_feat") || n.find(".down_meta") != std::string::npos || n.ends_with(".cluster") ||
         n.ends_with(".cluster_exps");
}

class VindexSource final : public ModelSource {
 public:
  explicit VindexSource(const Vindex::Impl& v) : dir_(v.dir), m_(v.m), files_(v.files) {
    for (const auto& t : v.m.tensors) {
      if (vindex_only(t.name)) continue;
      TensorRef r;
      r.name = t.name;
      r.type = t.type;
      r.ne = t.ne;
      r.data = v.require(t.name).data;
      r.n_bytes = t.n_bytes;
      order_.push_back(t.name);
      refs_.emplace(t.name, std::move(r));
    }
    for (const auto& f : m_.files) bytes_ += f.bytes;
  }
  const HParams& hparams() const override { return m_.hparams; }
  const TensorRef* find(const std::string& name) const override {
    auto it = refs_.find(name);
    return it == refs_.end() ? nullptr : &it->second;
  }
  std::vector<const TensorRef*> tensors() const override {
    std::vector<const TensorRef*> out;
    for (const auto& n : order_) out.push_back(&refs_.at(n));
    return out;
  }
  std::unique_ptr<Tokenizer> tokenizer() const override {
    Vindex::Impl tmp;
    tmp.dir = dir_;
    tmp.m.tokenizer_kind = m_.tokenizer_kind;
    return tmp.load_tokenizer();
  }
  std::string chat_template() const override { return m_.chat_template; }
  std::string path() const override { return dir_; }
  uint64_t file_bytes() const override { return bytes_; }

 private:
  std::string dir_;
  Manifest m_;
  std::vector<std::shared_ptr<MappedFile>> files_;  // keeps the mappings alive
  std::vector<std::string> order_;
  std::map<std::string, TensorRef> refs_;
  uint64_t bytes_ = 0;
};

}  // namespace

std::unique_ptr<ModelSource> make_model_source(const Vindex::Impl& v) { return std::make_unique<VindexSource>(v); }

}  // namespace larql::vindex
