// Plain-AVX2 prefill GEMM for the K-quants (Q4_K, Q5_K, Q6_K) over "staged"
// weights: before a tile's tokens pass over them, the units of a pass (8 rows
// each, half a group) are expanded block by block, 8 blocks at a time, into a
// per-thread buffer in the order the kernel reads it — codes as ready u8
// vectors (nibbles split, Q5_K's fifth bit and Q6_K's high bits merged in),
// sub-block scales as the (sc, sc) int16 pairs vpmaddwd takes, minimums as
// pairs, d and dmin as f32. The unpacking then runs once per unit, chunk and
// 128-token tile instead of once per pass, and the inner loop is loads,
// vpmaddubsw and adds: Zen 3 issues ~3 vector ops a cycle in this mix (a
// standalone loop), and the and / shift / or of the packed form were ~10 % of
// Q4_K's ops, the per-block scale expansion ~5 %, Q6_K's high-bit merge ~15 %.
// Same integers and float operations as micro_q4_k / micro_q6_k (bit for bit;
// RepackYmm.Avx2* compare against gemm_scalar). Include in repack_avx2.cpp
// after repack_ymm_inl.h.
#pragma once

namespace {

// One staged block of a unit, byte offsets.
struct StagedQ4K {  // Q4_K / Q5_K
  static constexpr size_t kCodes = 0;      // (lo, hi) per sub-block j and k-group v: 32 x 64
  static constexpr size_t kSc = 2048;      // (sc_j, sc_j) int16 pairs per lane, 8 x 32
  static constexpr size_t kMn = 2304;      // (mn_2i, mn_2i+1) pairs, 4 x 32
  static constexpr size_t kD = 2432;       // d, then dmin: 8 f32 each
  static constexpr size_t kBytes = 2496;
};
struct StagedQ6K {
  static constexpr size_t kCodes = 0;      // (lo0, hi0, lo1, hi1) per sub-block s: 16 x 128
  static constexpr size_t kSc = 2048;      // (sc_s, sc_s) pairs, 16 x 32
  static constexpr size_t kScPair = 2560;  // (sc_2i, sc_2i+1) pairs, 8 x 32
  static constexpr size_t kD = 2816;       // d: 8 f32
  static constexpr size_t kBytes = 2848;
};

inline void st(uint8_t* p, __m256i v) { _mm256_store_si256(reinterpret_cast<__m256i*>(p), v); }

template <bool FIVE>
void stage_q4_k(const uint8_t* grp, int h, const BlockLayout& L, int64_t b0, int64_t b1, uint8_t* out, size_t stride) {
  for (int64_t b = b0; b < b1; ++b, out += stride) {
    const uint8_t* c = grp + L.codes(b);
    const uint8_t* m = grp + L.meta(b);
    for (int j = 0; j < 8; ++j) {
      for (int v = 0; v < 4; ++v) {
        const auto [lo, hi] = q45_codes<FIVE>(c, j, v, h);
        st(out + StagedQ4K::kCodes + (4 * j + v) * 64, lo);
        st(out + StagedQ4K::kCodes + (4 * j + v) * 64 + 32, hi);
      }
      const __m256i sc = u8x8(m + 64 + 16 * j + 8 * h);
      st(out + StagedQ4K::kSc + 32 * j, int16_pair(sc, sc));
    }
    for (int i = 0; i < 4; ++i)
      st(out + StagedQ4K::kMn + 32 * i, int16_pair(u8x8(m + 192 + 32 * i + 8 * h), u8x8(m + 192 + 32 * i + 16 + 8 * h)));
    _mm256_store_ps(reinterpret_cast<float*>(out + StagedQ4K::kD), halves8(m + 16 * h));
    _mm256_store_ps(reinterpret_cast<float*>(out + StagedQ4K::kD + 32), halves8(m + 32 + 16 * h));
  }
}

void stage_q6_k(const uint8_t* grp, int h, const BlockLayout& L, int64_t b0, int64_t b1, uint8_t* out, size_t stride) {
  for (int64_t b = b0; b < b1; ++b, out += stride) {
    const uint8_t* c = grp + L.codes(b) + 32 * h;
    const uint8_t* m = grp + L.meta(b);
    for (int s = 0; s < 16; ++s) {
      const auto [lo0, hi0, lo1, hi1] = q6_codes(c, s);
      uint8_t* o = out + StagedQ6K::kCodes + 128 * s;
      st(o, lo0);
      st(o + 32, hi0);
      st(o + 64, lo1);
      st(o + 96, hi1);
      const __m256i sc = i8x8(m + 32 + 16 * s + 8 * h);
      st(out + StagedQ6K::kSc + 32 * s, int16_pair(sc, sc));
    }
    for (int i = 0; i < 8; ++i)
      st(out + StagedQ6K::kScPair + 32 * i, int16_pair(i8x8(m + 32 + 32 * i + 8 * h), i8x8(m + 32 + 32 * i + 16 + 8 * h)));
    _mm256_store_ps(reinterpret_cast<float*>(out + StagedQ6K::kD), halves8(m + 16 * h));
  }
}

// A pass's float sums: zero, or (a later K chunk) the ones already in y.
template <int U, int NT>
inline void start_sums(const Args& g, __m256 (&acc)[U][NT]) {
  _Pragma("GCC unroll 16")
  for (int u = 0; u < U; ++u)
    _Pragma("GCC unroll 16")
    for (int t = 0; t < NT; ++t) acc[u][t] = g.add_y ? _mm256_loadu_ps(g.y + t * g.ldy + 8 * u) : _mm256_setzero_ps();
}

// U units x NT tokens over staged blocks (g.w; block b's unit u at
// (b U + u) StagedQ4K::kBytes); as micro_q4_k<U, NT>.
template <int U, int NT, bool FIVE>
void staged_q4_k(const Args& g) {
  constexpr int kF = FIVE ? 2 : 4;  // v's per int16 partial (pair16)
  __m256 acc[U][NT];
  start_sums(g, acc);
  const uint8_t* sb = g.w;
  for (int64_t b = 0; b < g.nb; ++b, sb += U * StagedQ4K::kBytes) {
    const uint8_t* qa[NT];
    __m256i isum[U][NT];
    _Pragma("GCC unroll 16")
    for (int t = 0; t < NT; ++t) {
      qa[t] = g.a + t * g.as + b * sizeof(BlockQ8_K) + 4;
      _Pragma("GCC unroll 16")
      for (int u = 0; u < U; ++u) isum[u][t] = _mm256_setzero_si256();
    }
    for (int j = 0; j < 8; ++j) {
      __m256i p16[U][NT];
      _Pragma("GCC unroll 4")
      for (int v = 0; v < 4; ++v) {
        __m256i lo[U], hi[U];
        _Pragma("GCC unroll 4")
        for (int u = 0; u < U; ++u) {
          lo[u] = ld(sb + u * StagedQ4K::kBytes + (4 * j + v) * 64);
          hi[u] = ld(sb + u * StagedQ4K::kBytes + (4 * j + v) * 64 + 32);
        }
        _Pragma("GCC unroll 16")
        for (int t = 0; t < NT; ++t) {
          const uint8_t* p = qa[t] + 32 * j + 4 * v;
          const __m256i al = bc(p), ah = bc(p + 16);
          _Pragma("GCC unroll 4")
          for (int u = 0; u < U; ++u) {
            const __m256i q = pair16(lo[u], al, hi[u], ah);
            p16[u][t] = v % kF == 0 ? q : _mm256_add_epi16(p16[u][t], q);
            keep(p16[u][t]);
            if (v % kF == kF - 1) {
              const __m256i sc16 = ld(sb + u * StagedQ4K::kBytes + StagedQ4K::kSc + 32 * j);
              isum[u][t] = _mm256_add_epi32(isum[u][t], _mm256_madd_epi16(p16[u][t], sc16));
            }
          }
        }
      }
    }
    _Pragma("GCC unroll 4")
    for (int u = 0; u < U; ++u) {
      const uint8_t* su = sb + u * StagedQ4K::kBytes;
      const __m256 d = _mm256_load_ps(reinterpret_cast<const float*>(su + StagedQ4K::kD));
      const __m256 dmin = _mm256_load_ps(reinterpret_cast<const float*>(su + StagedQ4K::kD + 32));
      _Pragma("GCC unroll 16")
      for (int t = 0; t < NT; ++t) {
        const uint8_t* x = reinterpret_cast<const uint8_t*>(g.x + t * g.xs + b * 4);  // aux_pair(block, i), i < 4
        __m256i msum = _mm256_setzero_si256();
        _Pragma("GCC unroll 4")
        for (int i = 0; i < 4; ++i)
          msum = _mm256_add_epi32(msum, _mm256_madd_epi16(ld(su + StagedQ4K::kMn + 32 * i), bc(x + 4 * i)));
        const __m256 da = _mm256_set1_ps(act_f32(qa[t] - 4));
        acc[u][t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum[u][t]), _mm256_mul_ps(da, d), acc[u][t]);
        acc[u][t] = _mm256_fnmadd_ps(_mm256_cvtepi32_ps(msum), _mm256_mul_ps(da, dmin), acc[u][t]);
      }
    }
  }
  _Pragma("GCC unroll 4")
  for (int u = 0; u < U; ++u)
    _Pragma("GCC unroll 16")
    for (int t = 0; t < NT; ++t) _mm256_storeu_ps(g.y + t * g.ldy + 8 * u, acc[u][t]);
}

// U units x NT tokens, as micro_q6_k<U, NT> (kScaleMadd); staged blocks as staged_q4_k's.
template <int U, int NT>
void staged_q6_k(const Args& g) {
  __m256 acc[U][NT];
  start_sums(g, acc);
  const uint8_t* sb = g.w;
  for (int64_t b = 0; b < g.nb; ++b, sb += U * StagedQ6K::kBytes) {
    const uint8_t* qa[NT];
    __m256i isum[U][NT];
    _Pragma("GCC unroll 16")
    for (int t = 0; t < NT; ++t) {
      qa[t] = g.a + t * g.as + b * sizeof(BlockQ8_K) + 4;
      _Pragma("GCC unroll 16")
      for (int u = 0; u < U; ++u) isum[u][t] = _mm256_setzero_si256();
    }
    for (int s = 0; s < 16; ++s) {
      _Pragma("GCC unroll 4")
      for (int u = 0; u < U; ++u) {
        const uint8_t* o = sb + u * StagedQ6K::kBytes + StagedQ6K::kCodes + 128 * s;
        const __m256i lo0 = ld(o), hi0 = ld(o + 32), lo1 = ld(o + 64), hi1 = ld(o + 96);
        const __m256i sc16 = ld(sb + u * StagedQ6K::kBytes + StagedQ6K::kSc + 32 * s);
        _Pragma("GCC unroll 16")
        for (int t = 0; t < NT; ++t) {
          const uint8_t* p = qa[t] + 16 * s;
          const __m256i s0 = _mm256_madd_epi16(pair16(lo0, bc(p), hi0, bc(p + 8)), sc16);
          const __m256i s1 = _mm256_madd_epi16(pair16(lo1, bc(p + 4), hi1, bc(p + 12)), sc16);
          isum[u][t] = _mm256_add_epi32(isum[u][t], _mm256_add_epi32(s0, s1));
        }
      }
    }
    _Pragma("GCC unroll 4")
    for (int u = 0; u < U; ++u) {
      const uint8_t* su = sb + u * StagedQ6K::kBytes;
      const __m256 d = _mm256_load_ps(reinterpret_cast<const float*>(su + StagedQ6K::kD));
      _Pragma("GCC unroll 16")
      for (int t = 0; t < NT; ++t) {  // isum -= 32 * sum_s sc_s * bsum_s
        __m256i corr = _mm256_setzero_si256();
        _Pragma("GCC unroll 8")
        for (int i = 0; i < 8; ++i)
          corr = _mm256_add_epi32(corr,
                                  _mm256_madd_epi16(ld(su + StagedQ6K::kScPair + 32 * i), bc(qa[t] + 256 + 4 * i)));
        isum[u][t] = _mm256_sub_epi32(isum[u][t], _mm256_slli_epi32(corr, 5));
        const __m256 da = _mm256_set1_ps(act_f32(qa[t] - 4));
        acc[u][t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum[u][t]), _mm256_mul_ps(da, d), acc[u][t]);
      }
    }
  }
  _Pragma("GCC unroll 4")
  for (int u = 0; u < U; ++u)
    _Pragma("GCC unroll 16")
    for (int t = 0; t < NT; ++t) _mm256_storeu_ps(g.y + t * g.ldy + 8 * u, acc[u][t]);
}

// Units (8 rows each) x tokens per pass, measured on Zen 3 (bench_kernels
// BM_GemmFamily, GOPS, best of 5). Q4_K / Q5_K 2 x 4 (~215; the two units share
// each token's broadcasts: 1 x 8 ~203, 2 x 5 ~214, 2 x 3 and 2 x 6 ~207-209,
// 1 x 4-6 ~176-180 before the corrections were precomputed). Q6_K 1 x 8 (~172;
// its 4 code vectors per unit leave no registers for a second: 2 x 4 ~151,
// 2 x 3 ~157; 1 x 6 ~168, 1 x 10 ~160).
constexpr int kQ4U = 2, kQ4NT = 4;
constexpr int kQ6U = 1, kQ6NT = 8;

template <int U, int NT>
void staged_q4_k_tokens(bool five, const Args& g, int n) {  // n <= NT
  if constexpr (NT > 1)
    if (n < NT) return staged_q4_k_tokens<U, NT - 1>(five, g, n);
  if (five) staged_q4_k<U, NT, true>(g);
  else staged_q4_k<U, NT, false>(g);
}
template <int U, int NT>
void staged_q6_k_tokens(const Args& g, int n) {
  if constexpr (NT > 1)
    if (n < NT) return staged_q6_k_tokens<U, NT - 1>(g, n);
  staged_q6_k<U, NT>(g);
}

// Staging costs about one pass's unpacking per unit and tile, so it pays from a
// few passes on; below that the packed kernels run directly.
constexpr int kStagedMinTokens = 16;
// Blocks staged and swept at a time: a unit's chunk (20 / 23 KB) stays in L1
// while the tile's tokens pass over it; 16 measured 3-5 % slower, 4 ~5 %.
constexpr int64_t kStagedChunk = 8;

bool staged_handles(GGMLType t, int nt) {
  return nt >= kStagedMinTokens && (t == GGMLType::Q4_K || t == GGMLType::Q5_K || t == GGMLType::Q6_K);
}

// Tokens' activations for one K chunk of a tile (Q4_K / Q5_K: and their
// corrections as the 4 aux_pair values per block the kernel broadcasts), copied
// to rows an odd number of cache lines apart. The original rows are act_bytes
// apart, which for llama-8b's FFN down input (14336 wide) is 4 x 4096 bytes, so
// 8 tokens' bytes at one k all fell in one L1 set (8 ways) and the kernel ran at
// 153 instead of 190 GOPS.
struct ChunkCopy {
  std::vector<uint8_t> a;
  std::vector<int32_t> x;
  size_t as = 0, xs = 0;
  void fill(const uint8_t* act, size_t act_stride, const int32_t* aux, size_t aux_stride, int n, int64_t b0, int64_t b1,
            bool pairs) {
    const size_t bytes = static_cast<size_t>(b1 - b0) * sizeof(BlockQ8_K);
    as = (bytes + 63) / 64 * 64;
    if ((as / 64) % 2 == 0) as += 64;
    xs = pairs ? 4 * static_cast<size_t>(b1 - b0) : 0;
    if (a.size() < as * static_cast<size_t>(n)) a.resize(as * static_cast<size_t>(n));
    if (x.size() < xs * static_cast<size_t>(n)) x.resize(xs * static_cast<size_t>(n));
    for (int t = 0; t < n; ++t) {
      std::memcpy(a.data() + as * static_cast<size_t>(t),
                  act + act_stride * static_cast<size_t>(t) + static_cast<size_t>(b0) * sizeof(BlockQ8_K), bytes);
      for (int64_t b = b0; b < b1 && pairs; ++b)
        for (int i = 0; i < 4; ++i)
          x[xs * static_cast<size_t>(t) + static_cast<size_t>(4 * (b - b0) + i)] =
              aux_pair(aux + aux_stride * static_cast<size_t>(t) + 8 * b, i);
    }
  }
};

void gemm_staged(const Packed& p, const uint8_t* act, size_t as, const int32_t* aux, size_t xs, int nt, int64_t g0,
                 int64_t g1, float* y, int64_t ldy) {
  const int64_t nb = p.n_in / 256;
  const bool q6 = p.type == GGMLType::Q6_K;
  const size_t bb = q6 ? StagedQ6K::kBytes : StagedQ4K::kBytes;
  struct alignas(32) Line {
    uint8_t b[32];
  };
  // Per thread, grown once to the largest chunk, then no allocation per call.
  thread_local std::vector<Line> buf;
  thread_local ChunkCopy cc;
  const size_t need = static_cast<size_t>(std::max(kQ4U, kQ6U) * kStagedChunk) * bb;
  if (buf.size() * 32 < need) buf.resize(need / 32);
  uint8_t* sw = reinterpret_cast<uint8_t*>(buf.data());
  for (int tb = 0; tb < nt; tb += kTB) {
    const int te = std::min(nt, tb + kTB);
    for (int64_t b0 = 0; b0 < nb; b0 += kStagedChunk) {
      const int64_t b1 = std::min(nb, b0 + kStagedChunk);
      // (Q6_K's kernel takes its bsums from the activations: no pairs.)
      cc.fill(act + as * static_cast<size_t>(tb), as, aux + xs * static_cast<size_t>(tb), xs, te - tb, b0, b1, !q6);
      const int U = q6 ? kQ6U : kQ4U;  // 1 or 2: whole groups per pass
      for (int64_t hu = 2 * g0; hu < 2 * g1; hu += U) {
        for (int u = 0; u < U; ++u) {
          const uint8_t* grp = p.data + static_cast<size_t>((hu + u) / 2) * p.group_bytes;
          const int h = static_cast<int>((hu + u) % 2);
          uint8_t* o = sw + u * bb;
          switch (p.type) {
            case GGMLType::Q4_K: stage_q4_k<false>(grp, h, p.blk, b0, b1, o, U * bb); break;
            case GGMLType::Q5_K: stage_q4_k<true>(grp, h, p.blk, b0, b1, o, U * bb); break;
            default: stage_q6_k(grp, h, p.blk, b0, b1, o, U * bb); break;
          }
        }
        for (int t = tb; t < te;) {
          const int n = std::min(q6 ? kQ6NT : kQ4NT, te - t);
          const size_t r = static_cast<size_t>(t - tb);
          const int32_t* x = cc.xs ? cc.x.data() + cc.xs * r : nullptr;
          const Args ar{sw, 0, 0, p.blk, b1 - b0, cc.a.data() + cc.as * r, cc.as, x, cc.xs, y + t * ldy + hu * 8, ldy, 0,
                        b0 > 0};
          if (q6) staged_q6_k_tokens<kQ6U, kQ6NT>(ar, n);
          else staged_q4_k_tokens<kQ4U, kQ4NT>(p.type == GGMLType::Q5_K, ar, n);
          t += n;
        }
      }
    }
  }
}

}  // namespace
