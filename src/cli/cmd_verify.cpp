// larql bench --vindex: gate-KNN latency per layer (scores = G·q, top-k).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <random>
#include <vector>

#include "cli/commands.h"
#include "util/error.h"
#include "util/thread_pool.h"
#include "vindex/vindex.h"

namespace larql::cli {

int bench_vindex(const std::string& path, int64_t k, int reps, int threads, bool json) {
  if (reps < 1) throw Error("-r must be at least 1");
  ThreadPool::global(threads);
  auto v = vindex::Vindex::open(path);
  const int64_t E = v->n_embd(), L = v->n_layers();
  std::mt19937 rng(7);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::vector<float> q(static_cast<size_t>(E));
  for (auto& x : q) x = nd(rng);
  if (!json)
    std::printf("vindex %s | %s | %lld layers | threads %d | top-%lld\n%-6s %9s %10s %10s %10s\n", path.c_str(),
                v->manifest().family.c_str(), static_cast<long long>(L), ThreadPool::global().size(),
                static_cast<long long>(k), "layer", "features", "mean_ms", "min_ms", "GB/s");
  double total = 0;
  for (int64_t l = 0; l < L; ++l) {
    const int64_t F = v->n_features(l);
    if (F == 0) continue;
    v->gate_knn(l, q.data(), k);  // warm the mapping
    std::vector<double> ms;
    for (int r = 0; r < reps; ++r) {
      auto t0 = std::chrono::steady_clock::now();
      auto hits = v->gate_knn(l, q.data(), k);
      ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
      if (hits.empty()) throw Error("gate KNN returned nothing");
    }
    double mean = 0;
    for (double x : ms) mean += x;
    mean /= static_cast<double>(ms.size());
    const double mn = *std::min_element(ms.begin(), ms.end());
    total += mean;
    const auto* g = v->manifest().find("blk." + std::to_string(l) + ".ffn_gate.weight");
    if (!g) g = v->manifest().find("blk." + std::to_string(l) + ".ffn_up.weight");
    const double gbs = g ? static_cast<double>(g->n_bytes) / (mn * 1e6) : 0;
    if (json)
      std::printf("%s\n", nlohmann::json({{"layer", l}, {"features", F}, {"mean_ms", mean}, {"min_ms", mn}, {"gb_s", gbs}}).dump().c_str());
    else
      std::printf("%-6lld %9lld %10.3f %10.3f %10.2f\n", static_cast<long long>(l), static_cast<long long>(F), mean, mn, gbs);
  }
  if (!json) std::printf("total (all layers, walk) %.3f ms\n", total);
  return 0;
}

}  // namespace larql::cli
