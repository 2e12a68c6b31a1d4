// GGUF metadata for a source that has none (a Hugging Face folder, or a
// vindex extracted from one): the <arch>.* keys from HParams and the
// tokenizer.ggml.* keys from the loaded tokenizer plus tokenizer.json's merges.
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "compile/compile_internal.h"
#include "format/gguf.h"
#include "model/hparams.h"
#include "tokenizer/tokenizer.h"
#include "util/error.h"

namespace larql::compile::detail {
namespace fs = std::filesystem;
using gguf::Value;

namespace {

// tokenizer.json next to the source (HF folder, or a vindex's copy of it).
fs::path tokenizer_json_of(const ModelSource& src) {
  fs::path p = src.path();
  if (!fs::is_directory(p)) p = p.parent_path();
  return p / "tokenizer.json";
}

// Merges as GGUF stores them ("left right"), in rank order.
std::vector<std::string> read_merges(const fs::path& tj) {
  std::ifstream in(tj, std::ios::binary);
  if (!in) return {};
  std::stringstream ss;
  ss << in.rdbuf();
  const auto j = nlohmann::json::parse(ss.str(), nullptr, false);
  std::vector<std::string> out;
  if (j.is_discarded() || !j.contains("model") || !j["model"].is_object()) return out;
  const auto& m = j["model"];
  if (!m.contains("merges") || !m["merges"].is_array()) return out;
  for (const auto& e : m["merges"]) {
    if (e.is_string()) out.push_back(e.get<std::string>());
    else if (e.is_array() && e.size() == 2 && e[0].is_string() && e[1].is_string())
      out.push_back(e[0].get<std::string>() + " " + e[1].get<std::string>());
  }
  return out;
}

}  // namespace

void synthesize_metadata(const ModelSource& src, gguf::Writer& w, Result& res) {
  const HParams& hp = src.hparams();
  hparams_to_gguf(hp, w);
  if (hp.rope_base_local && (hp.arch == "gemma3"))
    res.notes.push_back("gemma3 local rope base is not written (llama.cpp uses its own default of 10000)");
  auto tok = src.tokenizer();
  const int32_t n = tok->n_vocab();
  std::vector<std::string> tokens(static_cast<size_t>(n));
  std::vector<float> scores(static_cast<size_t>(n));
  std::vector<int32_t> types(static_cast<size_t>(n));
  for (int32_t i = 0; i < n; ++i) {
    tokens[static_cast<size_t>(i)] = tok->token_text(i);
    scores[static_cast<size_t>(i)] = tok->token_score(i);
    types[static_cast<size_t>(i)] = static_cast<int32_t>(tok->token_type(i));
  }
  const std::string kind = tok->kind();
  const auto merges = read_merges(tokenizer_json_of(src));
  if (kind == "spm") {
    // llama.cpp's SPM tokenizer merges by score: the rank of the merge that
    // forms a token becomes its score (earlier merge = higher score).
    std::map<std::string, int32_t> id;
    for (int32_t i = 0; i < n; ++i) id.emplace(tokens[static_cast<size_t>(i)], i);
    std::vector<bool> set(static_cast<size_t>(n), false);
    for (size_t r = 0; r < merges.size(); ++r) {
      const size_t sp = merges[r].find(' ');
      auto it = id.find(merges[r].substr(0, sp) + merges[r].substr(sp + 1));
      if (sp == std::string::npos || it == id.end() || set[static_cast<size_t>(it->second)]) continue;
      scores[static_cast<size_t>(it->second)] = -static_cast<float>(r);
      set[static_cast<size_t>(it->second)] = true;
    }
    for (int32_t i = 0; i < n; ++i)
      if (!set[static_cast<size_t>(i)] && types[static_cast<size_t>(i)] == 1) scores[static_cast<size_t>(i)] = -1e9f;
    w.set("tokenizer.ggml.model", Value::from_string("llama"));
    res.notes.push_back("SPM scores derived from tokenizer.json merge ranks");
  } else if (kind == "bpe") {
    w.set("tokenizer.ggml.model", Value::from_string("gpt2"));
    w.set("tokenizer.ggml.pre", Value::from_string("default"));
    res.notes.push_back("tokenizer.ggml.pre set to 'default': the HF pre-tokenizer regex has no llama.cpp name here");
  } else {
    w.set("tokenizer.ggml.model", Value::from_string("bert"));
  }
  w.set("tokenizer.ggml.tokens", Value::from_strings(tokens));
  w.set("tokenizer.ggml.scores", Value::from_f32s(scores));
  w.set("tokenizer.ggml.token_type", Value::from_i32s(types));
  if (kind != "spm" && !merges.empty()) w.set("tokenizer.ggml.merges", Value::from_strings(merges));
  auto id = [&](const char* key, int32_t v) {
    if (v >= 0) w.set(std::string("tokenizer.ggml.") + key, Value::from_u32(static_cast<uint32_t>(v)));
  };
  id("bos_token_id", tok->bos_id());
  id("eos_token_id", tok->eos_id());
  id("eot_token_id", tok->eot_id());
  id("unknown_token_id", tok->unk_id());
  id("seperator_token_id", tok->sep_id());  // sic: llama.cpp's key spelling
  id("padding_token_id", tok->pad_id());
  w.set("tokenizer.ggml.add_bos_token", Value::from_bool(tok->add_bos()));
  w.set("tokenizer.ggml.add_eos_token", Value::from_bool(tok->add_eos()));
  if (kind == "spm") w.set("tokenizer.ggml.add_space_prefix", Value::from_bool(tok->add_space_prefix()));
  const std::string chat = src.chat_template();
  if (!chat.empty()) w.set("tokenizer.chat_template", Value::from_string(chat));
  res.notes.push_back("GGUF metadata synthesized from hparams and the tokenizer (the source has no GGUF metadata)");
}

}  // namespace larql::compile::detail
