// The three subword algorithms. Each works on one piece of text and appends ids.
// Merging uses a priority queue over a linked list of symbols, so a piece of n
// characters costs O(n log n), not O(n^2).
#include <queue>

#include "tokenizer/tokenizer_impl.h"
#include "tokenizer/unicode.h"

namespace larql {
namespace {

struct Symbol {
  size_t begin = 0, len = 0;  // byte range in the piece; len 0 = merged away
  int32_t prev = -1, next = -1;
  int32_t id = -1;            // BpeRank only
};

// Splits into UTF-8 characters; each invalid byte is a symbol of its own.
std::vector<Symbol> char_symbols(std::string_view s) {
  std::vector<Symbol> v;
  v.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    size_t n = unicode::valid_utf8_len(s, i);
    if (n == 0) n = 1;
    Symbol sym;
    sym.begin = i;
    sym.len = n;
    sym.prev = static_cast<int32_t>(v.size()) - 1;
    sym.next = static_cast<int32_t>(v.size()) + 1;
    v.push_back(sym);
    i += n;
  }
  if (!v.empty()) v.back().next = -1;
  return v;
}

// A character as a number: its code point, or 0x110000 + byte for an invalid byte.
uint32_t char_at(std::string_view s, size_t& i) {
  bool ok = true;
  const size_t b = i;
  const uint32_t cp = unicode::decode_utf8(s, i, &ok);
  return ok ? cp : 0x110000u + static_cast<unsigned char>(s[b]);
}
uint64_t char_pair_key(uint32_t a, uint32_t b) { return (static_cast<uint64_t>(a) << 22) | b; }

}  // namespace

void Tokenizer::Impl::build_joinable_pairs() {
  joinable_pairs.clear();
  for (int32_t id = 0; id < n(); ++id) {
    const std::string& t = text[id];
    size_t i = 0;
    if (t.empty()) continue;
    uint32_t prev = char_at(t, i);
    while (i < t.size()) {
      const uint32_t c = char_at(t, i);
      joinable_pairs.insert(char_pair_key(prev, c));
      prev = c;
    }
  }
}

void Tokenizer::Impl::spm_encode(std::string_view s, std::vector<int32_t>& out) const {
  // Cut the text where no token can span the boundary and merge each part on
  // its own: same result as one pass, but the work queues stay small.
  size_t seg = 0, i = 0;
  uint32_t prev = 0;
  while (i < s.size()) {
    const size_t at = i;
    const uint32_t c = char_at(s, i);
    if (at > seg && !joinable_pairs.count(char_pair_key(prev, c))) {
      spm_encode_segment(s.substr(seg, at - seg), out);
      seg = at;
    }
    prev = c;
  }
  if (seg < s.size()) spm_encode_segment(s.substr(seg), out);
}

void Tokenizer::Impl::spm_encode_segment(std::string_view s, std::vector<int32_t>& out) const {
  std::vector<Symbol> sym = char_symbols(s);
  struct Cand {
    float score;
    int32_t left, right;
    size_t size;
  };
  // Highest score first; on ties the leftmost pair.
  auto worse = [](const Cand& a, const Cand& b) {
    return a.score < b.score || (a.score == b.score && a.left > b.left);
  };
  std::priority_queue<Cand, std::vector<Cand>, decltype(worse)> q(worse);
  auto try_pair = [&](int32_t l, int32_t r) {
    if (l < 0 || r < 0) return;
    const size_t size = sym[l].len + sym[r].len;
    const int32_t id = find(s.substr(sym[l].begin, size));
    if (id < 0) return;
    q.push({score[id], l, r, size});
  };
  for (int32_t i = 1; i < static_cast<int32_t>(sym.size()); ++i) try_pair(i - 1, i);
  while (!q.empty()) {
    const Cand c = q.top();
    q.pop();
    Symbol& l = sym[c.left];
    Symbol& r = sym[c.right];
    // Stale: one side was merged since (lengths only grow).
    if (l.len == 0 || r.len == 0 || l.len + r.len != c.size || l.next != c.right) continue;
    l.len += r.len;
    r.len = 0;
    l.next = r.next;
    if (r.next >= 0) sym[r.next].prev = c.left;
    try_pair(l.prev, c.left);
    try_pair(c.left, l.next);
  }
  for (int32_t i = sym.empty() ? -1 : 0; i >= 0; i = sym[i].next) {
    const std::string_view t = s.substr(sym[i].begin, sym[i].len);
    const int32_t id = find(t);
    if (id >= 0) {
      out.push_back(id);
      continue;
    }
    // Byte fallback for characters that are not in the vocabulary.
    for (unsigned char b : t) {
      const int32_t bt = byte_token[b];
      if (bt >= 0) out.push_back(bt);
      else if (unk >= 0) out.push_back(unk);
    }
  }
}

void Tokenizer::Impl::bpe_encode(std::string_view s, std::vector<int32_t>& out) const {
  if (s.empty()) return;
  if (ignore_merges) {
    // A piece that is a whole vocabulary entry is kept (llama-3 style); added
    // tokens do not count, they are matched before pre-tokenization or not at all.
    const int32_t id = find(s);
    if (id >= 0 && (type[id] == TokenType::Normal || type[id] == TokenType::Byte)) {
      out.push_back(id);
      return;
    }
  }
  std::vector<Symbol> sym = char_symbols(s);
  const bool affixes = !cont_prefix.empty() || !eow_suffix.empty();
  std::string key;
  for (size_t i = 0; i < sym.size(); ++i) {
    const std::string_view ch = s.substr(sym[i].begin, sym[i].len);
    if (!affixes) {
      sym[i].id = find(ch);
      continue;
    }
    key.clear();
    if (i > 0) key += cont_prefix;
    key += ch;
    if (i + 1 == sym.size()) key += eow_suffix;
    sym[i].id = find(key);
  }
  struct Cand {
    int32_t rank, left, left_id, right_id, merged;
  };
  auto worse = [](const Cand& a, const Cand& b) {
    return a.rank > b.rank || (a.rank == b.rank && a.left > b.left);
  };
  std::priority_queue<Cand, std::vector<Cand>, decltype(worse)> q(worse);
  auto try_pair = [&](int32_t l, int32_t r) {
    if (l < 0 || r < 0 || sym[l].id < 0 || sym[r].id < 0) return;
    const uint64_t k = (static_cast<uint64_t>(static_cast<uint32_t>(sym[l].id)) << 32) |
                       static_cast<uint32_t>(sym[r].id);
    auto it = merges.find(k);
    if (it == merges.end()) return;
    q.push({it->second.first, l, sym[l].id, sym[r].id, it->second.second});
  };
  for (int32_t i = 1; i < static_cast<int32_t>(sym.size()); ++i) try_pair(i - 1, i);
  while (!q.empty()) {
    const Cand c = q.top();
    q.pop();
    Symbol& l = sym[c.left];
    // Stale unless both symbols still carry the ids the pair was made from
    // (a symbol's id changes whenever it absorbs a neighbour).
    if (l.len == 0 || l.id != c.left_id || l.next < 0) continue;
    Symbol& r = sym[l.next];
    if (r.id != c.right_id) continue;
    l.len += r.len;
    l.id = c.merged;
    r.len = 0;
    l.next = r.next;
    if (r.next >= 0) sym[r.next].prev = c.left;
    try_pair(l.prev, c.left);
    try_pair(c.left, l.next);
  }
  bool prev_unk = false;
  for (int32_t i = 0; i >= 0; i = sym[i].next) {
    if (sym[i].id >= 0) {
      out.push_back(sym[i].id);
      prev_unk = false;
      continue;
    }
    const std::string_view t = s.substr(sym[i].begin, sym[i].len);
    switch (unknown) {
      case UnknownPolicy::SingleBytes:
        for (char b : t) {
          const int32_t id = find(std::string_view(&b, 1));
          if (id >= 0) out.push_back(id);
        }
        break;
      case UnknownPolicy::ByteFallback: {
        bool all = true;
        for (unsigned char b : t) all = all && byte_token[b] >= 0;
        if (all) {
          for (unsigned char b : t) out.push_back(byte_token[b]);
          prev_unk = false;
          continue;
        }
        [[fallthrough]];
      }
      case UnknownPolicy::Unk:
        if (unk >= 0 && !(fuse_unk && prev_unk)) out.push_back(unk);
        prev_unk = unk >= 0;
        continue;
    }
    prev_unk = false;
  }
}

void Tokenizer::Impl::wordpiece_encode(std::string_view word, std::vector<int32_t>& out) const {
  if (word.empty()) return;
  // Character boundaries (invalid bytes count as characters).
  std::vector<size_t> cut;
  cut.reserve(word.size() + 1);
  for (size_t i = 0; i < word.size();) {
    cut.push_back(i);
    const size_t n = unicode::valid_utf8_len(word, i);
    i += n ? n : 1;
  }
  cut.push_back(word.size());
  const size_t n_chars = cut.size() - 1;
  if (n_chars > wp_max_chars) {
    if (unk >= 0) out.push_back(unk);
    return;
  }
  static const std::string kWordStart = "\xE2\x96\x81";  // "▁" marks a word-initial piece
  std::string first = kWordStart + std::string(word);
  const size_t before = out.size();
  size_t start = 0;  // index into cut
  while (start < n_chars) {
    int32_t found = -1;
    size_t end = n_chars;
    for (; end > start; --end) {
      const size_t nbytes = cut[end] - cut[start];
      std::string_view key = start == 0 ? std::string_view(first).substr(0, kWordStart.size() + nbytes)
                                        : word.substr(cut[start], nbytes);
      if (key.size() > max_token_bytes) continue;
      auto it = wp_index.find(key);
      if (it != wp_index.end()) {
        found = it->second;
        break;
      }
    }
    if (found < 0) {  // one unmatchable position makes the whole word unknown
      out.resize(before);
      if (unk >= 0) out.push_back(unk);
      return;
    }
    out.push_back(found);
    start = end;
  }
}

}  // namespace larql
