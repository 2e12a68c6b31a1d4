// Mixture-of-experts FFN block: router, top-k selection and the routed
// experts' SwiGLU, plus the optional shared expert. A variant of the FFN block
// of the one forward spine (Forward::ffn_block calls it for MoE layers).
#pragma once
#include <cstdint>
#include <vector>

#include "engine/family.h"
#include "engine/weights.h"

namespace larql {
class ThreadPool;
class ExpertCache;

// Where routed experts are read from: the mapped file (cache null) or an
// ExpertCache (--ram-budget; engine/expert_cache.h). resid: the residual
// stream before this FFN, used to predict the next layer's experts.
struct ExpertSource {
  ExpertCache* cache = nullptr;
  int64_t layer = 0;
  const float* resid = nullptr;
};

// Buffers reused across steps (they only grow).
struct MoEScratch {
  std::vector<float> logits, w, xg, g, u, y, ys, sh, route;
  std::vector<int32_t> sel, order;
  std::vector<int64_t> start, fill;
  std::vector<uint8_t> qx, qa, qh;       // quantized activations (moe_exec.cpp)
  std::vector<int32_t> xq, xh;           // their packed-kernel corrections (repack::act_aux), slot order
  std::vector<float> yb;                 // packed down outputs in bucket order
  std::vector<int64_t> units, split;     // work units and per-thread shares (moe_exec.cpp)
  bool force_per_expert = false;         // tests: skip moe_experts_fused
};

// Counters for `bench --moe-stats`, accumulated over calls.
struct MoEStats {
  uint64_t rows = 0;            // token rows through MoE layers (one per token per layer)
  uint64_t expert_uses = 0;     // (row, expert) pairs computed
  uint64_t expert_matmuls = 0;  // distinct experts run per call (each one matrix product over its rows)
  uint64_t expert_bytes = 0;    // routed-expert weight bytes read (once per distinct expert per call)
  void clear() { *this = MoEStats{}; }
};

// Chooses k experts for one row from its router logits (n_expert values):
// gating (softmax or sigmoid), optional selection bias and group limit, top-k
// (ties: lower id), then the weights (optionally renormalised, then scaled).
// sel/w receive k entries in descending score order. `tmp` is scratch.
void moe_route(const Family& fam, int64_t n_expert, int64_t k, const float* logits, const float* bias, int32_t* sel,
               float* w, std::vector<float>& tmp);

// gpt-oss's expert activation: min(g,7) * sigmoid(1.702 min(g,7)) * (clamp(u,-7,7) + 1).
float swiglu_clamped(float g, float u);

// out[t] = sum_k w[t,k] * expert_k(x[t]) (+ shared expert) for n rows of x
// ([n, n_embd]). Rows are grouped by expert: each selected expert runs once,
// as one matrix product over all its rows, and experts nobody chose are never read.
void moe_ffn(const Family& fam, const HParams& hp, const LayerWeights& L, const float* x, int64_t n, float* out,
             MoEScratch& S, ThreadPool& pool, MoEStats* stats = nullptr, const ExpertSource* src = nullptr);

// The routed experts of one layer with the rows already bucketed (S.start,
// S.order): fills S.ys ([n*K, n_embd], slot order) in four pool dispatches.
// Returns false (nothing done) when a weight type has no integer kernel; the
// caller then runs the per-expert products. Mapped experts only (no cache).
// Unpacked experts: bit-identical to the per-expert path (ggml's MUL_MAT_ID
// order). Packed experts (Model::pack_experts) take the packed kernels'
// sequential order. LARQL_MOE_FUSED=0 disables it.
bool moe_experts_fused(const Family& fam, const LayerWeights& L, const float* x, int64_t n, int64_t n_embd,
                       int64_t n_ff_exp, int64_t k, int64_t n_expert, MoEScratch& S, ThreadPool& pool);

}  // namespace larql
