// Deciding what kind of model a path names, and opening it: a GGUF file, a
// safetensors file/folder, or a vindex directory (larql extract).
#pragma once
#include <memory>
#include <string>

#include <nlohmann/json_fwd.hpp>

namespace larql {
class Model;
class Tokenizer;
}  // namespace larql

namespace larql::cli {
// True for a file starting with the GGUF magic; false for safetensors files
// and folders. Throws larql::Error when the path does not exist or is neither.
bool model_is_gguf(const std::string& path);
// True for a vindex directory (holds index.json).
bool is_vindex_path(const std::string& path);
// Model::load, extended to vindex directories (their inference weights).
std::unique_ptr<Model> load_model(const std::string& path);
// Packs the routed experts for speed (Model::pack_experts) unless memory is
// short, which it reports on stderr. For commands that generate (run, chat,
// bench, serve, perplexity) without --ram-budget; `logits` keeps the mapped
// experts and llama.cpp's MUL_MAT_ID order bit for bit.
void pack_experts(Model& m);
// The tokenizer stored in a vindex.
std::unique_ptr<Tokenizer> load_vindex_tokenizer(const std::string& path);
// `larql info` for a vindex: the same keys as for a model file, plus "vindex".
nlohmann::json info_vindex(const std::string& path);
}  // namespace larql::cli
