// Packed-layout kernels (repack.h) for AVX2 CPUs without VNNI (Zen 2/3, older
// Intel): the 256-bit kernels of repack_ymm_inl.h with vpdpbusd emulated as
// vpmaddubsw (u8 x s8 pairs summed to int16, saturating) + vpmaddwd by 1.
// Exact only while a pair sum stays within int16: 2 x 63 x 128 < 32767 for the
// 4/5/6-bit codes of Q4_0, Q5_0, Q4_K, Q5_K, Q6_K; Q8_0's 0..255 codes would
// saturate, so its one-token kernel multiplies |w| by a * sgn(w) (micro_q8_0)
// and its prefill widens both sides to int16 for vpmaddwd (gemm_q8_0_w16).
#include <immintrin.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "kernels/repack.h"
#include "tensor/quants_impl.h"

namespace larql::repack::avx2 {
bool handles(GGMLType t) {
  return t == GGMLType::Q8_0 || t == GGMLType::Q4_0 || t == GGMLType::Q5_0 || t == GGMLType::Q4_K ||
         t == GGMLType::Q5_K || t == GGMLType::Q6_K;
}
}  // namespace larql::repack::avx2

#if defined(__clang__)
namespace larql::repack::avx2 {
void gemm(const Packed&, const uint8_t*, size_t, const int32_t*, size_t, int, int64_t, int64_t, float*, int64_t) {
  std::abort();  // clang builds leave the GCC-pragma kernels out (repack::enabled() is false there)
}
}  // namespace larql::repack::avx2
#else
#pragma GCC push_options
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC target("avx2,fma,f16c")

namespace larql::repack::avx2 {

using namespace larql::quant;

namespace {
constexpr bool kNativeDp = false;
inline __m256i dp(__m256i acc, __m256i u, __m256i a) {
  return _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(u, a), _mm256_set1_epi16(1)));
}
}  // namespace

#include "kernels/repack_ymm_inl.h"
#include "kernels/repack_staged_inl.h"

// Q8_0 prefill by vpmaddwd on int16 instead of the sign trick. With signed
// 8-bit weights and activations, vpmaddubsw needs |w| and a * sgn w (one
// vpsignb per token and vector) and a vpmaddwd to widen: three ops per 32
// products on the two ports Zen 2/3 run integer multiplies on. Widened to int16
// once (activations per call, weights per vector shared by NT tokens), two
// vpmaddwd do the same 32 products: 1.5 -> 1 port-cycle. A weight dword holds
// codes k0..k3 of one row; as int16 its even bytes give (k0, k2) and its odd
// bytes (k1, k3), so the activations are stored per 4-group as (a0, a2, a1, a3)
// and broadcast a pair at a time. The weights stay as stored, u = w + 128
// (0..255: one and / one shift per half, no sign extension), and each block's
// sum starts at the token's correction -128 * sum(a) (act_aux), so S is the
// exact integer sum w . a; then the reference's fma(float(S), d_w * d_a, acc):
// the same bits as the other families.
namespace {

constexpr int kW16Tokens = 128;  // activations widened per pass over the row range (8.5 KiB each per 4096 inputs)

constexpr int kU = 2;   // halves (8 rows each) per pass: 1 or 2, a whole group
constexpr int kNT = 4;  // tokens per pass; their widened activations are interleaved per block
static_assert(kW16Tokens % kNT == 0, "a widened pass holds whole token groups");

struct BlockAct {  // a token's block: activation scale and correction
  float d;
  int32_t x;
};

// n tokens' Q8_0 blocks -> int16 codes (32 per block, 4-groups as a0 a2 a1 a3)
// and BlockAct (x from aux, xs apart per token), interleaved so a pass's kNT
// tokens sit together per block (fixed offsets from one pointer): token
// t = kNT g + j, block b at q + ((g nb + b) kNT + j) 32 and d + (g nb + b) kNT + j.
void widen_act(const uint8_t* act, size_t as, const int32_t* aux, size_t xs, int n, int64_t nb, int16_t* q,
               BlockAct* d) {
  for (int t = 0; t < n; ++t) {
    const auto* blk = reinterpret_cast<const BlockQ8_0*>(act + as * static_cast<size_t>(t));
    const int64_t base = (t / kNT) * nb * kNT + t % kNT;
    for (int64_t b = 0; b < nb; ++b) {
      int16_t* o = q + (base + b * kNT) * 32;
      for (int half = 0; half < 2; ++half) {
        const __m256i v = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(blk[b].qs + 16 * half)));
        const __m256i perm = _mm256_shufflehi_epi16(_mm256_shufflelo_epi16(v, 0xD8), 0xD8);  // words 0 2 1 3
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(o + 16 * half), perm);
      }
      d[base + b * kNT] = {act_half(blk[b].d), aux[xs * static_cast<size_t>(t) + b]};
    }
  }
}

// Staged (repack_staged_inl.h's idea for Q8_0): a chunk of a group's blocks is
// expanded once per 128-token tile into the even / odd int16 vectors and f32
// scales, so a pass's loop has no and / shift: GEMM ~119 -> ~127 GOPS on Zen 3
// (BM_GemmFamily/Q8_0.../2, best of 5, interleaved). Block layout: [v][u] (even
// 32 B, odd 32 B), then [u] 8 f32 scales.
constexpr size_t kQ8StagedBlock = 8 * kU * 64 + kU * 32;
constexpr int64_t kQ8StagedChunk = 64;  // blocks (2048 inputs, 68 KiB staged); 32 and 128 on a par

void stage_q8_0(const uint8_t* grp, const BlockLayout& L, int64_t b0, int64_t b1, uint8_t* out) {
  const __m256i low = _mm256_set1_epi16(0x00FF);
  for (int64_t b = b0; b < b1; ++b, out += kQ8StagedBlock) {
    const uint8_t* c = grp + L.codes(b);
    for (int v = 0; v < 8; ++v)
      for (int u = 0; u < kU; ++u) {
        const __m256i w = ld(c + 64 * v + 32 * u);  // u = w + 128
        _mm256_store_si256(reinterpret_cast<__m256i*>(out + (v * kU + u) * 64), _mm256_and_si256(w, low));
        _mm256_store_si256(reinterpret_cast<__m256i*>(out + (v * kU + u) * 64 + 32), _mm256_srli_epi16(w, 8));
      }
    for (int u = 0; u < kU; ++u)
      _mm256_store_ps(reinterpret_cast<float*>(out + 8 * kU * 64 + 32 * u), halves8(grp + L.meta(b) + 16 * u));
  }
}

// The kU halves of a group x NT tokens; y as Args::y. Weights from the packed
// group w (STAGED false) or a staged chunk w (true; add_y: the float sums
// continue from y, a later chunk). The float sums live in a local array (one
// load/fma/store per block, half and token) so that the int32 sums and the
// widened weights keep the 16 ymm registers; written to y per block, their rows
// 4 KiB apart alias in the store buffer (87 vs 113 GOPS).
template <int NT, bool STAGED>
void q8_0_w16(const uint8_t* w, const BlockLayout& L, int64_t nb, const int16_t* q, const BlockAct* d, float* y,
              int64_t ldy, bool add_y) {
  constexpr int U = kU;
  const __m256i low = _mm256_set1_epi16(0x00FF);
  alignas(32) float acc[U][NT][8];
  _Pragma("GCC unroll 2")
  for (int u = 0; u < U; ++u)
    _Pragma("GCC unroll 16")
    for (int t = 0; t < NT; ++t)
      _mm256_store_ps(acc[u][t], add_y ? _mm256_loadu_ps(y + t * ldy + 8 * u) : _mm256_setzero_ps());
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* c = STAGED ? w + b * kQ8StagedBlock : w + L.codes(b);
    const int16_t* qb = q + b * kNT * 32;
    __m256i s[U][NT];
    _Pragma("GCC unroll 8")
    for (int v = 0; v < 8; ++v) {
      __m256i even[U], odd[U];
      _Pragma("GCC unroll 2")
      for (int u = 0; u < U; ++u) {
        if constexpr (STAGED) {
          even[u] = ld(c + (v * U + u) * 64);
          odd[u] = ld(c + (v * U + u) * 64 + 32);
        } else {
          const __m256i x = ld(c + 64 * v + 32 * u);  // u = w + 128
          even[u] = _mm256_and_si256(x, low);
          odd[u] = _mm256_srli_epi16(x, 8);
        }
      }
      _Pragma("GCC unroll 16")
      for (int t = 0; t < NT; ++t) {
        const int16_t* a = qb + t * 32 + 4 * v;
        const __m256i ae = bc(reinterpret_cast<const uint8_t*>(a)), ao = bc(reinterpret_cast<const uint8_t*>(a + 2));
        _Pragma("GCC unroll 2")
        for (int u = 0; u < U; ++u) {
          const __m256i p = _mm256_add_epi32(_mm256_madd_epi16(even[u], ae), _mm256_madd_epi16(odd[u], ao));
          s[u][t] = _mm256_add_epi32(v == 0 ? _mm256_set1_epi32(d[b * kNT + t].x) : s[u][t], p);
          keep(s[u][t]);  // one chain per sum: reassociated, a block's products spill
        }
      }
    }
    _Pragma("GCC unroll 2")
    for (int u = 0; u < U; ++u) {
      const __m256 dw = STAGED ? _mm256_load_ps(reinterpret_cast<const float*>(c + 8 * U * 64 + 32 * u))
                               : halves8(w + L.meta(b) + 16 * u);
      _Pragma("GCC unroll 16")
      for (int t = 0; t < NT; ++t) {
        const __m256 da = _mm256_mul_ps(dw, _mm256_set1_ps(d[b * kNT + t].d));
        _mm256_store_ps(acc[u][t], _mm256_fmadd_ps(_mm256_cvtepi32_ps(s[u][t]), da, _mm256_load_ps(acc[u][t])));
      }
    }
  }
  _Pragma("GCC unroll 2")
  for (int u = 0; u < U; ++u)
    _Pragma("GCC unroll 16")
    for (int t = 0; t < NT; ++t) _mm256_storeu_ps(y + t * ldy + 8 * u, _mm256_load_ps(acc[u][t]));
}

template <int NT, bool STAGED>
void q8_0_w16_tokens(const uint8_t* w, const BlockLayout& L, int64_t nb, const int16_t* q, const BlockAct* d, float* y,
                     int64_t ldy, bool add_y, int n) {  // n <= NT
  if constexpr (NT > 1)
    if (n < NT) return q8_0_w16_tokens<NT - 1, STAGED>(w, L, nb, q, d, y, ldy, add_y, n);
  q8_0_w16<NT, STAGED>(w, L, nb, q, d, y, ldy, add_y);
}

bool staged_on() {  // LARQL_STAGED=0: the packed kernels directly, for A/B runs
  static const bool on = [] {
    const char* e = std::getenv("LARQL_STAGED");
    return !(e && std::strcmp(e, "0") == 0);
  }();
  return on;
}

void gemm_q8_0_w16(const Packed& p, const uint8_t* act, size_t as, const int32_t* aux, size_t xs, int nt, int64_t g0,
                   int64_t g1, float* y, int64_t ldy) {
  const int64_t nb = p.n_in / 32;
  thread_local std::vector<int16_t> q;  // grows to the largest product once, then no allocation per call
  thread_local std::vector<BlockAct> d;
  const size_t need = static_cast<size_t>(kW16Tokens * nb);
  if (q.size() < need * 32) q.resize(need * 32);
  if (d.size() < need) d.resize(need);
  struct alignas(32) Line {
    uint8_t b[32];
  };
  thread_local std::vector<Line> staged_buf;
  if (staged_buf.size() * 32 < kQ8StagedChunk * kQ8StagedBlock) staged_buf.resize(kQ8StagedChunk * kQ8StagedBlock / 32);
  uint8_t* sw = reinterpret_cast<uint8_t*>(staged_buf.data());
  for (int tb = 0; tb < nt; tb += kW16Tokens) {
    const int te = std::min(nt, tb + kW16Tokens);
    // Each thread widens every token for its own rows (done twice with 2 threads):
    // 0.37 % of llama-1b Q8_0 pp512's perf samples against the kernel's 72.8 %.
    widen_act(act + as * static_cast<size_t>(tb), as, aux + xs * static_cast<size_t>(tb), xs, te - tb, nb, q.data(),
              d.data());
    const bool staged = staged_on() && nt >= kStagedMinTokens;  // staging pays from a few passes on
    for (int64_t hu = 2 * g0; hu < 2 * g1; hu += kU) {
      const uint8_t* grp = p.data + static_cast<size_t>(hu / 2) * p.group_bytes;
      const int64_t chunk = staged ? kQ8StagedChunk : nb;
      for (int64_t b0 = 0; b0 < nb; b0 += chunk) {
        const int64_t b1 = std::min(nb, b0 + chunk);
        if (staged) stage_q8_0(grp, p.blk, b0, b1, sw);
        for (int t = tb; t < te; t += kNT) {
          const int n = std::min(kNT, te - t);
          const int16_t* qt = q.data() + static_cast<size_t>(t - tb) * nb * 32 + static_cast<size_t>(b0) * kNT * 32;
          const BlockAct* dt = d.data() + static_cast<size_t>(t - tb) * nb + static_cast<size_t>(b0) * kNT;
          if (staged) q8_0_w16_tokens<kNT, true>(sw, p.blk, b1 - b0, qt, dt, y + t * ldy + hu * 8, ldy, b0 > 0, n);
          else q8_0_w16_tokens<kNT, false>(grp, p.blk, nb, qt, dt, y + t * ldy + hu * 8, ldy, false, n);
        }
      }
    }
  }
}

}  // namespace

void gemm(const Packed& p, const uint8_t* act, size_t as, const int32_t* aux, size_t xs, int nt, int64_t g0,
          int64_t g1, float* y, int64_t ldy) {
  if (p.type == GGMLType::Q8_0 && nt > 1) return gemm_q8_0_w16(p, act, as, aux, xs, nt, g0, g1, y, ldy);
  if (staged_on() && staged_handles(p.type, nt)) return gemm_staged(p, act, as, aux, xs, nt, g0, g1, y, ldy);
  run(p, act, as, aux, xs, nt, g0, g1, y, ldy);
}

}  // namespace larql::repack::avx2

#pragma GCC pop_options
#endif
