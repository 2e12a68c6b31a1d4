// The patched read view (edit/overlay.h) over a small in-memory feature store
// whose every value is hand-set, so each expectation is computed here by hand.
#include <gtest/gtest.h>

#include <cmath>

#include "edit/overlay.h"
#include "util/error.h"

namespace larql::edit {
namespace {

constexpr int64_t kE = 4, kF = 6, kL = 2;

// Feature f of layer l: gate = e_(f%4) * (f+1) (+ l), down = e_((f+1)%4) * 2.
class TinyStore : public vindex::FeatureStore {
 public:
  TinyStore() {
    m_.hparams.n_layer = kL;
    m_.hparams.n_embd = kE;
    m_.down_top_k = 2;
  }
  const vindex::Manifest& manifest() const override { return m_; }
  int64_t n_features(int64_t l, int64_t) const override {
    if (l < 0 || l >= kL) throw Error("layer out of range");
    return kF;
  }
  void gate(const vindex::FeatureAddr& a, float* out) const override {
    check(a);
    for (int64_t i = 0; i < kE; ++i) out[i] = i == a.feature % kE ? static_cast<float>(a.feature + 1 + a.layer) : 0.f;
  }
  void up(const vindex::FeatureAddr& a, float* out) const override { gate(a, out); }
  void down(const vindex::FeatureAddr& a, float* out) const override {
    check(a);
    for (int64_t i = 0; i < kE; ++i) out[i] = i == (a.feature + 1) % kE ? 2.f : 0.f;
  }
  void gate_scores(int64_t l, int64_t, const float* q, float* s) const override {
    std::vector<float> g(kE);
    for (int64_t f = 0; f < kF; ++f) {
      gate({l, -1, f}, g.data());
      s[f] = 0;
      for (int64_t i = 0; i < kE; ++i) s[f] += g[i] * q[i];
    }
  }
  std::vector<vindex::TokenScore> down_meta(const vindex::FeatureAddr& a) const override {
    return {{static_cast<int32_t>(100 + a.feature), 1.f}};
  }
  const std::vector<vindex::Cluster>& clusters() const override { return c_; }
  int64_t cluster_of(const vindex::FeatureAddr& a) const override { return a.feature % 2; }
  const std::vector<vindex::ProbeLabel>& probe_labels() const override { return p_; }
  std::string label(const vindex::FeatureAddr& a) const override { return "base" + std::to_string(a.feature); }

 private:
  void check(const vindex::FeatureAddr& a) const {
    if (a.layer < 0 || a.layer >= kL || a.feature < 0 || a.feature >= kF) throw Error("address out of range");
  }
  vindex::Manifest m_;
  std::vector<vindex::Cluster> c_;
  std::vector<vindex::ProbeLabel> p_;
};

Operation feature_insert(int64_t layer, int64_t f, const std::string& ent) {
  Operation o;
  o.op = "insert";
  o.mode = Mode::Feature;
  o.facts.push_back({ent, "capital", "Madrid", "", 7});
  FfnSlot s;
  s.feature = f;
  s.gate = {0, 0, 0, 10};  // fires on e_3
  s.up = {0, 0, 0, 1};
  s.down = {1, 1, 0, 0};
  o.ffn.layers[layer].slots.push_back(s);
  return o;
}

Operation mask(int64_t layer, std::vector<int64_t> fs) {
  Operation o;
  o.op = "delete";
  o.mode = Mode::Mask;
  o.facts.push_back({"France", "capital", "", "", -1});
  o.ffn.layers[layer].masked = std::move(fs);
  return o;
}

PatchStack stack_of(std::vector<Operation> ops, const std::string& path = "/tmp/x/spain.vlp") {
  PatchStack st;
  Patch p;
  p.path = path;
  p.ops = std::move(ops);
  st.patches.push_back(std::move(p));
  st.compose();
  return st;
}

TEST(Overlay, EmptyStackIsTheBase) {
  TinyStore base;
  PatchStack st;
  st.compose();
  PatchedStore ps(base, PatchView(st));
  EXPECT_TRUE(ps.view().empty());
  const float q[kE] = {1, 2, 3, 4};
  const auto a = base.gate_knn(1, q, 3), b = ps.gate_knn(1, q, 3);
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].addr, b[i].addr);
    EXPECT_EQ(a[i].score, b[i].score);
  }
  std::vector<float> d(kE);
  ps.down({0, -1, 2}, d.data());
  EXPECT_EQ(d, (std::vector<float>{0, 0, 0, 2}));
  EXPECT_EQ(ps.label({0, -1, 2}), "base2");
  EXPECT_EQ(ps.down_meta({0, -1, 2})[0].token, 102);
}

TEST(Overlay, SlotReplacesFeatureAndIsFoundByKnn) {
  TinyStore base;
  PatchStack st = stack_of({feature_insert(1, 4, "Spain")});
  PatchedStore ps(base, PatchView(st), [](const float* v, int64_t) {
    return std::vector<vindex::TokenScore>{{v[0] == 1.f && v[1] == 1.f ? 555 : 0, 9.f}};
  });
  std::vector<float> g(kE), d(kE);
  ps.gate({1, -1, 4}, g.data());
  EXPECT_EQ(g, (std::vector<float>{0, 0, 0, 10}));
  ps.down({1, -1, 4}, d.data());
  EXPECT_EQ(d, (std::vector<float>{1, 1, 0, 0}));
  EXPECT_EQ(ps.label({1, -1, 4}), "FEATURE Spain/capital\xE2\x86\x92Madrid [spain.vlp]");
  EXPECT_EQ(ps.label({0, -1, 4}), "base4");  // other layer untouched
  EXPECT_EQ(ps.cluster_of({1, -1, 4}), -1);
  EXPECT_EQ(ps.down_meta({1, -1, 4})[0].token, 555);  // from the slot's down vector
  // q = e_3: base scores at layer 1 are f=3: 5, f=4 (e_0): 0; the slot scores 10.
  const float q[kE] = {0, 0, 0, 1};
  const auto hits = ps.gate_knn(1, q, 2);
  ASSERT_EQ(hits.size(), 2u);
  EXPECT_EQ(hits[0].addr.feature, 4);
  EXPECT_FLOAT_EQ(hits[0].score, 10.f);
  EXPECT_EQ(hits[1].addr.feature, 3);
  EXPECT_FLOAT_EQ(hits[1].score, 5.f);
  // Activation: silu(10) * 1.
  std::vector<float> a(kF, 1.f);
  const float h[kE] = {0, 0, 0, 1};
  ps.view().patch_activations(1, h, a.data(), kE, kF);
  EXPECT_NEAR(a[4], 10.0 / (1.0 + std::exp(-10.0)), 1e-5);
  EXPECT_EQ(a[3], 1.f);
  EXPECT_EQ(ps.view().slot_fact(1, 4)->entity, "Spain");
}

TEST(Overlay, MaskedFeaturesLeaveKnnAndWalk) {
  TinyStore base;
  PatchStack st = stack_of({mask(0, {3, 5})});
  PatchedStore ps(base, PatchView(st));
  const float q[kE] = {0, 1, 0, 1};  // base layer 0: f1: 2, f3: 4, f5: 6
  std::vector<float> s(kF);
  ps.gate_scores(0, -1, q, s.data());
  EXPECT_EQ(s[3], 0.f);
  EXPECT_EQ(s[5], 0.f);
  EXPECT_EQ(s[1], 2.f);
  const auto hits = ps.gate_knn(0, q, 6);
  ASSERT_EQ(hits.size(), 4u);  // 6 features - 2 masked
  EXPECT_EQ(hits[0].addr.feature, 1);
  for (const auto& h : hits) EXPECT_TRUE(h.addr.feature != 3 && h.addr.feature != 5);
  const auto w = ps.walk(q, 0, 1, 1);
  EXPECT_EQ(w[0][0].addr.feature, 1);
  EXPECT_EQ(w[1][0].addr.feature, 5);  // layer 1 is not masked: f5 scores 7
  EXPECT_TRUE(ps.view().masked(0, 3));
  EXPECT_FALSE(ps.view().masked(1, 3));
}

TEST(Overlay, LowRankChangesDownAndRelabelsOnlyLargeChanges) {
  TinyStore base;
  Operation o;
  o.op = "insert";
  o.mode = Mode::Memit;
  o.facts.push_back({"Nigeria", "capital", "Abuja", "", 9});
  FfnLayerPatch& L = o.ffn.layers[0];
  L.rank = 1;
  L.A = {0, 0, 4, 0};                      // column written
  L.B = {0.5f, 0.01f, 0, 0, 0, 0};         // f0 moves by 2 (|d|=2: 100%), f1 by 0.04 (2%)
  PatchStack st = stack_of({o});
  int calls = 0;
  PatchedStore ps(base, PatchView(st), [&](const float*, int64_t k) {
    ++calls;
    EXPECT_EQ(k, 2);  // manifest down_top_k
    return std::vector<vindex::TokenScore>{{777, 1.f}};
  });
  std::vector<float> d(kE);
  ps.down({0, -1, 0}, d.data());
  EXPECT_EQ(d, (std::vector<float>{0, 2, 2, 0}));
  ps.down({0, -1, 1}, d.data());
  EXPECT_FLOAT_EQ(d[2], 2.04f);
  EXPECT_NEAR(ps.lowrank_change({0, -1, 0}), 1.0, 1e-6);
  EXPECT_NEAR(ps.lowrank_change({0, -1, 1}), 0.02, 1e-6);
  EXPECT_EQ(ps.down_meta({0, -1, 0})[0].token, 777);
  EXPECT_EQ(ps.down_meta({0, -1, 1})[0].token, 101);  // under kRelabelChange: stored label kept
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(ps.label({0, -1, 0}), "base0");
}

TEST(Overlay, LaterDeleteCancelsInsertAndRemovingPatchRestoresBase) {
  TinyStore base;
  Operation del;
  del.op = "delete";
  del.cancels = true;
  del.facts.push_back({"Spain", "capital", "", "", -1});
  PatchStack st = stack_of({feature_insert(1, 4, "Spain"), del});
  PatchedStore ps(base, PatchView(st));
  std::vector<float> g(kE);
  ps.gate({1, -1, 4}, g.data());
  EXPECT_EQ(g, (std::vector<float>{6, 0, 0, 0}));  // base again: e_0 * (4+1+1)
  EXPECT_EQ(ps.label({1, -1, 4}), "base4");
  st.patches.clear();
  st.compose();
  EXPECT_TRUE(PatchView(st).empty());
}

TEST(Overlay, BadPatchOrAddressThrows) {
  TinyStore base;
  PatchStack st = stack_of({mask(0, {3})});
  PatchedStore ps(base, PatchView(st));
  std::vector<float> d(kE);
  EXPECT_THROW(ps.down({0, -1, 6}, d.data()), Error);
  EXPECT_THROW(ps.gate({2, -1, 0}, d.data()), Error);
  PatchStack big = stack_of({mask(0, {9})});
  EXPECT_THROW(PatchedStore(base, PatchView(big)), Error);  // feature 9 of 6
  std::vector<float> a(kF);
  const float h[kE] = {0, 0, 0, 0};
  EXPECT_THROW(PatchView(big).patch_activations(0, h, a.data(), kE, kF), Error);
}

}  // namespace
}  // namespace larql::edit
