// Tokenizer::from_gguf: reads and validates the tokenizer.ggml.* metadata.
#include <cctype>
#include <cmath>

#include "format/gguf.h"
#include "tokenizer/tokenizer_impl.h"
#include "util/error.h"

namespace larql {
namespace {

const std::string kPrefix = "tokenizer.ggml.";

// Runs f, re-throwing any larql::Error with the metadata key in the message.
template <class F>
auto with_key(const std::string& key, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const Error& e) {
    throw Error("GGUF metadata '" + key + "': " + e.what());
  }
}

// Optional token id: absent -> def. Present ids must be in range; -1 (also
// stored as 0xFFFFFFFF by some converters) means "none".
int32_t read_id(const gguf::File& f, const std::string& name, int32_t def, int32_t n_vocab) {
  const std::string key = kPrefix + name;
  const gguf::Value* v = f.find(key);
  if (!v) return def;
  return with_key(key, [&]() -> int32_t {
    if (!v->is_integer()) throw Error("expected an integer token id, got " + v->to_string());
    const bool is_signed = v->type == gguf::ValueType::INT8 || v->type == gguf::ValueType::INT16 ||
                           v->type == gguf::ValueType::INT32 || v->type == gguf::ValueType::INT64;
    int64_t id;
    if (is_signed) id = v->i;
    else if (v->u == 0xFFFFFFFFull || v->u == ~0ull) id = -1;
    else id = v->u > static_cast<uint64_t>(INT32_MAX) ? INT64_MAX : static_cast<int64_t>(v->u);
    if (id == -1) return -1;
    if (id < 0 || id >= n_vocab)
      throw Error("token id " + v->to_string() + " out of range (vocabulary has " +
                  std::to_string(n_vocab) + " tokens)");
    return static_cast<int32_t>(id);
  });
}

bool read_bool(const gguf::File& f, const std::string& key, bool def) {
  return with_key(key, [&] { return f.get_bool(key, def); });
}

int32_t default_if_valid(int32_t id, int32_t n) { return id < n ? id : -1; }

// GGUF has no per-token lstrip/rstrip flags; the models whose Hugging Face
// tokenizer.json sets them are recognised by name, as llama.cpp does.
void apply_model_token_attributes(const gguf::File& f, Tokenizer::Impl& m) {
  auto set = [&](const char* text, std::vector<uint8_t>& flags, uint8_t v) {
    for (int32_t i = 0; i < m.n(); ++i)
      if (m.text[i] == text) flags[i] = v;
  };
  m.lstrip.assign(m.text.size(), 0);
  m.rstrip.assign(m.text.size(), 0);
  std::string name = with_key("general.name", [&] { return f.get_string("general.name", ""); });
  for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  const std::string& pre = m.pre_name;
  if (pre == "jina-v2-de" || pre == "jina-v2-es" || pre == "jina-v2-code") {
    set("<mask>", m.lstrip, 1);
  } else if (name.find("phi-3") != std::string::npos || name.find("phi3") != std::string::npos) {
    // Phi-3 chat tokens swallow the whitespace that follows them.
    for (int32_t i = 0; i < m.n(); ++i) {
      const TokenType t = m.type.empty() ? TokenType::Normal : m.type[i];
      if (t == TokenType::Control || t == TokenType::UserDefined || t == TokenType::Unknown) m.rstrip[i] = 1;
    }
    set("</s>", m.rstrip, 1);
    for (const char* t : {"<unk>", "<s>", "<|endoftext|>"}) set(t, m.rstrip, 0);
  }
}

}  // namespace

std::unique_ptr<Tokenizer> Tokenizer::from_gguf(const gguf::File& f) {
  auto m = std::make_unique<Impl>();

  const std::string model_key = kPrefix + "model";
  const gguf::Value* model_v = f.find(model_key);
  if (!model_v) throw Error("GGUF metadata '" + model_key + "' is missing: the file has no tokenizer");
  const std::string model = with_key(model_key, [&] { return model_v->as_string(); });
  m->pre_name = with_key(kPrefix + "pre", [&] { return f.get_string(kPrefix + "pre", ""); });

  // Token texts, scores, types.
  const std::string tokens_key = kPrefix + "tokens";
  const gguf::Value* tv = f.find(tokens_key);
  if (!tv) throw Error("GGUF metadata '" + tokens_key + "' is missing");
  m->text = with_key(tokens_key, [&] { return tv->as_string_array(); });
  if (m->text.empty()) throw Error("GGUF metadata '" + tokens_key + "' is an empty array");
  if (m->text.size() > static_cast<size_t>(INT32_MAX))
    throw Error("GGUF metadata '" + tokens_key + "' has too many tokens");
  const auto n = static_cast<int32_t>(m->text.size());

  if (const gguf::Value* sv = f.find(kPrefix + "scores")) {
    m->score = with_key(kPrefix + "scores", [&] { return sv->as_float_array(); });
    if (m->score.size() != m->text.size())
      throw Error("GGUF metadata '" + kPrefix + "scores' has " + std::to_string(m->score.size()) +
                  " entries but there are " + std::to_string(n) + " tokens");
    for (float& s : m->score)
      if (std::isnan(s)) s = -INFINITY;  // keep the merge order well defined
  }
  if (const gguf::Value* yv = f.find(kPrefix + "token_type")) {
    const auto types = with_key(kPrefix + "token_type", [&] { return yv->as_int_array(); });
    if (types.size() != m->text.size())
      throw Error("GGUF metadata '" + kPrefix + "token_type' has " + std::to_string(types.size()) +
                  " entries but there are " + std::to_string(n) + " tokens");
    m->type.resize(types.size());
    size_t bad = 0;
    for (size_t i = 0; i < types.size(); ++i) {
      const int64_t t = types[i];
      if (t < 0 || t > 6) {
        ++bad;
        m->type[i] = TokenType::Undefined;
      } else {
        m->type[i] = static_cast<TokenType>(t);
      }
    }
    if (bad) m->warn(std::to_string(bad) + " tokens have an unknown token_type; treated as undefined");
  }

  // Algorithm and its defaults (as llama.cpp).
  if (model == "llama") {
    m->algo = Algo::SpmScore;
    m->kind = "spm";
    m->decode_mode = DecodeMode::Spm;
    m->add_space_prefix = true;
    m->add_bos = true;
    m->bos = default_if_valid(1, n);
    m->eos = default_if_valid(2, n);
    m->unk = default_if_valid(0, n);
  } else if (model == "gpt2") {
    m->algo = Algo::BpeRank;
    m->kind = "bpe";
    m->decode_mode = DecodeMode::ByteLevel;
    m->unknown = UnknownPolicy::SingleBytes;
    bool known = false, ignore = false;
    m->pre_steps = tok::preset_for_pre(m->pre_name, &known, &ignore);
    m->ignore_merges = ignore;
    if (!known)
      m->warn("pre-tokenizer '" + (m->pre_name.empty() ? std::string("(missing)") : m->pre_name) +
              "' is not known; using the GPT-2 pattern (tokenization may differ from the original model)");
    if (m->pre_name.empty()) m->pre_name = "default";
    if (ignore) m->add_bos = true;  // the llama-3 family always starts with BOS
  } else if (model == "bert") {
    m->algo = Algo::WordPiece;
    m->kind = "wpm";
    m->decode_mode = DecodeMode::WordPiece;
    m->decode_strip_space = true;
    m->add_bos = true;
    m->cls = m->bos = default_if_valid(101, n);
    m->unk = default_if_valid(100, n);
    m->sep = default_if_valid(102, n);
    m->pad = default_if_valid(0, n);
    m->mask = default_if_valid(103, n);
    tok::Normalizer bert;
    bert.kind = tok::Normalizer::Kind::Bert;
    m->normalizers = {bert};
    tok::PreStep pre;
    pre.kind = tok::PreStep::Kind::Bert;
    m->pre_steps = {pre};
  } else {
    throw Error("GGUF metadata '" + model_key + "' = '" + model +
                "': unsupported tokenizer (supported: llama, gpt2, bert)");
  }
  if (m->pre_name.empty()) m->pre_name = "default";

  m->add_space_prefix = read_bool(f, kPrefix + "add_space_prefix", m->add_space_prefix);
  m->remove_extra_ws = read_bool(f, kPrefix + "remove_extra_whitespaces", false);
  if (m->algo == Algo::SpmScore) m->decode_strip_space = m->add_space_prefix;

  // Special ids (all validated against the vocabulary size).
  m->bos = read_id(f, "bos_token_id", m->bos, n);
  m->eos = read_id(f, "eos_token_id", m->eos, n);
  m->unk = read_id(f, "unknown_token_id", m->unk, n);
  m->sep = read_id(f, "seperator_token_id", m->sep, n);  // sic: the key GGUF writers use
  m->sep = read_id(f, "separator_token_id", m->sep, n);
  m->pad = read_id(f, "padding_token_id", m->pad, n);
  m->cls = read_id(f, "cls_token_id", m->cls, n);
  m->mask = read_id(f, "mask_token_id", m->mask, n);
  m->eot = read_id(f, "eot_token_id", -1, n);
  m->eom = read_id(f, "eom_token_id", -1, n);
  for (const char* k : {"fim_pad_token_id", "fim_rep_token_id", "fim_sep_token_id"}) {
    const int32_t id = read_id(f, k, -1, n);
    if (id >= 0) m->eog.insert(id);  // llama.cpp stops generation on these too
  }
  if (m->algo == Algo::WordPiece && m->cls < 0) m->cls = m->bos;
  m->add_bos = read_bool(f, kPrefix + "add_bos_token", m->add_bos);
  m->add_eos = read_bool(f, kPrefix + "add_eos_token", m->add_eos);
  if (m->algo == Algo::WordPiece) m->add_bos = m->add_eos = false;  // CLS/SEP are handled apart

  // Merges (byte-level BPE): "left right", rank = position.
  if (m->algo == Algo::BpeRank) {
    const std::string mk = kPrefix + "merges";
    const gguf::Value* mv = f.find(mk);
    if (!mv) throw Error("GGUF metadata '" + mk + "' is missing (required for tokenizer model 'gpt2')");
    const auto& arr = with_key(mk, [&]() -> const std::vector<gguf::Value>& { return mv->as_array(); });
    // A temporary index: finalize() builds the real one.
    TokenMap idx;
    idx.reserve(m->text.size());
    for (int32_t i = 0; i < n; ++i) idx.emplace(m->text[i], i);
    auto id_of = [&](std::string_view s) {
      auto it = idx.find(s);
      return it == idx.end() ? -1 : it->second;
    };
    m->merges.reserve(arr.size());
    size_t skipped = 0;
    std::string joined;
    for (size_t r = 0; r < arr.size(); ++r) {
      if (arr[r].type != gguf::ValueType::STRING)
        throw Error("GGUF metadata '" + mk + "'[" + std::to_string(r) + "] is not a string");
      const std::string& s = arr[r].s;
      // The separator is the first space after the first character (a
      // left part may itself be a space in non-byte-level vocabularies).
      const size_t sp = s.find(' ', 1);
      if (sp == std::string::npos) {
        ++skipped;
        continue;
      }
      const std::string_view a(s.data(), sp), b(s.data() + sp + 1, s.size() - sp - 1);
      joined.assign(a);
      joined.append(b);
      const int32_t ia = id_of(a), ib = id_of(b), ij = id_of(joined);
      if (ia < 0 || ib < 0 || ij < 0 || r > static_cast<size_t>(INT32_MAX)) {
        ++skipped;
        continue;
      }
      const uint64_t key = (static_cast<uint64_t>(static_cast<uint32_t>(ia)) << 32) | static_cast<uint32_t>(ib);
      m->merges.emplace(key, std::make_pair(static_cast<int32_t>(r), ij));
    }
    if (skipped) m->warn(std::to_string(skipped) + " merges skipped (malformed or naming unknown tokens)");
  }

  apply_model_token_attributes(f, *m);
  m->finalize();
  return std::unique_ptr<Tokenizer>(new Tokenizer(std::move(m)));
}

}  // namespace larql
