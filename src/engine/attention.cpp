// Attention of new query rows over the KV cache: per (query, head) a scores
// pass, a softmax and a weighted sum of values. With an f16 cache ggml rounds q
// and the probabilities to f16 for its products; we do the same to match its
// logits. attend() is the fast path (SIMD dot products and value updates with
// F16C conversions, per-thread scratch reused across calls); attend_reference()
// is the plain loop it is tested against. The value update is bit-identical
// (same multiply-then-add per element); only the order of the q·k sums differs.
#include "engine/attention.h"
#include "engine/attention_exact.h"
#include "kernels/ik_order.h"

#include <algorithm>
#include <cmath>
#include <vector>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "kernels/ops.h"
#include "util/cpu.h"
#include "util/half.h"
#include "util/thread_pool.h"

namespace larql {

// ggml adds the sink as expf in double after the scores' sum.
float sink_term(const AttentionParams& p, int64_t head, float mx) {
  return p.sinks ? std::exp(p.sinks[head] - mx) : 0.0f;
}

namespace {
float round_f16(float x) { return fp16_to_fp32(fp32_to_fp16(x)); }

#if defined(__x86_64__)
#define LARQL_ATT_SIMD __attribute__((target("avx2,fma,f16c")))
LARQL_ATT_SIMD inline __m256 load8(const float* p) { return _mm256_loadu_ps(p); }
LARQL_ATT_SIMD inline __m256 load8(const uint16_t* p) {
  return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}
inline float to_f32(float x) { return x; }
inline float to_f32(uint16_t x) { return fp16_to_fp32(x); }

// sum_d q[d] * k[d], two 8-lane accumulators.
template <class T>
LARQL_ATT_SIMD float dot_simd(const float* q, const T* k, int64_t n) {
  __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
  int64_t d = 0;
  for (; d + 16 <= n; d += 16) {
    a0 = _mm256_fmadd_ps(load8(q + d), load8(k + d), a0);
    a1 = _mm256_fmadd_ps(load8(q + d + 8), load8(k + d + 8), a1);
  }
  for (; d + 8 <= n; d += 8) a0 = _mm256_fmadd_ps(load8(q + d), load8(k + d), a0);
  __m256 v = _mm256_add_ps(a0, a1);
  __m128 lo = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  lo = _mm_add_ps(lo, _mm_movehl_ps(lo, lo));
  lo = _mm_add_ss(lo, _mm_movehdup_ps(lo));
  float s = _mm_cvtss_f32(lo);
  for (; d < n; ++d) s += q[d] * to_f32(k[d]);
  return s;
}

// o[d] += p * v[d], multiply then add per element like the reference loop.
template <class T>
LARQL_ATT_SIMD void axpy_simd(float* o, float p, const T* v, int64_t n) {
  const __m256 pv = _mm256_set1_ps(p);
  int64_t d = 0;
  for (; d + 8 <= n; d += 8) _mm256_storeu_ps(o + d, _mm256_add_ps(load8(o + d), _mm256_mul_ps(pv, load8(v + d))));
  for (; d < n; ++d) o[d] += p * to_f32(v[d]);
}

template <class T>
void attend_simd(const AttentionParams& P, const T* kc, const T* vc, bool f16, const float* q, int64_t n,
                 int64_t pos0, float* out, ThreadPool& pool) {
  const int64_t H = P.n_head, HKV = P.n_head_kv, dk = P.dk, dv = P.dv, group = H / HKV;
  pool.parallel_for(n * H, [&](int64_t b, int64_t e, int) {
    thread_local std::vector<float> p, qh;  // grow-only scratch: no allocation per call once warm
    if (p.size() < static_cast<size_t>(pos0 + n)) p.resize(static_cast<size_t>(pos0 + n));
    if (qh.size() < static_cast<size_t>(dk)) qh.resize(static_cast<size_t>(dk));
    for (int64_t job = b; job < e; ++job) {
      const int64_t t = job / H, h = job % H, kvh = h / group;
      const int64_t pos = pos0 + t;
      const int64_t first = P.window > 0 ? std::max<int64_t>(0, pos - P.window + 1) : 0;
      const float* qv = q + (t * H + h) * dk;
      for (int64_t d = 0; d < dk; ++d) qh[static_cast<size_t>(d)] = f16 ? round_f16(qv[d]) : qv[d];
      float mx = -INFINITY;
      for (int64_t j = first; j <= pos; ++j) {
        float s = dot_simd(qh.data(), kc + (j * HKV + kvh) * dk, dk);
        if (P.softcap > 0) s = std::tanh(s / P.softcap) * P.softcap;
        s *= P.scale;
        p[static_cast<size_t>(j)] = s;
        mx = std::max(mx, s);
      }
      mx = sink_max(P, h, mx);
      double sum = 0;
      for (int64_t j = first; j <= pos; ++j) {
        const float ev = ops::expf_fast(p[static_cast<size_t>(j)] - mx);
        p[static_cast<size_t>(j)] = ev;
        sum += ev;
      }
      sum += sink_term(P, h, mx);
      const float inv = static_cast<float>(1.0 / sum);
      float* o = out + (t * H + h) * dv;
      std::fill(o, o + dv, 0.0f);
      for (int64_t j = first; j <= pos; ++j) {
        float pj = p[static_cast<size_t>(j)] * inv;
        if (f16) pj = round_f16(pj);
        axpy_simd(o, pj, vc + (j * HKV + kvh) * dv, dv);
      }
    }
  });
}
#endif
}  // namespace

void attend(const AttentionParams& P, const KVCacheView& kv, const float* q, int64_t n, int64_t pos0, float* out,
            ThreadPool& pool) {
  // An F32 cache follows llama.cpp's order exactly; an F16 cache too under the ik_llama.cpp profile.
  if (kv.type == KVType::F32) {
    attn_detail::attend_f32(P, static_cast<const float*>(kv.k), static_cast<const float*>(kv.v), q, n, pos0, out, pool);
    return;
  }
  if (ik::enabled()) {
    attn_detail::attend_ik_f16(P, static_cast<const uint16_t*>(kv.k), static_cast<const uint16_t*>(kv.v), q, n, pos0,
                               out, pool);
    return;
  }
#if defined(__x86_64__)
  const CpuFeatures& c = cpu_features();
  if (c.avx2 && c.fma && c.f16c && !c.force_scalar) {
    if (kv.type == KVType::F16)
      attend_simd(P, static_cast<const uint16_t*>(kv.k), static_cast<const uint16_t*>(kv.v), true, q, n, pos0, out, pool);
    else
      attend_simd(P, static_cast<const float*>(kv.k), static_cast<const float*>(kv.v), false, q, n, pos0, out, pool);
    return;
  }
#endif
  attend_reference(P, kv, q, n, pos0, out, pool);
}

void attend_reference(const AttentionParams& P, const KVCacheView& kv, const float* q, int64_t n, int64_t pos0, float* out,
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
      mx = sink_max(P, h, mx);
      double sum = 0;
      for (int64_t j = first; j <= pos; ++j) {
        const float ev = ops::expf_fast(p[static_cast<size_t>(j)] - mx);
        p[static_cast<size_t>(j)] = ev;
        sum += ev;
      }
      sum += sink_term(P, h, mx);
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
