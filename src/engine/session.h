// One conversation's state over a Model: the KV cache and scratch buffers.
// eval() appends tokens and runs them through the forward spine.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "engine/model.h"
#include "kernels/ops.h"
#include "util/thread_pool.h"

namespace larql {

enum class KVType { F32, F16 };

struct SessionOptions {
  int n_threads = 0;        // 0 = all cores
  int64_t n_ctx = 0;        // 0 = min(model context, 4096)
  KVType kv_type = KVType::F32;
};

// Per-layer view of the residual stream for tracing: called after the
// attention block and after the FFN block with the delta that block added
// and the residual after adding it, for all n_tok rows.
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

class Session {
 public:
  Session(const Model& model, const SessionOptions& opt = {});
  ~Session();

  // Runs `n` tokens at positions n_past()..n_past()+n-1. Logits of every
  // token ([n, n_vocab], row-major) when all_logits, else of the last only.
  // Throws larql::Error when the context would overflow.
  void eval(const int32_t* tokens, int64_t n, bool all_logits, std::vector<float>& logits);

  int64_t n_past() const { return n_past_; }
  int64_t n_ctx() const { return n_ctx_; }
  void reset() { n_past_ = 0; }
  void truncate(int64_t n) { if (n < n_past_) n_past_ = n < 0 ? 0 : n; }
  void set_observer(LayerObserver obs) { observer_ = std::move(obs); }
  const Model& model() const { return model_; }
  const StageTimes& stage_times() const { return times_; }
  void clear_stage_times() { times_.clear(); }

 private:
  struct KV;
  void attention(int64_t il, const float* q, int64_t n, float* out);
  ops::RopeConfig rope_config(int64_t il) const;
  const Model& model_;
  SessionOptions opt_;
  int64_t n_ctx_ = 0;
  int64_t n_past_ = 0;
  std::unique_ptr<ThreadPool> pool_;
  std::vector<std::unique_ptr<KV>> kv_;
  LayerObserver observer_;
  StageTimes times_;
};

}  // namespace larql
