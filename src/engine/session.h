// One conversation's state over a Model: its KV cache and position. The
// forward spine (eval_batch) runs the new tokens of one or several sessions
// through the model in a single pass over the weights.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "engine/attention.h"
#include "engine/ffn_patch.h"
#include "engine/model.h"
#include "engine/moe.h"
#include "kernels/ops.h"
#include "util/thread_pool.h"

namespace larql {

struct SessionOptions {
  int n_threads = 0;        // 0 = all cores (ignored when pool is given)
  int64_t n_ctx = 0;        // 0 = min(model context, 4096)
  KVType kv_type = KVType::F32;
  std::shared_ptr<ThreadPool> pool;  // share one pool between sessions (server slots)
  // An FFN edit applied in every forward of this session (engine/ffn_patch.h);
  // null: the unedited model, bit for bit.
  std::shared_ptr<const FfnPatch> ffn_patch;
};

// Per-layer view of the residual stream for tracing: called after the
// attention block and after the FFN block with the delta that block added
// and the residual after adding it, for this session's n_tok rows.
enum class Sublayer { Attention, FFN };
using LayerObserver = std::function<void(int64_t layer, Sublayer, const float* delta, const float* residual, int64_t n_tok)>;

// Wall time spent per stage of the forward pass, accumulated over eval() calls.
struct StageTimes {
  double attention_ms = 0;  // q/k/v/o projections, rope, attention
  double ffn_ms = 0;        // feed-forward (or experts)
  double head_ms = 0;       // final norm and output head
  double other_ms = 0;      // embeddings, norms, residual adds, KV writes
  void clear() { *this = StageTimes{}; }
};

class Session;

// New tokens for one session; logits are written to *logits ([n, n_vocab]
// when all_logits, else [1, n_vocab] for the last token).
struct BatchItem {
  Session* session = nullptr;
  const int32_t* tokens = nullptr;
  int64_t n = 0;
  bool all_logits = false;
  std::vector<float>* logits = nullptr;
};

// Runs several sessions of the same Model together: every matrix product
// covers all their rows (one pass over the weights), attention stays per
// session. Uses the first item's thread pool, scratch and stage timer.
// Validates everything (same model, distinct sessions, context room, token
// ids) before any session changes.
void eval_batch(std::span<const BatchItem> items);

class Session {
 public:
  Session(const Model& model, const SessionOptions& opt = {});
  ~Session();
  Session(Session&&) noexcept;

  // Runs `n` tokens at positions n_past()..n_past()+n-1. Logits of every
  // token ([n, n_vocab], row-major) when all_logits, else of the last only.
  // Throws larql::Error when the context would overflow.
  void eval(const int32_t* tokens, int64_t n, bool all_logits, std::vector<float>& logits);

  int64_t n_past() const { return n_past_; }
  int64_t n_ctx() const { return n_ctx_; }
  void reset() { n_past_ = 0; }
  void truncate(int64_t n) { if (n < n_past_) n_past_ = n < 0 ? 0 : n; }
  void set_observer(LayerObserver obs) { observer_ = std::move(obs); }
  // Validated against the model (throws larql::Error; MoE layers refuse edits).
  void set_ffn_patch(std::shared_ptr<const FfnPatch> p);
  const FfnPatch* ffn_patch() const { return opt_.ffn_patch.get(); }
  const Model& model() const { return *model_; }
  const StageTimes& stage_times() const { return times_; }
  void clear_stage_times() { times_.clear(); }
  // Routed-expert counters of MoE layers, accumulated like stage_times().
  const MoEStats& moe_stats() const { return moe_stats_; }
  void clear_moe_stats() { moe_stats_.clear(); }
  ThreadPool& pool() { return *pool_; }
  KVType kv_type() const { return opt_.kv_type; }

 private:
  friend void eval_batch(std::span<const BatchItem> items);
  friend class Forward;
  struct KV;
  struct Scratch;
  ops::RopeConfig rope_config(int64_t il) const;
  const Model* model_;
  SessionOptions opt_;
  int64_t n_ctx_ = 0;
  int64_t n_past_ = 0;
  std::shared_ptr<ThreadPool> pool_;
  std::vector<std::unique_ptr<KV>> kv_;
  std::unique_ptr<Scratch> scratch_;
  LayerObserver observer_;
  StageTimes times_;
  MoEStats moe_stats_;
};

}  // namespace larql
