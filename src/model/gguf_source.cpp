#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>

#include "format/gguf.h"
#include "format/safetensors.h"
#include "model/model_source.h"
#include "tokenizer/tokenizer.h"
#include "util/error.h"

namespace larql {

const TensorRef& ModelSource::require(const std::string& name) const {
  const TensorRef* t = find(name);
  if (!t) throw Error("model '" + path() + "' lacks tensor '" + name + "'");
  return *t;
}

namespace {

class GGUFSource : public ModelSource {
 public:
  explicit GGUFSource(const std::string& path) : file_(gguf::File::open(path)) {
    hp_ = hparams_from_gguf(*file_);
    for (const auto& t : file_->tensors()) {
      TensorRef r;
      r.name = t.name;
      r.type = t.type;
      r.ne.assign(t.ne, t.ne + t.n_dims);
      r.data = t.data;
      r.n_bytes = t.n_bytes;
      refs_.emplace(t.name, std::move(r));
    }
  }
  const HParams& hparams() const override { return hp_; }
  const TensorRef* find(const std::string& name) const override {
    auto it = refs_.find(name);
    return it == refs_.end() ? nullptr : &it->second;
  }
  std::vector<const TensorRef*> tensors() const override {
    std::vector<const TensorRef*> out;
    for (const auto& t : file_->tensors()) out.push_back(&refs_.at(t.name));
    return out;
  }
  std::unique_ptr<Tokenizer> tokenizer() const override { return Tokenizer::from_gguf(*file_); }
  std::string chat_template() const override { return file_->get_string("tokenizer.chat_template"); }
  std::string path() const override { return file_->path(); }
  uint64_t file_bytes() const override { return file_->file_size(); }
  const gguf::File& file() const { return *file_; }

 private:
  std::unique_ptr<gguf::File> file_;
  HParams hp_;
  std::map<std::string, TensorRef> refs_;
};

bool has_gguf_magic(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  char m[4] = {};
  f.read(m, 4);
  return f.gcount() == 4 && std::memcmp(m, "GGUF", 4) == 0;
}

}  // namespace

std::unique_ptr<ModelSource> open_gguf_model(const std::string& path) {
  return std::make_unique<GGUFSource>(path);
}

std::unique_ptr<ModelSource> open_model(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) throw Error("model '" + path + "' does not exist");
  if (std::filesystem::is_regular_file(path, ec) && has_gguf_magic(path)) return open_gguf_model(path);
  if (safetensors::is_safetensors_path(path)) return open_hf_model(path);
  throw Error("'" + path + "' is neither a GGUF file nor a safetensors model (file or folder with config.json)");
}

}  // namespace larql
