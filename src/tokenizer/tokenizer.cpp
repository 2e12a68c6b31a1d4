// Tokenizer front end: special-token partitioning, BOS/EOS, the per-algorithm
// text pipeline, detokenization and the accessors.
#include "tokenizer/tokenizer.h"

#include <algorithm>
#include <cstdio>

#include "tokenizer/tokenizer_impl.h"
#include "tokenizer/unicode.h"
#include "util/error.h"

namespace larql {
namespace {

constexpr const char* kSpace = "\xE2\x96\x81";  // U+2581, SentencePiece's visible space

bool is_ascii_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

// "<0xAB>" -> 0xAB, or -1.
int parse_byte_token(std::string_view t) {
  if (t.size() != 6 || t.substr(0, 3) != "<0x" || t[5] != '>') return -1;
  int v = 0;
  for (char c : t.substr(3, 2)) {
    v <<= 4;
    if (c >= '0' && c <= '9') v |= c - '0';
    else if (c >= 'A' && c <= 'F') v |= c - 'A' + 10;
    else if (c >= 'a' && c <= 'f') v |= c - 'a' + 10;
    else return -1;
  }
  return v;
}

void replace_all(std::string& s, std::string_view from, std::string_view to) {
  std::string r;
  r.reserve(s.size() + s.size() / 2);
  size_t i = 0;
  for (size_t j; (j = s.find(from, i)) != std::string::npos; i = j + from.size()) {
    r.append(s, i, j - i);
    r.append(to);
  }
  r.append(s, i, std::string::npos);
  s.swap(r);
}

// SentencePiece remove_extra_whitespaces: trim, and collapse runs of spaces.
std::string collapse_spaces(std::string_view s) {
  std::string r;
  r.reserve(s.size());
  bool pending = false;
  for (char c : s) {
    if (c == ' ') {
      pending = !r.empty();
      continue;
    }
    if (pending) r += ' ';
    pending = false;
    r += c;
  }
  return r;
}

// Tokens that end a turn in common chat formats (matched by exact text).
const char* const kEogTexts[] = {
    "<|eot_id|>", "<|im_end|>",  "<|end|>", "<end_of_turn>", "<|endoftext|>", "<|eom_id|>",
    "<EOT>",      "<|end_of_text|>", "<\uFF5Cend\u2581of\u2581sentence\uFF5C>",  // DeepSeek
};

}  // namespace

void Tokenizer::Impl::warn(std::string msg) {
  std::fprintf(stderr, "larql: tokenizer: %s\n", msg.c_str());
  warnings.push_back(std::move(msg));
}

void Tokenizer::Impl::finalize() {
  const int32_t nt = n();
  if (nt <= 0) throw Error("tokenizer has an empty vocabulary");
  score.resize(text.size(), 0.0f);
  type.resize(text.size(), TokenType::Normal);
  lstrip.resize(text.size(), 0);
  rstrip.resize(text.size(), 0);

  index.clear();
  index.reserve(text.size());
  size_t dups = 0;
  for (int32_t i = 0; i < nt; ++i) {
    if (text[i].empty()) continue;  // can never be matched
    if (!index.emplace(text[i], i).second) ++dups;
  }
  if (dups) warn(std::to_string(dups) + " duplicate token texts; the lowest id wins");

  for (int b = 0; b < 256; ++b) {
    char name[8];
    std::snprintf(name, sizeof(name), "<0x%02X>", b);
    int32_t id = find(name);
    if (id < 0 && algo == Algo::SpmScore && b < 0x80) id = find(std::string(1, static_cast<char>(b)));
    byte_token[b] = id;
  }

  if (algo == Algo::SpmScore) build_joinable_pairs();

  // End of generation.
  for (const char* t : kEogTexts) {
    const int32_t id = find(t);
    if (id < 0) continue;
    eog.insert(id);
    if (type[id] != TokenType::Control) type[id] = TokenType::Control;  // render/skip like a control token
  }
  if (eot < 0) {
    for (const char* t : {"<|eot_id|>", "<|im_end|>", "<end_of_turn>", "<|end|>", "<EOT>"}) {
      if ((eot = find(t)) >= 0) break;
    }
  }
  for (int32_t id : {eos, eot, eom})
    if (id >= 0) eog.insert(id);

  if (add_bos && bos < 0) throw Error("tokenizer: add_bos_token is true but there is no BOS token");
  if (add_eos && eos < 0) throw Error("tokenizer: add_eos_token is true but there is no EOS token");

  // Special-token matcher.
  for (auto& v : special_by_byte) v.clear();
  for (int32_t i = 0; i < nt; ++i) {
    const TokenType t = type[i];
    if (text[i].empty()) continue;
    if (t == TokenType::Control || t == TokenType::UserDefined || t == TokenType::Unknown)
      special_by_byte[static_cast<unsigned char>(text[i][0])].push_back(i);
  }
  for (auto& v : special_by_byte) {
    std::stable_sort(v.begin(), v.end(),
                     [&](int32_t a, int32_t b) { return text[a].size() > text[b].size(); });
  }

  // WordPiece lookup (keys in the GGUF form unless the loader filled them).
  if (algo == Algo::WordPiece && wp_index.empty()) {
    for (int32_t i = 0; i < nt; ++i)
      if (!text[i].empty()) wp_index.emplace(text[i], i);
  }
  max_token_bytes = 0;
  for (const auto& [k, v] : (algo == Algo::WordPiece ? wp_index : index))
    max_token_bytes = std::max(max_token_bytes, k.size());

  // Rendered pieces.
  piece.assign(text.size(), std::string());
  std::vector<std::string> wp_piece;
  if (algo == Algo::WordPiece) {
    wp_piece.resize(text.size());
    for (const auto& [k, id] : wp_index) {
      std::string p = k;
      replace_all(p, kSpace, " ");
      if (wp_piece[id].empty() || k.rfind(kSpace, 0) == 0) wp_piece[id] = p;
    }
  }
  for (int32_t i = 0; i < nt; ++i) {
    const std::string& t = text[i];
    const TokenType ty = type[i];
    if (ty == TokenType::Control || ty == TokenType::Unknown || ty == TokenType::UserDefined) {
      piece[i] = t;
      continue;
    }
    if (ty == TokenType::Byte) {
      const int b = parse_byte_token(t);
      if (b >= 0) {
        piece[i] = std::string(1, static_cast<char>(b));
        continue;
      }
    }
    switch (decode_mode) {
      case DecodeMode::Spm:
        piece[i] = t;
        replace_all(piece[i], kSpace, " ");
        break;
      case DecodeMode::ByteLevel: {
        std::string p;
        for (size_t k = 0; k < t.size();) {
          const size_t b = k;
          bool ok = true;
          const uint32_t cp = unicode::decode_utf8(t, k, &ok);
          const int byte = ok ? unicode::cp_to_byte(cp) : -1;
          if (byte >= 0) p += static_cast<char>(byte);
          else p.append(t, b, k - b);  // not a byte image: keep the text
        }
        piece[i] = std::move(p);
        break;
      }
      case DecodeMode::WordPiece:
        piece[i] = wp_piece.empty() || wp_piece[i].empty() ? t : wp_piece[i];
        if (wp_piece.empty()) replace_all(piece[i], kSpace, " ");
        break;
    }
  }
}

void Tokenizer::Impl::encode_raw(std::string_view raw, bool first_segment, bool /*after_special*/,
                                 std::vector<int32_t>& out) const {
  switch (algo) {
    case Algo::SpmScore: {
      // llama.cpp: every raw fragment (the first, and each after a special
      // token) gets the dummy-prefix space.
      std::string s = remove_extra_ws ? collapse_spaces(raw) : std::string(raw);
      if (remove_extra_ws && s.empty()) return;
      if (add_space_prefix) s.insert(s.begin(), ' ');
      replace_all(s, " ", kSpace);
      spm_encode(s, out);
      return;
    }
    case Algo::BpeRank:
    case Algo::WordPiece: {
      const std::string norm = normalize(normalizers, raw);
      std::vector<std::string> pieces;
      if (pre_steps.empty()) {
        if (!norm.empty()) pieces.push_back(norm);
      } else {
        tok::pre_tokenize(pre_steps, norm, first_segment, pieces);
      }
      for (const auto& p : pieces) {
        if (algo == Algo::BpeRank) bpe_encode(p, out);
        else wordpiece_encode(p, out);
      }
      return;
    }
  }
}

Tokenizer::Tokenizer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Tokenizer::~Tokenizer() = default;

std::vector<int32_t> Tokenizer::encode(std::string_view text, bool add_special, bool parse_special) const {
  const Impl& m = *impl_;
  std::vector<int32_t> out;
  out.reserve(text.size() / 3 + 4);
  const bool wpm = m.algo == Algo::WordPiece;
  if (add_special) {
    if (wpm) {
      const int32_t c = m.cls >= 0 ? m.cls : m.bos;
      if (c >= 0) out.push_back(c);
    } else if (m.add_bos && m.bos >= 0) {
      out.push_back(m.bos);
    }
  }

  size_t seg = 0;  // start of the pending raw text
  bool after_special = false;
  auto flush = [&](size_t end, bool strip_right) {
    std::string_view raw = text.substr(seg, end - seg);
    if (strip_right)
      while (!raw.empty() && is_ascii_space(raw.back())) raw.remove_suffix(1);
    if (!raw.empty()) m.encode_raw(raw, seg == 0, after_special, out);
  };
  size_t i = 0;
  while (i < text.size()) {
    int32_t hit = -1;
    for (int32_t id : m.special_by_byte[static_cast<unsigned char>(text[i])]) {
      const TokenType t = m.type[id];
      if (!parse_special && (t == TokenType::Control || t == TokenType::Unknown)) continue;
      const std::string& s = m.text[id];
      if (text.compare(i, s.size(), s) == 0) {
        hit = id;
        break;  // candidates are sorted longest first
      }
    }
    if (hit < 0) {
      ++i;
      continue;
    }
    flush(i, m.lstrip[hit] != 0);
    out.push_back(hit);
    i += m.text[hit].size();
    if (m.rstrip[hit])
      while (i < text.size() && is_ascii_space(text[i])) ++i;
    seg = i;
    after_special = true;
  }
  flush(text.size(), false);

  if (add_special) {
    if (wpm) {
      if (m.sep >= 0) out.push_back(m.sep);
    } else if (m.add_eos && m.eos >= 0) {
      out.push_back(m.eos);
    }
  }
  return out;
}

std::string Tokenizer::decode(const std::vector<int32_t>& ids, bool skip_special) const {
  const Impl& m = *impl_;
  std::string out;
  bool strip = m.decode_strip_space;
  for (int32_t id : ids) {
    if (id < 0 || id >= m.n()) throw Error("decode: token id " + std::to_string(id) + " out of range");
    const TokenType t = m.type[id];
    const bool special = t == TokenType::Control || t == TokenType::Unknown;
    if (special || t == TokenType::UserDefined) {
      // Special tokens split the text on encode, so the piece after one got
      // its own dummy prefix.
      if (!(special && skip_special)) out += m.piece[id];
      strip = m.decode_strip_space;
      continue;
    }
    const std::string& p = m.piece[id];
    if (strip && !p.empty() && p[0] == ' ') out.append(p, 1, std::string::npos);
    else out += p;
    if (!p.empty()) strip = false;
  }
  return out;
}

std::string Tokenizer::token_to_piece(int32_t id) const {
  if (id < 0 || id >= impl_->n()) throw Error("token id " + std::to_string(id) + " out of range");
  return impl_->piece[id];
}

int32_t Tokenizer::n_vocab() const { return impl_->n(); }
std::string Tokenizer::kind() const { return impl_->kind; }
std::string Tokenizer::pre() const { return impl_->pre_name; }
int32_t Tokenizer::bos_id() const { return impl_->bos; }
int32_t Tokenizer::eos_id() const { return impl_->eos; }
int32_t Tokenizer::eot_id() const { return impl_->eot; }
int32_t Tokenizer::unk_id() const { return impl_->unk; }
int32_t Tokenizer::sep_id() const { return impl_->sep; }
int32_t Tokenizer::pad_id() const { return impl_->pad; }
int32_t Tokenizer::cls_id() const { return impl_->cls; }
int32_t Tokenizer::mask_id() const { return impl_->mask; }
const std::set<int32_t>& Tokenizer::eog_ids() const { return impl_->eog; }
bool Tokenizer::is_eog(int32_t id) const { return impl_->eog.count(id) != 0; }
bool Tokenizer::add_bos() const { return impl_->add_bos; }
bool Tokenizer::add_eos() const { return impl_->add_eos; }
bool Tokenizer::add_space_prefix() const { return impl_->add_space_prefix; }
const std::vector<std::string>& Tokenizer::warnings() const { return impl_->warnings; }
int32_t Tokenizer::find_token(std::string_view text) const { return impl_->find(text); }

namespace {
void check_id(const Tokenizer::Impl& m, int32_t id) {
  if (id < 0 || id >= m.n()) throw Error("token id " + std::to_string(id) + " out of range");
}
}  // namespace

const std::string& Tokenizer::token_text(int32_t id) const {
  check_id(*impl_, id);
  return impl_->text[id];
}
float Tokenizer::token_score(int32_t id) const {
  check_id(*impl_, id);
  return impl_->score[id];
}
TokenType Tokenizer::token_type(int32_t id) const {
  check_id(*impl_, id);
  return impl_->type[id];
}

}  // namespace larql
