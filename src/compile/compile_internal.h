// Shared pieces of the model writers (compile.cpp, gguf_out.cpp, hf_out.cpp).
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "compile/compile.h"
#include "model/model_source.h"

namespace larql::gguf {
class Writer;
class File;
}  // namespace larql::gguf

namespace larql::compile::detail {

// An override checked against its source tensor, with the type it is stored in.
struct Resolved {
  const TensorRef* src = nullptr;
  const TensorOverride* ov = nullptr;
  GGMLType type = GGMLType::F32;
  std::string why;  // how the type was chosen (for Result::notes)
};

// Validates every override (known name, element count, encodable type) and picks its type.
std::map<std::string, Resolved> resolve(const ModelSource& src, const Overrides& ov, const Options& opt);
// Encodes an override's floats (GGML order) as `type` into exactly n_bytes.
std::vector<uint8_t> encode(const Resolved& r);
uint64_t n_elements(const std::vector<int64_t>& ne);

// Where the source's GGUF metadata lives: the GGUF file itself, a vindex's
// tokenizer.gguf (a copy of the source's metadata), or nullptr (HF source).
std::unique_ptr<gguf::File> source_metadata(const ModelSource& src);
// True when `path` is a vindex directory.
bool is_vindex_dir(const std::string& path);

// GGUF output (gguf_out.cpp).
void write_gguf(const ModelSource& src, const std::map<std::string, Resolved>& ov, const std::string& out,
                const Options& opt, Result& res);
// Llama.cpp-style metadata synthesized from hparams + the tokenizer (HF sources; gguf_meta.cpp).
void synthesize_metadata(const ModelSource& src, gguf::Writer& w, Result& res);
// Hugging Face folder output (hf_out.cpp).
void write_hf(const ModelSource& src, const std::map<std::string, Resolved>& ov, const std::string& out_dir,
              const Options& opt, Result& res);

// Removes a file or folder if it exists (error codes ignored).
void remove_path(const std::string& p);
uint64_t path_bytes(const std::string& p);  // file size, or the sum over a folder

}  // namespace larql::compile::detail
