#include "vindex/vindex.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "engine/model.h"
#include "format/gguf.h"
#include "tensor/quants.h"
#include "tokenizer/tokenizer.h"
#include "util/error.h"
#include "util/thread_pool.h"
#include "vindex/manifest.h"
#include "vindex/vindex_impl.h"

namespace larql::vindex {
namespace fs = std::filesystem;
using nlohmann::json;

bool is_vindex(const std::string& path) {
  std::error_code ec;
  return fs::is_directory(path, ec) && fs::is_regular_file(fs::path(path) / "index.json", ec);
}

const Bound& Vindex::Impl::require(const std::string& name) const {
  const Bound* b = find(name);
  if (!b) throw Error("vindex '" + dir + "' lacks tensor '" + name + "'");
  return *b;
}

const FfnLayout& Vindex::Impl::ffn(const FeatureAddr& a) const {
  if (a.layer < 0 || a.layer >= static_cast<int64_t>(dense.size()))
    throw Error("layer " + std::to_string(a.layer) + " out of range (0.." + std::to_string(dense.size()) + ")");
  const FfnLayout& f = a.expert < 0 ? dense[static_cast<size_t>(a.layer)] : experts[static_cast<size_t>(a.layer)];
  if (!f.present())
    throw Error("layer " + std::to_string(a.layer) + (a.expert < 0 ? " has no dense FFN" : " has no experts"));
  if (a.expert >= 0 && a.expert >= f.n_experts)
    throw Error("expert " + std::to_string(a.expert) + " out of range (layer has " + std::to_string(f.n_experts) + ")");
  if (a.feature < 0 || a.feature >= f.n_features)
    throw Error("feature " + std::to_string(a.feature) + " out of range (layer " + std::to_string(a.layer) + " has " +
                std::to_string(f.n_features) + ")");
  return f;
}

std::unique_ptr<Tokenizer> Vindex::Impl::load_tokenizer() const {
  if (m.tokenizer_kind == "gguf") return Tokenizer::from_gguf(*gguf::File::open((fs::path(dir) / "tokenizer.gguf").string()));
  return Tokenizer::from_hf_json((fs::path(dir) / "tokenizer.json").string());
}

namespace {

std::string slurp(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  if (!f) throw Error("cannot read '" + p.string() + "'");
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

json parse_json(const fs::path& p) {
  try {
    return json::parse(slurp(p));
  } catch (const json::exception& e) {
    throw Error("'" + p.string() + "' is not valid JSON: " + e.what());
  }
}

void load_clusters(Vindex::Impl& v) {
  const fs::path p = fs::path(v.dir) / "clusters.json";
  if (v.m.n_clusters <= 0 || !fs::exists(p)) return;
  json j = parse_json(p);
  if (!j.is_array()) throw Error("clusters.json: not an array");
  try {
    for (const auto& c : j) {
      Cluster cl;
      cl.id = c.at("id").get<int64_t>();
      cl.label = c.at("label").get<std::string>();
      cl.size = c.at("size").get<int64_t>();
      for (const auto& t : c.at("top_tokens")) cl.top_tokens.push_back({t.at(0).get<int32_t>(), t.at(1).get<float>()});
      if (cl.id != static_cast<int64_t>(v.clusters.size())) throw Error("clusters.json: ids must be 0, 1, ...");
      v.clusters.push_back(std::move(cl));
    }
  } catch (const json::exception& e) {
    throw Error(std::string("clusters.json: ") + e.what());
  }
}

void load_probes(Vindex::Impl& v) {
  const fs::path p = fs::path(v.dir) / "probes.json";
  if (!v.m.has_probes || !fs::exists(p)) return;
  json j = parse_json(p);
  if (!j.is_array()) throw Error("probes.json: not an array");
  try {
    for (const auto& e : j) {
      ProbeLabel l;
      l.addr = {e.at("layer").get<int64_t>(), e.at("expert").get<int64_t>(), e.at("feature").get<int64_t>()};
      l.relation = e.at("relation").get<std::string>();
      l.score = e.at("score").get<float>();
      l.hits = e.at("hits").get<int64_t>();
      v.ffn(l.addr);  // validates the address
      v.probe_index[{l.addr.layer, l.addr.expert, l.addr.feature}] = v.probes.size();
      v.probes.push_back(std::move(l));
    }
  } catch (const json::exception& e) {
    throw Error(std::string("probes.json: ") + e.what());
  }
}

void check_tensor(const Vindex::Impl& v, const std::string& name, GGMLType want_type, const std::vector<int64_t>& ne) {
  const Bound* b = v.find(name);
  if (!b) return;
  if (b->entry->ne != ne || (want_type != GGMLType::F32 && b->entry->type != want_type))
    throw Error("vindex tensor '" + name + "' has an unexpected shape or type");
}

}  // namespace

Vindex::Vindex(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Vindex::~Vindex() = default;

std::unique_ptr<Vindex> Vindex::open(const std::string& dir, bool verify_checksums) {
  if (!is_vindex(dir)) throw Error("'" + dir + "' is not a vindex (no index.json)");
  if (verify_checksums) {
    VerifyResult r = verify(dir);
    if (!r.ok()) throw Error("vindex '" + dir + "' failed verification: " + r.problems.front());
  }
  auto v = std::make_unique<Impl>();
  v->dir = dir;
  v->m = manifest_from_json(parse_json(fs::path(dir) / "index.json"));
  std::map<std::string, size_t> file_idx;
  for (const auto& f : v->m.files) {
    const fs::path p = fs::path(dir) / f.path;
    std::error_code ec;
    const uint64_t sz = fs::file_size(p, ec);
    if (ec) throw Error("vindex file '" + f.path + "' is missing");
    if (sz != f.bytes)
      throw Error("vindex file '" + f.path + "' has " + std::to_string(sz) + " bytes, index.json says " +
                  std::to_string(f.bytes));
    file_idx[f.path] = v->files.size();
    v->files.push_back(f.path.ends_with(".bin") ? std::make_shared<MappedFile>(p.string()) : nullptr);
  }
  for (const auto& t : v->m.tensors) {
    auto it = file_idx.find(t.file);
    if (it == file_idx.end() || !v->files[it->second])
      throw Error("index.json: tensor '" + t.name + "' is in unlisted file '" + t.file + "'");
    const MappedFile& mf = *v->files[it->second];
    uint64_t end = 0;
    if (!checked_add(t.offset, t.n_bytes, &end) || end > mf.size())
      throw Error("index.json: tensor '" + t.name + "' lies outside '" + t.file + "'");
    if (!v->tensors.emplace(t.name, Bound{&t, mf.data() + t.offset}).second)
      throw Error("index.json: tensor '" + t.name + "' listed twice");
  }
  const int64_t E = v->m.hparams.n_embd;
  if (E <= 0) throw Error("index.json: hparams.n_embd must be positive");
  auto shape = [&](const std::string& n) {
    const Bound* b = v->find(n);
    return b ? b->entry->ne : std::vector<int64_t>{};
  };
  for (const auto& li : v->m.layers) {
    FfnLayout d = dense_layout(li.layer, shape), x = expert_layout(li.layer, shape);
    for (FfnLayout* f : {&d, &x}) {
      if (!f->present()) continue;
      std::vector<int64_t> ne = {E, f->n_features};
      if (f->n_experts) ne.push_back(f->n_experts);
      if (v->find(f->down_feat) == nullptr) throw Error("vindex lacks tensor '" + f->down_feat + "'");
      check_tensor(*v, f->down_feat, GGMLType::F32, ne);
      // Keys and values must cover every feature the layer claims, in a type we can read.
      const int64_t n_exp = std::max<int64_t>(1, f->n_experts);
      for (const auto& [name, row0] : {std::pair{f->gate, f->gate_row0}, std::pair{f->up, f->up_row0}}) {
        if (name.empty()) continue;
        const Bound& b = v->require(name);
        int64_t rows = 1;
        for (size_t d = 1; d < b.entry->ne.size(); ++d) rows *= b.entry->ne[d];
        if (b.entry->ne[0] != E || rows < row0 + n_exp * f->n_features || !can_dequantize(b.entry->type))
          throw Error("vindex tensor '" + name + "' has an unexpected shape or type for " +
                      std::to_string(f->n_features) + " features");
      }
      if (!can_dequantize(v->require(f->down_feat).entry->type))
        throw Error("vindex tensor '" + f->down_feat + "' has an unreadable type");
      std::vector<int64_t> mne = {v->m.down_top_k, f->n_features};
      if (f->n_experts) mne.push_back(f->n_experts);
      if (v->m.down_top_k > 0) {
        check_tensor(*v, f->meta_tok, GGMLType::I32, mne);
        check_tensor(*v, f->meta_score, GGMLType::F32, mne);
      }
      check_tensor(*v, f->cluster, GGMLType::I32, std::vector<int64_t>(ne.begin() + 1, ne.end()));
    }
    if (d.present() && d.n_features != li.n_features) throw Error("index.json: layer " + std::to_string(li.layer) + " feature count disagrees with its tensors");
    v->dense.push_back(d);
    v->experts.push_back(x);
  }
  v->tok = v->load_tokenizer();
  {
    std::vector<float> norm;
    if (const Bound* n = v->find("output_norm.weight")) {
      if (n->entry->ne[0] != E) throw Error("output_norm.weight has an unexpected shape");
      norm.resize(static_cast<size_t>(E));
      dequantize_row(n->entry->type, n->data, norm.data(), E);
    }
    const Bound* head = v->find("output.weight");
    if (!head) head = v->find("token_embd.weight");
    if (head && head->entry->ne.size() == 2 && head->entry->ne[0] == E)
      v->proj = std::make_unique<VocabProjector>(std::move(norm), make_view(head->entry->type, head->data, E, 0, head->entry->ne[1]),
                                                 v->m.hparams.final_softcap);
  }
  load_clusters(*v);
  load_probes(*v);
  return std::unique_ptr<Vindex>(new Vindex(std::move(v)));
}

const std::string& Vindex::path() const { return impl_->dir; }
const Manifest& Vindex::manifest() const { return impl_->m; }
const Tokenizer& Vindex::tokenizer() const { return *impl_->tok; }
std::unique_ptr<Tokenizer> Vindex::make_tokenizer() const { return impl_->load_tokenizer(); }

std::unique_ptr<ModelSource> Vindex::model_source() const {
  if (!impl_->m.has_inference())
    throw Error("vindex '" + impl_->dir + "' was extracted at --level browse: it has no inference weights");
  return make_model_source(*impl_);
}

std::unique_ptr<Model> Vindex::load_model() const { return Model::from_source(model_source()); }

}  // namespace larql::vindex
