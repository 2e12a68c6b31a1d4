// Tokenizer::from_hf_json: Hugging Face tokenizer.json (BPE or WordPiece model,
// normalizers, pre-tokenizers, post-processor, decoder) plus the optional
// tokenizer_config.json next to it.
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "tokenizer/tokenizer_impl.h"
#include "util/error.h"

namespace larql {
namespace {

using json = nlohmann::json;
constexpr const char* kSpace = "\xE2\x96\x81";
constexpr int64_t kMaxVocab = 1 << 24;

[[noreturn]] void fail(const std::string& where, const std::string& what) {
  throw Error("tokenizer.json: " + where + ": " + what);
}

std::string str_or(const json& j, const char* key, const std::string& def) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return def;
  if (!it->is_string()) fail(key, "expected a string");
  return it->get<std::string>();
}
bool bool_or(const json& j, const char* key, bool def) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return def;
  if (!it->is_boolean()) fail(key, "expected a boolean");
  return it->get<bool>();
}

// A token given as "text" or {"content": "text", ...} (tokenizer_config.json).
std::string token_content(const json& j) {
  if (j.is_string()) return j.get<std::string>();
  if (j.is_object() && j.contains("content") && j["content"].is_string()) return j["content"].get<std::string>();
  return {};
}

tok::SplitBehavior parse_behavior(const json& j, const std::string& where) {
  const std::string b = j.is_string() ? j.get<std::string>() : std::string("Isolated");
  if (b == "Removed") return tok::SplitBehavior::Removed;
  if (b == "Isolated") return tok::SplitBehavior::Isolated;
  if (b == "MergedWithPrevious") return tok::SplitBehavior::MergedWithPrevious;
  if (b == "MergedWithNext") return tok::SplitBehavior::MergedWithNext;
  if (b == "Contiguous") return tok::SplitBehavior::Contiguous;
  fail(where, "unknown split behavior '" + b + "'");
}

// {"String": "..."} or {"Regex": "..."}.
std::shared_ptr<tok::Regex> parse_pattern(const json& j, const std::string& where) {
  if (j.is_object()) {
    if (j.contains("String") && j["String"].is_string()) return tok::compile_cached(j["String"].get<std::string>(), true);
    if (j.contains("Regex") && j["Regex"].is_string()) return tok::compile_cached(j["Regex"].get<std::string>(), false);
  }
  if (j.is_string()) return tok::compile_cached(j.get<std::string>(), true);
  fail(where, "pattern must be {\"String\": ...} or {\"Regex\": ...}");
}

struct Loader {
  Tokenizer::Impl& m;
  bool byte_level = false;     // a ByteLevel pre-tokenizer/decoder is present
  bool metaspace = false;      // "▁" is the space marker (Metaspace or Prepend/Replace)
  bool strip_decoded = false;  // decoder removes the dummy-prefix space
  bool wordpiece_decoder = false;

  void normalizer(const json& j) {
    if (j.is_null()) return;
    if (!j.is_object()) fail("normalizer", "expected an object");
    const std::string t = str_or(j, "type", "");
    using K = tok::Normalizer::Kind;
    tok::Normalizer n;
    if (t == "Sequence") {
      const json& list = j.value("normalizers", json::array());
      if (!list.is_array()) fail("normalizer.normalizers", "expected an array");
      for (const auto& x : list) normalizer(x);
      return;
    } else if (t == "Prepend") {
      n.kind = K::Prepend;
      n.text = str_or(j, "prepend", "");
      if (n.text == kSpace) metaspace = true;
    } else if (t == "Replace") {
      n.kind = K::Replace;
      n.pattern = parse_pattern(j.value("pattern", json()), "normalizer Replace");
      n.text = str_or(j, "content", "");
      if (n.text == kSpace) metaspace = true;
    } else if (t == "Lowercase") {
      n.kind = K::Lowercase;
    } else if (t == "NFD") {
      n.kind = K::Nfd;
    } else if (t == "StripAccents") {
      n.kind = K::StripAccents;
    } else if (t == "Strip") {
      n.kind = K::Strip;
      n.left = bool_or(j, "strip_left", true);
      n.right = bool_or(j, "strip_right", true);
    } else if (t == "BertNormalizer") {
      n.kind = K::Bert;
      n.clean_text = bool_or(j, "clean_text", true);
      n.chinese_chars = bool_or(j, "handle_chinese_chars", true);
      n.lowercase = bool_or(j, "lowercase", true);
      n.strip_accents = bool_or(j, "strip_accents", n.lowercase);  // null: follows lowercase
    } else if (t == "NFC" || t == "NFKC" || t == "NFKD" || t == "Precompiled") {
      m.warn("normalizer '" + t + "' is not implemented and is skipped");
      return;
    } else {
      fail("normalizer", "unsupported type '" + t + "'");
    }
    m.normalizers.push_back(std::move(n));
  }

  void pre_tokenizer(const json& j) {
    if (j.is_null()) return;
    if (!j.is_object()) fail("pre_tokenizer", "expected an object");
    const std::string t = str_or(j, "type", "");
    using K = tok::PreStep::Kind;
    tok::PreStep s;
    if (t == "Sequence") {
      const json& list = j.value("pretokenizers", json::array());
      if (!list.is_array()) fail("pre_tokenizer.pretokenizers", "expected an array");
      for (const auto& x : list) pre_tokenizer(x);
      return;
    } else if (t == "Split") {
      s.kind = K::Split;
      s.pattern = parse_pattern(j.value("pattern", json()), "pre_tokenizer Split");
      s.behavior = parse_behavior(j.value("behavior", json("Isolated")), "pre_tokenizer Split");
      s.invert = bool_or(j, "invert", false);
    } else if (t == "ByteLevel") {
      s.kind = K::ByteLevel;
      s.add_prefix_space = bool_or(j, "add_prefix_space", false);
      if (bool_or(j, "use_regex", true)) s.pattern = tok::compile_cached(tok::kGpt2Pattern, false);
      byte_level = true;
    } else if (t == "Metaspace") {
      s.kind = K::Metaspace;
      s.replacement = str_or(j, "replacement", kSpace);
      std::string scheme = str_or(j, "prepend_scheme", "");
      if (scheme.empty()) scheme = bool_or(j, "add_prefix_space", true) ? "always" : "never";
      if (scheme == "always") s.prepend = tok::PreStep::Prepend::Always;
      else if (scheme == "first") s.prepend = tok::PreStep::Prepend::First;
      else if (scheme == "never") s.prepend = tok::PreStep::Prepend::Never;
      else fail("pre_tokenizer Metaspace", "unknown prepend_scheme '" + scheme + "'");
      s.split = bool_or(j, "split", true);
      metaspace = true;
    } else if (t == "BertPreTokenizer") {
      s.kind = K::Bert;
    } else if (t == "Whitespace") {
      s.kind = K::Split;
      s.pattern = tok::compile_cached(R"(\w+|[^\w\s]+)", false);
      s.behavior = tok::SplitBehavior::Removed;
      s.invert = true;
    } else if (t == "WhitespaceSplit") {
      s.kind = K::WhitespaceSplit;
    } else if (t == "Digits") {
      s.kind = K::Digits;
      s.individual_digits = bool_or(j, "individual_digits", false);
    } else if (t == "Punctuation") {
      s.kind = K::Punctuation;
      s.behavior = parse_behavior(j.value("behavior", json("Isolated")), "pre_tokenizer Punctuation");
    } else {
      fail("pre_tokenizer", "unsupported type '" + t + "'");
    }
    m.pre_steps.push_back(std::move(s));
  }

  void decoder(const json& j) {
    if (j.is_null() || !j.is_object()) return;
    const std::string t = str_or(j, "type", "");
    if (t == "Sequence") {
      const json& list = j.value("decoders", json::array());
      if (list.is_array())
        for (const auto& x : list) decoder(x);
    } else if (t == "ByteLevel") {
      byte_level = true;
    } else if (t == "WordPiece") {
      wordpiece_decoder = true;
    } else if (t == "Metaspace") {
      metaspace = true;
      const std::string scheme = str_or(j, "prepend_scheme", "");
      strip_decoded = scheme.empty() ? bool_or(j, "add_prefix_space", true) : scheme != "never";
    } else if (t == "Replace") {
      if (str_or(j.value("pattern", json::object()), "String", "") == kSpace) metaspace = true;
    } else if (t == "Strip") {
      if (j.value("start", 0) > 0) strip_decoded = true;
    }
  }

  // Post-processor: which special tokens wrap a single sequence.
  void post_processor(const json& j, const std::function<int32_t(const std::string&)>& id_of) {
    if (j.is_null() || !j.is_object()) return;
    const std::string t = str_or(j, "type", "");
    if (t == "Sequence") {
      const json& list = j.value("processors", json::array());
      if (list.is_array())
        for (const auto& x : list) post_processor(x, id_of);
    } else if (t == "TemplateProcessing") {
      const json& single = j.value("single", json::array());
      const json& specials = j.value("special_tokens", json::object());
      bool seen_a = false;
      if (!single.is_array()) return;
      for (const auto& item : single) {
        if (item.contains("Sequence")) {
          seen_a = true;
          continue;
        }
        if (!item.contains("SpecialToken")) continue;
        const std::string name = str_or(item["SpecialToken"], "id", "");
        int32_t id = -1;
        if (specials.is_object() && specials.contains(name)) {
          const json& ids = specials[name].value("ids", json::array());
          if (ids.is_array() && !ids.empty() && ids[0].is_number_integer()) id = ids[0].get<int32_t>();
        }
        if (id < 0) id = id_of(name);
        if (id < 0 || id >= m.n()) fail("post_processor", "unknown special token '" + name + "'");
        if (!seen_a) {
          if (m.bos < 0 || !m.add_bos) m.bos = id;
          m.add_bos = true;
        } else {
          m.eos = id;
          m.add_eos = true;
        }
      }
    } else if (t == "BertProcessing" || t == "RobertaProcessing") {
      auto pair_id = [&](const char* key) -> int32_t {
        const json& p = j.value(key, json());
        if (!p.is_array() || p.size() != 2 || !p[1].is_number_integer()) return -1;
        const int64_t id = p[1].get<int64_t>();
        if (id < 0 || id >= m.n()) fail(std::string("post_processor.") + key, "token id out of range");
        return static_cast<int32_t>(id);
      };
      const int32_t cls = pair_id("cls"), sep = pair_id("sep");
      if (m.algo == Algo::WordPiece) {
        if (cls >= 0) m.cls = cls;
        if (sep >= 0) m.sep = sep;
      } else {
        if (cls >= 0) m.bos = cls, m.add_bos = true;
        if (sep >= 0) m.eos = sep, m.add_eos = true;
      }
    }
  }
};

void load_vocab(Tokenizer::Impl& m, const json& model, const json& added) {
  const json& vocab = model.value("vocab", json());
  if (!vocab.is_object()) fail("model.vocab", "expected an object mapping token -> id");
  int64_t max_id = -1;
  for (auto it = vocab.begin(); it != vocab.end(); ++it) {
    if (!it.value().is_number_integer()) fail("model.vocab", "id of '" + it.key() + "' is not an integer");
    const int64_t id = it.value().get<int64_t>();
    if (id < 0 || id >= kMaxVocab) fail("model.vocab", "id " + std::to_string(id) + " of '" + it.key() + "' out of range");
    max_id = std::max(max_id, id);
  }
  if (!added.is_null() && !added.is_array()) fail("added_tokens", "expected an array");
  if (added.is_array()) {
    for (const auto& a : added) {
      if (!a.is_object() || !a.contains("id") || !a["id"].is_number_integer() || !a.contains("content") ||
          !a["content"].is_string())
        fail("added_tokens", "each entry needs an integer 'id' and a string 'content'");
      const int64_t id = a["id"].get<int64_t>();
      if (id < 0 || id >= kMaxVocab) fail("added_tokens", "id " + std::to_string(id) + " out of range");
      max_id = std::max(max_id, id);
    }
  }
  if (max_id < 0) fail("model.vocab", "the vocabulary is empty");
  const size_t n = static_cast<size_t>(max_id) + 1;
  m.text.assign(n, std::string());
  m.type.assign(n, TokenType::Unused);
  m.score.assign(n, 0.0f);
  m.lstrip.assign(n, 0);
  m.rstrip.assign(n, 0);
  for (auto it = vocab.begin(); it != vocab.end(); ++it) {
    const auto id = static_cast<size_t>(it.value().get<int64_t>());
    if (m.type[id] != TokenType::Unused && m.text[id] != it.key())
      fail("model.vocab", "id " + std::to_string(id) + " is used twice");
    m.text[id] = it.key();
    m.type[id] = TokenType::Normal;
  }
  if (added.is_array()) {
    for (const auto& a : added) {
      const auto id = static_cast<size_t>(a["id"].get<int64_t>());
      const std::string content = a["content"].get<std::string>();
      if (m.type[id] == TokenType::Normal && m.text[id] != content)
        m.warn("added token " + std::to_string(id) + " '" + content + "' replaces vocabulary entry '" + m.text[id] + "'");
      m.text[id] = content;
      m.type[id] = bool_or(a, "special", false) ? TokenType::Control : TokenType::UserDefined;
      m.lstrip[id] = bool_or(a, "lstrip", false);
      m.rstrip[id] = bool_or(a, "rstrip", false);
    }
  }
  size_t holes = 0;
  for (size_t i = 0; i < n; ++i) holes += m.type[i] == TokenType::Unused;
  if (holes) m.warn(std::to_string(holes) + " ids have no token (gaps in the vocabulary)");
}

void load_merges(Tokenizer::Impl& m, const json& merges) {
  if (merges.is_null()) return;
  if (!merges.is_array()) fail("model.merges", "expected an array");
  TokenMap idx;
  for (int32_t i = 0; i < m.n(); ++i)
    if (m.type[i] != TokenType::Unused) idx.emplace(m.text[i], i);
  auto id_of = [&](const std::string& s) {
    auto it = idx.find(s);
    return it == idx.end() ? -1 : it->second;
  };
  m.merges.reserve(merges.size());
  size_t skipped = 0;
  for (size_t r = 0; r < merges.size(); ++r) {
    const json& e = merges[r];
    std::string a, b;
    if (e.is_string()) {  // "left right"
      const std::string s = e.get<std::string>();
      const size_t sp = s.find(' ');
      if (sp == std::string::npos || s.find(' ', sp + 1) != std::string::npos)
        fail("model.merges[" + std::to_string(r) + "]", "expected two tokens separated by one space");
      a = s.substr(0, sp);
      b = s.substr(sp + 1);
    } else if (e.is_array() && e.size() == 2 && e[0].is_string() && e[1].is_string()) {  // ["left", "right"]
      a = e[0].get<std::string>();
      b = e[1].get<std::string>();
    } else {
      fail("model.merges[" + std::to_string(r) + "]", "expected \"a b\" or [\"a\", \"b\"]");
    }
    std::string joined = a;
    const std::string& pre = m.cont_prefix;
    joined += !pre.empty() && b.compare(0, pre.size(), pre) == 0 ? b.substr(pre.size()) : b;
    const int32_t ia = id_of(a), ib = id_of(b), ij = id_of(joined);
    if (ia < 0 || ib < 0 || ij < 0) {
      ++skipped;
      continue;
    }
    const uint64_t key = (static_cast<uint64_t>(static_cast<uint32_t>(ia)) << 32) | static_cast<uint32_t>(ib);
    m.merges.emplace(key, std::make_pair(static_cast<int32_t>(r), ij));  // first (lowest rank) wins
  }
  if (skipped) m.warn(std::to_string(skipped) + " merges name tokens missing from the vocabulary; skipped");
}

std::unique_ptr<Tokenizer::Impl> build(std::string_view text, std::string_view config_text) {
  auto m = std::make_unique<Tokenizer::Impl>();
  json j = json::parse(text.begin(), text.end());
  if (!j.is_object()) fail("top level", "expected an object");
  json cfg;
  if (!config_text.empty()) {
    cfg = json::parse(config_text.begin(), config_text.end());
    if (!cfg.is_object()) throw Error("tokenizer_config.json: expected an object");
  }
  const json& model = j.value("model", json());
  if (!model.is_object()) fail("model", "missing or not an object");
  std::string mtype = str_or(model, "type", "");
  if (mtype.empty()) {  // old files omit it
    if (model.contains("merges")) mtype = "BPE";
    else if (model.contains("max_input_chars_per_word") || model.contains("continuing_subword_prefix")) mtype = "WordPiece";
  }
  m->pre_name = "hf";
  if (mtype == "BPE") {
    m->algo = Algo::BpeRank;
    m->cont_prefix = str_or(model, "continuing_subword_prefix", "");
    m->eow_suffix = str_or(model, "end_of_word_suffix", "");
    m->ignore_merges = bool_or(model, "ignore_merges", false);
    m->fuse_unk = bool_or(model, "fuse_unk", false);
    m->unknown = bool_or(model, "byte_fallback", false) ? UnknownPolicy::ByteFallback : UnknownPolicy::Unk;
    if (model.contains("dropout") && model["dropout"].is_number() && model["dropout"].get<double>() > 0)
      m->warn("BPE dropout is ignored (deterministic encoding)");
  } else if (mtype == "WordPiece") {
    m->algo = Algo::WordPiece;
    m->cont_prefix = str_or(model, "continuing_subword_prefix", "##");
    const json& mx = model.value("max_input_chars_per_word", json(100));
    if (!mx.is_number_integer() || mx.get<int64_t>() <= 0) fail("model.max_input_chars_per_word", "expected a positive integer");
    m->wp_max_chars = static_cast<size_t>(mx.get<int64_t>());
  } else {
    fail("model.type", "unsupported model '" + mtype + "' (supported: BPE, WordPiece)");
  }

  load_vocab(*m, model, j.value("added_tokens", json()));
  if (m->algo == Algo::BpeRank) load_merges(*m, model.value("merges", json()));

  Loader L{*m};
  L.normalizer(j.value("normalizer", json()));
  L.pre_tokenizer(j.value("pre_tokenizer", json()));
  L.decoder(j.value("decoder", json()));

  TokenMap idx;
  for (int32_t i = 0; i < m->n(); ++i)
    if (!m->text[i].empty()) idx.emplace(m->text[i], i);
  auto id_of = [&](const std::string& s) -> int32_t {
    auto it = idx.find(s);
    return it == idx.end() ? -1 : it->second;
  };

  const std::string unk_text = str_or(model, "unk_token", "");
  if (!unk_text.empty()) {
    m->unk = id_of(unk_text);
    if (m->unk < 0) fail("model.unk_token", "'" + unk_text + "' is not in the vocabulary");
    m->type[m->unk] = TokenType::Unknown;
  }

  if (m->algo == Algo::WordPiece) {
    m->kind = "wpm";
    m->decode_mode = DecodeMode::WordPiece;
    m->decode_strip_space = true;
    // Lookup keys in the GGUF convention: "▁word" starts a word, "piece" continues one.
    const std::string& pre = m->cont_prefix;
    for (int32_t i = 0; i < m->n(); ++i) {
      const std::string& t = m->text[i];
      if (t.empty()) continue;
      if (!pre.empty() && t.size() > pre.size() && t.compare(0, pre.size(), pre) == 0)
        m->wp_index.emplace(t.substr(pre.size()), i);
      else
        m->wp_index.emplace(kSpace + t, i);
    }
    m->cls = id_of("[CLS]");
    m->sep = id_of("[SEP]");
    m->pad = id_of("[PAD]");
    m->mask = id_of("[MASK]");
  } else {
    if (m->unknown == UnknownPolicy::ByteFallback) {
      for (int32_t i = 0; i < m->n(); ++i) {
        const std::string& t = m->text[i];
        if (m->type[i] == TokenType::Normal && t.size() == 6 && t.compare(0, 3, "<0x") == 0 && t[5] == '>')
          m->type[i] = TokenType::Byte;
      }
    }
    const bool spm_like = L.metaspace && !L.byte_level;
    m->kind = spm_like ? "spm" : "bpe";
    m->decode_mode = L.byte_level ? DecodeMode::ByteLevel : DecodeMode::Spm;
    m->decode_strip_space = spm_like && L.strip_decoded;
    m->add_space_prefix = spm_like && L.strip_decoded;
    for (const char* t : {"<s>", "<|begin_of_text|>", "<bos>", "<|startoftext|>"})
      if (m->bos < 0) m->bos = id_of(t);
    for (const char* t : {"</s>", "<|end_of_text|>", "<|endoftext|>", "<eos>"})
      if (m->eos < 0) m->eos = id_of(t);
  }

  L.post_processor(j.value("post_processor", json()), id_of);

  // tokenizer_config.json overrides.
  if (cfg.is_object()) {
    auto cfg_id = [&](const char* key, int32_t& slot) {
      if (!cfg.contains(key)) return;
      const std::string t = token_content(cfg[key]);
      if (t.empty()) return;
      const int32_t id = id_of(t);
      if (id < 0) throw Error(std::string("tokenizer_config.json: ") + key + " '" + t + "' is not in the vocabulary");
      slot = id;
    };
    cfg_id("bos_token", m->bos);
    cfg_id("eos_token", m->eos);
    cfg_id("unk_token", m->unk);
    cfg_id("pad_token", m->pad);
    if (m->algo == Algo::WordPiece) {
      cfg_id("cls_token", m->cls);
      cfg_id("sep_token", m->sep);
      cfg_id("mask_token", m->mask);
    }
    for (auto [key, slot] : {std::pair<const char*, bool*>{"add_bos_token", &m->add_bos}, {"add_eos_token", &m->add_eos}}) {
      if (cfg.contains(key) && cfg[key].is_boolean()) *slot = cfg[key].get<bool>();
    }
  }
  if (m->algo == Algo::WordPiece) {
    if (m->cls >= 0) m->bos = m->cls;
    m->add_bos = m->add_eos = false;  // CLS/SEP are added apart
  }
  m->finalize();
  return m;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error("cannot open '" + path + "'");
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) throw Error("cannot read '" + path + "'");
  return ss.str();
}

}  // namespace

std::unique_ptr<Tokenizer> Tokenizer::from_hf_json_text(std::string_view tokenizer_json, std::string_view config_json) {
  try {
    return std::unique_ptr<Tokenizer>(new Tokenizer(build(tokenizer_json, config_json)));
  } catch (const json::exception& e) {
    throw Error(std::string("tokenizer.json: ") + e.what());
  }
}

std::unique_ptr<Tokenizer> Tokenizer::from_hf_json(const std::string& path) {
  const std::string text = read_file(path);
  std::string cfg;
  const auto cfg_path = std::filesystem::path(path).parent_path() / "tokenizer_config.json";
  std::error_code ec;
  if (std::filesystem::is_regular_file(cfg_path, ec)) cfg = read_file(cfg_path.string());
  return from_hf_json_text(text, cfg);
}

}  // namespace larql
