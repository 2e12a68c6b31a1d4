// Reference attention: per (query, head) a scores pass, a softmax and a
// weighted sum of values. With an f16 cache ggml rounds q and the
// probabilities to f16 for its products; we do the same to match its logits.
#include "engine/attention.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/ops.h"
#include "util/half.h"
#include "util/thread_pool.h"

namespace larql {

namespace {
float round_f16(float x) { return fp16_to_fp32(fp32_to_fp16(x)); }
}  // namespace

void attend(const AttentionParams& P, const KVCacheView& kv, const float* q, int64_t n, int64_t pos0, float* out,
            ThreadPool& pool) {
  const int64_t H = P.n_head, HKV = P.n_head_kv, dk = P.dk, dv = P.dv;
  const int64_t group = H / HKV;
  const bool f16 = kv.type == KVType::F16;
  const float* k32 = static_cast<const float*>(kv.k);
  const float* v32 = static_cast<const float*>(kv.v);
  const uint16_t* k16 = static_cast<const uint16_t*>(kv.k);
  const uint16_t* v16 = static_cast<const uint16_t*>(kv.v);
  pool.parallel_for(n * H, [&](int64_t b, int64_t e, int) {
    std::vector<float> p(static_cast<size_t>(pos0 + n));
    std::vector<float> qh(static_cast<size_t>(dk));
    for (int64_t job = b; job < e; ++job) {
      const int64_t t = job / H, h = job % H, kvh = h / group;
      const int64_t pos = pos0 + t;
      const int64_t first = P.window > 0 ? std::max<int64_t>(0, pos - P.window + 1) : 0;
      const float* qv = q + (t * H + h) * dk;
      for (int64_t d = 0; d < dk; ++d) qh[static_cast<size_t>(d)] = f16 ? round_f16(qv[d]) : qv[d];
      float mx = -INFINITY;
      for (int64_t j = first; j <= pos; ++j) {
        const size_t off = static_cast<size_t>((j * HKV + kvh) * dk);
        float s = 0;
        if (f16) for (int64_t d = 0; d < dk; ++d) s += qh[static_cast<size_t>(d)] * fp16_to_fp32(k16[off + d]);
        else for (int64_t d = 0; d < dk; ++d) s += qh[static_cast<size_t>(d)] * k32[off + d];
        if (P.softcap > 0) s = std::tanh(s / P.softcap) * P.softcap;
        s *= P.scale;
        p[static_cast<size_t>(j)] = s;
        mx = std::max(mx, s);
      }
      double sum = 0;
      for (int64_t j = first; j <= pos; ++j) {
        const float ev = ops::expf_fast(p[static_cast<size_t>(j)] - mx);
        p[static_cast<size_t>(j)] = ev;
        sum += ev;
      }
      const float inv = static_cast<float>(1.0 / sum);
      float* o = out + (t * H + h) * dv;
      std::fill(o, o + dv, 0.0f);
      for (int64_t j = first; j <= pos; ++j) {
        float pj = p[static_cast<size_t>(j)] * inv;
        if (f16) pj = round_f16(pj);
        const size_t off = static_cast<size_t>((j * HKV + kvh) * dv);
        if (f16) for (int64_t d = 0; d < dv; ++d) o[d] += pj * fp16_to_fp32(v16[off + d]);
        else for (int64_t d = 0; d < dv; ++d) o[d] += pj * v32[off + d];
      }
    }
  });
}

}  // namespace larql
