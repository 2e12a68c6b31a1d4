// Hugging Face tensor names -> GGUF tensor names, per model family, with the
// data transform llama.cpp's converter applies on the way (see docs/safetensors.md).
// The table is data (hf_names.cpp); hf_source.cpp applies it.
#pragma once
#include <cstdint>
#include <optional>
#include <string>

namespace larql::hf {

enum class Xform : uint8_t {
  None,         // same bytes in the same order: served as a view of the mmap
  PermuteQ,     // llama family: HF rotary halves -> GGUF interleaved pairs, n_head groups
  PermuteK,     // the same with n_head_kv groups
  NormPlusOne,  // gemma: HF RMSNorm computes x * (1 + w); GGUF stores the multiplier 1 + w
  Transpose,    // gpt2 Conv1D: HF stores [in, out], GGUF wants rows of `in`
  Squeeze,      // [1, n] -> [n] (qwen2moe shared_expert_gate, an nn.Linear(n, 1))
  // Parts of a gpt-oss fused expert tensor (Kind::Fused), see hf_gpt_oss.h.
  OssBlocks,    // MXFP4 codes, uint8 [E, rows, in/32, 16]
  OssScales,    // MXFP4 E8M0 scales, uint8 [E, rows, in/32]
  OssDense,     // de-quantized float weights [E, in, rows] (x @ W)
  OssBias,      // gate_up_proj_bias [E, 2 ff], gate and up interleaved
};

struct Mapped {
  enum class Kind : uint8_t {
    Tensor,  // becomes GGUF tensor `gguf`
    Expert,  // slice `expert` of the 3-D GGUF tensor `gguf` (experts are stacked on the outer axis)
    Fused,   // one part (xform says which) of gpt-oss's fused experts; `gguf` is the layer's
             // "blk.N.ffn_gate_up_exps" or "blk.N.ffn_down_exps", assembled by hf_source
    Skip,    // known and not needed (rotary inv_freq, gpt2 attention masks, gemma lm_head, vision tower, MTP layers)
  };
  Kind kind = Kind::Tensor;
  std::string gguf;
  Xform xform = Xform::None;
  int64_t expert = -1;
};

// `arch` is the GGUF architecture (HParams::arch). nullopt: the name means nothing for this family.
// Throws larql::Error for a layer index >= n_layer (except DeepSeek's extra MTP layers, skipped).
std::optional<Mapped> map_tensor_name(const std::string& arch, const std::string& hf_name, int64_t n_layer);

// The HF name a GGUF tensor comes from for this family ("" if none); for error messages.
// Expert tensors are named with their expert 0 ("...experts.0.w1.weight").
std::string hf_name_for(const std::string& arch, const std::string& gguf_name);

}  // namespace larql::hf
