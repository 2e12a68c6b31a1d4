// gpt-oss's fused expert tensors, as transformers' GptOssExperts stores them in a
// Hugging Face checkpoint, <-> the per-projection GGUF tensors llama.cpp's converter
// writes (ffn_gate_exps / ffn_up_exps / ffn_down_exps, weights and biases).
//
// HF layout (per layer, E experts, hidden H, expert width F):
//   mlp.experts.gate_up_proj_blocks  uint8 [E, 2F, H/32, 16]  MXFP4 codes, rows = outputs
//   mlp.experts.gate_up_proj_scales  uint8 [E, 2F, H/32]      E8M0 exponents (bias 127)
//   mlp.experts.gate_up_proj_bias    float [E, 2F]
//   mlp.experts.down_proj_blocks     uint8 [E, H, F/32, 16]   (+ _scales [E, H, F/32])
//   mlp.experts.down_proj_bias       float [E, H]
// or, de-quantized, mlp.experts.gate_up_proj float [E, H, 2F] and down_proj [E, F, H]
// (used as x @ W). Along the 2F axis gate and up are interleaved: even = gate, odd = up.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "format/ggml_types.h"
#include "format/safetensors.h"

namespace larql::hf {

// One MXFP4 block of 32 values. HF packs element 2k in the low nibble of byte k and
// 2k+1 in its high nibble, with the scale byte in a separate tensor; GGML's block is
// the scale byte, then 16 bytes where byte j holds element j (low) and j+16 (high).
void mxfp4_block_hf_to_ggml(const uint8_t* hf16, uint8_t scale, uint8_t* ggml17);
void mxfp4_block_ggml_to_hf(const uint8_t* ggml17, uint8_t* hf16, uint8_t* scale);

// The parts of one fused tensor found in a checkpoint (nullptr = absent).
struct OssParts {
  const safetensors::TensorInfo* blocks = nullptr;
  const safetensors::TensorInfo* scales = nullptr;
  const safetensors::TensorInfo* dense = nullptr;
  const safetensors::TensorInfo* bias = nullptr;  // gate_up only (down_proj_bias is a plain tensor)
};

// A GGUF tensor built from them (bytes in GGML layout).
struct OssTensor {
  std::string gguf;
  std::string hf;  // the HF tensor it came from, for messages
  GGMLType type = GGMLType::F32;
  std::vector<int64_t> ne;
  std::vector<uint8_t> bytes;
};

// `base` is "blk.N.ffn_gate_up_exps" (split into gate and up) or "blk.N.ffn_down_exps".
// Throws larql::Error naming the HF tensor for a missing scale/blocks partner, both an
// MXFP4 and a dense copy, wrong dtypes or inconsistent shapes. MXFP4 stays MXFP4.
std::vector<OssTensor> build_oss_experts(const std::string& base, const OssParts& p, int64_t n_expert);

}  // namespace larql::hf
