// larql bench MODEL [-p 512] [-n 128] [-t N] [-r 3] [--json] [--vs-llama-bench PATH ... [--interleave]] [--moe-stats] [--ram-budget GB]
//
// pp<P>: one batch of P tokens from an empty context (prefill), like llama-bench.
// tg<N>: N tokens one at a time from an empty context (decode).
// Reports mean ± stddev tok/s over -r repetitions (after one warm-up), the
// per-stage split of the time, and the effective bandwidth in decode (weights
// read per token: non-expert matrices + the routed experts actually run, + KV).
// --vs-llama-bench (repeatable: llama.cpp, ik_llama.cpp, ...) runs each
// llama-bench after LARQL on the same file, threads and sizes; with
// --interleave each runs -r 1 right after every one of LARQL's repetitions
// instead, so all engines see the same phases of a shared host's memory
// bandwidth and the ratios are taken round by round.
// --moe-stats: routed-expert traffic per token and, with --ram-budget, the
// expert cache (hit rate, prediction accuracy, bytes read) over the timed reps.
#include <CLI/CLI.hpp>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>

#include "cli/commands.h"
#include "cli/model_path.h"
#include "engine/expert_cache.h"
#include "engine/session.h"
#include "util/cpu.h"
#include "util/error.h"

namespace larql::cli {

namespace {

struct TestResult {
  std::string name;
  double mean = 0, stddev = 0;
  StageTimes stages;  // summed over repetitions
  double total_ms = 0;
  // --moe-stats, summed over the timed repetitions.
  int64_t tokens = 0;
  MoEStats moe;
  ExpertCacheStats cache;
  uint64_t storage_bytes = 0;  // /proc/self/io read_bytes: what the kernel fetched from disk for us
  int reps = 0;
  std::vector<double> rates;      // tok/s per timed repetition
  std::vector<std::vector<double>> ref_rates;  // --interleave, per peer: its tok/s right after each repetition
};

double mean_of(const std::vector<double>& v) {
  double sum = 0;
  for (double x : v) sum += x;
  return v.empty() ? 0.0 : sum / static_cast<double>(v.size());
}

// Bytes this process has caused to be read from storage (page faults and reads).
uint64_t storage_read_bytes() {
  std::ifstream f("/proc/self/io");
  std::string k;
  uint64_t v = 0;
  while (f >> k >> v)
    if (k == "read_bytes:") return v;
  return 0;
}

// What one decode step reads. Weights: every non-expert matrix once, one
// embedding row, and for MoE models only the routed experts (measured: the
// expert bytes of the run's MoEStats per token, not the whole 3-D tensors).
// KV: every cached position's keys and values once per layer (F32 cache),
// averaged over the run (positions 1..n_gen).
struct DecodeBytes {
  double weights = 0, kv = 0;
  double total() const { return weights + kv; }
};

bool is_expert_tensor(const std::string& name) { return name.find("_exps.") != std::string::npos; }

DecodeBytes decode_bytes_per_token(const Model& m, const TestResult& r) {
  const HParams& hp = m.hparams();
  DecodeBytes d;
  for (const TensorRef* t : m.source().tensors()) {
    if (is_expert_tensor(t->name)) continue;
    if (t->name == "token_embd.weight" && !hp.tied_output) d.weights += static_cast<double>(t->n_bytes) / t->rows();
    else d.weights += static_cast<double>(t->n_bytes);
  }
  if (r.tokens > 0) d.weights += static_cast<double>(r.moe.expert_bytes) / static_cast<double>(r.tokens);
  // Per position and layer: MLA caches the latent and the rope key, others K and V per KV head.
  const double per_pos = hp.kv_lora_rank > 0 ? static_cast<double>(hp.kv_lora_rank + hp.rope_dim)
                                             : static_cast<double>(hp.n_head_kv * (hp.head_dim_k + hp.head_dim_v));
  const double n_gen = r.tokens > 0 && r.reps > 0 ? static_cast<double>(r.tokens / r.reps) : 0;
  d.kv = per_pos * 4.0 * static_cast<double>(hp.n_layer) * (n_gen + 1) / 2;
  return d;
}

// after_rep (optional) runs after each timed repetition, outside its timing.
TestResult run_test(const Model& m, int64_t n_prompt, int64_t n_gen, int reps, int threads, uint64_t seed,
                    const std::function<void()>& after_rep = {}) {
  TestResult r;
  r.name = n_prompt > 0 ? "pp" + std::to_string(n_prompt) : "tg" + std::to_string(n_gen);
  SessionOptions so;
  so.n_threads = threads;
  so.n_ctx = std::max<int64_t>(n_prompt + n_gen, 16);
  Session s(m, so);
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int32_t> tok(0, static_cast<int32_t>(m.hparams().n_vocab - 1));
  std::vector<double> rates;
  std::vector<float> logits;
  for (int rep = -1; rep < reps; ++rep) {  // rep -1 is the warm-up
    s.reset();
    s.clear_stage_times();
    s.clear_moe_stats();
    if (m.expert_cache()) m.expert_cache()->clear_stats();
    const uint64_t io0 = storage_read_bytes();
    auto t0 = std::chrono::steady_clock::now();
    if (n_prompt > 0) {
      std::vector<int32_t> p(static_cast<size_t>(n_prompt));
      for (auto& t : p) t = tok(rng);
      s.eval(p.data(), n_prompt, false, logits);
    } else {
      for (int64_t i = 0; i < n_gen; ++i) {
        int32_t t = tok(rng);
        s.eval(&t, 1, false, logits);
      }
    }
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    if (rep < 0) continue;
    r.storage_bytes += storage_read_bytes() - io0;
    r.tokens += n_prompt > 0 ? n_prompt : n_gen;
    r.reps += 1;
    const MoEStats& mst = s.moe_stats();
    r.moe.rows += mst.rows;
    r.moe.expert_uses += mst.expert_uses;
    r.moe.expert_matmuls += mst.expert_matmuls;
    r.moe.expert_bytes += mst.expert_bytes;
    if (m.expert_cache()) {
      const ExpertCacheStats c = m.expert_cache()->stats();
      ExpertCacheStats& a = r.cache;
      a.lookups += c.lookups, a.hits += c.hits, a.prefetch_hits += c.prefetch_hits, a.late += c.late, a.misses += c.misses, a.loads += c.loads;
      a.prefetch_loads += c.prefetch_loads, a.prefetch_used += c.prefetch_used, a.predicted += c.predicted;
      a.predicted_right += c.predicted_right, a.bytes_read += c.bytes_read, a.wait_ms += c.wait_ms;
    }
    rates.push_back(1000.0 * static_cast<double>(n_prompt > 0 ? n_prompt : n_gen) / ms);
    const StageTimes& st = s.stage_times();
    r.stages.attention_ms += st.attention_ms;
    r.stages.ffn_ms += st.ffn_ms;
    r.stages.head_ms += st.head_ms;
    r.stages.other_ms += st.other_ms;
    r.total_ms += ms;
    if (after_rep) after_rep();
  }
  r.mean = mean_of(rates);
  double var = 0;
  for (double v : rates) var += (v - r.mean) * (v - r.mean);
  r.stddev = rates.size() > 1 ? std::sqrt(var / static_cast<double>(rates.size() - 1)) : 0;
  r.rates = std::move(rates);
  return r;
}

nlohmann::json llama_bench(const std::string& bin, const std::string& model, int64_t p, int64_t n, int t, int r) {
  std::string cmd = "'" + bin + "' -m '" + model + "' -p " + std::to_string(p) + " -n " + std::to_string(n) + " -t " +
                    std::to_string(t) + " -r " + std::to_string(r) + " -o json 2>/dev/null";
  FILE* f = ::popen(cmd.c_str(), "r");
  if (!f) throw Error("cannot run llama-bench at '" + bin + "'");
  std::string out;
  char buf[4096];
  size_t k;
  while ((k = std::fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, k);
  if (::pclose(f) != 0) throw Error("llama-bench failed: " + cmd);
  try {
    return nlohmann::json::parse(out);
  } catch (const std::exception& e) {
    throw Error(std::string("cannot parse llama-bench output: ") + e.what());
  }
}

// llama-bench's mean tok/s for the pp (n_gen 0) or tg (n_prompt 0) row; 0 if absent.
double ref_rate(const nlohmann::json& ref, bool tg) {
  for (const auto& row : ref)
    if ((tg && row.value("n_gen", 0) > 0 && row.value("n_prompt", 1) == 0) ||
        (!tg && row.value("n_prompt", 0) > 0 && row.value("n_gen", 1) == 0))
      return row.value("avg_ts", 0.0);
  return 0.0;
}

// Peak resident set of this process so far (VmHWM), in bytes.
uint64_t peak_rss_bytes() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::stoull(line.substr(6)) * 1024;
  return 0;
}

nlohmann::json moe_json(const TestResult& r, bool cached) {
  const double tok = static_cast<double>(std::max<int64_t>(r.tokens, 1));
  nlohmann::json j = {{"expert_uses_per_token", static_cast<double>(r.moe.expert_uses) / tok},
                      {"expert_bytes_per_token", static_cast<double>(r.moe.expert_bytes) / tok},
                      {"storage_read_bytes_per_token", static_cast<double>(r.storage_bytes) / tok},
                      {"peak_rss_bytes", peak_rss_bytes()}};
  if (!cached) return j;
  const ExpertCacheStats& c = r.cache;
  const double lk = static_cast<double>(std::max<uint64_t>(c.lookups, 1));
  j["cache_hit_rate"] = c.hit_rate();
  j["prefetch_hit_rate"] = static_cast<double>(c.prefetch_hits) / lk;
  j["cache_late_rate"] = static_cast<double>(c.late) / lk;
  j["cache_miss_rate"] = static_cast<double>(c.misses) / lk;
  j["prefetch_accuracy"] = c.predict_accuracy();
  j["prefetch_loads"] = c.prefetch_loads;
  j["prefetch_used"] = c.prefetch_used;
  j["cache_read_bytes_per_token"] = static_cast<double>(c.bytes_read) / tok;
  j["read_wait_share"] = r.total_ms > 0 ? c.wait_ms / r.total_ms : 0.0;
  return j;
}

void print_moe(const TestResult& r, bool cached) {
  const nlohmann::json j = moe_json(r, cached);
  std::printf("%-8s moe: %.1f expert uses/token, %.1f MB expert weights/token, %.1f MB read from storage/token, "
              "peak RSS %.0f MiB\n",
              r.name.c_str(), j["expert_uses_per_token"].get<double>(), j["expert_bytes_per_token"].get<double>() / 1e6,
              j["storage_read_bytes_per_token"].get<double>() / 1e6, j["peak_rss_bytes"].get<double>() / 1048576.0);
  if (!cached) return;
  std::printf("%-8s cache: hit %.1f%%, prefetched in time %.1f%%, late %.1f%%, miss %.1f%%; prediction %.1f%% right, prefetched %llu used %llu, "
              "%.1f MB read/token, %.0f%% of time waiting for reads\n",
              r.name.c_str(), 100 * j["cache_hit_rate"].get<double>(), 100 * j["prefetch_hit_rate"].get<double>(),
              100 * j["cache_late_rate"].get<double>(),
              100 * j["cache_miss_rate"].get<double>(), 100 * j["prefetch_accuracy"].get<double>(),
              static_cast<unsigned long long>(r.cache.prefetch_loads), static_cast<unsigned long long>(r.cache.prefetch_used),
              j["cache_read_bytes_per_token"].get<double>() / 1e6, 100 * j["read_wait_share"].get<double>());
}

}  // namespace

Runner add_bench(CLI::App& app) {
  auto* sub = app.add_subcommand("bench", "Prefill (pp) and decode (tg) speed, per-stage split, bandwidth");
  struct Opts {
    std::string model, vindex;
    std::vector<std::string> vs;  // llama-bench binaries
    int64_t knn_k = 10;
    int64_t p = 512, n = 128;
    int t = 0, r = 3;
    bool json = false, moe_stats = false, interleave = false;
    double ram_budget = 0;
    std::string expert_policy = "lfu";
  };
  auto o = std::make_shared<Opts>();
  sub->add_option("MODEL", o->model, "GGUF file, safetensors folder or vindex");
  sub->add_option("--vindex", o->vindex, "Instead: gate-KNN latency per layer of this vindex");
  sub->add_option("--knn-k", o->knn_k, "Top-k for --vindex")->default_val(10);
  sub->add_option("-p,--n-prompt", o->p, "Prompt tokens for the pp test (0 = skip)")->default_val(512);
  sub->add_option("-n,--n-gen", o->n, "Generated tokens for the tg test (0 = skip)")->default_val(128);
  sub->add_option("-t,--threads", o->t, "Threads (default: all cores)");
  sub->add_option("-r,--repetitions", o->r, "Repetitions per test")->default_val(3);
  sub->add_flag("--json", o->json, "One JSON object per test");
  sub->add_flag("--moe-stats", o->moe_stats, "MoE: expert cache hit rate, prefetch accuracy, bytes read per token");
  sub->add_option("--ram-budget", o->ram_budget, "MoE: keep resident memory under this many GiB (docs/moe.md)");
  sub->add_option("--expert-policy", o->expert_policy, "MoE --ram-budget eviction: lru|lfu")->default_val("lfu");
  sub->add_option("--vs-llama-bench", o->vs,
                  "Also run this llama-bench binary on the same file and print the ratio (repeatable: one per peer)");
  sub->add_flag("--interleave", o->interleave,
                "With --vs-llama-bench: run each llama-bench -r 1 after every LARQL repetition (same host conditions per round)");
  return [=]() {
    if (o->r < 1) throw Error("-r must be at least 1");
    if (o->interleave && o->vs.empty()) throw Error("--interleave needs --vs-llama-bench PATH");
    if (!o->vindex.empty()) return bench_vindex(o->vindex, o->knn_k, o->r, o->t, o->json);
    if (o->model.empty()) throw Error("bench: give MODEL or --vindex DIR");
    auto model = load_model(o->model);
    const int threads = o->t > 0 ? o->t : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    if (o->ram_budget > 0) {
      const BudgetPlan p = enable_ram_budget(*model, o->ram_budget, parse_expert_policy(o->expert_policy),
                                             std::max<int64_t>(o->p + o->n, 16), 1, KVType::F32, std::max<int64_t>(o->p, 1));
      if (!o->json) std::printf("ram budget: %s, policy %s, %s reads\n", p.describe().c_str(), o->expert_policy.c_str(),
                                model->expert_cache()->direct_io() ? "O_DIRECT" : "buffered");
    } else {
      pack_experts(*model);
    }
    std::vector<TestResult> results;
    // --interleave: the model stays loaded while llama-bench runs (its packed
    // copies and llama.cpp's page cache of the file both resident).
    auto run = [&](int64_t p, int64_t n, uint64_t seed) {
      std::vector<std::vector<double>> refs(o->vs.size());
      std::function<void()> after;
      if (o->interleave)
        after = [&] {
          for (size_t k = 0; k < o->vs.size(); ++k) {
            const double ts = ref_rate(llama_bench(o->vs[k], o->model, p, n, threads, 1), n > 0);
            // A missing row would average in as 0 tok/s and inflate the ratio.
            if (ts <= 0) throw Error("llama-bench '" + o->vs[k] + "' printed no " + (n > 0 ? "tg" : "pp") + " row");
            refs[k].push_back(ts);
          }
        };
      results.push_back(run_test(*model, p, n, o->r, threads, seed, after));
      results.back().ref_rates = std::move(refs);
    };
    if (o->p > 0) run(o->p, 0, 1);
    if (o->n > 0) run(0, o->n, 2);
    // What the report needs from the model, then the model itself is freed so
    // llama-bench runs with the memory LARQL had (its packed copies would
    // otherwise compete with llama.cpp's page cache for the same file).
    const std::string arch = model->hparams().arch;
    const bool cached = model->expert_cache() != nullptr;
    std::vector<DecodeBytes> dbs;
    for (const auto& r : results) dbs.push_back(decode_bytes_per_token(*model, r));
    model.reset();
    std::vector<nlohmann::json> refs;  // per peer, without --interleave
    if (!o->interleave)
      for (const auto& bin : o->vs) refs.push_back(llama_bench(bin, o->model, o->p, o->n, threads, o->r));
    if (!o->json)
      std::printf("model %s | %s | threads %d | cpu %s\n%-8s %12s %10s %9s %9s %9s %9s %10s\n", o->model.c_str(),
                  arch.c_str(), threads, cpu_features_string().c_str(), "test", "tok/s", "stddev",
                  "attn%", "ffn%", "head%", "other%", "GB/s");
    for (size_t ri = 0; ri < results.size(); ++ri) {
      const TestResult& r = results[ri];
      const double tot = r.stages.attention_ms + r.stages.ffn_ms + r.stages.head_ms + r.stages.other_ms;
      auto pct = [&](double v) { return tot > 0 ? 100.0 * v / tot : 0.0; };
      const bool tg = r.name[0] == 't';
      const DecodeBytes& db = dbs[ri];
      const double gbs = tg ? db.total() * r.mean / 1e9 : 0;
      struct Peer {
        double tok_s = 0;
        std::vector<double> round_ratios;  // interleaved: LARQL's repetition / this peer's run right after it
      };
      std::vector<Peer> peers(o->vs.size());
      for (size_t k = 0; k < peers.size(); ++k) {
        peers[k].tok_s = o->interleave ? mean_of(r.ref_rates[k]) : ref_rate(refs[k], tg);
        for (size_t i = 0; o->interleave && i < r.ref_rates[k].size() && i < r.rates.size(); ++i)
          peers[k].round_ratios.push_back(r.ref_rates[k][i] > 0 ? r.rates[i] / r.ref_rates[k][i] : 0.0);
      }
      if (o->json) {
        nlohmann::json j = {{"test", r.name},
                            {"tok_s", r.mean},
                            {"stddev", r.stddev},
                            {"threads", threads},
                            {"repetitions", o->r},
                            {"stages", {{"attention", pct(r.stages.attention_ms)}, {"ffn", pct(r.stages.ffn_ms)},
                                        {"output_head", pct(r.stages.head_ms)}, {"other", pct(r.stages.other_ms)}}},
                            {"cpu", cpu_features_string()}};
        if (tg) {
          j["bytes_per_token"] = db.total();
          j["weight_bytes_per_token"] = db.weights;
          j["kv_bytes_per_token"] = db.kv;
          j["bandwidth_gb_s"] = gbs;
        }
        if (o->moe_stats) j["moe"] = moe_json(r, cached);
        // The first peer's figures at the top level; every peer's under "peers".
        for (size_t k = 0; k < peers.size(); ++k) {
          nlohmann::json pj = {{"llama_bench", o->vs[k]}, {"llama_bench_tok_s", peers[k].tok_s}};
          if (peers[k].tok_s > 0) pj["ratio"] = r.mean / peers[k].tok_s;
          if (o->interleave) {
            pj["llama_bench_tok_s_per_round"] = r.ref_rates[k];
            pj["ratio_per_round"] = peers[k].round_ratios;
          }
          if (k == 0)
            for (const auto& [key, v] : pj.items())
              if (key != "llama_bench") j[key] = v;
          j["peers"].push_back(pj);
        }
        if (o->interleave) {
          j["interleaved"] = true;
          j["tok_s_per_round"] = r.rates;
        }
        std::printf("%s\n", j.dump().c_str());
      } else {
        std::printf("%-8s %12.2f %10.2f %8.1f%% %8.1f%% %8.1f%% %8.1f%% %10s\n", r.name.c_str(), r.mean, r.stddev,
                    pct(r.stages.attention_ms), pct(r.stages.ffn_ms), pct(r.stages.head_ms), pct(r.stages.other_ms),
                    tg ? std::to_string(gbs).substr(0, 6).c_str() : "-");
        if (o->moe_stats) print_moe(r, cached);
        for (size_t k = 0; k < peers.size(); ++k) {
          if (peers[k].tok_s <= 0) continue;
          std::printf("%-8s %12.2f   (%s%s)   ratio larql/peer = %.2f\n", r.name.c_str(), peers[k].tok_s, o->vs[k].c_str(),
                      o->interleave ? ", interleaved" : "", r.mean / peers[k].tok_s);
          if (peers[k].round_ratios.empty()) continue;
          std::printf("%-8s rounds (larql / peer = ratio):", r.name.c_str());
          for (size_t i = 0; i < peers[k].round_ratios.size(); ++i)
            std::printf(" %.2f/%.2f=%.2f", r.rates[i], r.ref_rates[k][i], peers[k].round_ratios[i]);
          std::printf("\n");
        }
      }
    }
    return 0;
  };
}

}  // namespace larql::cli
