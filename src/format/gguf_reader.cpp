// Strict GGUF parser. Every quantity read from the file is bounds- and
// overflow-checked before it is used to allocate or to index.
#include <cstring>

#include "format/gguf.h"
#include "util/error.h"

namespace larql::gguf {

namespace {

constexpr uint32_t kMaxDims = 4;
constexpr int kMaxArrayDepth = 8;

class Cursor {
 public:
  Cursor(const uint8_t* p, size_t n) : p_(p), n_(n) {}
  size_t pos() const { return pos_; }
  size_t remaining() const { return n_ - pos_; }

  template <typename T>
  T read(const char* what) {
    if (remaining() < sizeof(T))
      throw Error(std::string("truncated GGUF: file ends while reading ") + what + " at offset " +
                  std::to_string(pos_));
    T v;
    std::memcpy(&v, p_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }

  std::string read_string(const std::string& what) {
    uint64_t len = read<uint64_t>((what + " length").c_str());
    if (len > remaining())
      throw Error("invalid GGUF: " + what + " length " + std::to_string(len) + " exceeds the " +
                  std::to_string(remaining()) + " bytes left in the file (offset " +
                  std::to_string(pos_ - 8) + ")");
    std::string s(reinterpret_cast<const char*>(p_ + pos_), static_cast<size_t>(len));
    pos_ += static_cast<size_t>(len);
    return s;
  }

 private:
  const uint8_t* p_;
  size_t n_;
  size_t pos_ = 0;
};

// Smallest encoded size of one element of this type; used to reject array
// counts that cannot fit in the rest of the file before allocating.
size_t min_encoded_size(ValueType t) {
  switch (t) {
    case ValueType::UINT8: case ValueType::INT8: case ValueType::BOOL: return 1;
    case ValueType::UINT16: case ValueType::INT16: return 2;
    case ValueType::UINT32: case ValueType::INT32: case ValueType::FLOAT32: return 4;
    case ValueType::UINT64: case ValueType::INT64: case ValueType::FLOAT64: return 8;
    case ValueType::STRING: return 8;
    case ValueType::ARRAY: return 12;
  }
  return 1;
}

bool valid_value_type(uint32_t t) { return t <= 12; }

Value read_value(Cursor& c, ValueType type, const std::string& key, int depth) {
  Value v;
  v.type = type;
  switch (type) {
    case ValueType::UINT8: v.u = c.read<uint8_t>(key.c_str()); break;
    case ValueType::INT8: v.i = c.read<int8_t>(key.c_str()); break;
    case ValueType::UINT16: v.u = c.read<uint16_t>(key.c_str()); break;
    case ValueType::INT16: v.i = c.read<int16_t>(key.c_str()); break;
    case ValueType::UINT32: v.u = c.read<uint32_t>(key.c_str()); break;
    case ValueType::INT32: v.i = c.read<int32_t>(key.c_str()); break;
    case ValueType::UINT64: v.u = c.read<uint64_t>(key.c_str()); break;
    case ValueType::INT64: v.i = c.read<int64_t>(key.c_str()); break;
    case ValueType::FLOAT32: v.f = c.read<float>(key.c_str()); break;
    case ValueType::FLOAT64: v.f = c.read<double>(key.c_str()); break;
    case ValueType::BOOL: {
      uint8_t b = c.read<uint8_t>(key.c_str());
      if (b > 1) throw Error("invalid GGUF: bool value " + std::to_string(b) + " for key '" + key + "'");
      v.u = b;
      break;
    }
    case ValueType::STRING: v.s = c.read_string("string value of '" + key + "'"); break;
    case ValueType::ARRAY: {
      if (depth >= kMaxArrayDepth)
        throw Error("invalid GGUF: arrays nested deeper than " + std::to_string(kMaxArrayDepth) +
                    " in key '" + key + "'");
      uint32_t et = c.read<uint32_t>("array element type");
      if (!valid_value_type(et))
        throw Error("invalid GGUF: array element type " + std::to_string(et) + " for key '" + key + "'");
      v.elem_type = static_cast<ValueType>(et);
      uint64_t n = c.read<uint64_t>("array length");
      uint64_t need = 0;
      if (!checked_mul(n, min_encoded_size(v.elem_type), &need) || need > c.remaining())
        throw Error("invalid GGUF: array length " + std::to_string(n) + " of key '" + key +
                    "' exceeds the rest of the file");
      v.arr.reserve(static_cast<size_t>(n));
      for (uint64_t k = 0; k < n; ++k) v.arr.push_back(read_value(c, v.elem_type, key, depth + 1));
      break;
    }
  }
  return v;
}

}  // namespace

std::unique_ptr<File> File::open(const std::string& path) {
  std::unique_ptr<File> f(new File());
  f->mapped_ = MappedFile(path);
  try {
    f->parse(f->mapped_.data(), f->mapped_.size());
  } catch (const Error& e) {
    throw Error(path + ": " + e.what());
  }
  return f;
}

std::unique_ptr<File> File::from_memory(const uint8_t* data, size_t size) {
  std::unique_ptr<File> f(new File());
  f->parse(data, size);
  return f;
}

void File::parse(const uint8_t* data, size_t size) {
  size_ = size;
  Cursor c(data, size);
  if (size < 4 || std::memcmp(data, "GGUF", 4) != 0)
    throw Error("not a GGUF file (bad magic; expected 'GGUF')");
  c.read<uint32_t>("magic");
  version_ = c.read<uint32_t>("version");
  if (version_ == 1) throw Error("GGUF version 1 is not supported (only 2 and 3)");
  if (version_ > 0xFFFF && (version_ >> 24) <= 3)
    throw Error("big-endian GGUF files are not supported");
  if (version_ != 2 && version_ != 3)
    throw Error("unsupported GGUF version " + std::to_string(version_) + " (only 2 and 3)");

  uint64_t n_tensors = c.read<uint64_t>("tensor count");
  uint64_t n_kv = c.read<uint64_t>("metadata count");
  // Each kv needs at least 8 (key len) + 4 (type) + 1 bytes; each tensor info 8+4+8+4+8.
  if (n_kv > c.remaining() / 13)
    throw Error("invalid GGUF: metadata count " + std::to_string(n_kv) + " cannot fit in the file");
  if (n_tensors > c.remaining() / 32)
    throw Error("invalid GGUF: tensor count " + std::to_string(n_tensors) + " cannot fit in the file");

  kv_.reserve(static_cast<size_t>(n_kv));
  for (uint64_t k = 0; k < n_kv; ++k) {
    std::string key = c.read_string("metadata key #" + std::to_string(k));
    uint32_t t = c.read<uint32_t>("metadata value type");
    if (!valid_value_type(t))
      throw Error("invalid GGUF: metadata key '" + key + "' has value type " + std::to_string(t));
    Value v = read_value(c, static_cast<ValueType>(t), key, 0);
    if (kv_index_.count(key)) throw Error("invalid GGUF: duplicate metadata key '" + key + "'");
    kv_index_[key] = kv_.size();
    kv_.emplace_back(std::move(key), std::move(v));
  }

  if (const Value* a = find("general.alignment")) {
    if (a->type != ValueType::UINT32)
      throw Error("invalid GGUF: general.alignment must be uint32");
    uint64_t al = a->u;
    if (al == 0 || (al & (al - 1)) != 0 || al > (1u << 20))
      throw Error("invalid GGUF: general.alignment " + std::to_string(al) + " is not a power of two");
    alignment_ = al;
  }

  tensors_.reserve(static_cast<size_t>(n_tensors));
  for (uint64_t k = 0; k < n_tensors; ++k) {
    TensorInfo ti;
    ti.name = c.read_string("tensor #" + std::to_string(k) + " name");
    const std::string where = "tensor '" + ti.name + "'";
    ti.n_dims = c.read<uint32_t>("tensor dimension count");
    if (ti.n_dims == 0 || ti.n_dims > kMaxDims)
      throw Error("invalid GGUF: " + where + " has " + std::to_string(ti.n_dims) +
                  " dimensions (1 to 4 allowed)");
    uint64_t n_el = 1;
    for (uint32_t d = 0; d < ti.n_dims; ++d) {
      uint64_t ne = c.read<uint64_t>("tensor dimension");
      if (ne > static_cast<uint64_t>(INT64_MAX) || !checked_mul(n_el, ne, &n_el) ||
          n_el > static_cast<uint64_t>(INT64_MAX))
        throw Error("invalid GGUF: " + where + " element count overflows");
      ti.ne[d] = static_cast<int64_t>(ne);
    }
    uint32_t type_id = c.read<uint32_t>("tensor type");
    auto traits = ggml_type_traits(type_id);
    if (!traits)
      throw Error("invalid GGUF: " + where + " has unknown type id " + std::to_string(type_id));
    ti.type = static_cast<GGMLType>(type_id);
    if (static_cast<uint64_t>(ti.ne[0]) % traits->block_size != 0)
      throw Error("invalid GGUF: " + where + " row length " + std::to_string(ti.ne[0]) +
                  " is not a multiple of " + traits->name + "'s block size " +
                  std::to_string(traits->block_size));
    ti.n_elements = n_el;
    if (!checked_mul(n_el / traits->block_size, traits->type_size, &ti.n_bytes))
      throw Error("invalid GGUF: " + where + " byte size overflows");
    ti.offset = c.read<uint64_t>("tensor data offset");
    if (ti.offset % alignment_ != 0)
      throw Error("invalid GGUF: " + where + " data offset " + std::to_string(ti.offset) +
                  " is not aligned to " + std::to_string(alignment_));
    if (tensor_index_.count(ti.name)) throw Error("invalid GGUF: duplicate tensor name '" + ti.name + "'");
    tensor_index_[ti.name] = tensors_.size();
    tensors_.push_back(std::move(ti));
  }

  uint64_t data_off = c.pos();
  uint64_t pad = (alignment_ - data_off % alignment_) % alignment_;
  data_off += pad;
  data_offset_ = data_off;
  if (!tensors_.empty() && data_off > size)
    throw Error("truncated GGUF: data section starts at " + std::to_string(data_off) +
                " beyond the end of the file (" + std::to_string(size) + " bytes)");
  for (auto& ti : tensors_) {
    uint64_t start = 0, end = 0;
    if (!checked_add(data_off, ti.offset, &start) || !checked_add(start, ti.n_bytes, &end) ||
        end > size)
      throw Error("truncated GGUF: tensor '" + ti.name + "' data [" + std::to_string(ti.offset) +
                  ", +" + std::to_string(ti.n_bytes) + ") extends beyond the end of the file");
    ti.data = data + start;
  }
}

const Value* File::find(const std::string& key) const {
  auto it = kv_index_.find(key);
  return it == kv_index_.end() ? nullptr : &kv_[it->second].second;
}

const Value& File::get(const std::string& key) const {
  const Value* v = find(key);
  if (!v) throw Error("GGUF metadata key '" + key + "' is missing");
  return *v;
}

std::string File::get_string(const std::string& key, const std::string& def) const {
  const Value* v = find(key);
  if (!v) return def;
  try { return v->as_string(); } catch (const Error& e) { throw Error("key '" + key + "': " + e.what()); }
}

int64_t File::get_int(const std::string& key, int64_t def) const {
  const Value* v = find(key);
  if (!v) return def;
  try { return v->as_int(); } catch (const Error& e) { throw Error("key '" + key + "': " + e.what()); }
}

double File::get_float(const std::string& key, double def) const {
  const Value* v = find(key);
  if (!v) return def;
  try { return v->as_float(); } catch (const Error& e) { throw Error("key '" + key + "': " + e.what()); }
}

bool File::get_bool(const std::string& key, bool def) const {
  const Value* v = find(key);
  if (!v) return def;
  try { return v->as_bool(); } catch (const Error& e) { throw Error("key '" + key + "': " + e.what()); }
}

const TensorInfo* File::find_tensor(const std::string& name) const {
  auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

const TensorInfo& File::tensor(const std::string& name) const {
  const TensorInfo* t = find_tensor(name);
  if (!t) throw Error("tensor '" + name + "' not found in the model");
  return *t;
}

std::string TensorInfo::shape_string() const {
  std::string s = "[";
  for (uint32_t d = 0; d < n_dims; ++d) {
    if (d) s += ", ";
    s += std::to_string(ne[d]);
  }
  return s + "]";
}

}  // namespace larql::gguf
