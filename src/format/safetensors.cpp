#include "format/safetensors.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "util/error.h"

namespace larql::safetensors {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr uint64_t kMaxHeader = 100u << 20;  // the format's own limit

struct DTypeInfo {
  const char* name;
  uint32_t size;
  std::optional<GGMLType> type;
};

const DTypeInfo kDTypes[] = {
    {"F32", 4, GGMLType::F32},  {"F16", 2, GGMLType::F16},  {"BF16", 2, GGMLType::BF16},
    {"F64", 8, GGMLType::F64},  {"I8", 1, GGMLType::I8},    {"I16", 2, GGMLType::I16},
    {"I32", 4, GGMLType::I32},  {"I64", 8, GGMLType::I64},  {"U8", 1, std::nullopt},
    {"U16", 2, std::nullopt},   {"U32", 4, std::nullopt},   {"U64", 8, std::nullopt},
    {"BOOL", 1, std::nullopt},  {"F8_E4M3", 1, std::nullopt}, {"F8_E5M2", 1, std::nullopt},
};

const DTypeInfo* find_dtype(const std::string& s) {
  for (const auto& d : kDTypes)
    if (s == d.name) return &d;
  return nullptr;
}

json read_json_file(const std::string& path) {
  std::ifstream f(path);
  if (!f) throw Error("cannot open '" + path + "'");
  try {
    return json::parse(f);
  } catch (const json::exception& e) {
    throw Error("invalid JSON in '" + path + "': " + e.what());
  }
}

}  // namespace

std::unique_ptr<File> File::open(const std::string& path) {
  auto f = std::make_unique<File>();
  f->mapped_ = MappedFile(path);
  f->parse(f->mapped_.data(), f->mapped_.size(), path);
  return f;
}

std::unique_ptr<File> File::from_memory(const uint8_t* data, size_t size) {
  auto f = std::make_unique<File>();
  f->parse(data, size, "<memory>");
  return f;
}

void File::parse(const uint8_t* data, size_t size, const std::string& name) {
  auto fail = [&](const std::string& msg) -> Error { return Error(name + ": " + msg); };
  if (size < 8) throw fail("not a safetensors file (shorter than its 8-byte header length)");
  uint64_t hlen;
  std::memcpy(&hlen, data, 8);
  if (hlen > kMaxHeader) throw fail("header length " + std::to_string(hlen) + " exceeds the 100 MB limit");
  if (hlen > size - 8)
    throw fail("header length " + std::to_string(hlen) + " exceeds the file size " + std::to_string(size));
  json h;
  try {
    h = json::parse(data + 8, data + 8 + hlen);
  } catch (const json::exception& e) {
    throw fail(std::string("header is not valid JSON: ") + e.what());
  }
  if (!h.is_object()) throw fail("header is not a JSON object");
  const uint8_t* base = data + 8 + hlen;
  const uint64_t data_size = size - 8 - hlen;
  for (auto& [key, val] : h.items()) {
    if (key == "__metadata__") {
      if (!val.is_object()) throw fail("__metadata__ is not an object");
      for (auto& [mk, mv] : val.items())
        if (mv.is_string()) metadata_[mk] = mv.get<std::string>();
      continue;
    }
    const std::string where = "tensor '" + key + "'";
    if (!val.is_object()) throw fail(where + " entry is not an object");
    auto dt = val.find("dtype");
    auto sh = val.find("shape");
    auto off = val.find("data_offsets");
    if (dt == val.end() || !dt->is_string()) throw fail(where + " has no string 'dtype'");
    if (sh == val.end() || !sh->is_array()) throw fail(where + " has no array 'shape'");
    if (off == val.end() || !off->is_array() || off->size() != 2)
      throw fail(where + " has no 'data_offsets' pair");
    TensorInfo t;
    t.name = key;
    t.file = name;
    t.dtype = dt->get<std::string>();
    const DTypeInfo* di = find_dtype(t.dtype);
    if (!di) throw fail(where + " has unknown dtype '" + t.dtype + "'");
    t.type = di->type;
    uint64_t n = 1;
    if (sh->size() > 8) throw fail(where + " has more than 8 dimensions");
    for (const auto& d : *sh) {
      if (!d.is_number_unsigned()) throw fail(where + " shape has a non-integer or negative entry");
      uint64_t v = d.get<uint64_t>();
      if (v > static_cast<uint64_t>(INT64_MAX) || !checked_mul(n, v, &n))
        throw fail(where + " element count overflows");
      t.shape.push_back(static_cast<int64_t>(v));
    }
    t.n_elements = n;
    if (!checked_mul(n, di->size, &t.n_bytes)) throw fail(where + " byte size overflows");
    if (!(*off)[0].is_number_unsigned() || !(*off)[1].is_number_unsigned())
      throw fail(where + " data_offsets are not non-negative integers");
    uint64_t b = (*off)[0].get<uint64_t>(), e = (*off)[1].get<uint64_t>();
    if (b > e || e > data_size)
      throw fail(where + " data_offsets [" + std::to_string(b) + ", " + std::to_string(e) +
                 "] fall outside the " + std::to_string(data_size) + "-byte data section");
    if (e - b != t.n_bytes)
      throw fail(where + " has " + std::to_string(e - b) + " bytes of data, its dtype and shape need " +
                 std::to_string(t.n_bytes));
    t.data = base + b;
    index_[t.name] = tensors_.size();
    tensors_.push_back(std::move(t));
  }
}

const TensorInfo* File::find_tensor(const std::string& name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &tensors_[it->second];
}

Folder::~Folder() = default;

std::unique_ptr<Folder> Folder::open(const std::string& path) {
  auto f = std::unique_ptr<Folder>(new Folder());
  fs::path p(path);
  std::vector<std::string> shard_files;
  if (fs::is_regular_file(p) && p.extension() == ".safetensors") {
    f->dir_ = p.parent_path().string();
    shard_files.push_back(p.string());
  } else if (fs::is_directory(p)) {
    f->dir_ = p.string();
    fs::path index = p / "model.safetensors.index.json";
    if (fs::exists(index)) {
      json j = read_json_file(index.string());
      if (!j.contains("weight_map") || !j["weight_map"].is_object())
        throw Error(index.string() + ": no 'weight_map' object");
      std::set<std::string> files;
      for (auto& [tname, file] : j["weight_map"].items()) {
        if (!file.is_string()) throw Error(index.string() + ": weight_map entry for '" + tname + "' is not a string");
        std::string fn = file.get<std::string>();
        if (fn.find('/') != std::string::npos || fn.find("..") != std::string::npos)
          throw Error(index.string() + ": shard name '" + fn + "' must be a plain file name");
        files.insert(fn);
      }
      for (const auto& fn : files) shard_files.push_back((p / fn).string());
    } else if (fs::exists(p / "model.safetensors")) {
      shard_files.push_back((p / "model.safetensors").string());
    } else {
      for (auto& e : fs::directory_iterator(p))
        if (e.path().extension() == ".safetensors") shard_files.push_back(e.path().string());
      std::sort(shard_files.begin(), shard_files.end());
      if (shard_files.empty()) throw Error("'" + path + "' holds no .safetensors file");
    }
  } else {
    throw Error("'" + path + "' is neither a safetensors file nor a model folder");
  }
  fs::path cfg = fs::path(f->dir_) / "config.json";
  f->config_ = std::make_unique<json>(fs::exists(cfg) ? read_json_file(cfg.string()) : json::object());
  for (const auto& sf : shard_files) {
    f->shards_.push_back(File::open(sf));
    for (const auto& t : f->shards_.back()->tensors()) {
      if (f->by_name_.count(t.name)) throw Error("tensor '" + t.name + "' appears in two shards");
      f->by_name_[t.name] = &t;
    }
  }
  return f;
}

std::string Folder::tokenizer_json_path() const {
  fs::path t = fs::path(dir_) / "tokenizer.json";
  return fs::exists(t) ? t.string() : std::string();
}

std::vector<const TensorInfo*> Folder::tensors() const {
  std::vector<const TensorInfo*> out;
  for (const auto& [n, t] : by_name_) out.push_back(t);
  return out;
}

const TensorInfo* Folder::find_tensor(const std::string& name) const {
  auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : it->second;
}

void write_file(const std::string& path, const std::vector<TensorToWrite>& tensors,
                const std::map<std::string, std::string>& metadata) {
  json h = json::object();
  if (!metadata.empty()) h["__metadata__"] = metadata;
  uint64_t off = 0;
  for (const auto& t : tensors) {
    const DTypeInfo* di = find_dtype(t.dtype);
    if (!di) throw Error("safetensors writer: unknown dtype '" + t.dtype + "'");
    uint64_t n = 1;
    for (int64_t d : t.shape) n *= static_cast<uint64_t>(d);
    if (n * di->size != t.n_bytes)
      throw Error("safetensors writer: tensor '" + t.name + "' size does not match its shape");
    h[t.name] = {{"dtype", t.dtype}, {"shape", t.shape}, {"data_offsets", {off, off + t.n_bytes}}};
    off += t.n_bytes;
  }
  std::string hs = h.dump();
  while ((hs.size() + 8) % 8) hs.push_back(' ');  // keep the data section 8-byte aligned
  const std::string tmp = path + ".tmp";
  FILE* f = std::fopen(tmp.c_str(), "wb");
  if (!f) throw Error("cannot create '" + tmp + "'");
  uint64_t hl = hs.size();
  bool ok = std::fwrite(&hl, 8, 1, f) == 1 && std::fwrite(hs.data(), 1, hs.size(), f) == hs.size();
  for (const auto& t : tensors)
    ok = ok && (t.n_bytes == 0 || std::fwrite(t.data, 1, t.n_bytes, f) == t.n_bytes);
  ok = (std::fclose(f) == 0) && ok;
  std::error_code ec;
  if (ok) fs::rename(tmp, path, ec);
  if (!ok || ec) {
    fs::remove(tmp, ec);
    throw Error("writing '" + path + "' failed");
  }
}

bool is_safetensors_path(const std::string& path) {
  fs::path p(path);
  if (fs::is_directory(p))
    return fs::exists(p / "model.safetensors") || fs::exists(p / "model.safetensors.index.json") ||
           fs::exists(p / "config.json");
  return p.extension() == ".safetensors";
}

}  // namespace larql::safetensors
