// Routed experts of a model bigger than RAM (--ram-budget). Instead of reading
// expert weights through the mapped file (page cache + mapped pages: under a
// memory limit the kernel evicts and re-reads them, thrashing), whole experts
// (the gate, up and down slices of one expert in one layer) are read with
// pread into a fixed number of slots of anonymous memory, sized so that slots
// + non-expert weights (still mapped) + KV cache + scratch fit the budget.
// Eviction: LRU or LFU with aging. Background threads read the current
// layer's missing experts and prefetch the next layer's predicted ones (the
// next layer's router applied to the current residual stream). Compute only
// ever reads a slot that holds exactly the file's bytes, so results are
// bit-identical to the mapped path.
#pragma once
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "engine/weights.h"
#include "kernels/ops.h"

namespace larql {
class Model;
class ThreadPool;
enum class KVType;

enum class ExpertPolicy { LRU, LFU };
ExpertPolicy parse_expert_policy(const std::string& s);  // "lru" | "lfu"; throws otherwise
const char* expert_policy_name(ExpertPolicy p);

// How a RAM budget is split. Every figure in bytes.
struct BudgetPlan {
  uint64_t budget = 0;
  uint64_t non_expert = 0;  // mapped file bytes that are not routed experts (all may become resident)
  uint64_t kv = 0;          // KV caches of all sessions at full context
  uint64_t scratch = 0;     // activation buffers for the largest batch
  uint64_t runtime = 0;     // heap and code already resident at plan time, plus a margin
  uint64_t cache = 0;       // what is left for expert slots
  uint64_t slot_bytes = 0;  // one expert (gate + up + down, page-aligned)
  int64_t slots = 0;
  std::string describe() const;
};

// Splits `budget_bytes` for `model` run with `n_seq` sessions of `n_ctx`
// tokens each and batches of up to `n_batch` rows. Throws larql::Error (with
// the breakdown) when fewer than 2 * n_expert_used + 2 slots would fit.
BudgetPlan plan_ram_budget(const Model& model, uint64_t budget_bytes, int64_t n_ctx, int64_t n_seq, KVType kv,
                           int64_t n_batch);

// Plans `budget_gb` (GiB) with plan_ram_budget and attaches an ExpertCache of
// that many slots to the model (Model::set_expert_cache). Environment knobs
// for experiments: LARQL_EXPERT_PREFETCH=0 (no prediction),
// LARQL_EXPERT_IO=buffered (no O_DIRECT), LARQL_EXPERT_IO_THREADS=N.
struct ExpertCacheOptions;
BudgetPlan enable_ram_budget(Model& model, double budget_gb, ExpertPolicy policy, int64_t n_ctx, int64_t n_seq,
                             KVType kv, int64_t n_batch);

struct ExpertCacheOptions {
  ExpertPolicy policy = ExpertPolicy::LFU;
  int64_t slots = 0;
  int io_threads = 2;      // background readers (not the compute pool)
  bool prefetch = true;    // predict and read the next layer's experts
  bool direct_io = true;   // O_DIRECT reads (no page cache); falls back to buffered + fadvise(DONTNEED)
  int64_t max_predict_rows = 4;  // predict only for decode-sized batches
};

struct ExpertCacheStats {
  uint64_t lookups = 0;          // expert uses by compute (one per expert per layer call)
  uint64_t hits = 0;             // resident from an earlier use (what the policy kept)
  uint64_t prefetch_hits = 0;    // resident because the predictor fetched it
  uint64_t late = 0;             // absent when its layer began; queued then, or still being read
  uint64_t misses = 0;           // absent: read synchronously
  uint64_t loads = 0;            // experts read from storage
  uint64_t prefetch_loads = 0;   // of which were predictions
  uint64_t prefetch_used = 0;    // predicted loads that compute used before eviction
  uint64_t predicted = 0;        // experts predicted for the next layer
  uint64_t predicted_right = 0;  // of which that layer actually selected
  uint64_t bytes_read = 0;       // bytes read from storage (with alignment padding)
  double wait_ms = 0;            // compute time blocked on reads
  double hit_rate() const { return lookups ? static_cast<double>(hits) / static_cast<double>(lookups) : 0; }
  double predict_accuracy() const {
    return predicted ? static_cast<double>(predicted_right) / static_cast<double>(predicted) : 0;
  }
};

// The three weight views of one expert, valid while the handle is held.
struct ExpertHandle {
  WeightView gate, up, down;
  int32_t slot = -1;
};

class ExpertCache {
 public:
  ExpertCache(const Model& model, const ExpertCacheOptions& opt);
  ~ExpertCache();
  ExpertCache(const ExpertCache&) = delete;
  ExpertCache& operator=(const ExpertCache&) = delete;

  // Layer `il` selected `experts` (in the order compute will use them) for
  // `n` rows. Queues the missing ones for the readers and, for small batches,
  // asks for a prediction of the next MoE layer from `resid` ([n, n_embd], the
  // residual stream before this FFN).
  void begin_layer(int64_t il, const int32_t* experts, int64_t n_experts, const float* resid, int64_t n);
  // Expert `e` of layer `il`, pinned until release(); reads it now if absent.
  ExpertHandle acquire(int64_t il, int64_t e);
  void release(const ExpertHandle& h);

  ExpertCacheStats stats() const;
  void clear_stats();
  int64_t slots() const { return static_cast<int64_t>(slots_.size()); }
  uint64_t slot_bytes() const { return slot_bytes_; }
  ExpertPolicy policy() const { return opt_.policy; }
  bool direct_io() const { return direct_; }

 private:
  struct Piece { int fd; uint64_t off, len, a_off, a_len, pos; };
  enum class State : uint8_t { Empty, Queued, Loading, Ready };
  struct Slot {
    int64_t key = -1;
    State state = State::Empty;
    int pins = 0;
    bool prefetched = false;  // read on a prediction, not used yet
    bool urgent = false;      // queued for the layer being computed
    uint64_t last_use = 0;
    uint64_t fetched_clock = 0;
  };
  enum class Job { Predict, Load };
  void io_loop();
  int32_t find_victim(bool for_prefetch);
  int32_t claim_slot(int64_t key, bool prefetch, std::unique_lock<std::mutex>& lk);
  void read_into(int64_t key, int32_t slot);
  void load_locked(int64_t key, int32_t slot, std::unique_lock<std::mutex>& lk);
  std::vector<int32_t> predict(int64_t il, const std::vector<float>& resid, int64_t n);
  void apply_prediction(int64_t nl, const std::vector<int32_t>& experts, uint64_t clock, std::unique_lock<std::mutex>& lk);
  ExpertHandle handle(int64_t key, int32_t slot) const;
  void touch(int64_t key, int32_t slot);

  const Model& m_;
  ExpertCacheOptions opt_;
  int64_t n_expert_ = 0;
  bool direct_ = false;
  std::vector<int> fds_;
  std::vector<Piece> pieces_;  // [key * 3 + {gate, up, down}], key = layer * n_expert + e
  std::vector<WeightView> base_;  // [layer * 3 + part]: expert 0's view, for type and shape
  uint64_t slot_bytes_ = 0;
  uint8_t* mem_ = nullptr;
  size_t mem_bytes_ = 0;
  std::vector<Slot> slots_;
  std::vector<int32_t> where_;      // key -> slot or -1
  std::vector<float> freq_;         // key -> decayed use count (LFU)
  std::vector<int64_t> next_moe_;   // layer -> next MoE layer or -1
  uint64_t tick_ = 0, layer_clock_ = 0, since_decay_ = 0;
  std::vector<std::vector<int32_t>> pred_;  // layer -> experts predicted for its next call
  std::vector<uint64_t> begun_;             // layer -> layer_clock_ of its last call
  mutable std::mutex mu_;
  std::condition_variable cv_;      // slot state changes and new jobs
  std::deque<int64_t> urgent_, ahead_;  // keys to load: current layer first
  bool predict_pending_ = false, predicting_ = false;
  int64_t predict_layer_ = -1, predict_rows_ = 0;
  uint64_t predict_clock_ = 0;
  std::vector<float> predict_in_;
  bool stop_ = false;
  std::unique_ptr<ThreadPool> one_;  // single-thread pool for the predictor's products
  std::vector<std::thread> io_;
  ExpertCacheStats st_;
};

// One routed expert's weights for moe_ffn: the mapped views, or a cache slot
// pinned for the pin's lifetime.
struct ExpertSource;
struct ExpertPin {
  ExpertPin(const LayerWeights& L, const ExpertSource* src, int64_t e);
  ~ExpertPin();
  ExpertPin(const ExpertPin&) = delete;
  ExpertPin& operator=(const ExpertPin&) = delete;
  ExpertCache* cache = nullptr;
  ExpertHandle h;
};
// Tells the cache (if any) which experts this call uses: start[e]..start[e+1]
// are expert e's rows, so e is used when that range is non-empty.
void experts_begin(const ExpertSource* src, const std::vector<int64_t>& start, int64_t n_rows);

}  // namespace larql
