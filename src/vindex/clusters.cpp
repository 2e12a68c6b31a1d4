// Down columns, the vocabulary projector and relation clusters (k-means over
// the unit output directions of every feature).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <map>
#include <random>

#include <nlohmann/json.hpp>

#include "model/model_source.h"
#include "tensor/quants.h"
#include "tokenizer/tokenizer.h"
#include "util/error.h"
#include "util/half.h"
#include "util/mapped_file.h"
#include "util/thread_pool.h"
#include "vindex/extract_internal.h"

namespace larql::vindex {
namespace fs = std::filesystem;

std::vector<float> down_columns(const ModelSource& src, const FfnLayout& f, int64_t n_embd) {
  const TensorRef& t = src.require(f.down);
  const int64_t F = f.n_features, n_exp = std::max<int64_t>(1, f.n_experts);
  if (t.ne[0] != F || t.ne[1] != n_embd) throw Error("tensor '" + f.down + "' has an unexpected shape");
  std::vector<float> cols(static_cast<size_t>(n_exp * F * n_embd)), row(static_cast<size_t>(F));
  for (int64_t e = 0; e < n_exp; ++e) {
    WeightView w = make_view(t.type, t.data, F, e * n_embd, n_embd);
    float* dst = cols.data() + e * F * n_embd;
    for (int64_t o = 0; o < n_embd; ++o) {
      weight_row(w, o, row.data());
      for (int64_t i = 0; i < F; ++i) dst[i * n_embd + o] = row[static_cast<size_t>(i)];
    }
  }
  return cols;
}

VocabProjector projector_for(const ModelSource& src) {
  const HParams& hp = src.hparams();
  std::vector<float> norm;
  if (const TensorRef* n = src.find("output_norm.weight")) {
    if (n->ne[0] != hp.n_embd) throw Error("output_norm.weight has an unexpected shape");
    norm.resize(static_cast<size_t>(hp.n_embd));
    dequantize_row(n->type, n->data, norm.data(), hp.n_embd);
  }
  const TensorRef* head = src.find("output.weight");
  if (!head) head = &src.require("token_embd.weight");
  if (head->ne.size() != 2 || head->ne[0] != hp.n_embd) throw Error("'" + head->name + "' has an unexpected shape");
  return VocabProjector(std::move(norm), make_view(head->type, head->data, hp.n_embd, 0, head->ne[1]),
                        hp.final_softcap);
}

namespace {

struct FeatBlock {  // one down_feat tensor, mapped
  std::string name, cluster_name;
  std::vector<int64_t> ne;
  int64_t rows = 0;
  GGMLType type = GGMLType::F32;
  const uint8_t* data = nullptr;
};

std::string clean_piece(const std::string& in) {
  // SentencePiece (U+2581) and byte-BPE (U+0120) space marks become spaces.
  std::string s;
  for (size_t i = 0; i < in.size(); ++i) {
    if (in.compare(i, 3, "\xe2\x96\x81") == 0) { s += ' '; i += 2; }
    else if (in.compare(i, 2, "\xc4\xa0") == 0) { s += ' '; i += 1; }
    else s += in[i];
  }
  const auto b = s.find_first_not_of(" \t\n"), e = s.find_last_not_of(" \t\n");
  return b == std::string::npos ? s : s.substr(b, e - b + 1);
}

}  // namespace

void build_clusters(const std::string& root, Manifest& m, const VocabProjector& proj, int64_t k, ThreadPool& pool,
                    const Tokenizer& tok) {
  const int64_t E = m.hparams.n_embd;
  std::map<std::string, MappedFile> maps;
  std::vector<FeatBlock> blocks;
  int64_t N = 0;
  for (const auto& t : m.tensors) {
    const bool dense = t.name.ends_with(".ffn_down_feat"), exps = t.name.ends_with(".ffn_down_exps_feat");
    if (!dense && !exps) continue;
    if (!maps.count(t.file)) maps.emplace(t.file, MappedFile((fs::path(root) / t.file).string()));
    FeatBlock b;
    b.name = t.name;
    b.cluster_name = t.name.substr(0, t.name.rfind('.')) + (dense ? ".cluster" : ".cluster_exps");
    b.ne.assign(t.ne.begin() + 1, t.ne.end());
    b.rows = static_cast<int64_t>(t.n_bytes / ggml_row_size(t.type, static_cast<uint64_t>(E)));
    b.type = t.type;
    b.data = maps.at(t.file).data() + t.offset;
    N += b.rows;
    blocks.push_back(std::move(b));
  }
  if (N == 0) return;
  k = std::min(k, N);
  // Points are read back per pass and normalized on the fly (no N x E copy).
  auto load = [&](int64_t gi, float* out) {
    for (const auto& b : blocks) {
      if (gi < b.rows) {
        weight_row(make_view(b.type, b.data, E, 0, b.rows), gi, out);
        double s = 0;
        for (int64_t e = 0; e < E; ++e) s += static_cast<double>(out[e]) * out[e];
        const float inv = s > 0 ? static_cast<float>(1.0 / std::sqrt(s)) : 0.0f;
        for (int64_t e = 0; e < E; ++e) out[e] *= inv;
        return;
      }
      gi -= b.rows;
    }
  };
  std::vector<float> cent(static_cast<size_t>(k * E));
  std::mt19937_64 rng(12345);  // fixed seed: extraction is deterministic
  std::vector<int64_t> perm(static_cast<size_t>(N));
  for (int64_t i = 0; i < N; ++i) perm[static_cast<size_t>(i)] = i;
  for (int64_t i = 0; i < k; ++i) {
    std::swap(perm[static_cast<size_t>(i)], perm[static_cast<size_t>(i + static_cast<int64_t>(rng() % static_cast<uint64_t>(N - i)))]);
    load(perm[static_cast<size_t>(i)], cent.data() + i * E);
  }
  std::vector<int32_t> assign(static_cast<size_t>(N), -1);
  const int64_t chunk = 512;
  std::vector<float> x(static_cast<size_t>(chunk * E)), y(static_cast<size_t>(chunk * k));
  for (int iter = 0; iter < 12; ++iter) {
    WeightView cw = make_view(GGMLType::F32, reinterpret_cast<const uint8_t*>(cent.data()), E, 0, k);
    std::vector<double> sum(static_cast<size_t>(k * E), 0.0);
    std::vector<int64_t> count(static_cast<size_t>(k), 0);
    int64_t changed = 0;
    for (int64_t b = 0; b < N; b += chunk) {
      const int64_t n = std::min(chunk, N - b);
      for (int64_t i = 0; i < n; ++i) load(b + i, x.data() + i * E);
      matmul(cw, x.data(), n, y.data(), pool);
      for (int64_t i = 0; i < n; ++i) {
        const float* r = y.data() + i * k;
        const int32_t c = static_cast<int32_t>(std::max_element(r, r + k) - r);
        if (assign[static_cast<size_t>(b + i)] != c) ++changed;
        assign[static_cast<size_t>(b + i)] = c;
        ++count[static_cast<size_t>(c)];
        for (int64_t e = 0; e < E; ++e) sum[static_cast<size_t>(c * E + e)] += x[static_cast<size_t>(i * E + e)];
      }
    }
    for (int64_t c = 0; c < k; ++c) {
      if (count[static_cast<size_t>(c)] == 0) continue;  // empty: keep the old centroid
      double s = 0;
      for (int64_t e = 0; e < E; ++e) s += sum[static_cast<size_t>(c * E + e)] * sum[static_cast<size_t>(c * E + e)];
      const double inv = s > 0 ? 1.0 / std::sqrt(s) : 0.0;
      for (int64_t e = 0; e < E; ++e) cent[static_cast<size_t>(c * E + e)] = static_cast<float>(sum[static_cast<size_t>(c * E + e)] * inv);
    }
    if (changed == 0) break;
  }
  // Assignments per layer tensor, next to nothing else: clusters.bin.
  BinWriter w(root, "clusters.bin");
  int64_t off = 0;
  for (const auto& b : blocks) {
    w.add(b.cluster_name, GGMLType::I32, b.ne, assign.data() + off, static_cast<uint64_t>(b.rows) * 4);
    off += b.rows;
  }
  maps.clear();
  w.close(m);
  std::vector<int64_t> sizes(static_cast<size_t>(k), 0);
  for (int32_t a : assign) ++sizes[static_cast<size_t>(a)];
  auto tops = proj.top(cent.data(), k, 5, pool);
  nlohmann::json j = nlohmann::json::array();
  for (int64_t c = 0; c < k; ++c) {
    std::string label;
    nlohmann::json tt = nlohmann::json::array();
    for (const auto& ts : tops[static_cast<size_t>(c)]) {
      const std::string p = clean_piece(tok.token_to_piece(ts.token));
      if (tt.size() < 3) label += (label.empty() ? "" : "/") + p;
      tt.push_back({ts.token, ts.score});
    }
    j.push_back({{"id", c}, {"label", label}, {"size", sizes[static_cast<size_t>(c)]}, {"top_tokens", tt}});
  }
  write_file(root, "clusters.json", j.dump(1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n", m);
  m.n_clusters = k;
}

}  // namespace larql::vindex
