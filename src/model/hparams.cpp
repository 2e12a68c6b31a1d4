#include "model/hparams.h"

#include <nlohmann/json.hpp>

#include "format/gguf.h"
#include "util/error.h"

namespace larql {

namespace {

// Some keys may be per-layer arrays (e.g. head counts); the max is the width to allocate for.
int64_t int_or_array_max(const gguf::File& f, const std::string& key, int64_t def) {
  const gguf::Value* v = f.find(key);
  if (!v) return def;
  if (v->type == gguf::ValueType::ARRAY) {
    int64_t m = 0;
    for (int64_t x : v->as_int_array()) m = std::max(m, x);
    return m;
  }
  return v->as_int();
}

void require_positive(int64_t v, const std::string& key) {
  if (v <= 0) throw Error("model metadata: '" + key + "' is missing or not positive");
}

// gpt-oss: transformers' GptOssConfig defaults for keys a config.json may leave out;
// newer transformers nest rope_theta and the YaRN settings in rope_parameters.
void gpt_oss_defaults(nlohmann::json& c) {
  using nlohmann::json;
  const json* rp = c.contains("rope_parameters") && c["rope_parameters"].is_object() ? &c["rope_parameters"] : nullptr;
  if ((!c.contains("rope_theta") || c["rope_theta"].is_null()) && rp && rp->contains("rope_theta"))
    c["rope_theta"] = (*rp)["rope_theta"];
  if (!c.contains("rope_scaling") && rp) c["rope_scaling"] = *rp;
  if (!c.contains("rope_scaling"))
    c["rope_scaling"] = {{"rope_type", "yarn"}, {"factor", 32.0}, {"beta_fast", 32.0}, {"beta_slow", 1.0},
                         {"truncate", false}, {"original_max_position_embeddings", 4096}};
  const std::pair<const char*, json> defaults[] = {
      {"head_dim", 64}, {"sliding_window", 128}, {"rms_norm_eps", 1e-5}, {"rope_theta", 150000.0},
      {"max_position_embeddings", 131072}, {"tie_word_embeddings", false},
  };
  for (const auto& [k, v] : defaults)
    if (!c.contains(k) || c[k].is_null()) c[k] = v;
  // Older exports name the top-k "experts_per_token".
  if ((!c.contains("num_experts_per_tok") || c["num_experts_per_tok"].is_null()) && c.contains("experts_per_token"))
    c["num_experts_per_tok"] = c["experts_per_token"];
}

// What the engine's gpt-oss family hard-codes (windows on even layers, SwiGLU limit 7,
// YaRN betas 32/1): a config asking for anything else is refused rather than misrun.
void gpt_oss_check(const nlohmann::json& c, const HParams& hp) {
  using nlohmann::json;
  if (hp.sliding_window <= 0) throw Error("config.json: gpt-oss 'sliding_window' must be a positive integer");
  if (hp.n_expert <= 0) throw Error("config.json: gpt-oss 'num_local_experts' is missing or not positive");
  if (c.contains("layer_types") && !c["layer_types"].is_null()) {
    const json& lt = c["layer_types"];
    if (!lt.is_array() || static_cast<int64_t>(lt.size()) != hp.n_layer)
      throw Error("config.json: 'layer_types' must be a list of num_hidden_layers (" + std::to_string(hp.n_layer) +
                  ") entries");
    for (size_t i = 0; i < lt.size(); ++i) {
      const char* want = i % 2 == 0 ? "sliding_attention" : "full_attention";
      if (!lt[i].is_string() || lt[i].get<std::string>() != want)
        throw Error("config.json: layer_types[" + std::to_string(i) + "] is " + lt[i].dump() + ", expected \"" + want +
                    "\" (gpt-oss runs sliding windows on even layers and full attention on odd ones)");
    }
  }
  auto fixed = [&](const json& o, const char* where, const char* k, double want, const char* want_text) {
    if (!o.contains(k) || o[k].is_null()) return;
    if (!o[k].is_number() || o[k].get<double>() != want)
      throw Error(std::string("config.json: ") + where + k + " is " + o[k].dump() + "; LARQL's gpt-oss supports only " +
                  want_text);
  };
  fixed(c, "", "swiglu_limit", 7.0, "7");
  if (c.contains("rope_scaling") && c["rope_scaling"].is_object()) {
    fixed(c["rope_scaling"], "rope_scaling.", "beta_fast", 32.0, "32");
    fixed(c["rope_scaling"], "rope_scaling.", "beta_slow", 1.0, "1");
  }
  if (c.contains("quantization_config") && c["quantization_config"].is_object()) {
    const json& q = c["quantization_config"];
    if (q.contains("quant_method") && q["quant_method"] != "mxfp4")
      throw Error("config.json: quantization_config.quant_method " + q["quant_method"].dump() +
                  " is not supported for gpt-oss (only mxfp4 experts)");
  }
}

}  // namespace

HParams hparams_from_gguf(const gguf::File& f) {
  HParams hp;
  hp.arch = f.architecture();
  if (hp.arch.empty()) throw Error("model metadata: general.architecture is missing");
  const std::string a = hp.arch + ".";
  hp.name = f.get_string("general.name");
  hp.n_ctx = f.get_int(a + "context_length", 0);
  hp.n_embd = f.get_int(a + "embedding_length", 0);
  hp.n_layer = f.get_int(a + "block_count", 0);
  hp.n_ff = int_or_array_max(f, a + "feed_forward_length", 0);
  hp.n_head = int_or_array_max(f, a + "attention.head_count", 0);
  hp.n_head_kv = int_or_array_max(f, a + "attention.head_count_kv", hp.n_head);
  require_positive(hp.n_embd, a + "embedding_length");
  require_positive(hp.n_layer, a + "block_count");
  require_positive(hp.n_head, a + "attention.head_count");
  hp.head_dim_k = f.get_int(a + "attention.key_length", hp.n_embd / hp.n_head);
  hp.head_dim_v = f.get_int(a + "attention.value_length", hp.head_dim_k);
  hp.rope_dim = f.get_int(a + "rope.dimension_count", hp.head_dim_k);
  hp.rope_base = f.get_float(a + "rope.freq_base", 10000.0);
  hp.rope_scaling = f.get_string(a + "rope.scaling.type");
  hp.rope_scale = f.get_float(a + "rope.scaling.factor", 1.0);
  hp.rope_orig_ctx = f.get_int(a + "rope.scaling.original_context_length", 0);
  hp.rope_yarn_log_mul = f.get_float(a + "rope.scaling.yarn_log_multiplier", 0);
  if (f.find(a + "attention.layer_norm_rms_epsilon")) {
    hp.norm_eps = f.get_float(a + "attention.layer_norm_rms_epsilon", 1e-5);
  } else if (f.find(a + "attention.layer_norm_epsilon")) {
    hp.norm_eps = f.get_float(a + "attention.layer_norm_epsilon", 1e-5);
    hp.use_layernorm = true;
  }
  hp.sliding_window = f.get_int(a + "attention.sliding_window", 0);
  hp.attn_softcap = f.get_float(a + "attn_logit_softcapping", 0);
  hp.final_softcap = f.get_float(a + "final_logit_softcapping", 0);
  hp.n_expert = f.get_int(a + "expert_count", 0);
  hp.n_expert_used = f.get_int(a + "expert_used_count", 0);
  hp.n_ff_exp = f.get_int(a + "expert_feed_forward_length", hp.n_expert ? hp.n_ff : 0);
  hp.n_expert_shared = f.get_int(a + "expert_shared_count", 0);
  hp.n_ff_shexp = f.get_int(a + "expert_shared_feed_forward_length", 0);
  hp.n_layer_dense_lead = f.get_int(a + "leading_dense_block_count", 0);
  hp.expert_weights_scale = f.get_float(a + "expert_weights_scale", 1.0);
  hp.expert_weights_norm = f.get_bool(a + "expert_weights_norm", false);
  hp.expert_gating_func = static_cast<int>(f.get_int(a + "expert_gating_func", 0));
  hp.n_expert_groups = f.get_int(a + "expert_group_count", 0);
  hp.n_expert_groups_used = f.get_int(a + "expert_group_used_count", 0);
  hp.q_lora_rank = f.get_int(a + "attention.q_lora_rank", 0);
  hp.kv_lora_rank = f.get_int(a + "attention.kv_lora_rank", 0);
  if (const gguf::Value* t = f.find("tokenizer.ggml.tokens")) hp.n_vocab = static_cast<int64_t>(t->as_array().size());
  if (const gguf::TensorInfo* e = f.find_tensor("token_embd.weight")) {
    if (hp.n_vocab == 0) hp.n_vocab = e->ne[1];
  }
  hp.n_vocab = f.get_int(a + "vocab_size", hp.n_vocab);
  hp.tied_output = f.find_tensor("output.weight") == nullptr;
  if (hp.n_head_kv <= 0 || hp.n_head % hp.n_head_kv != 0)
    throw Error("model metadata: head_count " + std::to_string(hp.n_head) +
                " is not a multiple of head_count_kv " + std::to_string(hp.n_head_kv));
  return hp;
}

void hparams_to_gguf(const HParams& hp, gguf::Writer& w) {
  using gguf::Value;
  const std::string a = hp.arch + ".";
  auto u32 = [&](const std::string& k, int64_t v) { w.set(a + k, Value::from_u32(static_cast<uint32_t>(v))); };
  auto f32 = [&](const std::string& k, double v) { w.set(a + k, Value::from_f32(static_cast<float>(v))); };
  w.set("general.architecture", Value::from_string(hp.arch));
  if (!hp.name.empty()) w.set("general.name", Value::from_string(hp.name));
  u32("context_length", hp.n_ctx);
  u32("embedding_length", hp.n_embd);
  u32("block_count", hp.n_layer);
  u32("feed_forward_length", hp.n_ff);
  u32("attention.head_count", hp.n_head);
  u32("attention.head_count_kv", hp.n_head_kv);
  if (hp.head_dim_k != hp.n_embd / hp.n_head || hp.head_dim_v != hp.head_dim_k || hp.arch == "deepseek2") {
    u32("attention.key_length", hp.head_dim_k);
    u32("attention.value_length", hp.head_dim_v);
  }
  if (hp.use_layernorm) f32("attention.layer_norm_epsilon", hp.norm_eps);
  else f32("attention.layer_norm_rms_epsilon", hp.norm_eps);
  if (hp.arch != "gpt2") {
    f32("rope.freq_base", hp.rope_base);
    u32("rope.dimension_count", hp.rope_dim);
  }
  if (!hp.rope_scaling.empty()) {
    w.set(a + "rope.scaling.type", Value::from_string(hp.rope_scaling));
    f32("rope.scaling.factor", hp.rope_scale);
    if (hp.rope_orig_ctx) u32("rope.scaling.original_context_length", hp.rope_orig_ctx);
  }
  // llama.cpp requires this key for deepseek2 even without YaRN scaling.
  if (hp.arch == "deepseek2" || hp.rope_yarn_log_mul) f32("rope.scaling.yarn_log_multiplier", hp.rope_yarn_log_mul);
  if (hp.sliding_window) u32("attention.sliding_window", hp.sliding_window);
  if (hp.attn_softcap) f32("attn_logit_softcapping", hp.attn_softcap);
  if (hp.final_softcap) f32("final_logit_softcapping", hp.final_softcap);
  if (hp.n_expert) {
    u32("expert_count", hp.n_expert);
    u32("expert_used_count", hp.n_expert_used);
    if (hp.n_ff_exp) u32("expert_feed_forward_length", hp.n_ff_exp);
  }
  if (hp.n_expert_shared) u32("expert_shared_count", hp.n_expert_shared);
  if (hp.n_ff_shexp) u32("expert_shared_feed_forward_length", hp.n_ff_shexp);
  if (hp.arch == "deepseek2") {
    u32("leading_dense_block_count", hp.n_layer_dense_lead);
    u32("attention.q_lora_rank", hp.q_lora_rank);  // llama.cpp requires the key, 0 = no q compression
    u32("attention.kv_lora_rank", hp.kv_lora_rank);
    f32("expert_weights_scale", hp.expert_weights_scale);
    w.set(a + "expert_weights_norm", Value::from_bool(hp.expert_weights_norm));
    u32("expert_gating_func", hp.expert_gating_func ? hp.expert_gating_func : 1);
    if (hp.n_expert_groups > 1) {
      u32("expert_group_count", hp.n_expert_groups);
      u32("expert_group_used_count", hp.n_expert_groups_used);
    }
  }
  if (hp.arch == "qwen3moe" || hp.arch == "qwen2moe") {
    // llama.cpp reads expert_weights_norm only for some families; harmless elsewhere.
  }
}

HParams hparams_from_hf_config(const nlohmann::json& cfg) {
  using nlohmann::json;
  if (!cfg.is_object()) throw Error("config.json: expected a JSON object");
  // Multimodal wrappers (Gemma3ForConditionalGeneration) keep the text model's settings in text_config.
  json c = cfg;
  if (cfg.contains("text_config") && cfg["text_config"].is_object())
    for (const auto& [k, v] : cfg["text_config"].items()) c[k] = v;
  if (!c.contains("model_type") || !c["model_type"].is_string())
    throw Error("config.json: 'model_type' is missing or not a string");
  const std::string mt = c["model_type"].get<std::string>();
  HParams hp;
  if (mt == "llama" || mt == "mistral" || mt == "mixtral") hp.arch = "llama";
  else if (mt == "qwen2") hp.arch = "qwen2";
  else if (mt == "qwen3") hp.arch = "qwen3";
  else if (mt == "qwen2_moe") hp.arch = "qwen2moe";
  else if (mt == "qwen3_moe") hp.arch = "qwen3moe";
  else if (mt == "gemma2") hp.arch = "gemma2";
  else if (mt == "gemma3" || mt == "gemma3_text") hp.arch = "gemma3";
  else if (mt == "phi3") hp.arch = "phi3";
  else if (mt == "gpt2") hp.arch = "gpt2";
  else if (mt == "deepseek_v2" || mt == "deepseek_v3") hp.arch = "deepseek2";
  else if (mt == "gpt_oss") hp.arch = "gpt-oss";
  else throw Error("config.json: unsupported model_type '" + mt + "'");
  if (hp.arch == "gemma3") {
    // Gemma 3 4B/12B/27B configs leave these at transformers' Gemma3TextConfig defaults.
    const std::pair<const char*, json> defaults[] = {
        {"num_attention_heads", 8},    {"num_key_value_heads", 4},        {"head_dim", 256},
        {"rms_norm_eps", 1e-6},        {"rope_theta", 1000000.0},         {"rope_local_base_freq", 10000.0},
        {"sliding_window", 4096},      {"max_position_embeddings", 131072}, {"vocab_size", 262208},
    };
    for (const auto& [k, v] : defaults)
      if (!c.contains(k) || c[k].is_null()) c[k] = v;
  }

  if (hp.arch == "gpt-oss") gpt_oss_defaults(c);

  // null counts as absent; any other non-number is an error naming the field.
  auto num = [&](const char* k) -> const json* {
    auto it = c.find(k);
    if (it == c.end() || it->is_null()) return nullptr;
    if (!it->is_number()) throw Error(std::string("config.json: '") + k + "' is not a number");
    return &*it;
  };
  auto geti = [&](const char* k, int64_t def) -> int64_t {
    const json* v = num(k);
    if (!v) return def;
    const double d = v->get<double>();
    if (!v->is_number_integer() && (d != static_cast<double>(static_cast<int64_t>(d)) || d > 9e15 || d < -9e15))
      throw Error(std::string("config.json: '") + k + "' is not an integer");
    return v->is_number_integer() ? v->get<int64_t>() : static_cast<int64_t>(d);
  };
  auto getf = [&](const char* k, double def) -> double {
    const json* v = num(k);
    return v ? v->get<double>() : def;
  };
  auto req = [&](const char* k) -> int64_t {
    const int64_t v = geti(k, 0);
    if (v <= 0) throw Error(std::string("config.json: '") + k + "' is missing or not a positive integer");
    return v;
  };

  if (hp.arch == "gpt2") {
    hp.n_embd = req("n_embd");
    hp.n_layer = req("n_layer");
    hp.n_head = req("n_head");
    hp.n_head_kv = hp.n_head;
    hp.n_ctx = geti("n_positions", geti("n_ctx", 1024));
    hp.n_ff = geti("n_inner", 4 * hp.n_embd);  // null in the original GPT-2 configs
    hp.norm_eps = getf("layer_norm_epsilon", 1e-5);
    hp.use_layernorm = true;
  } else {
    hp.n_embd = req("hidden_size");
    hp.n_layer = req("num_hidden_layers");
    hp.n_head = req("num_attention_heads");
    hp.n_head_kv = geti("num_key_value_heads", hp.n_head);
    hp.n_ctx = geti("max_position_embeddings", 4096);
    hp.n_ff = geti("intermediate_size", 0);
    hp.norm_eps = getf("rms_norm_eps", 1e-6);  // gpt-oss: 1e-5 default set above
    hp.rope_base = getf("rope_theta", 10000.0);
  }
  if (hp.n_head_kv <= 0 || hp.n_head % hp.n_head_kv != 0)
    throw Error("config.json: num_attention_heads " + std::to_string(hp.n_head) +
                " is not a multiple of num_key_value_heads " + std::to_string(hp.n_head_kv));
  hp.n_vocab = geti("vocab_size", 0);
  if (!num("head_dim") && hp.n_embd % hp.n_head != 0)
    throw Error("config.json: hidden size " + std::to_string(hp.n_embd) + " is not a multiple of the head count " +
                std::to_string(hp.n_head) + " and 'head_dim' is not given");
  hp.head_dim_k = geti("head_dim", hp.n_embd / hp.n_head);
  hp.head_dim_v = hp.head_dim_k;
  hp.rope_dim = hp.head_dim_k;
  // llama.cpp's converter writes a sliding window only for these families (Mistral's and
  // Qwen2's config values are ignored by their GGUF architectures).
  if (hp.arch == "gemma2" || hp.arch == "gemma3" || hp.arch == "phi3" || hp.arch == "gpt-oss")
    hp.sliding_window = geti("sliding_window", 0);
  hp.attn_softcap = getf("attn_logit_softcapping", 0);
  hp.final_softcap = getf("final_logit_softcapping", 0);
  if (hp.arch == "gemma3") hp.rope_base_local = getf("rope_local_base_freq", 10000.0);
  hp.tied_output = c.contains("tie_word_embeddings") && c["tie_word_embeddings"].is_boolean()
                       ? c["tie_word_embeddings"].get<bool>()
                       : (hp.arch == "gemma2" || hp.arch == "gemma3" || hp.arch == "gpt2");
  // RoPE scaling, as the converter records it: linear and YaRN become metadata; Llama 3's
  // frequency table and Phi-3's LongRoPE factors travel as tensors (rope_freqs, rope_factors_*).
  if (hp.arch == "phi3") hp.rope_orig_ctx = geti("original_max_position_embeddings", 0);
  if (c.contains("rope_scaling") && c["rope_scaling"].is_object()) {
    const json& rs = c["rope_scaling"];
    auto rs_num = [&](const char* k, double def) {
      return rs.contains(k) && rs[k].is_number() ? rs[k].get<double>() : def;
    };
    std::string t = rs.contains("rope_type") && rs["rope_type"].is_string() ? rs["rope_type"].get<std::string>()
                    : rs.contains("type") && rs["type"].is_string()    ? rs["type"].get<std::string>()
                                                                        : "";
    if (t == "linear" || t == "yarn") {
      hp.rope_scaling = t;
      hp.rope_scale = rs_num("factor", 1.0);
      if (hp.rope_scale <= 0) throw Error("config.json: rope_scaling.factor must be positive");
    }
    if (t == "yarn") {
      hp.rope_orig_ctx = static_cast<int64_t>(rs_num("original_max_position_embeddings", 0));
      if (hp.arch == "deepseek2") hp.rope_yarn_log_mul = 0.1 * rs_num("mscale_all_dim", 0);
    }
  }
  hp.n_expert = geti("num_local_experts", geti("num_experts", geti("n_routed_experts", 0)));
  hp.n_expert_used = geti("num_experts_per_tok", 0);
  hp.n_ff_exp = geti("moe_intermediate_size", hp.n_expert ? hp.n_ff : 0);
  hp.n_ff_shexp = geti("shared_expert_intermediate_size", 0);
  // Only DeepSeek's GGUF records a shared-expert count (qwen2moe: n_ff_shexp alone).
  if (hp.arch == "deepseek2") hp.n_expert_shared = geti("n_shared_experts", 0);
  if (hp.arch == "deepseek2") {
    auto need = [&](const char* k) {
      if (!num(k)) throw Error(std::string("config.json: DeepSeek field '") + k + "' is missing");
      return geti(k, 0);
    };
    hp.q_lora_rank = geti("q_lora_rank", 0);  // null: queries are not compressed
    hp.kv_lora_rank = need("kv_lora_rank");
    const int64_t nope = need("qk_nope_head_dim"), rope = need("qk_rope_head_dim");
    hp.head_dim_k = nope + rope;
    hp.head_dim_v = need("v_head_dim");
    hp.rope_dim = rope;
    if (hp.kv_lora_rank <= 0 || nope < 0 || rope <= 0 || hp.head_dim_v <= 0)
      throw Error("config.json: DeepSeek kv_lora_rank, qk_rope_head_dim and v_head_dim must be positive");
    hp.n_layer_dense_lead = geti("first_k_dense_replace", 1);
    hp.expert_weights_scale = getf("routed_scaling_factor", 1.0);
    hp.expert_weights_norm = c.contains("norm_topk_prob") && c["norm_topk_prob"].is_boolean() && c["norm_topk_prob"].get<bool>();
    const std::string sf = c.contains("scoring_func") && c["scoring_func"].is_string() ? c["scoring_func"].get<std::string>() : "softmax";
    if (sf != "softmax" && sf != "sigmoid") throw Error("config.json: unsupported scoring_func '" + sf + "'");
    hp.expert_gating_func = sf == "sigmoid" ? 2 : 1;
    // Group-limited routing (V2 "group_limited_greedy", V3 "noaux_tc"); plain "greedy" ignores the groups.
    const std::string tm = c.contains("topk_method") && c["topk_method"].is_string() ? c["topk_method"].get<std::string>() : "greedy";
    if (tm != "greedy") {
      hp.n_expert_groups = geti("n_group", 0);
      hp.n_expert_groups_used = geti("topk_group", 0);
    }
  }
  if (hp.arch == "gpt-oss") gpt_oss_check(c, hp);
  if (hp.n_expert > 0 && (hp.n_expert_used <= 0 || hp.n_expert_used > hp.n_expert))
    throw Error("config.json: 'num_experts_per_tok' must be between 1 and the expert count " + std::to_string(hp.n_expert));
  const bool has_dense_layers = hp.n_expert == 0 || hp.n_layer_dense_lead > 0;
  if (has_dense_layers && hp.n_ff <= 0)
    throw Error(std::string("config.json: '") + (hp.arch == "gpt2" ? "n_inner" : "intermediate_size") +
                "' is missing or not a positive integer");
  if (hp.n_expert > 0 && hp.n_ff_exp <= 0)
    throw Error("config.json: the expert FFN width ('moe_intermediate_size', Mixtral: 'intermediate_size') is missing");
  return hp;
}

}  // namespace larql
