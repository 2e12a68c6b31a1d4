#include "cli/model_path.h"

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>

#include <nlohmann/json.hpp>

#include "engine/model.h"
#include "format/safetensors.h"
#include "util/error.h"
#include "tokenizer/tokenizer.h"
#include "vindex/vindex.h"

namespace larql::cli {

bool model_is_gguf(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::exists(path, ec)) throw Error("model '" + path + "' does not exist");
  if (fs::is_regular_file(path, ec)) {
    char magic[4] = {};
    std::ifstream f(path, std::ios::binary);
    f.read(magic, 4);
    if (f.gcount() == 4 && std::memcmp(magic, "GGUF", 4) == 0) return true;
  }
  if (safetensors::is_safetensors_path(path)) return false;
  throw Error("'" + path + "' is neither a GGUF file nor a safetensors model (file or folder with config.json)");
}

bool is_vindex_path(const std::string& path) { return vindex::is_vindex(path); }

std::unique_ptr<Model> load_model(const std::string& path) {
  if (!is_vindex_path(path)) return Model::load(path);
  return vindex::Vindex::open(path)->load_model();  // the Model keeps the mappings alive
}

void pack_experts(Model& m) {
  std::string why;
  m.pack_experts(&why);
  if (!why.empty()) std::fprintf(stderr, "larql: %s\n", why.c_str());
}

std::unique_ptr<Tokenizer> load_vindex_tokenizer(const std::string& path) {
  auto v = vindex::Vindex::open(path);
  return v->make_tokenizer();
}

nlohmann::json info_vindex(const std::string& path) {
  auto v = vindex::Vindex::open(path);
  const auto& m = v->manifest();
  nlohmann::json j;
  j["file"] = path;
  j["format"] = "vindex";
  uint64_t size = 0, params = 0;
  for (const auto& f : m.files) size += f.bytes;
  struct Stat { uint64_t count = 0, params = 0, bytes = 0; };
  std::map<std::string, Stat> types;
  for (const auto& t : m.tensors) {
    uint64_t n = 1;
    for (int64_t d : t.ne) n *= static_cast<uint64_t>(d);
    auto& s = types[ggml_type_name(static_cast<uint32_t>(t.type))];
    s.count++;
    s.params += n;
    s.bytes += t.n_bytes;
    params += n;
  }
  j["file_size"] = size;
  j["architecture"] = m.family;
  j["name"] = m.hparams.name;
  j["n_params"] = params;
  j["n_tensors"] = m.tensors.size();
  for (const auto& [n, s] : types) j["tensor_types"][n] = {{"count", s.count}, {"params", s.params}, {"bytes", s.bytes}};
  j["tokenizer"] = {{"model", m.tokenizer_kind == "gguf" ? "tokenizer.gguf" : "tokenizer.json"},
                    {"chat_template", !m.chat_template.empty()}};
  int64_t feats = 0;
  for (const auto& l : m.layers) feats += l.n_features + l.n_experts * l.n_features_expert;
  j["vindex"] = {{"version", m.version}, {"level", vindex::level_name(m.level)}, {"n_layers", m.layers.size()},
                 {"n_features", feats}, {"down_top_k", m.down_top_k}, {"n_clusters", m.n_clusters},
                 {"has_probes", m.has_probes}, {"source", m.provenance.source_path},
                 {"created_utc", m.provenance.created_utc}};
  return j;
}

}  // namespace larql::cli
