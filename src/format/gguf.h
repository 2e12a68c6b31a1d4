// GGUF v2/v3: a strict, zero-copy reader over an mmap'd file and a streaming writer.
//
// Reader: every length, count, type id and offset read from the file is checked
// before use; a malformed file raises larql::Error naming the field at fault.
// Tensor data is viewed in place (TensorInfo::data points into the mapping).
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "format/ggml_types.h"
#include "util/mapped_file.h"

namespace larql::gguf {

enum class ValueType : uint32_t {
  UINT8 = 0, INT8 = 1, UINT16 = 2, INT16 = 3, UINT32 = 4, INT32 = 5, FLOAT32 = 6,
  BOOL = 7, STRING = 8, ARRAY = 9, UINT64 = 10, INT64 = 11, FLOAT64 = 12,
};
const char* value_type_name(ValueType t);

// A metadata value. Arrays may nest (an array of arrays).
struct Value {
  ValueType type = ValueType::UINT32;
  uint64_t u = 0;        // unsigned ints and BOOL
  int64_t i = 0;         // signed ints
  double f = 0;          // FLOAT32 / FLOAT64
  std::string s;         // STRING
  ValueType elem_type = ValueType::UINT8;  // ARRAY
  std::vector<Value> arr;                  // ARRAY

  bool is_integer() const;
  bool is_number() const;
  // Checked accessors: throw larql::Error when the value has another type.
  int64_t as_int() const;
  uint64_t as_uint() const;
  double as_float() const;  // any number
  bool as_bool() const;
  const std::string& as_string() const;
  const std::vector<Value>& as_array() const;
  std::vector<std::string> as_string_array() const;
  std::vector<float> as_float_array() const;
  std::vector<int64_t> as_int_array() const;
  // Short human-readable rendering (arrays abbreviated past `max_items`).
  std::string to_string(size_t max_items = 8) const;

  static Value from_u32(uint32_t v);
  static Value from_i32(int32_t v);
  static Value from_u64(uint64_t v);
  static Value from_f32(float v);
  static Value from_bool(bool v);
  static Value from_string(std::string v);
  static Value from_strings(const std::vector<std::string>& v);
  static Value from_f32s(const std::vector<float>& v);
  static Value from_i32s(const std::vector<int32_t>& v);
};

struct TensorInfo {
  std::string name;
  uint32_t n_dims = 0;
  int64_t ne[4] = {1, 1, 1, 1};  // GGML order: ne[0] is the row length (fastest-varying)
  GGMLType type = GGMLType::F32;
  uint64_t offset = 0;    // relative to the start of the data section
  uint64_t n_elements = 0;
  uint64_t n_bytes = 0;
  const uint8_t* data = nullptr;  // view into the mapped file
  int64_t rows() const { return static_cast<int64_t>(n_elements / static_cast<uint64_t>(ne[0])); }
  std::string shape_string() const;  // "[4096, 32000]"
};

class File {
 public:
  // Opens and fully validates a GGUF file (memory-mapped).
  static std::unique_ptr<File> open(const std::string& path);
  // Parses an in-memory buffer that must outlive the File (fuzzers, tests).
  static std::unique_ptr<File> from_memory(const uint8_t* data, size_t size);

  uint32_t version() const { return version_; }
  uint64_t alignment() const { return alignment_; }
  uint64_t data_offset() const { return data_offset_; }
  size_t file_size() const { return size_; }
  const std::string& path() const { return mapped_.path(); }

  // Metadata in file order.
  const std::vector<std::pair<std::string, Value>>& metadata() const { return kv_; }
  const Value* find(const std::string& key) const;  // nullptr if absent
  const Value& get(const std::string& key) const;   // throws if absent
  // Typed getters with defaults (throw if present with an incompatible type).
  std::string get_string(const std::string& key, const std::string& def = "") const;
  int64_t get_int(const std::string& key, int64_t def) const;
  double get_float(const std::string& key, double def) const;
  bool get_bool(const std::string& key, bool def) const;
  // "general.architecture" or "" if absent.
  std::string architecture() const { return get_string("general.architecture"); }

  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  const TensorInfo* find_tensor(const std::string& name) const;  // nullptr if absent
  const TensorInfo& tensor(const std::string& name) const;       // throws if absent

 private:
  File() = default;
  void parse(const uint8_t* data, size_t size);
  MappedFile mapped_;
  size_t size_ = 0;
  uint32_t version_ = 0;
  uint64_t alignment_ = 32;
  uint64_t data_offset_ = 0;
  std::vector<std::pair<std::string, Value>> kv_;
  std::map<std::string, size_t> kv_index_;
  std::vector<TensorInfo> tensors_;
  std::map<std::string, size_t> tensor_index_;
};

// Streaming writer: metadata and tensor descriptions are collected first;
// write() emits the header, then asks each tensor's producer for its bytes in
// order, so a multi-GB model never needs to be held in memory at once.
class Writer {
 public:
  using Producer = std::function<void(uint8_t* out, size_t n_bytes)>;

  explicit Writer(uint32_t alignment = 32) : alignment_(alignment) {}
  void set(const std::string& key, Value v);  // replaces an existing key, keeps order
  // ne in GGML order (ne[0] = row length). n_bytes is computed from type and shape.
  void add_tensor(const std::string& name, GGMLType type, std::vector<int64_t> ne, Producer producer);
  void add_tensor_data(const std::string& name, GGMLType type, std::vector<int64_t> ne,
                       std::vector<uint8_t> bytes);
  // Writes atomically (temporary file + rename). Throws larql::Error on I/O failure.
  void write(const std::string& path) const;
  size_t tensor_count() const { return tensors_.size(); }

 private:
  struct Pending {
    std::string name;
    GGMLType type;
    std::vector<int64_t> ne;
    uint64_t n_bytes;
    Producer producer;
  };
  uint32_t alignment_;
  std::vector<std::pair<std::string, Value>> kv_;
  std::vector<Pending> tensors_;
};

}  // namespace larql::gguf
