// Feature reads, gate KNN and down_meta against the source GGUF tensors,
// computed independently here in double precision.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <thread>
#include <cmath>
#include <numeric>

#include "format/gguf.h"
#include "tensor/quants.h"
#include "tokenizer/tokenizer.h"
#include "util/error.h"
#include "vindex_test_util.h"

using namespace larql;
using namespace larql::vindex;

namespace {


std::vector<float> src_row(const gguf::TensorInfo& t, int64_t row) {
  std::vector<float> out(static_cast<size_t>(t.ne[0]));
  const uint64_t rb = ggml_row_size(t.type, static_cast<uint64_t>(t.ne[0]));
  dequantize_row(t.type, t.data + static_cast<uint64_t>(row) * rb, out.data(), t.ne[0]);
  return out;
}

struct Facts : ::testing::Test {
  void SetUp() override {
    LARQL_REQUIRE_FIXTURES();
    src = gguf::File::open(test::fixtures_dir() + "/models/facts/facts-F32.gguf");
    v = Vindex::open(test::facts_vindex(), true);
  }
  std::unique_ptr<gguf::File> src;
  std::unique_ptr<Vindex> v;
};

}  // namespace

TEST_F(Facts, ManifestDescribesTheModel) {
  const Manifest& m = v->manifest();
  EXPECT_EQ(m.version, kFormatVersion);
  EXPECT_EQ(m.family, "llama");
  EXPECT_EQ(m.level, Level::All);
  EXPECT_EQ(m.hparams.n_layer, src->get_int("llama.block_count", 0));
  ASSERT_EQ(static_cast<int64_t>(m.layers.size()), m.hparams.n_layer);
  for (const auto& l : m.layers) EXPECT_EQ(l.n_features, src->get_int("llama.feed_forward_length", 0));
  // Every source tensor is stored with its type and shape.
  for (const auto& t : src->tensors()) {
    const TensorEntry* e = m.find(t.name);
    ASSERT_NE(e, nullptr) << t.name;
    EXPECT_EQ(e->type, t.type);
    EXPECT_EQ(e->ne, std::vector<int64_t>(t.ne, t.ne + t.n_dims));
  }
  EXPECT_EQ(m.provenance.source_format, "gguf");
  EXPECT_EQ(m.down_top_k, 5);
  EXPECT_EQ(m.n_clusters, 16);
  EXPECT_EQ(v->tokenizer().n_vocab(), m.hparams.n_vocab);
}

TEST_F(Facts, GateUpDownRowsEqualSource) {
  const int64_t E = v->n_embd();
  std::vector<float> g(static_cast<size_t>(E)), u(g.size()), d(g.size());
  for (int64_t l : {int64_t{0}, v->n_layers() - 1}) {
    const auto& G = src->tensor("blk." + std::to_string(l) + ".ffn_gate.weight");
    const auto& U = src->tensor("blk." + std::to_string(l) + ".ffn_up.weight");
    const auto& D = src->tensor("blk." + std::to_string(l) + ".ffn_down.weight");
    for (int64_t f : {int64_t{0}, int64_t{17}, v->n_features(l) - 1}) {
      v->gate({l, -1, f}, g.data());
      v->up({l, -1, f}, u.data());
      v->down({l, -1, f}, d.data());
      EXPECT_EQ(g, src_row(G, f));
      EXPECT_EQ(u, src_row(U, f));
      for (int64_t o = 0; o < E; ++o) ASSERT_EQ(d[static_cast<size_t>(o)], src_row(D, o)[static_cast<size_t>(f)]);
    }
  }
  EXPECT_THROW(v->gate({0, -1, v->n_features(0)}, g.data()), Error);
  EXPECT_THROW(v->gate({v->n_layers(), -1, 0}, g.data()), Error);
  EXPECT_THROW(v->gate({0, 0, 0}, g.data()), Error);  // dense model: no experts
  EXPECT_THROW(v->down({-1, -1, 0}, g.data()), Error);
}

TEST_F(Facts, GateKnnMatchesDoubleReference) {
  const int64_t E = v->n_embd();
  std::vector<float> q(static_cast<size_t>(E));
  for (int64_t i = 0; i < E; ++i) q[static_cast<size_t>(i)] = std::sin(0.37 * static_cast<double>(i)) + 0.1f;
  const int64_t l = 2;
  const auto& G = src->tensor("blk.2.ffn_gate.weight");
  const int64_t F = v->n_features(l);
  std::vector<double> ref(static_cast<size_t>(F));
  for (int64_t f = 0; f < F; ++f) {
    auto row = src_row(G, f);
    double s = 0;
    for (int64_t i = 0; i < E; ++i) s += static_cast<double>(row[static_cast<size_t>(i)]) * q[static_cast<size_t>(i)];
    ref[static_cast<size_t>(f)] = s;
  }
  std::vector<float> scores(static_cast<size_t>(F));
  v->gate_scores(l, -1, q.data(), scores.data());
  for (int64_t f = 0; f < F; ++f) ASSERT_NEAR(scores[static_cast<size_t>(f)], ref[static_cast<size_t>(f)], 1e-4);
  std::vector<int64_t> idx(static_cast<size_t>(F));
  std::iota(idx.begin(), idx.end(), 0);
  std::sort(idx.begin(), idx.end(), [&](int64_t a, int64_t b) { return ref[static_cast<size_t>(a)] > ref[static_cast<size_t>(b)]; });
  auto hits = v->gate_knn(l, q.data(), 10);
  ASSERT_EQ(hits.size(), 10u);
  for (size_t i = 0; i < hits.size(); ++i) {
    EXPECT_EQ(hits[i].addr.feature, idx[i]);
    EXPECT_EQ(hits[i].addr.layer, l);
    EXPECT_NEAR(hits[i].score, ref[static_cast<size_t>(idx[i])], 1e-4);
  }
  // |score| ordering
  auto abs_hits = v->gate_knn(l, q.data(), 5, true);
  for (size_t i = 1; i < abs_hits.size(); ++i) EXPECT_GE(std::fabs(abs_hits[i - 1].score), std::fabs(abs_hits[i].score));
  // walk = knn per layer
  auto w = v->walk(q.data(), 1, 3, 4);
  ASSERT_EQ(w.size(), 3u);
  EXPECT_EQ(w[1][0].addr.feature, hits[0].addr.feature);
  EXPECT_THROW(v->walk(q.data(), 2, 1, 4), Error);
  EXPECT_THROW(v->walk(q.data(), 0, v->n_layers(), 4), Error);
  // k larger than the layer: all features
  EXPECT_EQ(static_cast<int64_t>(v->gate_knn(l, q.data(), F + 100).size()), F);
}

TEST_F(Facts, DownMetaIsTheHeadProjection) {
  const int64_t E = v->n_embd();
  const auto& norm = src->tensor("output_norm.weight");
  const gguf::TensorInfo* head = src->find_tensor("output.weight");
  if (!head) head = &src->tensor("token_embd.weight");
  const auto nw = src_row(norm, 0);
  const int64_t V = head->ne[1];
  std::vector<float> d(static_cast<size_t>(E));
  for (FeatureAddr a : {FeatureAddr{0, -1, 3}, FeatureAddr{3, -1, 100}}) {
    v->down(a, d.data());
    std::vector<double> logit(static_cast<size_t>(V));
    for (int64_t t = 0; t < V; ++t) {
      auto row = src_row(*head, t);
      double s = 0;
      for (int64_t i = 0; i < E; ++i) s += static_cast<double>(row[static_cast<size_t>(i)]) * nw[static_cast<size_t>(i)] * d[static_cast<size_t>(i)];
      logit[static_cast<size_t>(t)] = s;
    }
    std::vector<int64_t> idx(static_cast<size_t>(V));
    std::iota(idx.begin(), idx.end(), 0);
    std::partial_sort(idx.begin(), idx.begin() + 5, idx.end(),
                      [&](int64_t x, int64_t y) { return logit[static_cast<size_t>(x)] > logit[static_cast<size_t>(y)]; });
    auto meta = v->down_meta(a);
    ASSERT_EQ(meta.size(), 5u);
    for (size_t i = 0; i < 5; ++i) {
      EXPECT_EQ(meta[i].token, idx[i]);
      EXPECT_NEAR(meta[i].score, logit[static_cast<size_t>(idx[i])], 1e-4);
    }
    auto proj = v->project_to_vocab(d.data(), 5);
    ASSERT_EQ(proj.size(), 5u);
    EXPECT_EQ(proj[0].token, meta[0].token);
  }
}

TEST_F(Facts, ClustersCoverEveryFeature) {
  const auto& cs = v->clusters();
  ASSERT_EQ(cs.size(), 16u);
  int64_t total = 0, members = 0;
  for (const auto& c : cs) {
    EXPECT_FALSE(c.label.empty());
    EXPECT_EQ(c.top_tokens.size(), 5u);
    members += c.size;
  }
  std::vector<int64_t> count(cs.size(), 0);
  for (int64_t l = 0; l < v->n_layers(); ++l)
    for (int64_t f = 0; f < v->n_features(l); ++f) {
      const int64_t c = v->cluster_of({l, -1, f});
      ASSERT_GE(c, 0);
      ASSERT_LT(c, 16);
      ++count[static_cast<size_t>(c)];
      ++total;
    }
  EXPECT_EQ(members, total);
  for (size_t c = 0; c < cs.size(); ++c) EXPECT_EQ(count[c], cs[c].size);
  // label() falls back to the cluster label without probes
  EXPECT_EQ(v->label({0, -1, 0}), cs[static_cast<size_t>(v->cluster_of({0, -1, 0}))].label);
  // Cosine: a feature is closer to its own centroid direction than the average
  // (sanity that assignment used the down vectors).
  std::vector<float> d(static_cast<size_t>(v->n_embd()));
  v->down({1, -1, 5}, d.data());
  EXPECT_TRUE(v->probe_labels().empty());
}

TEST_F(Facts, EmbeddingAndFfnInput) {
  const int64_t E = v->n_embd();
  std::vector<float> e(static_cast<size_t>(E)), x(e.size());
  v->embedding(42, e.data());
  EXPECT_EQ(e, src_row(src->tensor("token_embd.weight"), 42));
  EXPECT_THROW(v->embedding(-1, e.data()), Error);
  EXPECT_THROW(v->embedding(static_cast<int32_t>(v->manifest().hparams.n_vocab), e.data()), Error);
  v->ffn_input(1, e.data(), x.data());
  const auto w = src_row(src->tensor("blk.1.ffn_norm.weight"), 0);
  double ss = 0;
  for (float f : e) ss += static_cast<double>(f) * f;
  const double inv = 1.0 / std::sqrt(ss / static_cast<double>(E) + v->manifest().hparams.norm_eps);
  for (int64_t i = 0; i < E; ++i)
    EXPECT_NEAR(x[static_cast<size_t>(i)], e[static_cast<size_t>(i)] * inv * w[static_cast<size_t>(i)], 1e-5);
}

TEST_F(Facts, ConcurrentReadersAgree) {
  std::vector<float> q(static_cast<size_t>(v->n_embd()));
  for (size_t i = 0; i < q.size(); ++i) q[i] = std::cos(0.11 * static_cast<double>(i));
  const auto want = v->gate_knn(1, q.data(), 8);
  std::vector<std::thread> ts;
  std::atomic<int> bad{0};
  for (int t = 0; t < 4; ++t)
    ts.emplace_back([&] {
      for (int r = 0; r < 20; ++r) {
        auto got = v->gate_knn(1, q.data(), 8);
        for (size_t i = 0; i < got.size(); ++i)
          if (got[i].addr.feature != want[i].addr.feature || got[i].score != want[i].score) ++bad;
      }
    });
  for (auto& t : ts) t.join();
  EXPECT_EQ(bad.load(), 0);
}
