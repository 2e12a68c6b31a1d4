// Hugging Face safetensors: single files and sharded folders
// (model.safetensors.index.json), with the folder's config.json.
// Zero-copy: tensor data points into the mmap'd shard.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "format/ggml_types.h"
#include "util/mapped_file.h"

namespace larql::safetensors {

struct TensorInfo {
  std::string name;
  std::string dtype;               // as written: "F32", "BF16", "I64", ...
  std::optional<GGMLType> type;    // F32/F16/BF16 (and I8..I64, F64) map to a GGML type
  std::vector<int64_t> shape;      // row-major, outermost first (PyTorch order)
  uint64_t n_elements = 0;
  uint64_t n_bytes = 0;
  const uint8_t* data = nullptr;
  std::string file;                // shard it lives in
};

class File {
 public:
  static std::unique_ptr<File> open(const std::string& path);
  static std::unique_ptr<File> from_memory(const uint8_t* data, size_t size);

  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  const TensorInfo* find_tensor(const std::string& name) const;
  const std::map<std::string, std::string>& metadata() const { return metadata_; }

 private:
  void parse(const uint8_t* data, size_t size, const std::string& name);
  MappedFile mapped_;
  std::vector<TensorInfo> tensors_;
  std::map<std::string, size_t> index_;
  std::map<std::string, std::string> metadata_;
};

// A model folder: config.json + model.safetensors or the sharded index.
class Folder {
 public:
  static std::unique_ptr<Folder> open(const std::string& dir);
  ~Folder();

  const std::string& dir() const { return dir_; }
  const nlohmann::json& config() const { return *config_; }  // config.json
  std::string tokenizer_json_path() const;                    // "" if absent
  std::vector<const TensorInfo*> tensors() const;             // all shards, sorted by name
  const TensorInfo* find_tensor(const std::string& name) const;
  size_t shard_count() const { return shards_.size(); }

 private:
  std::string dir_;
  std::unique_ptr<nlohmann::json> config_;
  std::vector<std::unique_ptr<File>> shards_;
  std::map<std::string, const TensorInfo*> by_name_;
};

// Writes one safetensors file (tensors in the given order). Used by tests and
// by conversion/compile. Atomic: temporary file + rename.
struct TensorToWrite {
  std::string name;
  std::string dtype;  // "F32", "F16", "BF16", ...
  std::vector<int64_t> shape;
  const void* data;
  uint64_t n_bytes;
};
void write_file(const std::string& path, const std::vector<TensorToWrite>& tensors,
                const std::map<std::string, std::string>& metadata = {});

// True when `path` looks like a safetensors folder or file (not GGUF).
bool is_safetensors_path(const std::string& path);

}  // namespace larql::safetensors
