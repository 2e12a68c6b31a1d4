#include "edit/patch.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "edit/b64.h"
#include "engine/model.h"
#include "util/error.h"
#include "vindex/vindex.h"

namespace larql::edit {

using json = nlohmann::json;

const char* mode_name(Mode m) {
  switch (m) {
    case Mode::KNN: return "knn";
    case Mode::Feature: return "feature";
    case Mode::Memit: return "memit";
    case Mode::Mask: return "mask";
  }
  return "?";
}

Mode mode_from_name(const std::string& s) {
  std::string l;
  for (char c : s) l += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (l == "knn") return Mode::KNN;
  if (l == "feature") return Mode::Feature;
  if (l == "memit") return Mode::Memit;
  if (l == "mask") return Mode::Mask;
  throw Error("unknown edit mode '" + s + "' (knn, feature, memit or mask)");
}

float cosine(const float* a, const float* b, int64_t n) {
  double ab = 0, aa = 0, bb = 0;
  for (int64_t i = 0; i < n; ++i) ab += double(a[i]) * b[i], aa += double(a[i]) * a[i], bb += double(b[i]) * b[i];
  return aa > 0 && bb > 0 ? static_cast<float>(ab / std::sqrt(aa * bb)) : 0.0f;
}

BaseId base_id(const Model& m, const std::string& source) {
  const HParams& hp = m.hparams();
  BaseId b;
  b.family = hp.arch;
  b.n_layer = hp.n_layer;
  b.n_embd = hp.n_embd;
  b.n_ff = hp.n_ff;
  b.n_vocab = hp.n_vocab;
  b.source = source;
  std::vector<float> buf;
  auto add = [&](const std::vector<float>& v) { buf.insert(buf.end(), v.begin(), v.end()); };
  const ModelWeights& W = m.weights();
  add(W.output_norm.v);
  std::vector<float> row;
  for (int32_t t = 0; t < std::min<int64_t>(8, hp.n_vocab); ++t) {
    row.resize(static_cast<size_t>(W.token_embd.n_in));
    weight_row(W.token_embd, t, row.data());
    add(row);
  }
  for (const LayerWeights& L : W.layers) {
    add(L.attn_norm.v);
    add(L.ffn_norm.v);
    if (L.ffn_down.valid()) {
      row.resize(static_cast<size_t>(L.ffn_down.n_in));
      weight_row(L.ffn_down, 0, row.data());
      add(row);
    }
  }
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx",
                static_cast<unsigned long long>(vindex::xxh64(reinterpret_cast<const uint8_t*>(buf.data()), buf.size() * sizeof(float))));
  b.fingerprint = hex;
  return b;
}

int64_t Patch::n_facts() const {
  int64_t n = 0;
  for (const Operation& o : ops) n += static_cast<int64_t>(o.facts.size());
  return n;
}

namespace {

json fact_json(const Fact& f) {
  json j = {{"entity", f.entity}, {"relation", f.relation}, {"target", f.target}, {"prompt", f.prompt}, {"target_token", f.target_token}};
  if (!f.target_tokens.empty()) j["target_tokens"] = f.target_tokens;  // absent: first token only (older patches)
  return j;
}

template <typename T>
T field(const json& j, const char* name, const std::string& where) {
  if (!j.is_object() || !j.contains(name)) throw Error(where + ": missing field '" + name + "'");
  try {
    return j.at(name).get<T>();
  } catch (const json::exception&) {
    throw Error(where + ": field '" + name + "' has the wrong type");
  }
}

Fact fact_from(const json& j, const std::string& where, int64_t n_vocab) {
  Fact f;
  f.entity = field<std::string>(j, "entity", where);
  f.relation = field<std::string>(j, "relation", where);
  f.target = field<std::string>(j, "target", where);
  f.prompt = j.value("prompt", "");
  if (j.contains("target_token")) f.target_token = field<int32_t>(j, "target_token", where);
  if (f.target_token < -1 || f.target_token >= n_vocab) throw Error(where + ": target_token " + std::to_string(f.target_token) + " is out of range");
  if (j.contains("target_tokens")) {
    f.target_tokens = field<std::vector<int32_t>>(j, "target_tokens", where);
    for (size_t k = 0; k < f.target_tokens.size(); ++k)
      if (f.target_tokens[k] < 0 || f.target_tokens[k] >= n_vocab)
        throw Error(where + ": target_tokens[" + std::to_string(k) + "] is out of range");
    if (!f.target_tokens.empty() && f.target_tokens[0] != f.target_token)
      throw Error(where + ": target_tokens[0] differs from target_token");
  }
  return f;
}

std::vector<float> floats(const json& j, const char* name, const std::string& where) {
  return b64_to_floats(field<std::string>(j, name, where), where + "." + name);
}

}  // namespace

std::string patch_to_json(const Patch& p, int indent) {
  json ops = json::array();
  for (const Operation& o : p.ops) {
    json jo = {{"op", o.op}, {"mode", mode_name(o.mode)}, {"alpha", o.alpha}, {"confidence", o.confidence},
               {"layers", o.layers}, {"cancels", o.cancels}};
    jo["facts"] = json::array();
    for (const Fact& f : o.facts) jo["facts"].push_back(fact_json(f));
    json layers = json::array();
    for (const auto& [il, L] : o.ffn.layers) {
      json jl = {{"layer", il}, {"masked", L.masked}, {"rank", L.rank}};
      jl["slots"] = json::array();
      for (const FfnSlot& s : L.slots)
        jl["slots"].push_back({{"feature", s.feature}, {"gate", floats_to_b64(s.gate)}, {"up", floats_to_b64(s.up)},
                               {"down", floats_to_b64(s.down)}});
      if (L.rank > 0) jl["A"] = floats_to_b64(L.A), jl["B"] = floats_to_b64(L.B);
      layers.push_back(jl);
    }
    jo["ffn"] = layers;
    jo["knn"] = json::array();
    for (const KnnEntry& k : o.knn) {
      json jk = {{"layer", k.layer}, {"threshold", k.threshold}, {"key", floats_to_b64(k.key)}, {"fact", fact_json(k.fact)}};
      if (k.token >= 0) jk["step"] = k.step, jk["token"] = k.token;  // whole-word entries after the first token
      jo["knn"].push_back(jk);
    }
    if (!o.column_fact.empty()) jo["column_facts"] = o.column_fact;
    ops.push_back(jo);
  }
  json j = {{"format", "larql-patch"},
            {"version", kPatchVersion},
            {"float_encoding", "base64 little-endian float32"},
            {"description", p.description},
            {"base", {{"family", p.base.family}, {"n_layer", p.base.n_layer}, {"n_embd", p.base.n_embd},
                      {"n_ff", p.base.n_ff}, {"n_vocab", p.base.n_vocab}, {"fingerprint", p.base.fingerprint},
                      {"source", p.base.source}}},
            {"operations", ops}};
  return j.dump(indent);
}

Patch patch_from_json(const std::string& text, const std::string& where) {
  json j;
  try {
    j = json::parse(text);
  } catch (const json::exception& e) {
    throw Error(where + ": not valid JSON (" + e.what() + ")");
  }
  if (!j.is_object() || j.value("format", "") != "larql-patch") throw Error(where + ": not a LARQL patch (format != \"larql-patch\")");
  const int v = field<int>(j, "version", where);
  if (v != kPatchVersion) throw Error(where + ": patch version " + std::to_string(v) + " is not supported (this build reads " + std::to_string(kPatchVersion) + ")");
  Patch p;
  p.description = j.value("description", "");
  const json& b = j.contains("base") ? j["base"] : json();
  const std::string wb = where + ": base";
  p.base.family = field<std::string>(b, "family", wb);
  p.base.n_layer = field<int64_t>(b, "n_layer", wb);
  p.base.n_embd = field<int64_t>(b, "n_embd", wb);
  p.base.n_ff = field<int64_t>(b, "n_ff", wb);
  p.base.n_vocab = field<int64_t>(b, "n_vocab", wb);
  p.base.fingerprint = field<std::string>(b, "fingerprint", wb);
  p.base.source = b.value("source", "");
  const json& ops = j.contains("operations") && j["operations"].is_array() ? j["operations"] : throw Error(where + ": missing array 'operations'");
  for (size_t i = 0; i < ops.size(); ++i) {
    const std::string w = where + ": operations[" + std::to_string(i) + "]";
    const json& jo = ops[i];
    Operation o;
    o.op = field<std::string>(jo, "op", w);
    if (o.op != "insert" && o.op != "delete") throw Error(w + ": op must be \"insert\" or \"delete\"");
    o.mode = mode_from_name(field<std::string>(jo, "mode", w));
    o.alpha = jo.value("alpha", 0.0);
    o.confidence = jo.value("confidence", 1.0);
    o.cancels = jo.value("cancels", false);
    if (jo.contains("layers")) o.layers = field<std::vector<int64_t>>(jo, "layers", w);
    if (jo.contains("facts"))
      for (size_t k = 0; k < jo["facts"].size(); ++k) o.facts.push_back(fact_from(jo["facts"][k], w + ".facts[" + std::to_string(k) + "]", p.base.n_vocab));
    if (jo.contains("ffn"))
      for (size_t k = 0; k < jo["ffn"].size(); ++k) {
        const json& jl = jo["ffn"][k];
        const std::string wl = w + ".ffn[" + std::to_string(k) + "]";
        FfnLayerPatch L;
        const int64_t il = field<int64_t>(jl, "layer", wl);
        L.masked = jl.value("masked", std::vector<int64_t>{});
        L.rank = jl.value("rank", int64_t{0});
        if (jl.contains("slots"))
          for (size_t s = 0; s < jl["slots"].size(); ++s) {
            const json& js = jl["slots"][s];
            const std::string ws = wl + ".slots[" + std::to_string(s) + "]";
            L.slots.push_back({field<int64_t>(js, "feature", ws), floats(js, "gate", ws), floats(js, "up", ws), floats(js, "down", ws)});
          }
        if (L.rank > 0) L.A = floats(jl, "A", wl), L.B = floats(jl, "B", wl);
        o.ffn.layers[il] = std::move(L);
      }
    if (jo.contains("knn"))
      for (size_t k = 0; k < jo["knn"].size(); ++k) {
        const json& jk = jo["knn"][k];
        const std::string wk = w + ".knn[" + std::to_string(k) + "]";
        KnnEntry e;
        e.layer = field<int64_t>(jk, "layer", wk);
        e.threshold = field<float>(jk, "threshold", wk);
        e.key = floats(jk, "key", wk);
        if (static_cast<int64_t>(e.key.size()) != p.base.n_embd) throw Error(wk + ": key must have n_embd values");
        if (e.layer < 0 || e.layer >= p.base.n_layer) throw Error(wk + ": layer out of range");
        e.fact = fact_from(field<json>(jk, "fact", wk), wk + ".fact", p.base.n_vocab);
        e.step = jk.value("step", int64_t{0});
        if (jk.contains("token")) e.token = field<int32_t>(jk, "token", wk);
        if (e.token < -1 || e.token >= p.base.n_vocab) throw Error(wk + ": token out of range");
        o.knn.push_back(std::move(e));
      }
    if (jo.contains("column_facts")) {
      o.column_fact = field<std::vector<int64_t>>(jo, "column_facts", w);
      for (const auto& [il, L] : o.ffn.layers)
        if (L.rank > 0 && static_cast<int64_t>(o.column_fact.size()) != L.rank)
          throw Error(w + ": column_facts must have one entry per rank column (" + std::to_string(L.rank) + ")");
      for (int64_t c : o.column_fact)
        if (c < 0 || c >= static_cast<int64_t>(o.facts.size())) throw Error(w + ": column_facts entry " + std::to_string(c) + " names no fact");
    }
    o.ffn.validate(p.base.n_layer, p.base.n_embd, p.base.n_ff);
    p.ops.push_back(std::move(o));
  }
  return p;
}

void save_patch(const Patch& p, const std::string& path) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary);
    if (!f) throw Error("cannot write patch file '" + path + "'");
    f << patch_to_json(p, 1) << "\n";
    if (!f) throw Error("cannot write patch file '" + path + "'");
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) throw Error("cannot write patch file '" + path + "': " + ec.message());
}

Patch load_patch(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw Error("cannot read patch file '" + path + "'");
  std::stringstream ss;
  ss << f.rdbuf();
  Patch p = patch_from_json(ss.str(), path);
  p.path = path;
  return p;
}

}  // namespace larql::edit
