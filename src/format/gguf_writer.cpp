// GGUF v3 writer: header and metadata first, then each tensor's bytes from
// its producer, padded to the alignment. Written to a temporary file and
// renamed so a failed write never leaves a half-file under the final name.
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>

#include "format/gguf.h"
#include "util/error.h"

namespace larql::gguf {

namespace {

class Out {
 public:
  explicit Out(const std::string& path) : path_(path) {
    f_ = std::fopen(path.c_str(), "wb");
    if (!f_) throw Error("cannot create '" + path + "': " + std::strerror(errno));
    std::setvbuf(f_, nullptr, _IOFBF, 1 << 20);
  }
  ~Out() { if (f_) std::fclose(f_); }
  void bytes(const void* p, size_t n) {
    if (n && std::fwrite(p, 1, n, f_) != n)
      throw Error("write to '" + path_ + "' failed: " + std::strerror(errno));
    pos_ += n;
  }
  template <typename T>
  void pod(T v) { bytes(&v, sizeof v); }
  void str(const std::string& s) { pod<uint64_t>(s.size()); bytes(s.data(), s.size()); }
  void pad_to(uint64_t alignment) {
    static const uint8_t zeros[64] = {};
    uint64_t pad = (alignment - pos_ % alignment) % alignment;
    while (pad) {
      size_t k = pad > sizeof zeros ? sizeof zeros : static_cast<size_t>(pad);
      bytes(zeros, k);
      pad -= k;
    }
  }
  uint64_t pos() const { return pos_; }
  void close() {
    if (std::fclose(f_) != 0) { f_ = nullptr; throw Error("closing '" + path_ + "' failed"); }
    f_ = nullptr;
  }

 private:
  std::string path_;
  FILE* f_ = nullptr;
  uint64_t pos_ = 0;
};

void write_value(Out& o, const Value& v) {
  switch (v.type) {
    case ValueType::UINT8: o.pod<uint8_t>(static_cast<uint8_t>(v.u)); break;
    case ValueType::INT8: o.pod<int8_t>(static_cast<int8_t>(v.i)); break;
    case ValueType::UINT16: o.pod<uint16_t>(static_cast<uint16_t>(v.u)); break;
    case ValueType::INT16: o.pod<int16_t>(static_cast<int16_t>(v.i)); break;
    case ValueType::UINT32: o.pod<uint32_t>(static_cast<uint32_t>(v.u)); break;
    case ValueType::INT32: o.pod<int32_t>(static_cast<int32_t>(v.i)); break;
    case ValueType::UINT64: o.pod<uint64_t>(v.u); break;
    case ValueType::INT64: o.pod<int64_t>(v.i); break;
    case ValueType::FLOAT32: o.pod<float>(static_cast<float>(v.f)); break;
    case ValueType::FLOAT64: o.pod<double>(v.f); break;
    case ValueType::BOOL: o.pod<uint8_t>(v.u ? 1 : 0); break;
    case ValueType::STRING: o.str(v.s); break;
    case ValueType::ARRAY:
      o.pod<uint32_t>(static_cast<uint32_t>(v.elem_type));
      o.pod<uint64_t>(v.arr.size());
      for (const auto& e : v.arr) {
        if (e.type != v.elem_type) throw Error("GGUF writer: array elements of mixed types");
        write_value(o, e);
      }
      break;
  }
}

}  // namespace

void Writer::set(const std::string& key, Value v) {
  for (auto& kv : kv_)
    if (kv.first == key) { kv.second = std::move(v); return; }
  kv_.emplace_back(key, std::move(v));
}

void Writer::add_tensor(const std::string& name, GGMLType type, std::vector<int64_t> ne,
                        Producer producer) {
  if (ne.empty() || ne.size() > 4) throw Error("GGUF writer: tensor '" + name + "' needs 1-4 dims");
  for (const auto& t : tensors_)
    if (t.name == name) throw Error("GGUF writer: duplicate tensor '" + name + "'");
  uint64_t rows = 1;
  for (size_t d = 1; d < ne.size(); ++d) rows *= static_cast<uint64_t>(ne[d]);
  uint64_t n_bytes = ggml_row_size(type, static_cast<uint64_t>(ne[0])) * rows;
  tensors_.push_back({name, type, std::move(ne), n_bytes, std::move(producer)});
}

void Writer::add_tensor_data(const std::string& name, GGMLType type, std::vector<int64_t> ne,
                             std::vector<uint8_t> bytes) {
  auto shared = std::make_shared<std::vector<uint8_t>>(std::move(bytes));
  add_tensor(name, type, std::move(ne), [shared, name](uint8_t* out, size_t n) {
    if (shared->size() != n)
      throw Error("GGUF writer: tensor '" + name + "' has " + std::to_string(shared->size()) +
                  " bytes, its shape needs " + std::to_string(n));
    std::memcpy(out, shared->data(), n);
  });
}

void Writer::write(const std::string& path) const {
  const std::string tmp = path + ".tmp";
  try {
    Out o(tmp);
    o.bytes("GGUF", 4);
    o.pod<uint32_t>(3);
    o.pod<uint64_t>(tensors_.size());
    // general.alignment is emitted when it differs from the default.
    bool write_alignment = alignment_ != 32;
    o.pod<uint64_t>(kv_.size() + (write_alignment ? 1 : 0));
    for (const auto& [key, v] : kv_) {
      o.str(key);
      o.pod<uint32_t>(static_cast<uint32_t>(v.type));
      write_value(o, v);
    }
    if (write_alignment) {
      o.str("general.alignment");
      o.pod<uint32_t>(static_cast<uint32_t>(ValueType::UINT32));
      o.pod<uint32_t>(alignment_);
    }
    uint64_t offset = 0;
    for (const auto& t : tensors_) {
      o.str(t.name);
      o.pod<uint32_t>(static_cast<uint32_t>(t.ne.size()));
      for (int64_t d : t.ne) o.pod<uint64_t>(static_cast<uint64_t>(d));
      o.pod<uint32_t>(static_cast<uint32_t>(t.type));
      o.pod<uint64_t>(offset);
      offset += t.n_bytes;
      offset += (alignment_ - offset % alignment_) % alignment_;
    }
    o.pad_to(alignment_);
    std::vector<uint8_t> buf;
    for (const auto& t : tensors_) {
      buf.assign(static_cast<size_t>(t.n_bytes), 0);
      t.producer(buf.data(), buf.size());
      o.bytes(buf.data(), buf.size());
      o.pad_to(alignment_);
    }
    o.close();
    std::error_code ec;
    std::filesystem::rename(tmp, path, ec);
    if (ec) throw Error("cannot rename '" + tmp + "' to '" + path + "': " + ec.message());
  } catch (...) {
    std::error_code ec;
    std::filesystem::remove(tmp, ec);
    throw;
  }
}

}  // namespace larql::gguf
