// Named shapes. "tiny" exists for every arch (fast tests); the large presets
// copy the published hyperparameters of the models they are named after.
#include <cmath>

#include "synth/synth.h"
#include "util/error.h"

namespace larql::synth {

const std::vector<Preset>& presets() {
  static const std::vector<Preset> p = {
      {"tiny", "*", "vocab 512, hidden 256, 2 layers, 4 heads (2 KV), FFN 512"},
      {"llama-1b", "llama", "Llama 3.2 1B shape: hidden 2048, 16 layers, 32/8 heads, FFN 8192, vocab 128256, tied"},
      {"llama-8b", "llama", "Llama 3 8B shape: hidden 4096, 32 layers, 32/8 heads, FFN 14336, vocab 128256"},
      {"qwen3moe-30b-a3b", "qwen3moe", "Qwen3-30B-A3B shape: hidden 2048, 48 layers, 32/4 heads x128, 128 experts (8 used) x768, vocab 151936"},
      {"deepseek2-lite", "deepseek2", "DeepSeek-V2-Lite shape: hidden 2048, 27 layers, 16 heads, MLA kv_lora 512, 64 experts (6 used) x1408 + 2 shared, vocab 102400"},
      {"tiny-v2", "deepseek2", "tiny DeepSeek-V2(-Lite) layout: no q compression, softmax routing, 2 shared experts, 4 expert groups (1 used, ranked by best expert); llama.cpp loads q_lora_rank 0 only at 27 layers"},
      {"tiny-v3-groups", "deepseek2", "tiny DeepSeek-V3 layout: sigmoid routing with selection bias, scale 2.5, 4 expert groups (2 used, ranked by top-2 sum)"},
      {"tiny-f32-experts", "gpt-oss", "tiny gpt-oss with experts in the --type instead of MXFP4 (float reference layout: no int8 activations in expert products)"},
      {"gpt-oss-20b", "gpt-oss", "gpt-oss-20b shape: hidden 2880, 24 layers, 64/8 heads x64, 32 experts (4 used) x2880 in MXFP4, sliding window 128, YaRN x32, vocab 201088"},
      {"mixtral-8x7b", "mixtral", "Mixtral 8x7B shape: hidden 4096, 32 layers, 32/8 heads, 8 experts (2 used) x14336, vocab 32000"},
  };
  return p;
}

namespace {

HParams tiny(const std::string& arch) {
  HParams hp;
  hp.arch = arch == "mixtral" ? "llama" : arch;
  hp.n_vocab = 512;
  hp.n_ctx = 512;
  hp.n_embd = 256;
  hp.n_layer = 2;
  hp.n_ff = 512;
  hp.n_head = 4;
  hp.n_head_kv = 2;
  hp.head_dim_k = hp.head_dim_v = 64;
  hp.rope_dim = 64;
  hp.norm_eps = 1e-5;
  if (arch == "qwen2" || arch == "qwen3" || arch == "qwen3moe") { hp.rope_base = 1e6; hp.norm_eps = 1e-6; hp.tied_output = true; }
  if (arch == "gemma2" || arch == "gemma3") {
    hp.tied_output = true;
    hp.norm_eps = 1e-6;
    hp.sliding_window = 128;
    if (arch == "gemma2") { hp.attn_softcap = 50; hp.final_softcap = 30; }
    if (arch == "gemma3") { hp.n_layer = 6; hp.rope_base = 1e6; }
  }
  if (arch == "phi3") hp.sliding_window = 2047;
  if (arch == "gpt2") { hp.use_layernorm = true; hp.n_head_kv = 4; }
  if (arch == "mixtral" || arch == "qwen3moe") {
    hp.n_expert = 8;
    hp.n_expert_used = 2;
    hp.n_ff_exp = 256;
    hp.n_ff = arch == "mixtral" ? 256 : 512;
  }
  if (arch == "gpt-oss") {  // MXFP4 experts, sinks, alternating 128-token windows, YaRN as gpt-oss ships it
    hp.n_head = 8;           // q width 512 != hidden 256, like the real model (64 x 64 vs 2880)
    hp.n_head_kv = 2;
    hp.n_expert = 8;
    hp.n_expert_used = 4;
    hp.n_ff_exp = hp.n_ff = 256;
    hp.sliding_window = 128;
    hp.rope_base = 150000;
    hp.rope_scaling = "yarn";
    hp.rope_scale = 32;
    hp.rope_orig_ctx = 4096;
    hp.n_ctx = 131072;
  }
  if (arch == "deepseek2") {
    hp.n_head_kv = 4;
    hp.head_dim_k = 96;
    hp.head_dim_v = 64;
    hp.rope_dim = 32;
    hp.q_lora_rank = 256;  // V3-style tiny model (llama.cpp treats q_lora_rank 0 as "Lite" only at 27 layers)
    hp.kv_lora_rank = 256;
    hp.n_expert = 8;
    hp.n_expert_used = 2;
    hp.n_ff_exp = 256;
    hp.n_expert_shared = 1;
    hp.n_layer_dense_lead = 1;
    hp.expert_gating_func = 2;  // sigmoid scores with selection bias, as in V3
    hp.expert_weights_norm = true;
    hp.expert_weights_scale = 2.5;
    hp.norm_eps = 1e-6;
    hp.rope_yarn_log_mul = 0.1;
  }
  return hp;
}

}  // namespace

HParams preset_hparams(const std::string& arch, const std::string& preset) {
  static const char* kArchs[] = {"llama", "qwen2", "qwen3", "gemma2", "gemma3", "phi3",
                                 "gpt2", "mixtral", "qwen3moe", "deepseek2", "gpt-oss"};
  bool known = false;
  for (const char* a : kArchs) known |= arch == a;
  if (!known)
    throw Error("unknown --arch '" + arch +
                "' (choose llama, qwen2, qwen3, gemma2, gemma3, phi3, gpt2, mixtral, qwen3moe, deepseek2, gpt-oss)");
  HParams hp;
  if (preset == "tiny") {
    hp = tiny(arch);
  } else if (preset == "llama-1b" && arch == "llama") {
    hp = tiny("llama");
    hp.n_vocab = 128256; hp.n_ctx = 8192; hp.n_embd = 2048; hp.n_layer = 16; hp.n_ff = 8192;
    hp.n_head = 32; hp.n_head_kv = 8; hp.head_dim_k = hp.head_dim_v = hp.rope_dim = 64;
    hp.rope_base = 500000; hp.tied_output = true;
  } else if (preset == "llama-8b" && arch == "llama") {
    hp = tiny("llama");
    hp.n_vocab = 128256; hp.n_ctx = 8192; hp.n_embd = 4096; hp.n_layer = 32; hp.n_ff = 14336;
    hp.n_head = 32; hp.n_head_kv = 8; hp.head_dim_k = hp.head_dim_v = hp.rope_dim = 128;
    hp.rope_base = 500000; hp.tied_output = false;
  } else if (preset == "qwen3moe-30b-a3b" && arch == "qwen3moe") {
    hp = tiny("qwen3moe");
    hp.n_vocab = 151936; hp.n_ctx = 40960; hp.n_embd = 2048; hp.n_layer = 48; hp.n_ff = 6144;
    hp.n_head = 32; hp.n_head_kv = 4; hp.head_dim_k = hp.head_dim_v = hp.rope_dim = 128;
    hp.n_expert = 128; hp.n_expert_used = 8; hp.n_ff_exp = 768; hp.tied_output = false;
  } else if (preset == "deepseek2-lite" && arch == "deepseek2") {
    hp = tiny("deepseek2");
    hp.n_vocab = 102400; hp.n_ctx = 163840; hp.n_embd = 2048; hp.n_layer = 27; hp.n_ff = 10944;
    hp.n_head = 16; hp.n_head_kv = 16; hp.head_dim_k = 192; hp.head_dim_v = 128; hp.rope_dim = 64;
    hp.q_lora_rank = 0; hp.kv_lora_rank = 512; hp.n_expert = 64; hp.n_expert_used = 6;
    hp.n_ff_exp = 1408; hp.n_expert_shared = 2; hp.n_layer_dense_lead = 1;
    hp.expert_weights_scale = 1.0; hp.expert_gating_func = 1; hp.expert_weights_norm = false;
    hp.tied_output = false;
  } else if (preset == "tiny-v2" && arch == "deepseek2") {
    hp = tiny("deepseek2");
    hp.q_lora_rank = 0; hp.n_expert_shared = 2; hp.expert_gating_func = 1; hp.expert_weights_norm = false;
    hp.expert_weights_scale = 1.0; hp.n_expert_groups = 4; hp.n_expert_groups_used = 1;  // 1 group: the limit bites for k = 2
  } else if (preset == "tiny-v3-groups" && arch == "deepseek2") {
    hp = tiny("deepseek2");
    hp.n_expert_groups = 4; hp.n_expert_groups_used = 2;
  } else if (preset == "tiny-f32-experts" && arch == "gpt-oss") {
    hp = tiny("gpt-oss");
  } else if (preset == "gpt-oss-20b" && arch == "gpt-oss") {
    hp = tiny("gpt-oss");
    hp.n_vocab = 201088; hp.n_embd = 2880; hp.n_layer = 24; hp.n_ff = hp.n_ff_exp = 2880;
    hp.n_head = 64; hp.n_head_kv = 8; hp.n_expert = 32;
  } else if (preset == "mixtral-8x7b" && arch == "mixtral") {
    hp = tiny("mixtral");
    hp.n_vocab = 32000; hp.n_ctx = 32768; hp.n_embd = 4096; hp.n_layer = 32; hp.n_ff = 14336;
    hp.n_head = 32; hp.n_head_kv = 8; hp.head_dim_k = hp.head_dim_v = hp.rope_dim = 128;
    hp.rope_base = 1e6; hp.n_expert = 8; hp.n_expert_used = 2; hp.n_ff_exp = 14336;
  } else {
    std::string valid;
    for (const auto& p : presets())
      if (p.arch == "*" || p.arch == arch) valid += (valid.empty() ? "" : ", ") + p.name;
    throw Error("unknown --preset '" + preset + "' for --arch " + arch + " (valid: " + valid + ")");
  }
  hp.name = "synth-" + arch + "-" + preset;
  return hp;
}

FileType parse_file_type(const std::string& s) {
  if (s == "f32" || s == "F32") return FileType::F32;
  if (s == "f16" || s == "F16") return FileType::F16;
  if (s == "bf16" || s == "BF16") return FileType::BF16;
  if (s == "q8_0" || s == "Q8_0") return FileType::Q8_0;
  if (s == "q4_0" || s == "Q4_0") return FileType::Q4_0;
  if (s == "q4_k_m" || s == "Q4_K_M") return FileType::Q4_K_M;
  if (s == "q6_k" || s == "Q6_K") return FileType::Q6_K;
  throw Error("unknown --type '" + s + "' (choose f32, f16, bf16, q8_0, q4_0, q4_k_m, q6_k)");
}

std::string file_type_name(FileType t) {
  switch (t) {
    case FileType::F32: return "F32";
    case FileType::F16: return "F16";
    case FileType::BF16: return "BF16";
    case FileType::Q4_0: return "Q4_0";
    case FileType::Q8_0: return "Q8_0";
    case FileType::Q4_K_M: return "Q4_K_M";
    case FileType::Q6_K: return "Q6_K";
  }
  return "?";
}

}  // namespace larql::synth
