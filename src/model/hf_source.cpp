// A Hugging Face safetensors folder as a ModelSource: tensors renamed to their
// GGUF names (hf_names.h) and shaped as llama.cpp's converter writes them.
// Tensors the converter only renames are views of the mmap'd shards in their
// stored type (F32/F16/BF16); the ones it rewrites (llama Q/K permutation,
// gemma norm +1, stacked experts, gpt2 transposes, gpt-oss fused experts via
// hf_gpt_oss.h) are materialized once here.
#include <cmath>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <numbers>
#include <set>

#include "format/safetensors.h"
#include "model/hf_gpt_oss.h"
#include "model/hf_names.h"
#include "model/model_source.h"
#include "tokenizer/tokenizer.h"
#include "util/error.h"
#include "util/half.h"

namespace larql {

namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using safetensors::TensorInfo;

size_t elem_size(GGMLType t) { return t == GGMLType::F32 ? 4 : 2; }

std::string shape_str(const std::vector<int64_t>& v) {
  std::string s = "[";
  for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + std::to_string(v[i]);
  return s + "]";
}

float to_f32(GGMLType t, const uint8_t* p) {
  if (t == GGMLType::F32) {
    float f;
    std::memcpy(&f, p, 4);
    return f;
  }
  uint16_t h;
  std::memcpy(&h, p, 2);
  return t == GGMLType::F16 ? fp16_to_fp32(h) : bf16_to_fp32(h);
}

json read_json(const fs::path& p) {
  std::ifstream f(p);
  if (!f) throw Error("cannot open '" + p.string() + "'");
  try {
    return json::parse(f);
  } catch (const json::exception& e) {
    throw Error("invalid JSON in '" + p.string() + "': " + e.what());
  }
}

// tokenizer_config.json "chat_template": a string, or a list of {name, template}
// (the "default" entry is the chat template); else chat_template.jinja / .json.
std::string find_chat_template(const fs::path& dir) {
  if (fs::exists(dir / "tokenizer_config.json")) {
    json tc = read_json(dir / "tokenizer_config.json");
    if (tc.is_object() && tc.contains("chat_template")) {
      const json& ct = tc["chat_template"];
      if (ct.is_string()) return ct.get<std::string>();
      if (ct.is_array()) {
        for (const auto& e : ct)
          if (e.is_object() && e.value("name", json()) == "default" && e.contains("template") && e["template"].is_string())
            return e["template"].get<std::string>();
        return "";
      }
      if (!ct.is_null()) throw Error("tokenizer_config.json: 'chat_template' is neither a string nor a list");
    }
  }
  if (fs::exists(dir / "chat_template.jinja")) {
    std::ifstream f(dir / "chat_template.jinja", std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(f), {});
  }
  if (fs::exists(dir / "chat_template.json")) {
    json j = read_json(dir / "chat_template.json");
    if (j.is_object() && j.contains("chat_template") && j["chat_template"].is_string())
      return j["chat_template"].get<std::string>();
  }
  return "";
}

class HFSource final : public ModelSource {
 public:
  explicit HFSource(const std::string& path) : path_(path) {
    folder_ = safetensors::Folder::open(path);
    const fs::path dir = folder_->dir().empty() ? fs::path(".") : fs::path(folder_->dir());
    if (!fs::exists(dir / "config.json")) throw Error("'" + path + "': no config.json next to the safetensors weights");
    hp_ = hparams_from_hf_config(folder_->config());
    fs::path name = fs::path(folder_->dir()).lexically_normal();
    hp_.name = (name.has_filename() ? name : name.parent_path()).filename().string();
    map_tensors();
    merge_experts();
    build_fused();
    finish_vocab_and_head(dir);
    add_generated_tensors();
    check_against_specs();
    chat_template_ = find_chat_template(dir);
    std::set<std::string> files;
    for (const TensorInfo* t : folder_->tensors()) files.insert(t->file);
    for (const auto& f : files) file_bytes_ += fs::file_size(f);
  }

  const HParams& hparams() const override { return hp_; }
  const TensorRef* find(const std::string& name) const override {
    auto it = refs_.find(name);
    return it == refs_.end() ? nullptr : &it->second;
  }
  std::vector<const TensorRef*> tensors() const override {
    std::vector<const TensorRef*> out;
    for (const auto& n : order_) out.push_back(&refs_.at(n));
    return out;
  }
  std::unique_ptr<Tokenizer> tokenizer() const override {
    const std::string tj = folder_->tokenizer_json_path();
    if (tj.empty()) throw Error("'" + path_ + "' has no tokenizer.json");
    return Tokenizer::from_hf_json(tj);
  }
  std::string chat_template() const override { return chat_template_; }
  std::string path() const override { return path_; }
  uint64_t file_bytes() const override { return file_bytes_; }

 private:
  struct ExpertGroup {
    std::map<int64_t, const TensorInfo*> parts;
  };

  uint8_t* alloc(uint64_t n) {
    owned_.emplace_back(n);
    return owned_.back().data();
  }

  void add(const std::string& gguf, const std::string& hf, TensorRef r) {
    auto [it, fresh] = source_name_.emplace(gguf, hf);
    if (!fresh) throw Error("tensors '" + it->second + "' and '" + hf + "' both map to '" + gguf + "'");
    r.name = gguf;
    refs_[gguf] = std::move(r);
  }

  static GGMLType float_type(const TensorInfo& t) {
    if (t.type == GGMLType::F32 || t.type == GGMLType::F16 || t.type == GGMLType::BF16) return *t.type;
    throw Error("tensor '" + t.name + "' has dtype " + t.dtype + "; only F32, F16 and BF16 weights are supported");
  }

  // A view into the mmap, or a copy when the data is not aligned to its element size.
  TensorRef view(const TensorInfo& t, GGMLType type, std::vector<int64_t> ne) {
    TensorRef r;
    r.type = type;
    r.ne = std::move(ne);
    r.n_bytes = t.n_bytes;
    r.data = t.data;
    if (reinterpret_cast<uintptr_t>(t.data) % elem_size(type) != 0) {
      uint8_t* p = alloc(t.n_bytes);
      std::memcpy(p, t.data, t.n_bytes);
      r.data = p;
    }
    return r;
  }

  void map_tensors() {
    for (const TensorInfo* t : folder_->tensors()) {
      auto m = hf::map_tensor_name(hp_.arch, t->name, hp_.n_layer);
      if (!m)
        throw Error("tensor '" + t->name + "' (" + fs::path(t->file).filename().string() + ") has no GGUF name in a " +
                    hp_.arch + " model");
      if (m->kind == hf::Mapped::Kind::Skip) continue;
      if (m->kind == hf::Mapped::Kind::Fused) {
        hf::OssParts& parts = fused_[m->gguf];
        const safetensors::TensorInfo*& slot = m->xform == hf::Xform::OssBlocks   ? parts.blocks
                                               : m->xform == hf::Xform::OssScales ? parts.scales
                                               : m->xform == hf::Xform::OssDense  ? parts.dense
                                                                                  : parts.bias;
        slot = t;
        continue;
      }
      const GGMLType type = float_type(*t);
      if (m->kind == hf::Mapped::Kind::Expert) {
        if (t->shape.size() != 2) throw Error("expert tensor '" + t->name + "' is not 2-D: " + shape_str(t->shape));
        if (m->expert >= hp_.n_expert)
          throw Error("tensor '" + t->name + "': expert " + std::to_string(m->expert) + " but config.json has " +
                      std::to_string(hp_.n_expert) + " experts");
        auto& slot = experts_[m->gguf].parts[m->expert];
        if (slot) throw Error("tensors '" + slot->name + "' and '" + t->name + "' are the same expert");
        slot = t;
        continue;
      }
      add(m->gguf, t->name, transform(*t, type, m->xform));
    }
  }

  TensorRef transform(const TensorInfo& t, GGMLType type, hf::Xform xf) {
    std::vector<int64_t> ne(t.shape.rbegin(), t.shape.rend());  // HF [out, in] row-major == GGML ne [in, out]
    if (ne.empty()) ne.push_back(1);
    const size_t es = elem_size(type);
    switch (xf) {
      case hf::Xform::None:
        return view(t, type, ne);
      case hf::Xform::Squeeze:
        if (t.shape.size() == 2 && t.shape[0] == 1) ne.pop_back();
        if (ne.size() != 1) throw Error("tensor '" + t.name + "' should be [1, n] or [n], is " + shape_str(t.shape));
        return view(t, type, ne);
      case hf::Xform::PermuteQ:
      case hf::Xform::PermuteK: {
        // HF keeps each head's rotary dims as two halves [x0..x(d/2-1) | y0..]; llama.cpp's
        // "norm" RoPE wants pairs (x0, y0, x1, y1, ...): GGUF row h*d + 2i + j = HF row h*d + j*d/2 + i.
        const int64_t heads = xf == hf::Xform::PermuteQ ? hp_.n_head : hp_.n_head_kv;
        const int64_t rows = t.shape.empty() ? 1 : t.shape[0];
        if (rows % (2 * heads) != 0)
          throw Error("tensor '" + t.name + "' has " + std::to_string(rows) + " rows, not a multiple of 2 x " +
                      std::to_string(heads) + " heads");
        const int64_t d = rows / heads, half = d / 2;
        const uint64_t row_bytes = t.n_bytes / static_cast<uint64_t>(rows);
        uint8_t* out = alloc(t.n_bytes);
        for (int64_t h = 0; h < heads; ++h)
          for (int64_t i = 0; i < half; ++i)
            for (int64_t j = 0; j < 2; ++j)
              std::memcpy(out + static_cast<uint64_t>(h * d + 2 * i + j) * row_bytes,
                          t.data + static_cast<uint64_t>(h * d + j * half + i) * row_bytes, row_bytes);
        return owned(type, ne, out, t.n_bytes);
      }
      case hf::Xform::NormPlusOne: {
        // HF Gemma computes x * (1 + w). Done as the converter does it: BF16 is widened
        // to F32 first, F16 adds in half precision; the result is stored as F32.
        const uint64_t n = t.n_elements;
        uint8_t* out = alloc(n * 4);
        for (uint64_t i = 0; i < n; ++i) {
          float v = to_f32(type, t.data + i * es) + 1.0f;
          if (type == GGMLType::F16) v = fp16_to_fp32(fp32_to_fp16(v));
          std::memcpy(out + i * 4, &v, 4);
        }
        return owned(GGMLType::F32, ne, out, n * 4);
      }
      case hf::Xform::OssBlocks:
      case hf::Xform::OssScales:
      case hf::Xform::OssDense:
      case hf::Xform::OssBias:
        break;  // assembled by build_fused()
      case hf::Xform::Transpose: {
        // gpt2 Conv1D: HF [in, out] (y = x W) -> rows of `in` per output.
        if (t.shape.size() != 2) throw Error("Conv1D tensor '" + t.name + "' is not 2-D: " + shape_str(t.shape));
        const int64_t in = t.shape[0], outn = t.shape[1];
        uint8_t* out = alloc(t.n_bytes);
        for (int64_t i = 0; i < in; ++i)
          for (int64_t o = 0; o < outn; ++o)
            std::memcpy(out + static_cast<uint64_t>(o * in + i) * es, t.data + static_cast<uint64_t>(i * outn + o) * es, es);
        return owned(type, {in, outn}, out, t.n_bytes);
      }
    }
    throw Error("internal: unhandled transform for '" + t.name + "'");
  }

  static TensorRef owned(GGMLType type, std::vector<int64_t> ne, const uint8_t* data, uint64_t n) {
    TensorRef r;
    r.type = type;
    r.ne = std::move(ne);
    r.data = data;
    r.n_bytes = n;
    return r;
  }

  // Experts are stacked on the outermost axis: GGML ne [in, out, n_expert].
  void merge_experts() {
    for (const auto& [gguf, g] : experts_) {
      const TensorInfo* first = g.parts.begin()->second;
      for (int64_t e = 0; e < hp_.n_expert; ++e) {
        auto it = g.parts.find(e);
        if (it == g.parts.end()) {
          std::string name = first->name;
          const std::string key = ".experts." + std::to_string(g.parts.begin()->first) + ".";
          if (size_t p = name.find(key); p != std::string::npos) name.replace(p, key.size(), ".experts." + std::to_string(e) + ".");
          throw Error("missing expert tensor '" + name + "' (config.json has " + std::to_string(hp_.n_expert) + " experts)");
        }
        if (it->second->shape != first->shape || it->second->dtype != first->dtype)
          throw Error("expert tensors '" + first->name + "' " + shape_str(first->shape) + " " + first->dtype + " and '" +
                      it->second->name + "' " + shape_str(it->second->shape) + " " + it->second->dtype + " differ");
      }
      const GGMLType type = float_type(*first);
      const uint64_t part = first->n_bytes, total = part * static_cast<uint64_t>(hp_.n_expert);
      uint8_t* out = alloc(total);
      for (const auto& [e, t] : g.parts) std::memcpy(out + static_cast<uint64_t>(e) * part, t->data, part);
      add(gguf, first->name, owned(type, {first->shape[1], first->shape[0], hp_.n_expert}, out, total));
    }
  }

  // gpt-oss: fused expert tensors split into GGUF's gate/up/down (MXFP4 kept, re-packed).
  void build_fused() {
    for (const auto& [base, parts] : fused_)
      for (hf::OssTensor& t : hf::build_oss_experts(base, parts, hp_.n_expert)) {
        owned_.push_back(std::move(t.bytes));
        add(t.gguf, t.hf, owned(t.type, t.ne, owned_.back().data(), owned_.back().size()));
      }
  }

  void finish_vocab_and_head(const fs::path& dir) {
    const json& cfg = folder_->config();
    const bool gemma = hp_.arch == "gemma2" || hp_.arch == "gemma3";
    hp_.tied_output = gemma || !refs_.count("output.weight");
    const json* tie = cfg.contains("tie_word_embeddings") ? &cfg["tie_word_embeddings"] : nullptr;
    if (hp_.tied_output && !gemma && tie && tie->is_boolean() && !tie->get<bool>())
      throw Error("'" + path_ + "': config.json sets tie_word_embeddings=false but there is no lm_head.weight");
    auto it = refs_.find("token_embd.weight");
    if (it == refs_.end())
      throw Error("'" + path_ + "' lacks the token embedding '" + hf::hf_name_for(hp_.arch, "token_embd.weight") + "'");
    TensorRef& emb = it->second;
    if (emb.ne.size() != 2) throw Error("token embedding has shape " + shape_str(emb.ne) + ", expected 2-D");
    const int64_t rows = emb.ne[1];
    if (hp_.n_vocab > 0 && hp_.n_vocab != rows)
      throw Error("config.json vocab_size " + std::to_string(hp_.n_vocab) + " does not match the " + std::to_string(rows) +
                  " rows of '" + source_name_.at("token_embd.weight") + "'");
    // Gemma 3's embedding has padding rows past the tokenizer's vocabulary; the converter drops them.
    if (hp_.arch == "gemma3" && fs::exists(dir / "tokenizer.json")) {
      const int64_t n_tok = tokenizer()->n_vocab();
      if (n_tok < rows) {
        emb.ne[1] = n_tok;
        emb.n_bytes = emb.n_bytes / static_cast<uint64_t>(rows) * static_cast<uint64_t>(n_tok);
      }
    }
    hp_.n_vocab = emb.ne[1];
  }

  void add_f32(const std::string& name, const std::vector<float>& v) {
    uint8_t* p = alloc(v.size() * 4);
    std::memcpy(p, v.data(), v.size() * 4);
    refs_[name] = owned(GGMLType::F32, {static_cast<int64_t>(v.size())}, p, v.size() * 4);
    refs_[name].name = name;
    generated_.push_back(name);
  }

  // Tensors the converter derives from config.json: Llama 3's RoPE frequency factors
  // (rope_freqs) and Phi-3's LongRoPE factors (rope_factors_long/short).
  void add_generated_tensors() {
    const json& cfg = folder_->config();
    if (!cfg.contains("rope_scaling") || !cfg["rope_scaling"].is_object()) return;
    const json& rs = cfg["rope_scaling"];
    const std::string type = rs.contains("rope_type") && rs["rope_type"].is_string() ? rs["rope_type"].get<std::string>()
                             : rs.contains("type") && rs["type"].is_string()      ? rs["type"].get<std::string>()
                                                                                   : "";
    auto num = [&](const json& o, const char* k, double def) { return o.contains(k) && o[k].is_number() ? o[k].get<double>() : def; };
    if (hp_.arch == "llama" && type == "llama3") {
      // Llama 3.1 scaling: long wavelengths slowed by `factor`, short ones kept, a smooth
      // ramp between; float32 arithmetic as in the converter.
      const float base = static_cast<float>(hp_.rope_base), factor = static_cast<float>(num(rs, "factor", 8.0));
      const float lo = static_cast<float>(num(rs, "low_freq_factor", 1.0)), hi = static_cast<float>(num(rs, "high_freq_factor", 4.0));
      const float old_ctx = static_cast<float>(num(rs, "original_max_position_embeddings", num(cfg, "original_max_position_embeddings", 8192)));
      if (lo == hi) throw Error("config.json: rope_scaling low_freq_factor equals high_freq_factor");
      const float lo_wave = old_ctx / lo, hi_wave = old_ctx / hi;
      std::vector<float> f;
      const int64_t dim = hp_.head_dim_k;
      for (int64_t i = 0; i < dim; i += 2) {
        const float freq = 1.0f / std::pow(base, static_cast<float>(i) / static_cast<float>(dim));
        const float wave = static_cast<float>(2.0 * std::numbers::pi) / freq;
        if (wave < hi_wave) f.push_back(1.0f);
        else if (wave > lo_wave) f.push_back(factor);
        else {
          const float smooth = (old_ctx / wave - lo) / (hi - lo);
          f.push_back(1.0f / ((1.0f - smooth) / factor + smooth));
        }
      }
      add_f32("rope_freqs.weight", f);
    } else if (hp_.arch == "phi3" && (type == "longrope" || type == "su")) {
      for (const char* k : {"long_factor", "short_factor"}) {
        if (!rs.contains(k) || !rs[k].is_array())
          throw Error(std::string("config.json: rope_scaling.") + k + " is missing");
        std::vector<float> v;
        for (const auto& x : rs[k]) {
          if (!x.is_number()) throw Error(std::string("config.json: rope_scaling.") + k + " holds a non-number");
          v.push_back(x.get<float>());
        }
        if (static_cast<int64_t>(v.size()) * 2 != hp_.rope_dim)
          throw Error(std::string("config.json: rope_scaling.") + k + " has " + std::to_string(v.size()) +
                      " entries, expected " + std::to_string(hp_.rope_dim / 2));
        add_f32(std::string("rope_factors_") + (k[0] == 'l' ? "long" : "short") + ".weight", v);
      }
    }
  }

  // Every tensor the family needs, with the shape config.json implies, and nothing else.
  void check_against_specs() {
    std::set<std::string> expected;
    for (const TensorSpec& s : tensor_specs(hp_)) {
      expected.insert(s.name);
      auto it = refs_.find(s.name);
      if (it == refs_.end()) {
        if (s.optional) continue;
        const std::string hf = hf::hf_name_for(hp_.arch, s.name);
        throw Error("'" + path_ + "' lacks tensor '" + (hf.empty() ? s.name : hf) + "' (GGUF '" + s.name + "')");
      }
      if (it->second.ne != s.ne)
        throw Error("tensor '" + source_name_.at(s.name) + "' (GGUF '" + s.name + "') has GGML shape " +
                    shape_str(it->second.ne) + ", config.json implies " + shape_str(s.ne));
      order_.push_back(s.name);
    }
    for (const auto& [gguf, hf] : source_name_)
      if (!expected.count(gguf))
        throw Error("tensor '" + hf + "' (GGUF '" + gguf + "') is not part of a " + hp_.arch +
                    " model with this config.json");
    order_.insert(order_.end(), generated_.begin(), generated_.end());
  }

  std::string path_;
  std::unique_ptr<safetensors::Folder> folder_;
  HParams hp_;
  std::map<std::string, TensorRef> refs_;
  std::map<std::string, std::string> source_name_;  // GGUF name -> HF name
  std::map<std::string, ExpertGroup> experts_;
  std::map<std::string, hf::OssParts> fused_;  // gpt-oss: "blk.N.ffn_gate_up_exps" -> its parts
  std::vector<std::string> generated_;
  std::vector<std::string> order_;
  std::deque<std::vector<uint8_t>> owned_;  // materialized tensors (deque: stable addresses)
  std::string chat_template_;
  uint64_t file_bytes_ = 0;
};

}  // namespace

std::unique_ptr<ModelSource> open_hf_model(const std::string& path) { return std::make_unique<HFSource>(path); }

}  // namespace larql
