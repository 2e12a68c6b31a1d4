// Appends tensors to one binary file of a vindex being written, recording
// their manifest entries; close() checksums the file.
#pragma once
#include <cstdio>
#include <string>
#include <vector>

#include "vindex/vindex.h"

namespace larql::vindex {

class BinWriter {
 public:
  BinWriter(const std::string& root, const std::string& rel);  // throws on I/O failure
  ~BinWriter();
  BinWriter(const BinWriter&) = delete;
  BinWriter& operator=(const BinWriter&) = delete;
  // Tensor data starts at a 64-byte aligned offset (mmap-friendly for SIMD).
  void add(const std::string& name, GGMLType type, std::vector<int64_t> ne, const void* data, uint64_t n_bytes);
  bool empty() const { return entries_.empty(); }
  // Flushes, closes and hashes; appends entries and the file to the manifest.
  void close(Manifest& m);

 private:
  std::string root_, rel_;
  std::FILE* f_ = nullptr;
  uint64_t pos_ = 0;
  std::vector<TensorEntry> entries_;
};

// Writes a whole small file and records it (JSON sidecars, copied tokenizer files).
void write_file(const std::string& root, const std::string& rel, const std::string& bytes, Manifest& m);
// Checksums an existing file of the vindex being written and records it.
FileEntry hash_file(const std::string& root, const std::string& rel);

}  // namespace larql::vindex
