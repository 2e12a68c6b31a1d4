// `larql synth`: random-weight GGUF models with the real shapes of known
// families, for tests and benchmarks. Weights are drawn so activations stay
// finite over many layers; tensor types follow llama.cpp's per-tensor mix for
// the chosen file type (e.g. Q4_K_M), and the file carries a working tokenizer.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "format/ggml_types.h"
#include "model/hparams.h"

namespace larql::synth {

// File types as llama.cpp names them (general.file_type values in parentheses).
enum class FileType { F32 = 0, F16 = 1, Q4_0 = 2, Q8_0 = 7, Q4_K_M = 15, Q6_K = 18, BF16 = 32 };

struct Options {
  std::string arch;           // llama, qwen2, qwen3, gemma2, gemma3, phi3, gpt2, mixtral, qwen3moe, deepseek2, gpt-oss
  std::string preset = "tiny";
  FileType type = FileType::F32;
  std::string out;
  uint64_t seed = 42;
  int64_t layers = 0;         // override the preset's layer count (0 = keep)
  int threads = 0;            // 0 = all cores
};

struct Preset {
  std::string name;
  std::string arch;           // the --arch it belongs to
  std::string description;
};

const std::vector<Preset>& presets();
// Hyperparameters of a preset for an arch; throws larql::Error naming the valid choices.
HParams preset_hparams(const std::string& arch, const std::string& preset);
FileType parse_file_type(const std::string& s);  // f32|f16|q8_0|q4_0|q4_k_m|q6_k
std::string file_type_name(FileType t);

// The tensor type llama.cpp's quantizer would pick for this tensor.
// float_experts: gpt-oss experts follow the file type instead of MXFP4 (preset
// "tiny-f32-experts", the layout the float64 reference checks at full precision).
GGMLType tensor_type_for(const HParams& hp, FileType ft, const TensorSpec& spec, bool float_experts = false);

struct Result {
  uint64_t n_params = 0;
  uint64_t file_bytes = 0;
  double seconds = 0;
};
using Progress = std::function<void(size_t done, size_t total, const std::string& tensor)>;
Result synthesize(const Options& opt, const Progress& progress = nullptr);

}  // namespace larql::synth
