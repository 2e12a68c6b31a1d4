// larql info MODEL [--json]
#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/model_path.h"
#include "format/gguf.h"
#include "format/safetensors.h"
#include "model/hparams.h"
#include "util/error.h"

namespace larql::cli {

namespace {

struct TypeStat {
  uint64_t count = 0, params = 0, bytes = 0;
};

nlohmann::json hparams_json(const HParams& hp) {
  nlohmann::json j = {{"n_vocab", hp.n_vocab},       {"n_ctx", hp.n_ctx},
                      {"n_embd", hp.n_embd},         {"n_layer", hp.n_layer},
                      {"n_ff", hp.n_ff},             {"n_head", hp.n_head},
                      {"n_head_kv", hp.n_head_kv},   {"head_dim_k", hp.head_dim_k},
                      {"head_dim_v", hp.head_dim_v}, {"rope_dim", hp.rope_dim},
                      {"rope_base", hp.rope_base},   {"norm_eps", hp.norm_eps},
                      {"norm", hp.use_layernorm ? "layernorm" : "rmsnorm"},
                      {"tied_output", hp.tied_output}};
  if (hp.sliding_window) j["sliding_window"] = hp.sliding_window;
  if (hp.attn_softcap) j["attn_softcap"] = hp.attn_softcap;
  if (hp.final_softcap) j["final_softcap"] = hp.final_softcap;
  if (!hp.rope_scaling.empty()) j["rope_scaling"] = {{"type", hp.rope_scaling}, {"factor", hp.rope_scale}};
  if (hp.n_expert) {
    j["n_expert"] = hp.n_expert;
    j["n_expert_used"] = hp.n_expert_used;
    j["n_ff_exp"] = hp.n_ff_exp;
    if (hp.n_expert_shared) j["n_expert_shared"] = hp.n_expert_shared;
    if (hp.n_ff_shexp) j["n_ff_shexp"] = hp.n_ff_shexp;
    if (hp.n_layer_dense_lead) j["n_layer_dense_lead"] = hp.n_layer_dense_lead;
  }
  if (hp.kv_lora_rank) {
    j["q_lora_rank"] = hp.q_lora_rank;
    j["kv_lora_rank"] = hp.kv_lora_rank;
  }
  return j;
}

std::string human(double v, const char* unit) {
  const char* p[] = {"", "K", "M", "G", "T"};
  int k = 0;
  while (v >= 1000 && k < 4) { v /= 1000; ++k; }
  char buf[64];
  std::snprintf(buf, sizeof buf, k ? "%.2f %s%s" : "%.0f %s%s", v, p[k], unit);
  return buf;
}

nlohmann::json info_gguf(const std::string& path) {
  auto f = gguf::File::open(path);
  nlohmann::json j;
  j["file"] = path;
  j["format"] = "gguf";
  j["gguf_version"] = f->version();
  j["file_size"] = f->file_size();
  j["architecture"] = f->architecture();
  j["name"] = f->get_string("general.name");
  if (f->find("general.file_type")) j["file_type"] = f->get_int("general.file_type", 0);
  std::map<std::string, TypeStat> types;
  uint64_t params = 0;
  for (const auto& t : f->tensors()) {
    auto& s = types[ggml_type_name(static_cast<uint32_t>(t.type))];
    s.count++;
    s.params += t.n_elements;
    s.bytes += t.n_bytes;
    params += t.n_elements;
  }
  j["n_params"] = params;
  j["n_tensors"] = f->tensors().size();
  for (const auto& [n, s] : types) j["tensor_types"][n] = {{"count", s.count}, {"params", s.params}, {"bytes", s.bytes}};
  try {
    j["hparams"] = hparams_json(hparams_from_gguf(*f));
  } catch (const Error& e) {
    j["hparams_error"] = e.what();
  }
  nlohmann::json tok;
  tok["model"] = f->get_string("tokenizer.ggml.model", "none");
  if (f->find("tokenizer.ggml.pre")) tok["pre"] = f->get_string("tokenizer.ggml.pre");
  if (const auto* t = f->find("tokenizer.ggml.tokens")) tok["n_tokens"] = t->as_array().size();
  if (f->find("tokenizer.ggml.bos_token_id")) tok["bos_id"] = f->get_int("tokenizer.ggml.bos_token_id", -1);
  if (f->find("tokenizer.ggml.eos_token_id")) tok["eos_id"] = f->get_int("tokenizer.ggml.eos_token_id", -1);
  tok["chat_template"] = f->find("tokenizer.chat_template") != nullptr;
  j["tokenizer"] = tok;
  return j;
}

nlohmann::json info_safetensors(const std::string& path) {
  auto f = safetensors::Folder::open(path);
  nlohmann::json j;
  j["file"] = path;
  j["format"] = "safetensors";
  j["shards"] = f->shard_count();
  uint64_t size = 0, params = 0;
  std::map<std::string, TypeStat> types;
  for (const auto* t : f->tensors()) {
    auto& s = types[t->dtype];
    s.count++;
    s.params += t->n_elements;
    s.bytes += t->n_bytes;
    params += t->n_elements;
  }
  std::error_code ec;
  for (auto& e : std::filesystem::directory_iterator(f->dir(), ec))
    if (e.path().extension() == ".safetensors") size += e.file_size();
  j["file_size"] = size;
  j["n_params"] = params;
  j["n_tensors"] = f->tensors().size();
  for (const auto& [n, s] : types) j["tensor_types"][n] = {{"count", s.count}, {"params", s.params}, {"bytes", s.bytes}};
  if (!f->config().empty()) {
    try {
      HParams hp = hparams_from_hf_config(f->config());
      j["architecture"] = hp.arch;
      j["hparams"] = hparams_json(hp);
    } catch (const Error& e) {
      j["hparams_error"] = e.what();
    }
  }
  std::string tj = f->tokenizer_json_path();
  j["tokenizer"] = {{"model", tj.empty() ? "none" : "tokenizer.json"}};
  return j;
}

void print_human(const nlohmann::json& j) {
  auto s = [&](const char* k) { return j.contains(k) ? (j[k].is_string() ? j[k].get<std::string>() : j[k].dump()) : std::string("-"); };
  std::printf("file          %s\n", s("file").c_str());
  std::printf("format        %s%s\n", s("format").c_str(),
              j.contains("gguf_version") ? (" v" + j["gguf_version"].dump()).c_str() : "");
  std::printf("file size     %s (%s bytes)\n", human(j["file_size"].get<double>(), "B").c_str(), s("file_size").c_str());
  std::printf("architecture  %s\n", s("architecture").c_str());
  if (j.contains("name") && !j["name"].get<std::string>().empty()) std::printf("name          %s\n", s("name").c_str());
  std::printf("parameters    %s (%s)\n", s("n_params").c_str(), human(j["n_params"].get<double>(), "").c_str());
  std::printf("tensors       %s\n", s("n_tensors").c_str());
  if (j.contains("hparams")) {
    std::printf("hyperparameters\n");
    for (auto& [k, v] : j["hparams"].items()) std::printf("  %-20s %s\n", k.c_str(), v.dump().c_str());
  }
  if (j.contains("hparams_error")) std::printf("hyperparameters: %s\n", s("hparams_error").c_str());
  std::printf("tensor types\n");
  for (auto& [k, v] : j["tensor_types"].items())
    std::printf("  %-8s %5s tensors %14s params %12s\n", k.c_str(), v["count"].dump().c_str(),
                v["params"].dump().c_str(), human(v["bytes"].get<double>(), "B").c_str());
  const auto& t = j["tokenizer"];
  std::printf("tokenizer     %s", t["model"].get<std::string>().c_str());
  if (t.contains("pre")) std::printf(" (pre: %s)", t["pre"].get<std::string>().c_str());
  if (t.contains("n_tokens")) std::printf(", %s tokens", t["n_tokens"].dump().c_str());
  if (t.contains("bos_id")) std::printf(", bos %s", t["bos_id"].dump().c_str());
  if (t.contains("eos_id")) std::printf(", eos %s", t["eos_id"].dump().c_str());
  if (t.value("chat_template", false)) std::printf(", chat template");
  std::printf("\n");
}

}  // namespace

Runner add_info(CLI::App& app) {
  auto* sub = app.add_subcommand("info", "Describe a model file: architecture, hyperparameters, tensor types, parameter count");
  auto path = std::make_shared<std::string>();
  auto json = std::make_shared<bool>(false);
  sub->add_option("MODEL", *path, "GGUF file or safetensors folder/file")->required();
  sub->add_flag("--json", *json, "Print one JSON object");
  return [=]() {
    nlohmann::json j = is_vindex_path(*path) ? info_vindex(*path) : model_is_gguf(*path) ? info_gguf(*path) : info_safetensors(*path);
    if (*json) std::printf("%s\n", j.dump().c_str());
    else print_human(j);
    return 0;
  };
}

}  // namespace larql::cli
