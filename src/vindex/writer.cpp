#include "vindex/writer.h"

#include <filesystem>

#include "util/error.h"
#include "util/mapped_file.h"
#include "vindex/manifest.h"

namespace larql::vindex {
namespace fs = std::filesystem;

BinWriter::BinWriter(const std::string& root, const std::string& rel) : root_(root), rel_(rel) {
  const fs::path p = fs::path(root) / rel;
  fs::create_directories(p.parent_path());
  f_ = std::fopen(p.c_str(), "wb");
  if (!f_) throw Error("cannot create '" + p.string() + "'");
}

BinWriter::~BinWriter() {
  if (f_) std::fclose(f_);
}

void BinWriter::add(const std::string& name, GGMLType type, std::vector<int64_t> ne, const void* data,
                    uint64_t n_bytes) {
  static const char zeros[64] = {};
  const uint64_t pad = (64 - pos_ % 64) % 64;
  if (pad && std::fwrite(zeros, 1, pad, f_) != pad) throw Error("write failed on '" + rel_ + "'");
  pos_ += pad;
  if (n_bytes && std::fwrite(data, 1, n_bytes, f_) != n_bytes) throw Error("write failed on '" + rel_ + "'");
  entries_.push_back({name, rel_, pos_, n_bytes, type, std::move(ne)});
  pos_ += n_bytes;
}

void BinWriter::close(Manifest& m) {
  if (!f_) return;
  const bool ok = std::fflush(f_) == 0;
  std::fclose(f_);
  f_ = nullptr;
  if (!ok) throw Error("write failed on '" + rel_ + "'");
  for (auto& e : entries_) m.tensors.push_back(std::move(e));
  entries_.clear();
  m.files.push_back(hash_file(root_, rel_));
}

FileEntry hash_file(const std::string& root, const std::string& rel) {
  const fs::path p = fs::path(root) / rel;
  FileEntry e;
  e.path = rel;
  e.bytes = fs::file_size(p);
  if (e.bytes == 0) {
    e.xxh64 = hex64(xxh64(nullptr, 0));
  } else {
    MappedFile mf(p.string());
    e.xxh64 = hex64(xxh64(mf.data(), mf.size()));
  }
  return e;
}

void write_file(const std::string& root, const std::string& rel, const std::string& bytes, Manifest& m) {
  const fs::path p = fs::path(root) / rel;
  fs::create_directories(p.parent_path());
  std::FILE* f = std::fopen(p.c_str(), "wb");
  if (!f) throw Error("cannot create '" + p.string() + "'");
  const bool ok = std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size();
  if (std::fclose(f) != 0 || !ok) throw Error("write failed on '" + p.string() + "'");
  m.files.push_back(hash_file(root, rel));
}

}  // namespace larql::vindex
