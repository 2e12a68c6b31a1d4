// DeepSeek multi-head latent attention, the attention-block variant for
// deepseek2. Each position caches only the normalised KV latent c (kv_lora_rank)
// and the shared roped key k_pe (rope_dim), never per-head K/V. Queries are
// absorbed into the latent space: q_nope . (W_kb c) = (W_kb^T q_nope) . c, and
// the value projection is applied after attention: sum_j a_j W_vb c_j = W_vb sum_j a_j c_j.
#pragma once
#include <cstdint>
#include <vector>

#include "engine/attention.h"
#include "engine/family.h"
#include "engine/weights.h"
#include "kernels/ops.h"

namespace larql {
class ThreadPool;

struct MLAScratch {
  std::vector<float> qa, q, kva, qpe, qabs, lat, o;
};

// One sequence's rows in the batch (consecutive) and its latent cache
// ([n_ctx][mla_cache_width], float or fp16 per type).
struct MLASequence {
  void* cache = nullptr;
  KVType type = KVType::F32;
  int64_t n_past = 0;
  int64_t n = 0;
};

inline int64_t mla_cache_width(const HParams& hp) { return hp.kv_lora_rank + hp.rope_dim; }

// h: [n, n_embd] normed input rows (all sequences, in order), pos: their positions.
// Appends each row's latent to its sequence's cache, attends, and writes the
// per-head values att: [n, n_head * head_dim_v] (the attn_output input).
void mla_attention(const HParams& hp, const Family& fam, const LayerWeights& L, ops::RopeConfig rope, const float* h,
                   int64_t n, const int64_t* pos, const MLASequence* seqs, size_t n_seqs, float* att, MLAScratch& S,
                   ThreadPool& pool);

}  // namespace larql
