// The HF -> GGUF name table. Each rule names the families it applies to
// (GGUF architectures), the HF name (global, or relative to its layer), the GGUF
// name and the transform. Written from the naming conventions of the
// transformers model classes and the names llama.cpp's loaders expect.
#include "model/hf_names.h"

#include <cctype>
#include <cstring>
#include <vector>

#include "util/error.h"

namespace larql::hf {

namespace {

enum : uint32_t {
  LLAMA = 1u << 0, QWEN2 = 1u << 1, QWEN3 = 1u << 2, QWEN2MOE = 1u << 3, QWEN3MOE = 1u << 4,
  GEMMA2 = 1u << 5, GEMMA3 = 1u << 6, PHI3 = 1u << 7, GPT2 = 1u << 8, DS2 = 1u << 9, OSS = 1u << 10,
};
constexpr uint32_t GEMMA = GEMMA2 | GEMMA3;
constexpr uint32_t QWEN_MOE = QWEN2MOE | QWEN3MOE;
constexpr uint32_t QWEN = QWEN2 | QWEN3 | QWEN_MOE;
// Families with the "model.layers.N." layout of LlamaForCausalLM.
constexpr uint32_t DECODER = LLAMA | QWEN | GEMMA | PHI3 | DS2;
// Decoders whose norms are stored as the multiplier itself.
constexpr uint32_t PLAIN_NORMS = DECODER & ~GEMMA;

using K = Mapped::Kind;
using X = Xform;

struct Rule {
  uint32_t fams;
  const char* hf;    // "{X}" stands for an expert index
  const char* gguf;  // "" for Skip
  X xf;
  K kind;
};

// Whole-model tensors (names after prefix normalization, see normalize()).
const Rule kGlobal[] = {
    {DECODER | OSS, "model.embed_tokens.weight", "token_embd.weight", X::None, K::Tensor},
    {PLAIN_NORMS | OSS, "model.norm.weight", "output_norm.weight", X::None, K::Tensor},
    {GEMMA, "model.norm.weight", "output_norm.weight", X::NormPlusOne, K::Tensor},
    {(DECODER & ~GEMMA) | OSS, "lm_head.weight", "output.weight", X::None, K::Tensor},
    // Gemma always ties the head to the embedding; the converter drops a stray lm_head.
    {GEMMA, "lm_head.weight", "", X::None, K::Skip},
    {DECODER | OSS, "model.rotary_emb.inv_freq", "", X::None, K::Skip},
    {GPT2, "wte.weight", "token_embd.weight", X::None, K::Tensor},
    {GPT2, "wpe.weight", "position_embd.weight", X::None, K::Tensor},
    {GPT2, "ln_f.weight", "output_norm.weight", X::None, K::Tensor},
    {GPT2, "ln_f.bias", "output_norm.bias", X::None, K::Tensor},
    {GPT2, "lm_head.weight", "output.weight", X::None, K::Tensor},
};

// Per-layer tensors, relative to "model.layers.N." (gpt2: "h.N.").
const Rule kLayer[] = {
    // Norms. In HF llama-style models post_attention_layernorm is the FFN input norm;
    // Gemma 2/3 have four norms per layer and use that name for the attention output norm.
    {PLAIN_NORMS, "input_layernorm.weight", "attn_norm.weight", X::None, K::Tensor},
    {PLAIN_NORMS, "post_attention_layernorm.weight", "ffn_norm.weight", X::None, K::Tensor},
    {GEMMA, "input_layernorm.weight", "attn_norm.weight", X::NormPlusOne, K::Tensor},
    {GEMMA, "post_attention_layernorm.weight", "post_attention_norm.weight", X::NormPlusOne, K::Tensor},
    {GEMMA, "pre_feedforward_layernorm.weight", "ffn_norm.weight", X::NormPlusOne, K::Tensor},
    {GEMMA, "post_feedforward_layernorm.weight", "post_ffw_norm.weight", X::NormPlusOne, K::Tensor},
    // Attention. Only llama-family Q/K are permuted: its GGUF RoPE rotates adjacent pairs
    // while HF rotates halves; the other families use NeoX RoPE (halves) in GGUF too.
    {LLAMA, "self_attn.q_proj.weight", "attn_q.weight", X::PermuteQ, K::Tensor},
    {LLAMA, "self_attn.q_proj.bias", "attn_q.bias", X::PermuteQ, K::Tensor},
    {LLAMA, "self_attn.k_proj.weight", "attn_k.weight", X::PermuteK, K::Tensor},
    {LLAMA, "self_attn.k_proj.bias", "attn_k.bias", X::PermuteK, K::Tensor},
    {QWEN | GEMMA | DS2 | OSS, "self_attn.q_proj.weight", "attn_q.weight", X::None, K::Tensor},
    {QWEN | GEMMA | OSS, "self_attn.q_proj.bias", "attn_q.bias", X::None, K::Tensor},
    {QWEN | GEMMA | OSS, "self_attn.k_proj.weight", "attn_k.weight", X::None, K::Tensor},
    {QWEN | GEMMA | OSS, "self_attn.k_proj.bias", "attn_k.bias", X::None, K::Tensor},
    {LLAMA | QWEN | GEMMA | OSS, "self_attn.v_proj.weight", "attn_v.weight", X::None, K::Tensor},
    {LLAMA | QWEN | GEMMA | OSS, "self_attn.v_proj.bias", "attn_v.bias", X::None, K::Tensor},
    {DECODER | OSS, "self_attn.o_proj.weight", "attn_output.weight", X::None, K::Tensor},
    {DECODER | OSS, "self_attn.o_proj.bias", "attn_output.bias", X::None, K::Tensor},
    {QWEN3 | QWEN3MOE, "self_attn.q_norm.weight", "attn_q_norm.weight", X::None, K::Tensor},
    {QWEN3 | QWEN3MOE, "self_attn.k_norm.weight", "attn_k_norm.weight", X::None, K::Tensor},
    {GEMMA3, "self_attn.q_norm.weight", "attn_q_norm.weight", X::NormPlusOne, K::Tensor},
    {GEMMA3, "self_attn.k_norm.weight", "attn_k_norm.weight", X::NormPlusOne, K::Tensor},
    {PHI3, "self_attn.qkv_proj.weight", "attn_qkv.weight", X::None, K::Tensor},
    {DECODER | OSS, "self_attn.rotary_emb.inv_freq", "", X::None, K::Skip},
    // DeepSeek multi-head latent attention.
    {DS2, "self_attn.q_a_proj.weight", "attn_q_a.weight", X::None, K::Tensor},
    {DS2, "self_attn.q_a_layernorm.weight", "attn_q_a_norm.weight", X::None, K::Tensor},
    {DS2, "self_attn.q_b_proj.weight", "attn_q_b.weight", X::None, K::Tensor},
    {DS2, "self_attn.kv_a_proj_with_mqa.weight", "attn_kv_a_mqa.weight", X::None, K::Tensor},
    {DS2, "self_attn.kv_a_layernorm.weight", "attn_kv_a_norm.weight", X::None, K::Tensor},
    {DS2, "self_attn.kv_b_proj.weight", "attn_kv_b.weight", X::None, K::Tensor},
    // Dense FFN (DeepSeek's leading dense layers included).
    {DECODER & ~PHI3, "mlp.gate_proj.weight", "ffn_gate.weight", X::None, K::Tensor},
    {DECODER & ~PHI3, "mlp.up_proj.weight", "ffn_up.weight", X::None, K::Tensor},
    {DECODER, "mlp.down_proj.weight", "ffn_down.weight", X::None, K::Tensor},
    {PHI3, "mlp.gate_up_proj.weight", "ffn_up.weight", X::None, K::Tensor},  // rows: gate then up
    // Mixtral: w1 = gate, w2 = down, w3 = up.
    {LLAMA, "block_sparse_moe.gate.weight", "ffn_gate_inp.weight", X::None, K::Tensor},
    {LLAMA, "block_sparse_moe.experts.{X}.w1.weight", "ffn_gate_exps.weight", X::None, K::Expert},
    {LLAMA, "block_sparse_moe.experts.{X}.w2.weight", "ffn_down_exps.weight", X::None, K::Expert},
    {LLAMA, "block_sparse_moe.experts.{X}.w3.weight", "ffn_up_exps.weight", X::None, K::Expert},
    // Qwen MoE and DeepSeek routed experts.
    {QWEN_MOE | DS2, "mlp.gate.weight", "ffn_gate_inp.weight", X::None, K::Tensor},
    {QWEN_MOE | DS2, "mlp.experts.{X}.gate_proj.weight", "ffn_gate_exps.weight", X::None, K::Expert},
    {QWEN_MOE | DS2, "mlp.experts.{X}.up_proj.weight", "ffn_up_exps.weight", X::None, K::Expert},
    {QWEN_MOE | DS2, "mlp.experts.{X}.down_proj.weight", "ffn_down_exps.weight", X::None, K::Expert},
    {QWEN2MOE, "mlp.shared_expert.gate_proj.weight", "ffn_gate_shexp.weight", X::None, K::Tensor},
    {QWEN2MOE, "mlp.shared_expert.up_proj.weight", "ffn_up_shexp.weight", X::None, K::Tensor},
    {QWEN2MOE, "mlp.shared_expert.down_proj.weight", "ffn_down_shexp.weight", X::None, K::Tensor},
    {QWEN2MOE, "mlp.shared_expert_gate.weight", "ffn_gate_inp_shexp.weight", X::Squeeze, K::Tensor},
    {DS2, "mlp.shared_experts.gate_proj.weight", "ffn_gate_shexp.weight", X::None, K::Tensor},
    {DS2, "mlp.shared_experts.up_proj.weight", "ffn_up_shexp.weight", X::None, K::Tensor},
    {DS2, "mlp.shared_experts.down_proj.weight", "ffn_down_shexp.weight", X::None, K::Tensor},
    {DS2, "mlp.gate.e_score_correction_bias", "exp_probs_b.bias", X::None, K::Tensor},
    // gpt-oss (GptOssForCausalLM): the pre-FFN norm is GGUF's post_attention_norm; experts
    // are stored fused per layer, gate and up interleaved along one axis (hf_gpt_oss.h).
    {OSS, "input_layernorm.weight", "attn_norm.weight", X::None, K::Tensor},
    {OSS, "post_attention_layernorm.weight", "post_attention_norm.weight", X::None, K::Tensor},
    {OSS, "self_attn.sinks", "attn_sinks.weight", X::None, K::Tensor},
    {OSS, "mlp.router.weight", "ffn_gate_inp.weight", X::None, K::Tensor},
    {OSS, "mlp.router.bias", "ffn_gate_inp.bias", X::None, K::Tensor},
    {OSS, "mlp.experts.gate_up_proj_blocks", "ffn_gate_up_exps", X::OssBlocks, K::Fused},
    {OSS, "mlp.experts.gate_up_proj_scales", "ffn_gate_up_exps", X::OssScales, K::Fused},
    {OSS, "mlp.experts.gate_up_proj", "ffn_gate_up_exps", X::OssDense, K::Fused},
    {OSS, "mlp.experts.gate_up_proj_bias", "ffn_gate_up_exps", X::OssBias, K::Fused},
    {OSS, "mlp.experts.down_proj_blocks", "ffn_down_exps", X::OssBlocks, K::Fused},
    {OSS, "mlp.experts.down_proj_scales", "ffn_down_exps", X::OssScales, K::Fused},
    {OSS, "mlp.experts.down_proj", "ffn_down_exps", X::OssDense, K::Fused},
    {OSS, "mlp.experts.down_proj_bias", "ffn_down_exps.bias", X::None, K::Tensor},
    // GPT-2 (Conv1D weights are [in, out]).
    {GPT2, "ln_1.weight", "attn_norm.weight", X::None, K::Tensor},
    {GPT2, "ln_1.bias", "attn_norm.bias", X::None, K::Tensor},
    {GPT2, "attn.c_attn.weight", "attn_qkv.weight", X::Transpose, K::Tensor},
    {GPT2, "attn.c_attn.bias", "attn_qkv.bias", X::None, K::Tensor},
    {GPT2, "attn.c_proj.weight", "attn_output.weight", X::Transpose, K::Tensor},
    {GPT2, "attn.c_proj.bias", "attn_output.bias", X::None, K::Tensor},
    {GPT2, "ln_2.weight", "ffn_norm.weight", X::None, K::Tensor},
    {GPT2, "ln_2.bias", "ffn_norm.bias", X::None, K::Tensor},
    {GPT2, "mlp.c_fc.weight", "ffn_up.weight", X::Transpose, K::Tensor},
    {GPT2, "mlp.c_fc.bias", "ffn_up.bias", X::None, K::Tensor},
    {GPT2, "mlp.c_proj.weight", "ffn_down.weight", X::Transpose, K::Tensor},
    {GPT2, "mlp.c_proj.bias", "ffn_down.bias", X::None, K::Tensor},
    {GPT2, "attn.bias", "", X::None, K::Skip},         // causal mask buffer
    {GPT2, "attn.masked_bias", "", X::None, K::Skip},  // constant -1e4
};

uint32_t family_bit(const std::string& arch) {
  static const std::pair<const char*, uint32_t> kArch[] = {
      {"llama", LLAMA},       {"qwen2", QWEN2},   {"qwen3", QWEN3}, {"qwen2moe", QWEN2MOE},
      {"qwen3moe", QWEN3MOE}, {"gemma2", GEMMA2}, {"gemma3", GEMMA3}, {"phi3", PHI3},
      {"gpt2", GPT2},         {"deepseek2", DS2},   {"gpt-oss", OSS},
  };
  for (const auto& [n, b] : kArch)
    if (arch == n) return b;
  throw Error("no Hugging Face name table for architecture '" + arch + "'");
}

bool starts_with(const std::string& s, const char* p) { return s.rfind(p, 0) == 0; }

// Parses a run of decimal digits at s[pos..]; advances pos. nullopt if none or absurdly long.
std::optional<int64_t> parse_index(const std::string& s, size_t& pos) {
  size_t b = pos;
  int64_t v = 0;
  while (pos < s.size() && std::isdigit(static_cast<unsigned char>(s[pos]))) {
    if (pos - b >= 9) return std::nullopt;
    v = v * 10 + (s[pos] - '0');
    ++pos;
  }
  if (pos == b) return std::nullopt;
  return v;
}

// Matches `name` against a rule pattern; fills *expert for "{X}" patterns.
bool match(const char* pattern, const std::string& name, int64_t* expert) {
  const char* x = std::strstr(pattern, "{X}");
  if (!x) return name == pattern;
  const size_t pre = static_cast<size_t>(x - pattern);
  const std::string suffix(x + 3);
  if (name.compare(0, pre, pattern, pre) != 0) return false;
  size_t pos = pre;
  auto idx = parse_index(name, pos);
  if (!idx || name.size() - pos != suffix.size() || name.compare(pos, std::string::npos, suffix) != 0) return false;
  *expert = *idx;
  return true;
}

std::optional<Mapped> apply(const Rule* begin, const Rule* end, uint32_t fam, const std::string& rest,
                            const std::string& gguf_prefix) {
  for (const Rule* r = begin; r != end; ++r) {
    if (!(r->fams & fam)) continue;
    int64_t expert = -1;
    if (!match(r->hf, rest, &expert)) continue;
    Mapped m;
    m.kind = r->kind;
    m.xform = r->xf;
    m.expert = expert;
    if (r->kind != K::Skip) m.gguf = gguf_prefix + r->gguf;
    return m;
  }
  return std::nullopt;
}

const char* layer_prefix(uint32_t fam) { return fam == GPT2 ? "h." : "model.layers."; }

}  // namespace

std::optional<Mapped> map_tensor_name(const std::string& arch, const std::string& hf_name, int64_t n_layer) {
  const uint32_t fam = family_bit(arch);
  std::string name = hf_name;
  if (fam == GEMMA3) {
    // Gemma3ForConditionalGeneration: the text model sits under "language_model."
    // ("language_model.model.layers..." or, in newer saves, "model.language_model.layers...").
    for (const char* vis : {"vision_tower.", "multi_modal_projector.", "model.vision_tower.", "model.multi_modal_projector."})
      if (starts_with(name, vis)) return Mapped{K::Skip, "", X::None, -1};
    const size_t p = name.find("language_model.");
    if (p != std::string::npos) name.erase(p, std::strlen("language_model."));
  }
  if (fam == GPT2 && starts_with(name, "transformer.")) name.erase(0, std::strlen("transformer."));

  const char* lp = layer_prefix(fam);
  if (!starts_with(name, lp)) return apply(std::begin(kGlobal), std::end(kGlobal), fam, name, "");
  size_t pos = std::strlen(lp);
  auto layer = parse_index(name, pos);
  if (!layer || pos >= name.size() || name[pos] != '.') return std::nullopt;
  if (*layer >= n_layer) {
    // DeepSeek-V3 appends multi-token-prediction layers after the decoder; the converter drops them.
    if (fam == DS2) return Mapped{K::Skip, "", X::None, -1};
    throw Error("tensor '" + hf_name + "' belongs to layer " + std::to_string(*layer) +
                ", but config.json has " + std::to_string(n_layer) + " layers");
  }
  return apply(std::begin(kLayer), std::end(kLayer), fam, name.substr(pos + 1),
               "blk." + std::to_string(*layer) + ".");
}

std::string hf_name_for(const std::string& arch, const std::string& gguf_name) {
  const uint32_t fam = family_bit(arch);
  auto find = [&](const Rule* b, const Rule* e, const std::string& g) -> const Rule* {
    for (const Rule* r = b; r != e; ++r)
      if ((r->fams & fam) && r->kind != K::Skip && g == r->gguf) return r;
    return nullptr;
  };
  auto with_expert0 = [](std::string s) {
    const size_t x = s.find("{X}");
    if (x != std::string::npos) s.replace(x, 3, "0");
    return s;
  };
  if (starts_with(gguf_name, "blk.")) {
    size_t pos = 4;
    auto layer = parse_index(gguf_name, pos);
    if (!layer || pos >= gguf_name.size() || gguf_name[pos] != '.') return "";
    std::string rest = gguf_name.substr(pos + 1);
    if (fam == OSS) {  // gate and up come from one fused tensor (the MXFP4 blocks name it)
      const std::string L = layer_prefix(fam) + std::to_string(*layer) + ".mlp.experts.";
      if (rest == "ffn_gate_exps.weight" || rest == "ffn_up_exps.weight") return L + "gate_up_proj_blocks";
      if (rest == "ffn_gate_exps.bias" || rest == "ffn_up_exps.bias") return L + "gate_up_proj_bias";
      if (rest == "ffn_down_exps.weight") return L + "down_proj_blocks";
    }
    const Rule* r = find(std::begin(kLayer), std::end(kLayer), rest);
    return r ? layer_prefix(fam) + std::to_string(*layer) + "." + with_expert0(r->hf) : "";
  }
  const Rule* r = find(std::begin(kGlobal), std::end(kGlobal), gguf_name);
  return r ? r->hf : "";
}

}  // namespace larql::hf
