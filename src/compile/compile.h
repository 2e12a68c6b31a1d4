// COMPILE: writes a ModelSource (GGUF file, HF safetensors folder or vindex),
// with some tensors replaced, back out as a standard model: a GGUF file that
// llama.cpp loads, a Hugging Face safetensors folder that LARQL's HF loader
// reads, or a vindex (GGUF written to a temporary file, then extracted).
// Untouched tensors are copied byte for byte. See docs/compile.md.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "format/ggml_types.h"

namespace larql {
class ModelSource;
}

namespace larql::compile {

enum class Format { GGUF, Safetensors, Vindex };
Format format_from_name(const std::string& s);  // "gguf" | "safetensors" | "vindex"; throws larql::Error
const char* format_name(Format f);

// A replacement for one source tensor.
struct TensorOverride {
  std::vector<float> data;        // the full tensor, same shape as the source, ne[0] fastest (GGML order)
  std::optional<GGMLType> type;   // nullopt: the default rule (docs/compile.md):
                                  //   F32/F16/BF16 source -> same type;
                                  //   quantized source    -> Options::quantized_override_type
};
using Overrides = std::map<std::string, TensorOverride>;  // key: GGUF tensor name ("blk.2.ffn_down.weight")

struct Options {
  Format format = Format::GGUF;
  // Type for an override of a quantized tensor when TensorOverride::type is unset.
  // F32 keeps the edit exactly; Q8_0 is ~4x smaller and still close.
  GGMLType quantized_override_type = GGMLType::F32;
  // Safetensors only: dtype of every tensor in model.safetensors (F32, F16 or BF16).
  GGMLType safetensors_dtype = GGMLType::F32;
  bool overwrite = false;         // false: throw if out_path exists
  std::string note;               // free text stored as general.source.larql.note (e.g. the patch list)
  // Vindex only: extract options; <0 means "as the source vindex had, else the extract default".
  int64_t down_top_k = -1;
  int64_t n_clusters = -1;
  std::string probes_file;
  bool progress = false;          // progress bar on stderr (vindex extraction)
};

struct Result {
  uint64_t bytes = 0;             // size of what was written (file, or folder total)
  double seconds = 0;
  int64_t tensors_written = 0;
  int64_t tensors_changed = 0;    // overrides applied
  std::vector<std::string> notes; // human-readable: type choices, metadata synthesized, ...
};

// Writes `src` with `overrides` applied to out_path. Throws larql::Error for an
// unknown override name, a wrong element count, an unsupported type, or an
// existing out_path (unless opt.overwrite). Never modifies the source; the
// output appears atomically (temporary name + rename).
Result write_model(const ModelSource& src, const Overrides& overrides, const std::string& out_path,
                   const Options& opt = {});

// The source with `overrides` applied, each encoded in the type write_model
// would store it in (same bytes), so a Model over it computes what the
// compiled file computes: Model::from_source(with_overrides(src, ov)).
// The first form refers to `src`, which must outlive the result; the second owns it.
std::unique_ptr<ModelSource> with_overrides(const ModelSource& src, const Overrides& overrides,
                                            const Options& opt = {});
std::unique_ptr<ModelSource> with_overrides(std::unique_ptr<ModelSource> src, const Overrides& overrides,
                                            const Options& opt = {});

// Dequantized F32 copy of a source tensor (GGML order), e.g. as the base of an override.
std::vector<float> read_f32(const ModelSource& src, const std::string& gguf_name);

}  // namespace larql::compile
