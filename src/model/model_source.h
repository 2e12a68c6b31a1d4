// Where a model's weights and metadata come from, independent of the file
// format: tensors are addressed by their GGUF names ("blk.0.attn_q.weight")
// with GGML shapes, whether the model is a GGUF file or a Hugging Face
// safetensors folder (mapped and, where needed, permuted on load).
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "format/ggml_types.h"
#include "model/hparams.h"

namespace larql {
class Tokenizer;

struct TensorRef {
  std::string name;
  GGMLType type = GGMLType::F32;
  std::vector<int64_t> ne;  // GGML order, ne[0] = row length
  const uint8_t* data = nullptr;
  uint64_t n_bytes = 0;
  int64_t rows() const {
    int64_t r = 1;
    for (size_t i = 1; i < ne.size(); ++i) r *= ne[i];
    return r;
  }
};

class ModelSource {
 public:
  virtual ~ModelSource() = default;
  virtual const HParams& hparams() const = 0;
  virtual const TensorRef* find(const std::string& name) const = 0;  // nullptr if absent
  virtual std::vector<const TensorRef*> tensors() const = 0;
  virtual std::unique_ptr<Tokenizer> tokenizer() const = 0;
  virtual std::string chat_template() const = 0;   // "" if none
  virtual std::string path() const = 0;
  virtual uint64_t file_bytes() const = 0;
  const TensorRef& require(const std::string& name) const;  // throws naming the tensor
};

// Opens a GGUF file or a safetensors folder/file, whichever `path` is.
std::unique_ptr<ModelSource> open_model(const std::string& path);
std::unique_ptr<ModelSource> open_gguf_model(const std::string& path);
// Implemented in hf_source.cpp.
std::unique_ptr<ModelSource> open_hf_model(const std::string& path);

}  // namespace larql
