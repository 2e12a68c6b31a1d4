#include "vindex/layout.h"

#include <algorithm>
#include <cmath>

#include "util/error.h"
#include "util/thread_pool.h"

namespace larql::vindex {
namespace {
std::string blk(int64_t l, const char* s) { return "blk." + std::to_string(l) + "." + s; }
}  // namespace

FfnLayout dense_layout(int64_t l, const ShapeFn& shape) {
  FfnLayout f;
  auto down = shape(blk(l, "ffn_down.weight"));
  auto feat = shape(blk(l, "ffn_down_feat"));  // browse level: the source down is not stored
  auto up = shape(blk(l, "ffn_up.weight"));
  auto gate = shape(blk(l, "ffn_gate.weight"));
  if (up.size() != 2) return f;
  if (down.size() == 2) f.n_features = down[0];
  else if (feat.size() == 2) f.n_features = feat[1];
  else return f;
  f.down = blk(l, "ffn_down.weight");
  if (gate.size() == 2) {
    f.gate = blk(l, "ffn_gate.weight");
    f.up = blk(l, "ffn_up.weight");
  } else if (up[1] == 2 * f.n_features) {  // phi3: ffn_up rows are [gate | up]
    f.gate = f.up = blk(l, "ffn_up.weight");
    f.up_row0 = f.n_features;
  } else {  // gpt2: a single fc matrix is the key
    f.gate = blk(l, "ffn_up.weight");
  }
  f.down_feat = blk(l, "ffn_down_feat");
  f.meta_tok = blk(l, "down_meta.tok");
  f.meta_score = blk(l, "down_meta.score");
  f.cluster = blk(l, "cluster");
  return f;
}

FfnLayout expert_layout(int64_t l, const ShapeFn& shape) {
  FfnLayout f;
  auto down = shape(blk(l, "ffn_down_exps.weight"));
  auto feat = shape(blk(l, "ffn_down_exps_feat"));
  auto gate = shape(blk(l, "ffn_gate_exps.weight"));
  auto up = shape(blk(l, "ffn_up_exps.weight"));
  if (up.size() != 3) return f;
  if (down.size() == 3) {
    f.n_features = down[0];
    f.n_experts = down[2];
  } else if (feat.size() == 3) {
    f.n_features = feat[1];
    f.n_experts = feat[2];
  } else {
    return f;
  }
  f.down = blk(l, "ffn_down_exps.weight");
  if (gate.size() == 3) {
    f.gate = blk(l, "ffn_gate_exps.weight");
    f.up = blk(l, "ffn_up_exps.weight");
  } else {
    f.gate = blk(l, "ffn_up_exps.weight");
  }
  f.down_feat = blk(l, "ffn_down_exps_feat");
  f.meta_tok = blk(l, "down_meta_exps.tok");
  f.meta_score = blk(l, "down_meta_exps.score");
  f.cluster = blk(l, "cluster_exps");
  return f;
}

WeightView make_view(GGMLType type, const uint8_t* data, int64_t n_in, int64_t row0, int64_t n_rows) {
  WeightView w;
  w.type = type;
  w.n_in = n_in;
  w.n_out = n_rows;
  w.row_bytes = ggml_row_size(type, static_cast<uint64_t>(n_in));
  w.data = data + static_cast<uint64_t>(row0) * w.row_bytes;
  return w;
}

std::vector<int64_t> top_k_indices(const float* v, int64_t n, int64_t k, bool abs) {
  k = std::clamp<int64_t>(k, 0, n);
  auto key = [&](int64_t i) { return abs ? std::fabs(v[i]) : v[i]; };
  auto better = [&](int64_t a, int64_t b) {
    const float ka = key(a), kb = key(b);
    return ka > kb || (ka == kb && a < b);
  };
  // A min-heap of the best k seen so far: O(n log k), no n-sized copy.
  std::vector<int64_t> heap;
  heap.reserve(static_cast<size_t>(k) + 1);
  for (int64_t i = 0; i < n && k > 0; ++i) {
    if (static_cast<int64_t>(heap.size()) < k) {
      heap.push_back(i);
      std::push_heap(heap.begin(), heap.end(), better);
    } else if (better(i, heap.front())) {
      std::pop_heap(heap.begin(), heap.end(), better);
      heap.back() = i;
      std::push_heap(heap.begin(), heap.end(), better);
    }
  }
  std::sort(heap.begin(), heap.end(), better);
  return heap;
}

std::vector<std::vector<TokenScore>> VocabProjector::top(const float* vecs, int64_t n, int64_t k,
                                                         ThreadPool& pool) const {
  const int64_t E = head_.n_in, V = head_.n_out;
  std::vector<std::vector<TokenScore>> out(static_cast<size_t>(n));
  const int64_t chunk = 32;
  std::vector<float> x(static_cast<size_t>(chunk * E)), y(static_cast<size_t>(chunk * V));
  for (int64_t b = 0; b < n; b += chunk) {
    const int64_t m = std::min(chunk, n - b);
    for (int64_t i = 0; i < m; ++i)
      for (int64_t e = 0; e < E; ++e)
        x[static_cast<size_t>(i * E + e)] =
            vecs[(b + i) * E + e] * (norm_w_.empty() ? 1.0f : norm_w_[static_cast<size_t>(e)]);
    matmul(head_, x.data(), m, y.data(), pool);
    for (int64_t i = 0; i < m; ++i) {
      float* row = y.data() + i * V;
      if (softcap_ > 0)
        for (int64_t t = 0; t < V; ++t)
          row[t] = static_cast<float>(softcap_ * std::tanh(row[t] / softcap_));
      auto& dst = out[static_cast<size_t>(b + i)];
      for (int64_t t : top_k_indices(row, V, k, false)) dst.push_back({static_cast<int32_t>(t), row[t]});
    }
  }
  return out;
}

}  // namespace larql::vindex
