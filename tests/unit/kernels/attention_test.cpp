// Fast attention (engine/attention.cpp) against the plain reference loop and an
// independent double-precision softmax attention.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "engine/attention.h"
#include "util/half.h"
#include "util/thread_pool.h"

using namespace larql;

namespace {

struct Setup {
  AttentionParams p;
  int64_t n = 0, pos0 = 0;
};

// Double-precision causal attention over float K/V (window and softcap included).
std::vector<double> attend_f64(const AttentionParams& P, const std::vector<float>& k, const std::vector<float>& v,
                               const std::vector<float>& q, int64_t n, int64_t pos0) {
  const int64_t H = P.n_head, HKV = P.n_head_kv, g = H / HKV;
  std::vector<double> out(size_t(n * H * P.dv), 0.0);
  for (int64_t t = 0; t < n; ++t)
    for (int64_t h = 0; h < H; ++h) {
      const int64_t pos = pos0 + t, first = P.window > 0 ? std::max<int64_t>(0, pos - P.window + 1) : 0;
      std::vector<double> s;
      for (int64_t j = first; j <= pos; ++j) {
        double d = 0;
        for (int64_t i = 0; i < P.dk; ++i) d += double(q[size_t((t * H + h) * P.dk + i)]) * k[size_t((j * HKV + h / g) * P.dk + i)];
        if (P.softcap > 0) d = std::tanh(d / P.softcap) * P.softcap;
        s.push_back(d * P.scale);
      }
      double mx = -1e300, sum = 0;
      for (double x : s) mx = std::max(mx, x);
      for (double& x : s) sum += (x = std::exp(x - mx));
      for (int64_t j = first; j <= pos; ++j)
        for (int64_t i = 0; i < P.dv; ++i)
          out[size_t((t * H + h) * P.dv + i)] += s[size_t(j - first)] / sum * v[size_t((j * HKV + h / g) * P.dv + i)];
    }
  return out;
}

}  // namespace

TEST(Attention, FastMatchesReferenceAndFloat64) {
  ThreadPool pool(2);
  std::mt19937 rng(3);
  std::normal_distribution<float> nd(0.f, 1.f);
  struct Cfg { int64_t H, HKV, dk, dv, window; float softcap; int64_t n, pos0; };
  const Cfg cfgs[] = {{8, 2, 64, 64, 0, 0.f, 7, 0},  {8, 2, 64, 64, 0, 0.f, 1, 40}, {4, 4, 80, 80, 5, 0.f, 6, 9},
                      {6, 3, 36, 40, 0, 30.f, 3, 17}, {2, 1, 128, 128, 0, 0.f, 33, 0}};
  for (const Cfg& c : cfgs)
    for (bool f16 : {false, true}) {
      AttentionParams P;
      P.n_head = c.H; P.n_head_kv = c.HKV; P.dk = c.dk; P.dv = c.dv; P.window = c.window; P.softcap = c.softcap;
      P.scale = 1.f / std::sqrt(float(c.dk));
      const int64_t L = c.pos0 + c.n;
      std::vector<float> k(size_t(L * c.HKV * c.dk)), v(size_t(L * c.HKV * c.dv)), q(size_t(c.n * c.H * c.dk));
      for (auto& x : k) x = nd(rng);
      for (auto& x : v) x = nd(rng);
      for (auto& x : q) x = 2.f * nd(rng);
      std::vector<uint16_t> k16(k.size()), v16(v.size());
      if (f16) {  // the f16 cache holds rounded values; the float64 check sees the same ones
        for (size_t i = 0; i < k.size(); ++i) { k16[i] = fp32_to_fp16(k[i]); k[i] = fp16_to_fp32(k16[i]); }
        for (size_t i = 0; i < v.size(); ++i) { v16[i] = fp32_to_fp16(v[i]); v[i] = fp16_to_fp32(v16[i]); }
      }
      KVCacheView kv;
      kv.type = f16 ? KVType::F16 : KVType::F32;
      kv.k = f16 ? static_cast<const void*>(k16.data()) : k.data();
      kv.v = f16 ? static_cast<const void*>(v16.data()) : v.data();
      std::vector<float> fast(size_t(c.n * c.H * c.dv), NAN), ref(fast.size(), NAN);
      attend(P, kv, q.data(), c.n, c.pos0, fast.data(), pool);
      attend_reference(P, kv, q.data(), c.n, c.pos0, ref.data(), pool);
      const auto exact = attend_f64(P, k, v, q, c.n, c.pos0);
      // f16: q and the probabilities are rounded to f16 (ggml's semantics), so
      // only the reference is close; one probability may round the other way.
      const double tol_ref = f16 ? 2e-3 : 2e-5, tol_exact = f16 ? 2e-2 : 1e-4;
      for (size_t i = 0; i < fast.size(); ++i) {
        ASSERT_NEAR(fast[i], ref[i], tol_ref) << "H=" << c.H << " dk=" << c.dk << " f16=" << f16 << " i=" << i;
        ASSERT_NEAR(fast[i], exact[i], tol_exact) << "H=" << c.H << " dk=" << c.dk << " f16=" << f16 << " i=" << i;
      }
    }
}
