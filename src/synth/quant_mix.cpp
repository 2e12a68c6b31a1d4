// Per-tensor type choice, following llama.cpp's quantizer policy for the file
// types synth writes (so a synth Q4_K_M has the byte mix of a real Q4_K_M).
#include <cstdio>

#include "synth/synth.h"

namespace larql::synth {

namespace {

bool contains(const std::string& s, const char* needle) { return s.find(needle) != std::string::npos; }

// llama.cpp's "use more bits" layer pattern: first and last eighth, and every third layer between.
bool use_more_bits(int64_t i, int64_t n) { return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2; }

int64_t layer_of(const std::string& name) {
  int layer = -1;
  if (std::sscanf(name.c_str(), "blk.%d.", &layer) != 1) return -1;
  return layer;
}

GGMLType base_type(FileType ft) {
  switch (ft) {
    case FileType::F32: return GGMLType::F32;
    case FileType::F16: return GGMLType::F16;
    case FileType::BF16: return GGMLType::BF16;
    case FileType::Q4_0: return GGMLType::Q4_0;
    case FileType::Q8_0: return GGMLType::Q8_0;
    case FileType::Q4_K_M: return GGMLType::Q4_K;
    case FileType::Q6_K: return GGMLType::Q6_K;
  }
  return GGMLType::F32;
}

uint32_t block_of(GGMLType t) { return ggml_type_traits(static_cast<uint32_t>(t))->block_size; }

}  // namespace

GGMLType tensor_type_for(const HParams& hp, FileType ft, const TensorSpec& spec, bool float_experts) {
  const std::string& name = spec.name;
  // gpt-oss ships its experts in MXFP4 whatever the rest of the file is (as its converter does).
  if (hp.arch == "gpt-oss" && contains(name, "_exps.weight") && !float_experts) return GGMLType::MXFP4;
  const bool quantizable = spec.ne.size() >= 2 && !spec.is_norm_or_bias && !contains(name, "_norm.weight") &&
                           !contains(name, "ffn_gate_inp.weight") && name != "position_embd.weight";
  if (!quantizable) return GGMLType::F32;
  GGMLType t = base_type(ft);
  if (ft == FileType::F32 || ft == FileType::F16 || ft == FileType::BF16) return t;

  const int64_t nx = spec.ne[0];
  if (name == "output.weight" || (hp.tied_output && name == "token_embd.weight")) {
    if (nx % block_of(t) != 0) t = GGMLType::Q8_0;
    else if (t != GGMLType::Q8_0) t = GGMLType::Q6_K;
  } else if (name == "token_embd.weight") {
    // keeps the base type
  } else if (contains(name, "attn_v.weight")) {
    if (ft == FileType::Q4_K_M && use_more_bits(layer_of(name), hp.n_layer)) t = GGMLType::Q6_K;
    if (hp.n_expert == 8) t = GGMLType::Q8_0;
  } else if (contains(name, "attn_k.weight")) {
    if (hp.n_expert == 8) t = GGMLType::Q8_0;
  } else if (contains(name, "ffn_down")) {
    if (ft == FileType::Q4_K_M && use_more_bits(layer_of(name), hp.n_layer)) t = GGMLType::Q6_K;
  } else if (contains(name, "attn_output.weight")) {
    if (ft == FileType::Q4_K_M && hp.n_expert == 8) t = GGMLType::Q5_K;
  } else if (contains(name, "attn_qkv.weight")) {
    if (ft == FileType::Q4_K_M) t = GGMLType::Q5_K;
  }
  // Rows that do not fill whole super-blocks fall back like llama.cpp does.
  if (nx % block_of(t) != 0) {
    switch (t) {
      case GGMLType::Q4_K: t = GGMLType::Q5_0; break;
      case GGMLType::Q5_K: t = GGMLType::Q5_1; break;
      case GGMLType::Q6_K: t = GGMLType::Q8_0; break;
      default: break;
    }
    if (nx % block_of(t) != 0) t = GGMLType::F16;
  }
  return t;
}

}  // namespace larql::synth
