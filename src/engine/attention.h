// Attention of new query rows over one sequence's KV cache. Split from the
// spine so the kernel (tiled/flash prefill, fast decode) can evolve alone.
#pragma once
#include <cstdint>

namespace larql {
class ThreadPool;

enum class KVType { F32, F16 };

// One layer's cache of one sequence: position-major, [pos][kv_head][dim].
struct KVCacheView {
  KVType type = KVType::F32;
  const void* k = nullptr;  // float or fp16 (uint16_t) per type
  const void* v = nullptr;
};

struct AttentionParams {
  int64_t n_head = 0, n_head_kv = 0, dk = 0, dv = 0;
  int64_t window = 0;   // > 0: sliding window (a query at pos sees pos-window+1..pos)
  float scale = 1.0f;   // applied to the (soft-capped) score
  float softcap = 0.0f; // > 0: score = tanh(score / cap) * cap before scaling
  // gpt-oss attention sinks: per query head a learned logit that joins the
  // softmax's max and denominator but has no value row (nullptr: none).
  const float* sinks = nullptr;
};

// The softmax with an optional sink logit s: m' = max(m, s), sum' = sum + exp(s - m').
// Callers compute the max over the scores, widen it here, then add sink_term() to the sum.
inline float sink_max(const AttentionParams& p, int64_t head, float mx) {
  return p.sinks && p.sinks[head] > mx ? p.sinks[head] : mx;
}
float sink_term(const AttentionParams& p, int64_t head, float mx);

// q: [n, n_head*dk] for positions pos0..pos0+n-1 (roped); the cache already
// holds positions 0..pos0+n-1. out: [n, n_head*dv]. Causal.
void attend(const AttentionParams& p, const KVCacheView& kv, const float* q, int64_t n, int64_t pos0, float* out,
            ThreadPool& pool);
// The plain per-(query, head) loop attend() is tested against (same contract).
void attend_reference(const AttentionParams& p, const KVCacheView& kv, const float* q, int64_t n, int64_t pos0,
                      float* out, ThreadPool& pool);

}  // namespace larql
