#include "vindex/manifest.h"

#include <cstdio>

#include "util/error.h"

namespace larql::vindex {
using nlohmann::json;

const char* level_name(Level l) {
  switch (l) {
    case Level::Browse: return "browse";
    case Level::Inference: return "inference";
    case Level::All: return "all";
  }
  return "all";
}

Level level_from_name(const std::string& s) {
  if (s == "browse") return Level::Browse;
  if (s == "inference") return Level::Inference;
  if (s == "all") return Level::All;
  throw Error("unknown vindex level '" + s + "' (expected browse, inference or all)");
}

const TensorEntry* Manifest::find(const std::string& name) const {
  for (const auto& t : tensors)
    if (t.name == name) return &t;
  return nullptr;
}

std::string hex64(uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

// Every HParams field, by its C++ name.
#define LARQL_HP_FIELDS(X)                                                                      \
  X(arch) X(name) X(n_vocab) X(n_ctx) X(n_embd) X(n_layer) X(n_ff) X(n_head) X(n_head_kv)       \
  X(head_dim_k) X(head_dim_v) X(rope_dim) X(rope_base) X(rope_base_local) X(rope_scaling)       \
  X(rope_scale) X(rope_orig_ctx) X(rope_yarn_log_mul) X(norm_eps) X(use_layernorm)             \
  X(sliding_window) X(attn_softcap) X(final_softcap) X(n_expert) X(n_expert_used) X(n_ff_exp)  \
  X(n_expert_shared) X(n_ff_shexp) X(n_layer_dense_lead) X(expert_weights_scale)               \
  X(expert_weights_norm) X(expert_gating_func) X(n_expert_groups) X(n_expert_groups_used)                 \
  X(q_lora_rank) X(kv_lora_rank) X(tied_output)

json hparams_to_json(const HParams& hp) {
  json j = json::object();
#define X(f) j[#f] = hp.f;
  LARQL_HP_FIELDS(X)
#undef X
  return j;
}

namespace {

template <class T>
void get_field(const json& j, const char* key, T& out, const std::string& where) {
  if (!j.is_object() || !j.contains(key)) throw Error(where + ": missing field '" + key + "'");
  try {
    out = j.at(key).get<T>();
  } catch (const json::exception&) {
    throw Error(where + ": field '" + key + "' has the wrong type");
  }
}

template <class T>
void opt_field(const json& j, const char* key, T& out, const std::string& where) {
  if (j.is_object() && j.contains(key) && !j.at(key).is_null()) get_field(j, key, out, where);
}

}  // namespace

HParams hparams_from_json(const json& j) {
  HParams hp;
  if (!j.is_object()) throw Error("index.json: 'hparams' is not an object");
#define X(f) opt_field(j, #f, hp.f, "index.json hparams");
  LARQL_HP_FIELDS(X)
#undef X
  return hp;
}

json manifest_to_json(const Manifest& m) {
  json j;
  j["format"] = "larql-vindex";
  j["version"] = m.version;
  j["family"] = m.family;
  j["level"] = level_name(m.level);
  j["hparams"] = hparams_to_json(m.hparams);
  j["tokenizer"] = m.tokenizer_kind;
  j["chat_template"] = m.chat_template;
  j["down_top_k"] = m.down_top_k;
  j["n_clusters"] = m.n_clusters;
  j["has_probes"] = m.has_probes;
  const auto& p = m.provenance;
  j["provenance"] = {{"source_path", p.source_path}, {"source_format", p.source_format},
                     {"source_bytes", p.source_bytes}, {"created_utc", p.created_utc},
                     {"larql_version", p.larql_version}, {"extract_seconds", p.extract_seconds}};
  json layers = json::array();
  for (const auto& l : m.layers)
    layers.push_back({{"layer", l.layer}, {"n_features", l.n_features}, {"n_experts", l.n_experts},
                      {"n_features_expert", l.n_features_expert}});
  j["layers"] = layers;
  json tensors = json::array();
  for (const auto& t : m.tensors)
    tensors.push_back({{"name", t.name}, {"file", t.file}, {"offset", t.offset}, {"n_bytes", t.n_bytes},
                       {"type", ggml_type_name(static_cast<uint32_t>(t.type))}, {"ne", t.ne}});
  j["tensors"] = tensors;
  json files = json::array();
  for (const auto& f : m.files) files.push_back({{"path", f.path}, {"bytes", f.bytes}, {"xxh64", f.xxh64}});
  j["files"] = files;
  return j;
}

Manifest manifest_from_json(const json& j) {
  Manifest m;
  const std::string W = "index.json";
  std::string fmt;
  get_field(j, "format", fmt, W);
  if (fmt != "larql-vindex") throw Error(W + ": 'format' is '" + fmt + "', expected 'larql-vindex'");
  get_field(j, "version", m.version, W);
  if (m.version < 1 || m.version > kFormatVersion)
    throw Error(W + ": format version " + std::to_string(m.version) + " is not supported (this larql reads 1.." +
                std::to_string(kFormatVersion) + ")");
  get_field(j, "family", m.family, W);
  std::string level;
  get_field(j, "level", level, W);
  m.level = level_from_name(level);
  if (!j.contains("hparams")) throw Error(W + ": missing field 'hparams'");
  m.hparams = hparams_from_json(j["hparams"]);
  get_field(j, "tokenizer", m.tokenizer_kind, W);
  if (m.tokenizer_kind != "gguf" && m.tokenizer_kind != "hf")
    throw Error(W + ": 'tokenizer' is '" + m.tokenizer_kind + "', expected 'gguf' or 'hf'");
  opt_field(j, "chat_template", m.chat_template, W);
  opt_field(j, "down_top_k", m.down_top_k, W);
  opt_field(j, "n_clusters", m.n_clusters, W);
  opt_field(j, "has_probes", m.has_probes, W);
  if (j.contains("provenance")) {
    const json& p = j["provenance"];
    const std::string P = W + " provenance";
    opt_field(p, "source_path", m.provenance.source_path, P);
    opt_field(p, "source_format", m.provenance.source_format, P);
    opt_field(p, "source_bytes", m.provenance.source_bytes, P);
    opt_field(p, "created_utc", m.provenance.created_utc, P);
    opt_field(p, "larql_version", m.provenance.larql_version, P);
    opt_field(p, "extract_seconds", m.provenance.extract_seconds, P);
  }
  if (!j.contains("layers") || !j["layers"].is_array()) throw Error(W + ": 'layers' is missing or not an array");
  for (size_t i = 0; i < j["layers"].size(); ++i) {
    const std::string L = W + " layers[" + std::to_string(i) + "]";
    LayerInfo l;
    get_field(j["layers"][i], "layer", l.layer, L);
    get_field(j["layers"][i], "n_features", l.n_features, L);
    opt_field(j["layers"][i], "n_experts", l.n_experts, L);
    opt_field(j["layers"][i], "n_features_expert", l.n_features_expert, L);
    if (l.layer != static_cast<int64_t>(i) || l.n_features < 0 || l.n_experts < 0 || l.n_features_expert < 0)
      throw Error(L + ": bad layer index or feature count");
    m.layers.push_back(l);
  }
  if (static_cast<int64_t>(m.layers.size()) != m.hparams.n_layer)
    throw Error(W + ": " + std::to_string(m.layers.size()) + " layers listed but hparams.n_layer is " +
                std::to_string(m.hparams.n_layer));
  if (!j.contains("tensors") || !j["tensors"].is_array()) throw Error(W + ": 'tensors' is missing or not an array");
  for (size_t i = 0; i < j["tensors"].size(); ++i) {
    const std::string T = W + " tensors[" + std::to_string(i) + "]";
    const json& e = j["tensors"][i];
    TensorEntry t;
    std::string type;
    get_field(e, "name", t.name, T);
    get_field(e, "file", t.file, T);
    get_field(e, "offset", t.offset, T);
    get_field(e, "n_bytes", t.n_bytes, T);
    get_field(e, "type", type, T);
    get_field(e, "ne", t.ne, T);
    auto ty = ggml_type_from_name(type);
    if (!ty) throw Error(T + " ('" + t.name + "'): unknown type '" + type + "'");
    t.type = *ty;
    if (t.ne.empty() || t.ne.size() > 4) throw Error(T + " ('" + t.name + "'): 'ne' must have 1..4 dims");
    uint64_t rows = 1;
    for (size_t d = 0; d < t.ne.size(); ++d) {
      if (t.ne[d] <= 0) throw Error(T + " ('" + t.name + "'): non-positive dimension");
      if (d > 0 && !checked_mul(rows, static_cast<uint64_t>(t.ne[d]), &rows))
        throw Error(T + " ('" + t.name + "'): shape overflows");
    }
    uint64_t want = 0;
    try {
      if (!checked_mul(ggml_row_size(t.type, static_cast<uint64_t>(t.ne[0])), rows, &want))
        throw Error("overflow");
    } catch (const Error&) {
      throw Error(T + " ('" + t.name + "'): shape does not fit type " + type);
    }
    if (want != t.n_bytes)
      throw Error(T + " ('" + t.name + "'): n_bytes " + std::to_string(t.n_bytes) + " != " + std::to_string(want) +
                  " implied by type and shape");
    if (t.file.empty() || t.file.find("..") != std::string::npos || t.file[0] == '/')
      throw Error(T + " ('" + t.name + "'): file '" + t.file + "' must be a relative path inside the vindex");
    m.tensors.push_back(std::move(t));
  }
  if (!j.contains("files") || !j["files"].is_array()) throw Error(W + ": 'files' is missing or not an array");
  for (size_t i = 0; i < j["files"].size(); ++i) {
    const std::string F = W + " files[" + std::to_string(i) + "]";
    FileEntry f;
    get_field(j["files"][i], "path", f.path, F);
    get_field(j["files"][i], "bytes", f.bytes, F);
    get_field(j["files"][i], "xxh64", f.xxh64, F);
    if (f.path.empty() || f.path.find("..") != std::string::npos || f.path[0] == '/')
      throw Error(F + ": path '" + f.path + "' must be a relative path inside the vindex");
    m.files.push_back(std::move(f));
  }
  m.family = m.hparams.arch.empty() ? m.family : m.hparams.arch;
  return m;
}

}  // namespace larql::vindex
