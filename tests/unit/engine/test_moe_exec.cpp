// The fused routed-expert execution (engine/moe_exec.cpp) against the
// per-expert matrix products it replaces: bit-identical outputs for decode
// (one row) and prefill (many rows per expert), several thread counts and
// weight types, gpt-oss biases; plus a float64 reference from the dequantized
// weights so a shared mistake in both paths still fails; packed experts
// (the packed kernels' order) against both.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <vector>

#include "engine/moe.h"
#include "kernels/ops.h"
#include "kernels/repack.h"
#include "tensor/quants.h"
#include "util/thread_pool.h"

namespace larql {
namespace {

struct Layer {
  HParams hp;
  Family fam;
  LayerWeights L;
  std::vector<float> router;
  std::vector<uint8_t> gate, up, down;
};

// One expert tensor: X experts of n_out rows of n_in, quantized to t.
ExpertWeights quantized(GGMLType t, int64_t n_in, int64_t n_out, int64_t X, std::mt19937& rng, std::vector<uint8_t>& buf) {
  const uint64_t rb = ggml_row_size(t, static_cast<uint64_t>(n_in));
  buf.assign(rb * static_cast<uint64_t>(n_out * X), 0);
  std::normal_distribution<float> nd(0.0f, 0.05f);
  std::vector<float> row(static_cast<size_t>(n_in));
  for (int64_t r = 0; r < n_out * X; ++r) {
    for (float& v : row) v = nd(rng);
    quantize_row(t, row.data(), buf.data() + rb * static_cast<uint64_t>(r), n_in);
  }
  ExpertWeights w;
  w.w = WeightView{t, buf.data(), n_in, n_out, rb, nullptr};
  w.n_expert = X;
  w.expert_bytes = rb * static_cast<uint64_t>(n_out);
  return w;
}

void make_layer(Layer& l, int64_t E, int64_t F, int64_t X, int64_t K, GGMLType gu, GGMLType dt, bool biases) {
  std::mt19937 rng(7);
  l.hp.n_embd = E;
  l.hp.n_expert = X;
  l.hp.n_expert_used = K;
  l.hp.n_ff_exp = F;
  l.fam.moe = true;
  l.fam.moe_norm_topk = true;
  if (biases) l.fam.ffn = FFNKind::SwiGLUClamped;
  std::normal_distribution<float> nd(0.0f, 1.0f);
  l.router.resize(static_cast<size_t>(E * X));
  for (float& v : l.router) v = nd(rng);
  l.L.ffn_gate_inp = WeightView{GGMLType::F32, reinterpret_cast<const uint8_t*>(l.router.data()), E, X,
                                static_cast<uint64_t>(E) * 4, nullptr};
  l.L.gate_exps = quantized(gu, E, F, X, rng, l.gate);
  l.L.up_exps = quantized(gu, E, F, X, rng, l.up);
  l.L.down_exps = quantized(dt, F, E, X, rng, l.down);
  if (biases)
    for (auto* b : {&l.L.gate_exps_b, &l.L.up_exps_b, &l.L.down_exps_b}) {
      b->v.resize(static_cast<size_t>(X * (b == &l.L.down_exps_b ? E : F)));
      for (float& v : b->v) v = 0.1f * nd(rng);
    }
}

std::vector<float> inputs(int64_t n, int64_t E, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::vector<float> x(static_cast<size_t>(n * E));
  for (float& v : x) v = nd(rng);
  return x;
}

std::vector<float> run(const Layer& l, const std::vector<float>& x, int64_t n, int threads, bool per_expert) {
  ThreadPool pool(threads);
  MoEScratch S;
  S.force_per_expert = per_expert;
  std::vector<float> out(static_cast<size_t>(n * l.hp.n_embd));
  moe_ffn(l.fam, l.hp, l.L, x.data(), n, out.data(), S, pool);
  return out;
}

// out = sum_j w_j down_j(act(gate_j x, up_j x)) in double from dequantized weights.
std::vector<double> reference(const Layer& l, const std::vector<float>& x, int64_t n) {
  const int64_t E = l.hp.n_embd, F = l.hp.n_ff_exp, X = l.hp.n_expert, K = l.hp.n_expert_used;
  std::vector<double> out(static_cast<size_t>(n * E), 0.0);
  std::vector<float> row(static_cast<size_t>(std::max(E, F))), logits(static_cast<size_t>(X)), tmp, w(static_cast<size_t>(K));
  std::vector<int32_t> sel(static_cast<size_t>(K));
  auto dot = [&](const ExpertWeights& ew, int64_t e, int64_t r, const double* v) {
    const WeightView wv = ew.at(e);
    dequantize_row(wv.type, wv.data + static_cast<uint64_t>(r) * wv.row_bytes, row.data(), wv.n_in);
    double s = 0;
    for (int64_t i = 0; i < wv.n_in; ++i) s += static_cast<double>(row[static_cast<size_t>(i)]) * v[i];
    return s;
  };
  for (int64_t t = 0; t < n; ++t) {
    const float* xt = x.data() + t * E;
    for (int64_t e = 0; e < X; ++e) {
      double s = 0;
      for (int64_t i = 0; i < E; ++i) s += static_cast<double>(l.router[static_cast<size_t>(e * E + i)]) * xt[i];
      logits[static_cast<size_t>(e)] = static_cast<float>(s);
    }
    moe_route(l.fam, X, K, logits.data(), nullptr, sel.data(), w.data(), tmp);
    std::vector<double> xd(xt, xt + E), h(static_cast<size_t>(F));
    for (int64_t j = 0; j < K; ++j) {
      const int64_t e = sel[static_cast<size_t>(j)];
      for (int64_t f = 0; f < F; ++f) {
        double g = dot(l.L.gate_exps, e, f, xd.data()), u = dot(l.L.up_exps, e, f, xd.data());
        if (l.fam.ffn == FFNKind::SwiGLUClamped) {
          g += l.L.gate_exps_b.v[static_cast<size_t>(e * F + f)];
          u += l.L.up_exps_b.v[static_cast<size_t>(e * F + f)];
          h[static_cast<size_t>(f)] = swiglu_clamped(static_cast<float>(g), static_cast<float>(u));
        } else {
          h[static_cast<size_t>(f)] = g / (1.0 + std::exp(-g)) * u;
        }
      }
      for (int64_t o = 0; o < E; ++o) {
        double y = dot(l.L.down_exps, e, o, h.data());
        if (l.fam.ffn == FFNKind::SwiGLUClamped) y += l.L.down_exps_b.v[static_cast<size_t>(e * E + o)];
        out[static_cast<size_t>(t * E + o)] += w[static_cast<size_t>(j)] * y;
      }
    }
  }
  return out;
}

void check(const Layer& l, int64_t n, unsigned seed) {
  const std::vector<float> x = inputs(n, l.hp.n_embd, seed);
  const std::vector<float> want = run(l, x, n, 1, true);
  for (int threads : {1, 2, 3}) {
    const std::vector<float> got = run(l, x, n, threads, false);
    ASSERT_EQ(0, std::memcmp(got.data(), want.data(), want.size() * sizeof(float)))
        << "fused differs from per-expert, n=" << n << " threads=" << threads;
  }
  // Quantized activations: ~1% of the output's scale.
  const std::vector<double> ref = reference(l, x, n);
  double scale = 0, err = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    scale = std::max(scale, std::fabs(ref[i]));
    err = std::max(err, std::fabs(ref[i] - want[i]));
  }
  EXPECT_LT(err, 0.03 * scale) << "n=" << n << " max err " << err << " scale " << scale;
}

TEST(MoEExec, FusedMatchesPerExpertQ4KQ6K) {
  Layer l;
  make_layer(l, 256, 256, 8, 3, GGMLType::Q4_K, GGMLType::Q6_K, false);
  for (int64_t n : {1, 2, 5, 37}) check(l, n, static_cast<unsigned>(n));
}

TEST(MoEExec, FusedMatchesPerExpertQ8_0Q4_0) {
  Layer l;
  make_layer(l, 128, 96, 6, 2, GGMLType::Q8_0, GGMLType::Q4_0, false);
  for (int64_t n : {1, 9, 40}) check(l, n, static_cast<unsigned>(n) + 100);
}

TEST(MoEExec, FusedMatchesPerExpertBiasesClamped) {  // gpt-oss's per-expert biases and clamped SwiGLU
  Layer l;
  make_layer(l, 256, 64, 4, 2, GGMLType::Q5_K, GGMLType::Q8_0, true);
  for (int64_t n : {1, 13}) check(l, n, static_cast<unsigned>(n) + 200);
}

// Packed experts (Model::pack_experts' layout): the fused path runs the packed
// kernels. Their sequential order differs from MUL_MAT_ID's only in float
// rounding, so: identical bits for every thread count, within 1e-3 of the
// output scale of the exact (unpacked) path, and within 3 % of float64.
struct PackedLayer {  // as repack_experts: every expert of a tensor packed into one arena
  std::vector<std::shared_ptr<uint8_t>> arenas;
  std::vector<std::unique_ptr<repack::Packed>> own;
  void pack(ExpertWeights& w) {
    const size_t each = (repack::packed_bytes(w.at(0)) + 63) / 64 * 64;
    arenas.push_back(repack::alloc_arena(each * static_cast<size_t>(w.n_expert)));
    std::vector<const repack::Packed*> ps;
    for (int64_t e = 0; e < w.n_expert; ++e) {
      own.push_back(repack::pack_into(w.at(e), arenas.back().get() + each * static_cast<size_t>(e)));
      ps.push_back(own.back().get());
    }
    w.packed = std::move(ps);
  }
};

void check_packed(GGMLType gu, GGMLType dt, int64_t E, int64_t F, int64_t X, int64_t K, bool biases) {
  if (!repack::enabled()) GTEST_SKIP() << "packed kernels need AVX-512 VNNI (and a GCC build)";
  Layer exact, packed;
  make_layer(exact, E, F, X, K, gu, dt, biases);
  make_layer(packed, E, F, X, K, gu, dt, biases);
  PackedLayer own;
  for (ExpertWeights* w : {&packed.L.gate_exps, &packed.L.up_exps, &packed.L.down_exps}) own.pack(*w);
  for (int64_t n : {1, 3, 37}) {
    const std::vector<float> x = inputs(n, E, static_cast<unsigned>(n) + 300);
    const std::vector<float> want = run(exact, x, n, 1, false);
    const std::vector<float> got = run(packed, x, n, 1, false);
    for (int threads : {2, 3}) {
      const std::vector<float> again = run(packed, x, n, threads, false);
      ASSERT_EQ(0, std::memcmp(got.data(), again.data(), got.size() * sizeof(float))) << "n=" << n << " threads=" << threads;
    }
    const std::vector<double> ref = reference(packed, x, n);
    double scale = 0, err_exact = 0, err_ref = 0;
    for (size_t i = 0; i < ref.size(); ++i) {
      scale = std::max(scale, std::fabs(ref[i]));
      err_exact = std::max(err_exact, static_cast<double>(std::fabs(got[i] - want[i])));
      err_ref = std::max(err_ref, std::fabs(ref[i] - got[i]));
    }
    EXPECT_LT(err_exact, 1e-3 * scale) << "n=" << n << " packed vs exact " << err_exact << " scale " << scale;
    EXPECT_LT(err_ref, 0.03 * scale) << "n=" << n << " packed vs float64 " << err_ref << " scale " << scale;
    EXPECT_GT(err_exact, 0.0) << "n=" << n << ": identical bits suggest the packed copies were not used";
  }
}

TEST(MoEExec, PackedExpertsQ4KQ6K) { check_packed(GGMLType::Q4_K, GGMLType::Q6_K, 256, 256, 8, 3, false); }
TEST(MoEExec, PackedExpertsQ8_0Q4_0) { check_packed(GGMLType::Q8_0, GGMLType::Q4_0, 128, 96, 6, 2, false); }
TEST(MoEExec, PackedExpertsQ4KQ5_0) { check_packed(GGMLType::Q4_K, GGMLType::Q5_0, 256, 96, 6, 2, false); }  // DeepSeek-V2-Lite's mix
TEST(MoEExec, PackedExpertsQ5KQ8_0Biases) { check_packed(GGMLType::Q5_K, GGMLType::Q8_0, 256, 64, 4, 2, true); }

// A/B timing in one process (LARQL_MOE_BENCH=1; qwen3moe-30b-a3b's expert
// shapes, 16 experts): decode (1 row) and prefill (64 rows, ~32 per expert).
TEST(MoEExec, Timing) {
  if (!std::getenv("LARQL_MOE_BENCH")) GTEST_SKIP() << "set LARQL_MOE_BENCH=1 to time fused vs per-expert";
  Layer l;
  make_layer(l, 2048, 768, 16, 8, GGMLType::Q4_K, GGMLType::Q6_K, false);
  ThreadPool pool(2);
  for (int64_t n : {1, 64}) {
    const std::vector<float> x = inputs(n, 2048, 1);
    std::vector<float> out(static_cast<size_t>(n * 2048));
    double best[2] = {1e30, 1e30};
    MoEScratch S[2];
    S[1].force_per_expert = true;
    const int reps = n == 1 ? 40 : 4;
    for (int round = 0; round < 5; ++round)
      for (int v = 0; v < 2; ++v) {
        auto t0 = std::chrono::steady_clock::now();
        for (int r = 0; r < reps; ++r) moe_ffn(l.fam, l.hp, l.L, x.data(), n, out.data(), S[v], pool);
        const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count() / reps;
        best[v] = std::min(best[v], ms);
      }
    std::printf("n=%lld rows: fused %.3f ms, per-expert %.3f ms per layer (best of 5)\n", static_cast<long long>(n),
                best[0], best[1]);
  }
}

}  // namespace
}  // namespace larql
