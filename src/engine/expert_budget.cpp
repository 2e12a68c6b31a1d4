// Splitting a --ram-budget between what stays mapped, the KV caches, scratch,
// the runtime and the expert slots; and finding the file behind a mapping.
#include <algorithm>
#include <cinttypes>
#include <cstdlib>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

#include "engine/attention.h"
#include "engine/expert_cache.h"
#include "engine/mla.h"
#include "engine/model.h"
#include "util/error.h"

namespace larql {

// The file and offset behind a mapped address, from /proc/self/maps.
bool file_location(const void* p, std::string& path, uint64_t& off) {
  std::ifstream f("/proc/self/maps");
  std::string line;
  const uintptr_t a = reinterpret_cast<uintptr_t>(p);
  while (std::getline(f, line)) {
    uintptr_t lo = 0, hi = 0;
    unsigned long long moff = 0;
    char perms[8] = {0};
    int name_at = 0;
    if (std::sscanf(line.c_str(), "%" SCNxPTR "-%" SCNxPTR " %7s %llx %*s %*s %n", &lo, &hi, perms, &moff, &name_at) < 4)
      continue;
    if (a < lo || a >= hi) continue;
    path = name_at > 0 ? line.substr(static_cast<size_t>(name_at)) : "";
    if (path.empty() || path[0] != '/') return false;  // anonymous or [heap]
    off = moff + (a - lo);
    return true;
  }
  return false;
}

namespace {

uint64_t proc_status_kb(const char* key) {
  std::ifstream f("/proc/self/status");
  std::string line;
  const size_t n = std::strlen(key);
  while (std::getline(f, line))
    if (line.compare(0, n, key) == 0) return std::stoull(line.substr(n + 1)) ;
  return 0;
}

constexpr uint64_t kMiB = 1ull << 20;
constexpr uint64_t kRuntimeMargin = 48 * kMiB;  // thread stacks, allocator slack, kernels' per-thread buffers

}  // namespace

std::string BudgetPlan::describe() const {
  char b[512];
  std::snprintf(b, sizeof b,
                "budget %.0f MiB = non-expert weights %.0f + KV %.0f + scratch %.0f + runtime %.0f + expert cache "
                "%.0f (%" PRId64 " slots of %.2f MiB)",
                budget / double(kMiB), non_expert / double(kMiB), kv / double(kMiB), scratch / double(kMiB),
                runtime / double(kMiB), cache / double(kMiB), slots, slot_bytes / double(kMiB));
  return b;
}

BudgetPlan plan_ram_budget(const Model& model, uint64_t budget_bytes, int64_t n_ctx, int64_t n_seq, KVType kv,
                           int64_t n_batch) {
  const HParams& hp = model.hparams();
  const Family& fam = model.family();
  if (!fam.moe) throw Error("--ram-budget applies to mixture-of-experts models; '" + hp.arch + "' has none");
  BudgetPlan p;
  p.budget = budget_bytes;
  uint64_t experts = 0, slot = 0;
  for (int64_t il = 0; il < hp.n_layer; ++il) {
    if (!fam.layer_is_moe(il)) continue;
    const LayerWeights& L = model.weights().layers[static_cast<size_t>(il)];
    uint64_t one = 0;
    for (const ExpertWeights* ew : {&L.gate_exps, &L.up_exps, &L.down_exps}) {
      experts += ew->expert_bytes * static_cast<uint64_t>(ew->n_expert);
      one += (ew->expert_bytes + 2 * 4096 - 1) / 4096 * 4096;  // page-aligned read window
    }
    slot = std::max(slot, one);
  }
  p.slot_bytes = slot;
  const uint64_t file = model.source().file_bytes();
  // Matrices repacked at load (weights.cpp) live on the heap, counted in
  // `runtime` below; their mapped pages were dropped, so they leave the file part.
  uint64_t packed = 0;
  std::vector<const uint8_t*> seen;
  auto count = [&](const WeightView& v) {
    if (!v.valid() || !v.packed || std::find(seen.begin(), seen.end(), v.data) != seen.end()) return;
    seen.push_back(v.data);
    packed += v.row_bytes * static_cast<uint64_t>(v.n_out);
  };
  count(model.weights().output);
  for (const LayerWeights& L : model.weights().layers)
    for (const WeightView* v : {&L.wq, &L.wk, &L.wv, &L.wqkv, &L.wo, &L.ffn_gate, &L.ffn_up, &L.ffn_down,
                                &L.ffn_gate_shexp, &L.ffn_up_shexp, &L.ffn_down_shexp, &L.wq_a, &L.wq_b, &L.wkv_a, &L.wkv_b})
      count(*v);
  p.non_expert = file > experts + packed ? file - experts - packed : 0;
  if (n_ctx <= 0) n_ctx = std::min<int64_t>(hp.n_ctx > 0 ? hp.n_ctx : 4096, 4096);
  const uint64_t elt = kv == KVType::F32 ? 4 : 2;
  const int64_t per_pos = fam.mla ? mla_cache_width(hp) : hp.n_head_kv * (hp.head_dim_k + hp.head_dim_v);
  p.kv = static_cast<uint64_t>(per_pos) * elt * static_cast<uint64_t>(n_ctx * hp.n_layer * std::max<int64_t>(1, n_seq));
  // Activation buffers per row (session scratch, MoE gather buffers, the
  // kernels' int8 copies), with room to spare; MLA's expanded attention holds
  // K/V of every position; the head writes one row of logits per sequence.
  const int64_t E = hp.n_embd, F = std::max(hp.n_ff_exp, hp.n_ff), K = hp.n_expert_used;
  const int64_t per_row = 8 * E + 2 * hp.n_head * std::max(hp.head_dim_k, hp.head_dim_v) +
                          2 * hp.n_head_kv * std::max(hp.head_dim_k, hp.head_dim_v) + 3 * F + K * E + hp.n_expert +
                          2 * std::max<int64_t>(hp.n_ff_shexp, hp.n_ff_exp * hp.n_expert_shared);
  uint64_t scratch = static_cast<uint64_t>(per_row) * 4 * static_cast<uint64_t>(std::max<int64_t>(1, n_batch));
  if (fam.mla)
    scratch += static_cast<uint64_t>(n_ctx) * 4 *
               static_cast<uint64_t>(hp.kv_lora_rank + hp.n_head * (hp.head_dim_k - hp.rope_dim + hp.head_dim_v));
  scratch += static_cast<uint64_t>(hp.n_vocab) * 4 * static_cast<uint64_t>(2 * std::max<int64_t>(1, n_seq));
  p.scratch = scratch + scratch / 2;
  // What the process already holds that is not the model file: heap (tokenizer,
  // decoded norms) and the program's own pages.
  p.runtime = (proc_status_kb("RssAnon:") + proc_status_kb("RssShmem:")) * 1024 + kRuntimeMargin;
  const uint64_t fixed = p.non_expert + p.kv + p.scratch + p.runtime;
  p.cache = budget_bytes > fixed ? budget_bytes - fixed : 0;
  p.slots = slot ? static_cast<int64_t>(p.cache / slot) : 0;
  const int64_t X = hp.n_expert, need = 2 * K + 2;
  if (p.slots > X * hp.n_layer) p.slots = X * hp.n_layer;  // everything fits
  if (p.slots < need)
    throw Error("--ram-budget " + std::to_string(budget_bytes / kMiB) + " MiB is too small: " + p.describe() +
                "; at least " + std::to_string(need) + " expert slots are needed (" +
                std::to_string((fixed + static_cast<uint64_t>(need) * slot) / kMiB + 1) + " MiB)");
  p.cache = static_cast<uint64_t>(p.slots) * slot;
  return p;
}

}  // namespace larql

namespace larql {

BudgetPlan enable_ram_budget(Model& model, double budget_gb, ExpertPolicy policy, int64_t n_ctx, int64_t n_seq,
                             KVType kv, int64_t n_batch) {
  if (!(budget_gb > 0) || budget_gb > 1e6) throw Error("--ram-budget must be a positive number of GiB");
  const BudgetPlan plan =
      plan_ram_budget(model, static_cast<uint64_t>(budget_gb * 1073741824.0), n_ctx, n_seq, kv, n_batch);
  ExpertCacheOptions o;
  o.policy = policy;
  o.slots = plan.slots;
  if (const char* v = std::getenv("LARQL_EXPERT_PREFETCH")) o.prefetch = std::string(v) != "0";
  if (const char* v = std::getenv("LARQL_EXPERT_IO")) o.direct_io = std::string(v) != "buffered";
  if (const char* v = std::getenv("LARQL_EXPERT_IO_THREADS")) o.io_threads = std::max(1, std::atoi(v));
  model.set_expert_cache(std::make_shared<ExpertCache>(model, o));
  return plan;
}

}  // namespace larql
