// 256-bit kernels over the packed layout of repack.h, shared by the AVX-VNNI
// (repack_avxvnni.cpp) and plain AVX2 (repack_avx2.cpp) families. A 16-row
// group's 64-byte vectors are two 32-byte halves, rows 0-7 and 8-15, so a
// "unit" here is half a group: 8 int32 / float lanes = 8 output rows. Each lane
// performs the scalar reference's operations for its row (exact integer sums,
// one int->float conversion, the same products and fmas in block order), so the
// results equal gemm_scalar / qdot::seq_rows bit for bit.
// Include after the family's target pragma, inside its namespace, after
// defining `__m256i dp(acc, u8 weights, s8 activations)` (acc + the 4-byte dot
// products; exact for the codes these kernels feed it) and `bool kNativeDp`
// (dp is one vpdpbusd, not an emulation).
#pragma once

namespace {

inline __m256i bc(const uint8_t* p) {  // 4 activation bytes to every lane
  int32_t v;
  std::memcpy(&v, p, 4);
  return _mm256_set1_epi32(v);
}
inline __m256i ld(const uint8_t* p) { return _mm256_load_si256(reinterpret_cast<const __m256i*>(p)); }
inline __m256 halves8(const uint8_t* p) { return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))); }
inline __m256i u8x8(const uint8_t* p) { return _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p))); }
inline __m256i i8x8(const uint8_t* p) { return _mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p))); }
inline float act_f32(const uint8_t* p) { float f; std::memcpy(&f, p, 4); return f; }
inline float act_half(const uint8_t* p) { uint16_t h; std::memcpy(&h, p, 2); return _cvtsh_ss(h); }

// The emulated families' cheaper sums: two vpmaddubsw results added as int16
// (u0 . a0 + u1 . a1 per 16-bit lane) and widened once by vpmaddwd. Exact while
// every int16 partial stays below 2^15: for codes up to c, one vpmaddubsw lane
// is at most 2 * c * 127, so a partial may hold 8 of them for 4-bit codes
// (30480), 4 for 5-bit (31496) and 2 for 6-bit (32004). Q8_0 gets none.
inline __m256i pair16(__m256i u0, __m256i a0, __m256i u1, __m256i a1) {
  return _mm256_add_epi16(_mm256_maddubs_epi16(u0, a0), _mm256_maddubs_epi16(u1, a1));
}
inline __m256i widen16(__m256i acc, __m256i p) { return _mm256_add_epi32(acc, _mm256_madd_epi16(p, _mm256_set1_epi16(1))); }
// Pins a running sum to a register at this point. Integer adds reassociate, and
// GCC turns a token's chain of partial sums into a tree whose leaves (every
// vpmaddubsw result of a sub-block, for all tokens) no longer fit the 16 ymm
// registers and go through the stack.
inline void keep(__m256i& v) { __asm__("" : "+x"(v)); }
// Two int16 per int32 lane, lo in the low half and hi in the high, from int32
// lanes holding small signed values: the operand vpmaddwd pairs with two int16.
inline __m256i int16_pair(__m256i lo, __m256i hi) {
  return _mm256_or_si256(_mm256_and_si256(lo, _mm256_set1_epi32(0xFFFF)), _mm256_slli_epi32(hi, 16));
}

// Q5_K / Q5_0: bit 4 of a half's 32 codes, a 32-bit mask (bit i = byte i), added as 16.
inline __m256i fifth(__m256i v, const uint8_t* mask) {
  int32_t m;
  std::memcpy(&m, mask, 4);
  const __m256i spread = _mm256_shuffle_epi8(_mm256_set1_epi32(m), _mm256_setr_epi64x(0, 0x0101010101010101LL,
                         0x0202020202020202LL, 0x0303030303030303LL));  // byte i <- mask byte i / 8
  const __m256i bit = _mm256_set1_epi64x(static_cast<int64_t>(0x8040201008040201ULL));
  const __m256i set = _mm256_cmpeq_epi8(_mm256_and_si256(spread, bit), bit);
  return _mm256_or_si256(v, _mm256_and_si256(set, _mm256_set1_epi8(16)));  // codes < 16: or = add
}

// Q4_K / Q5_K: k-group v of sub-block j of half h as two u8 vectors (low and
// high nibbles, Q5_K's fifth bit merged in); c = the block's codes.
struct Q45Codes {
  __m256i lo, hi;
};
template <bool FIVE>
inline Q45Codes q45_codes(const uint8_t* c, int j, int v, int h) {
  const __m256i m4 = _mm256_set1_epi8(0x0F);
  const __m256i raw = ld(c + (4 * j + v) * 64 + 32 * h);
  __m256i lo = _mm256_and_si256(raw, m4), hi = _mm256_and_si256(_mm256_srli_epi16(raw, 4), m4);
  if constexpr (FIVE) {
    const uint8_t* mk = c + 2048 + (8 * j + 2 * v) * 8 + 4 * h;
    lo = fifth(lo, mk);
    hi = fifth(hi, mk + 8);
  }
  return {lo, hi};
}

// Q6_K: sub-block s of a half's codes (c = the block's codes + 32 * half) as
// four u8 vectors, code | (high bits << 4); lo0/hi0 pair with activations
// 0-3 / 8-11 of the sub-block, lo1/hi1 with 4-7 / 12-15.
struct Q6Codes {
  __m256i lo0, hi0, lo1, hi1;
};
inline Q6Codes q6_codes(const uint8_t* c, int s) {
  const __m256i m4 = _mm256_set1_epi8(0x0F), m30 = _mm256_set1_epi8(0x30);
  const __m256i h = ld(c + 2048 + 64 * s);
  const __m256i r0 = ld(c + 128 * s), r1 = ld(c + 128 * s + 64);
  return {_mm256_or_si256(_mm256_and_si256(r0, m4), _mm256_and_si256(_mm256_slli_epi16(h, 4), m30)),
          _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(r0, 4), m4), _mm256_and_si256(_mm256_slli_epi16(h, 2), m30)),
          _mm256_or_si256(_mm256_and_si256(r1, m4), _mm256_and_si256(h, m30)),
          _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(r1, 4), m4), _mm256_and_si256(_mm256_srli_epi16(h, 2), m30))};
}

// Bytes ahead of the code stream the one-token kernels prefetch (as the AVX-512
// gemv; LARQL_GEMV_PF overrides, 0 = off).
size_t pf_dist() {
  static const size_t d = [] {
    const char* e = std::getenv("LARQL_GEMV_PF");
    return e ? static_cast<size_t>(std::strtoul(e, nullptr, 10)) : size_t{3072};
  }();
  return d;
}

// U units (consecutive halves: unit u is half (h0 + u) % 2 of group (h0 + u) / 2
// counted from w) x NT tokens.
struct Args {
  const uint8_t* w;  // group of the first unit
  int h0;            // half of the first unit
  size_t group_bytes;
  BlockLayout L;
  int64_t nb;
  const uint8_t* a;  // first token's activations
  size_t as;
  const int32_t* x;  // first token's corrections
  size_t xs;
  float* y;  // first unit's first output row, first token
  int64_t ldy;
  size_t pd;  // prefetch distance (NT == 1 only)
  bool add_y = false;  // staged kernels: continue the sums already in y (a later K chunk)
};

template <int U>
struct Units {
  const uint8_t* m[U];  // group; block b's scales at + L.meta(b)
  const uint8_t* c[U];  // group; block b's codes at + L.codes(b) (+ 32 h for vectors)
  int h[U];
  bool first[U];  // the unit starts its group's code stream (prefetch once per group)
  explicit Units(const Args& g) {
    for (int u = 0; u < U; ++u) {
      const int i = g.h0 + u;
      m[u] = g.w + (i / 2) * g.group_bytes;
      c[u] = m[u];
      h[u] = i % 2;
      first[u] = u == 0 || h[u] == 0;
    }
  }
};

template <int U, int NT>
inline void store(const Args& g, __m256 (&acc)[U][NT]) {
  _Pragma("GCC unroll 16")
  for (int u = 0; u < U; ++u)
    _Pragma("GCC unroll 16")
    for (int t = 0; t < NT; ++t) _mm256_storeu_ps(g.y + t * g.ldy + 8 * u, acc[u][t]);
}

// Q8_0 (Q4 = false), Q4_0 and Q5_0 (Q4 and FIVE): S starts at the block's
// correction x[b]; acc = fma(float(S), d_w * d_a, acc). Q8_0 without a native
// vpdpbusd takes the signed codes w = u ^ 0x80 instead, S = sum |w| * (a * sgn w)
// from 0 (no correction): vpmaddubsw pairs stay within 2 * 128 * 127 < 2^15,
// where u (up to 255) would saturate. The same integer S either way.
template <int U, int NT, bool Q4, bool FIVE = false>
void micro_q8_0(const Args& g) {
  const Units<U> un(g);
  constexpr bool kSignedQ8 = !Q4 && !kNativeDp;
  constexpr int kF = FIVE ? 2 : 4;  // v's per int16 partial (pair16)
  const __m256i m4 = _mm256_set1_epi8(0x0F);
  __m256 acc[U][NT];
  _Pragma("GCC unroll 16")
  for (int u = 0; u < U; ++u)
    _Pragma("GCC unroll 16")
    for (int t = 0; t < NT; ++t) acc[u][t] = _mm256_setzero_ps();
  for (int64_t b = 0; b < g.nb; ++b) {
    const uint8_t* qa[NT];
    __m256i s[U][NT];
    _Pragma("GCC unroll 16")
    for (int t = 0; t < NT; ++t) {
      qa[t] = g.a + t * g.as + b * sizeof(BlockQ8_0) + 2;
      _Pragma("GCC unroll 16")
      for (int u = 0; u < U; ++u) s[u][t] = kSignedQ8 ? _mm256_setzero_si256() : _mm256_set1_epi32(g.x[t * g.xs + b]);
    }
    const size_t cb = g.L.codes(b);
    if constexpr (NT == 1) {
      if (g.pd)
        for (int u = 0; u < U; ++u)
          if (un.first[u])
            prefetch_share(un.m[u], g.L, b, 0, 1, g.pd);
    }
    if constexpr (Q4) {
      __m256i p16[U][NT];
      _Pragma("GCC unroll 16")
      for (int v = 0; v < 4; ++v) {
        _Pragma("GCC unroll 16")
        for (int u = 0; u < U; ++u) {
          const uint8_t* c = un.c[u] + cb;
          const __m256i raw = ld(c + 64 * v + 32 * un.h[u]);
          __m256i lo = _mm256_and_si256(raw, m4), hi = _mm256_and_si256(_mm256_srli_epi16(raw, 4), m4);
          if constexpr (FIVE) {
            lo = fifth(lo, c + 256 + 16 * v + 4 * un.h[u]);
            hi = fifth(hi, c + 256 + 16 * v + 8 + 4 * un.h[u]);
          }
          _Pragma("GCC unroll 16")
          for (int t = 0; t < NT; ++t) {
            const __m256i al = bc(qa[t] + 4 * v), ah = bc(qa[t] + 4 * v + 16);
            if constexpr (kNativeDp) {
              s[u][t] = dp(dp(s[u][t], lo, al), hi, ah);
            } else {  // int16 partials of 2 kF vpmaddubsw results (kF v's)
              const __m256i q = pair16(lo, al, hi, ah);
              p16[u][t] = v % kF == 0 ? q : _mm256_add_epi16(p16[u][t], q);
              if constexpr (!FIVE && NT > 1) keep(p16[u][t]);  // not Q5 (130 vs 112 GOPS unpinned) nor one token (-10 %)
              if (v % kF == kF - 1) s[u][t] = widen16(s[u][t], p16[u][t]);
            }
          }
        }
      }
    } else {
      _Pragma("GCC unroll 16")
      for (int q = 0; q < 8; ++q)
        _Pragma("GCC unroll 16")
        for (int u = 0; u < U; ++u) {
          const __m256i wv = ld(un.c[u] + cb + 64 * q + 32 * un.h[u]);
          if constexpr (kSignedQ8) {
            const __m256i w = _mm256_xor_si256(wv, _mm256_set1_epi8(char(0x80)));
            const __m256i aw = _mm256_sign_epi8(w, w);
            _Pragma("GCC unroll 16")
            for (int t = 0; t < NT; ++t) s[u][t] = dp(s[u][t], aw, _mm256_sign_epi8(bc(qa[t] + 4 * q), w));
          } else {
            _Pragma("GCC unroll 16")
            for (int t = 0; t < NT; ++t) s[u][t] = dp(s[u][t], wv, bc(qa[t] + 4 * q));
          }
        }
    }
    _Pragma("GCC unroll 16")
    for (int u = 0; u < U; ++u) {
      const __m256 dw = halves8(un.m[u] + g.L.meta(b) + 16 * un.h[u]);
      _Pragma("GCC unroll 16")
      for (int t = 0; t < NT; ++t)
        acc[u][t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s[u][t]), _mm256_mul_ps(dw, _mm256_set1_ps(act_half(qa[t] - 2))), acc[u][t]);
    }
  }
  store(g, acc);
}

// Q4_K / Q5_K: isum = sum_j sc_j * S_j, msum = sum_j mn_j * B_j (exact; msum by
// vpmaddwd on (mn_2i, mn_2i+1) x (B_2i, B_2i+1) int16 pairs), then
// acc = fma(float(isum), d_a * d, acc); acc = fma(float(msum), -(d_a * dmin), acc).
template <int U, int NT, bool FIVE>
void micro_q4_k(const Args& g) {
  const Units<U> un(g);
  __m256 acc[U][NT];
  _Pragma("GCC unroll 16")
  for (int u = 0; u < U; ++u)
    _Pragma("GCC unroll 16")
    for (int t = 0; t < NT; ++t) acc[u][t] = _mm256_setzero_ps();
  for (int64_t b = 0; b < g.nb; ++b) {
    const uint8_t* qa[NT];
    _Pragma("GCC unroll 16")
    for (int t = 0; t < NT; ++t) qa[t] = g.a + t * g.as + b * sizeof(BlockQ8_K) + 4;
    const size_t cb = g.L.codes(b), mb = g.L.meta(b);
    __m256i isum[U][NT];
    _Pragma("GCC unroll 16")
    for (int u = 0; u < U; ++u)
      _Pragma("GCC unroll 16")
      for (int t = 0; t < NT; ++t) isum[u][t] = _mm256_setzero_si256();
    for (int j = 0; j < 8; ++j) {
      if constexpr (NT == 1) {
        if (g.pd)
          for (int u = 0; u < U; ++u)
            if (un.first[u])
              prefetch_share(un.m[u], g.L, b, j, 8, g.pd);
      }
      // NT == 1: two chains per unit (v even / odd) hide the vpdpbusd latency.
      constexpr int kC = NT == 1 && kNativeDp ? 2 : 1;
      constexpr int kF = FIVE ? 2 : 4;  // v's per int16 partial (pair16)
      __m256i sj[U][NT][kC], p16[U][NT];
      _Pragma("GCC unroll 16")
      for (int u = 0; u < U; ++u)
        _Pragma("GCC unroll 16")
        for (int t = 0; t < NT; ++t)
          _Pragma("GCC unroll 16")
          for (int k = 0; k < kC; ++k) sj[u][t][k] = _mm256_setzero_si256();
      // Emulated, several tokens: each int16 partial goes straight into isum by
      // one vpmaddwd with the sub-block scale in both halves of the lane
      // (sc | sc << 16), instead of widening by 1 and a vpmulld per sub-block and
      // token (Q4_K GEMM 177 -> 183 GOPS; one token is 2 % slower so).
      constexpr bool kScaleMadd = !kNativeDp && NT > 1;
      __m256i sc16[U];
      if constexpr (kScaleMadd)
        _Pragma("GCC unroll 16")
        for (int u = 0; u < U; ++u) {
          const __m256i sc = u8x8(un.m[u] + mb + 64 + 16 * j + 8 * un.h[u]);
          sc16[u] = int16_pair(sc, sc);
        }
      _Pragma("GCC unroll 16")
      for (int v = 0; v < 4; ++v)
        _Pragma("GCC unroll 16")
        for (int u = 0; u < U; ++u) {
          const auto [lo, hi] = q45_codes<FIVE>(un.c[u] + cb, j, v, un.h[u]);
          _Pragma("GCC unroll 16")
          for (int t = 0; t < NT; ++t) {
            const __m256i al = bc(qa[t] + 32 * j + 4 * v), ah = bc(qa[t] + 32 * j + 4 * v + 16);
            if constexpr (kNativeDp) {
              __m256i& s = sj[u][t][v % kC];
              s = dp(dp(s, lo, al), hi, ah);
            } else {  // int16 partials of 2 kF vpmaddubsw results (kF v's)
              const __m256i q = pair16(lo, al, hi, ah);
              p16[u][t] = v % kF == 0 ? q : _mm256_add_epi16(p16[u][t], q);
              if constexpr (!FIVE && NT > 1) keep(p16[u][t]);  // not Q5 (130 vs 112 GOPS unpinned) nor one token (-10 %)
              if (v % kF == kF - 1) {
                if constexpr (kScaleMadd) isum[u][t] = _mm256_add_epi32(isum[u][t], _mm256_madd_epi16(p16[u][t], sc16[u]));
                else sj[u][t][0] = widen16(sj[u][t][0], p16[u][t]);
              }
            }
          }
        }
      if constexpr (!kScaleMadd)
      _Pragma("GCC unroll 16")
      for (int u = 0; u < U; ++u) {
        const __m256i sc = u8x8(un.m[u] + mb + 64 + 16 * j + 8 * un.h[u]);
        _Pragma("GCC unroll 16")
        for (int t = 0; t < NT; ++t) {
          __m256i s = sj[u][t][0];
          if constexpr (kC == 2) s = _mm256_add_epi32(s, sj[u][t][1]);
          isum[u][t] = _mm256_add_epi32(isum[u][t], _mm256_mullo_epi32(s, sc));
        }
      }
    }
    // B pairs of each token as int16 (|B| <= 32 * 128 fits).
    int32_t bp[NT][4];
    _Pragma("GCC unroll 16")
    for (int t = 0; t < NT; ++t) {
      const int32_t* x = g.x + t * g.xs + b * 8;
      for (int i = 0; i < 4; ++i)
        bp[t][i] = aux_pair(x, i);
    }
    _Pragma("GCC unroll 16")
    for (int u = 0; u < U; ++u) {
      const uint8_t* w = un.m[u] + mb;
      __m256i mnp[4];  // lane l: mn_2i (low 16 bits) | mn_2i+1 (high) of row l
      _Pragma("GCC unroll 16")
      for (int i = 0; i < 4; ++i)
        mnp[i] = int16_pair(u8x8(w + 192 + 32 * i + 8 * un.h[u]), u8x8(w + 192 + 32 * i + 16 + 8 * un.h[u]));
      const __m256 d = halves8(w + 16 * un.h[u]), dmin = halves8(w + 32 + 16 * un.h[u]);
      _Pragma("GCC unroll 16")
      for (int t = 0; t < NT; ++t) {
        __m256i msum = _mm256_setzero_si256();
        _Pragma("GCC unroll 16")
        for (int i = 0; i < 4; ++i) msum = _mm256_add_epi32(msum, _mm256_madd_epi16(mnp[i], _mm256_set1_epi32(bp[t][i])));
        const __m256 da = _mm256_set1_ps(act_f32(qa[t] - 4));
        acc[u][t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum[u][t]), _mm256_mul_ps(da, d), acc[u][t]);
        acc[u][t] = _mm256_fnmadd_ps(_mm256_cvtepi32_ps(msum), _mm256_mul_ps(da, dmin), acc[u][t]);
      }
    }
  }
  store(g, acc);
}

// One token, emulated dot, Q4_K / Q5_K: a whole group (both halves) per pass,
// the same integers and float operations as micro_q4_k<2, 1>. Written apart
// because that generic form, with the halves and the prefetch decision known
// only at run time, addressed through per-unit pointer arrays and branched over
// the units every sub-block: ~29 cycles per sub-block of a group on Zen 3,
// ~25 here (bench_kernels BM_gemv_family/Q4_K_4096x128_l2/2: 30.4 -> 35.2 GB/s).
template <bool FIVE>
void gemv_q4_k(const Args& g) {
  const __m256i ones = _mm256_set1_epi16(1);
  const uint8_t* w = g.w;  // g.h0 == 0: halves 0 and 1 of this group
  __m256 acc[2] = {_mm256_setzero_ps(), _mm256_setzero_ps()};
  for (int64_t b = 0; b < g.nb; ++b) {
    const uint8_t* qa = g.a + b * sizeof(BlockQ8_K) + 4;
    const uint8_t* c = w + g.L.codes(b);
    const uint8_t* m = w + g.L.meta(b);
    __m256i isum[2] = {_mm256_setzero_si256(), _mm256_setzero_si256()};
    for (int j = 0; j < 8; ++j) {
      if (g.pd) prefetch_share(w, g.L, b, j, 8, g.pd);
      constexpr int kF = FIVE ? 2 : 4;  // v's per int16 partial (pair16)
      __m256i p16[2], s[2] = {_mm256_setzero_si256(), _mm256_setzero_si256()};
      _Pragma("GCC unroll 4")
      for (int v = 0; v < 4; ++v) {
        const __m256i al = bc(qa + 32 * j + 4 * v), ah = bc(qa + 32 * j + 4 * v + 16);
        _Pragma("GCC unroll 2")
        for (int h = 0; h < 2; ++h) {
          const auto [lo, hi] = q45_codes<FIVE>(c, j, v, h);
          const __m256i q = pair16(lo, al, hi, ah);
          p16[h] = v % kF == 0 ? q : _mm256_add_epi16(p16[h], q);
          if (v % kF == kF - 1) s[h] = _mm256_add_epi32(s[h], _mm256_madd_epi16(p16[h], ones));
        }
      }
      _Pragma("GCC unroll 2")
      for (int h = 0; h < 2; ++h)
        isum[h] = _mm256_add_epi32(isum[h], _mm256_mullo_epi32(s[h], u8x8(m + 64 + 16 * j + 8 * h)));
      keep(isum[0]);
      keep(isum[1]);
    }
    __m256i bp[4];  // the token's (B_2i, B_2i+1) int16 pairs
    const int32_t* x = g.x + b * 8;
    _Pragma("GCC unroll 4")
    for (int i = 0; i < 4; ++i) bp[i] = _mm256_set1_epi32(aux_pair(x, i));
    const __m256 da = _mm256_set1_ps(act_f32(qa - 4));
    _Pragma("GCC unroll 2")
    for (int h = 0; h < 2; ++h) {
      __m256i msum = _mm256_setzero_si256();
      _Pragma("GCC unroll 4")
      for (int i = 0; i < 4; ++i)
        msum = _mm256_add_epi32(msum, _mm256_madd_epi16(int16_pair(u8x8(m + 192 + 32 * i + 8 * h),
                                                                    u8x8(m + 192 + 32 * i + 16 + 8 * h)), bp[i]));
      const __m256 d = halves8(m + 16 * h), dmin = halves8(m + 32 + 16 * h);
      acc[h] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum[h]), _mm256_mul_ps(da, d), acc[h]);
      acc[h] = _mm256_fnmadd_ps(_mm256_cvtepi32_ps(msum), _mm256_mul_ps(da, dmin), acc[h]);
    }
  }
  _mm256_storeu_ps(g.y, acc[0]);
  _mm256_storeu_ps(g.y + 8, acc[1]);
}

// Q6_K: S_s starts at -32 * bsum_s (codes stored without their -32),
// isum = sum_s sc_s * S_s (exact), acc = fma(float(isum), d_a * d, acc).
// Emulated with several tokens (kScaleMadd), the same integer another way: each
// int16 partial times sc_s by one vpmaddwd with (sc_s, sc_s) in the lane, and
// the -32 * sum_s sc_s * bsum_s term once per block by 8 vpmaddwd of the lane's
// (sc_2i, sc_2i+1) with the token's (bsum_2i, bsum_2i+1), instead of a
// vpmulld per sub-block and token.
template <int U, int NT>
void micro_q6_k(const Args& g) {
  constexpr bool kScaleMadd = !kNativeDp && NT > 1;
  const Units<U> un(g);
  __m256 acc[U][NT];
  _Pragma("GCC unroll 16")
  for (int u = 0; u < U; ++u)
    _Pragma("GCC unroll 16")
    for (int t = 0; t < NT; ++t) acc[u][t] = _mm256_setzero_ps();
  for (int64_t b = 0; b < g.nb; ++b) {
    const uint8_t* qa[NT];
    __m256i isum[U][NT];
    _Pragma("GCC unroll 16")
    for (int t = 0; t < NT; ++t) {
      qa[t] = g.a + t * g.as + b * sizeof(BlockQ8_K) + 4;
      _Pragma("GCC unroll 16")
      for (int u = 0; u < U; ++u) isum[u][t] = _mm256_setzero_si256();
    }
    const size_t cb = g.L.codes(b), mb = g.L.meta(b);
    for (int s = 0; s < 16; ++s) {
      if constexpr (NT == 1) {
        if (g.pd)
          for (int u = 0; u < U; ++u)
            if (un.first[u]) prefetch_share(un.m[u], g.L, b, s, 16, g.pd);
      }
      _Pragma("GCC unroll 16")
      for (int u = 0; u < U; ++u) {
        const auto [lo0, hi0, lo1, hi1] = q6_codes(un.c[u] + cb + 32 * un.h[u], s);
        const __m256i sc = i8x8(un.m[u] + mb + 32 + 16 * s + 8 * un.h[u]);
        if constexpr (kScaleMadd) {
          const __m256i sc16 = int16_pair(sc, sc);
          _Pragma("GCC unroll 16")
          for (int t = 0; t < NT; ++t) {
            const uint8_t* p = qa[t] + 16 * s;
            const __m256i s0 = _mm256_madd_epi16(pair16(lo0, bc(p), hi0, bc(p + 8)), sc16);
            const __m256i s1 = _mm256_madd_epi16(pair16(lo1, bc(p + 4), hi1, bc(p + 12)), sc16);
            isum[u][t] = _mm256_add_epi32(isum[u][t], _mm256_add_epi32(s0, s1));
          }
          continue;
        }
        _Pragma("GCC unroll 16")
        for (int t = 0; t < NT; ++t) {
          const uint8_t* p = qa[t] + 16 * s;
          const __m256i init = _mm256_set1_epi32(g.x[t * g.xs + b * 16 + s]);
          __m256i sum;
          if constexpr (kNativeDp) {
            const __m256i t0 = dp(dp(init, lo0, bc(p)), hi0, bc(p + 8));
            const __m256i t1 = dp(dp(_mm256_setzero_si256(), lo1, bc(p + 4)), hi1, bc(p + 12));
            sum = _mm256_add_epi32(t0, t1);
          } else {  // 6-bit codes: one int16 partial per pair of vpmaddubsw results
            sum = widen16(widen16(init, pair16(lo0, bc(p), hi0, bc(p + 8))), pair16(lo1, bc(p + 4), hi1, bc(p + 12)));
          }
          isum[u][t] = _mm256_add_epi32(isum[u][t], _mm256_mullo_epi32(sum, sc));
        }
      }
    }
    _Pragma("GCC unroll 16")
    for (int u = 0; u < U; ++u) {
      if constexpr (kScaleMadd) {  // isum -= 32 * sum_s sc_s * bsum_s
        const uint8_t* sc = un.m[u] + mb + 32 + 8 * un.h[u];
        __m256i scp[8];  // lane: sc_2i (low 16 bits) | sc_2i+1 (high) of its row
        _Pragma("GCC unroll 8")
        for (int i = 0; i < 8; ++i)
          scp[i] = int16_pair(i8x8(sc + 32 * i), i8x8(sc + 32 * i + 16));
        _Pragma("GCC unroll 16")
        for (int t = 0; t < NT; ++t) {
          __m256i corr = _mm256_setzero_si256();
          _Pragma("GCC unroll 8")
          for (int i = 0; i < 8; ++i) corr = _mm256_add_epi32(corr, _mm256_madd_epi16(scp[i], bc(qa[t] + 256 + 4 * i)));
          isum[u][t] = _mm256_sub_epi32(isum[u][t], _mm256_slli_epi32(corr, 5));
        }
      }
      const __m256 d = halves8(un.m[u] + mb + 16 * un.h[u]);
      _Pragma("GCC unroll 16")
      for (int t = 0; t < NT; ++t)
        acc[u][t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum[u][t]), _mm256_mul_ps(_mm256_set1_ps(act_f32(qa[t] - 4)), d), acc[u][t]);
    }
  }
  store(g, acc);
}

// One token, emulated dot, Q6_K: both halves of a group per pass, the same
// integers and float operations as micro_q6_k<2, 1> (see gemv_q4_k for why).
void gemv_q6_k(const Args& g) {
  const uint8_t* w = g.w;  // g.h0 == 0
  __m256 acc[2] = {_mm256_setzero_ps(), _mm256_setzero_ps()};
  for (int64_t b = 0; b < g.nb; ++b) {
    const uint8_t* qa = g.a + b * sizeof(BlockQ8_K) + 4;
    const uint8_t* c = w + g.L.codes(b);
    const uint8_t* m = w + g.L.meta(b);
    const int32_t* x = g.x + b * 16;
    __m256i isum[2] = {_mm256_setzero_si256(), _mm256_setzero_si256()};
    for (int s = 0; s < 16; ++s) {
      if (g.pd) prefetch_share(w, g.L, b, s, 16, g.pd);
      const uint8_t* p = qa + 16 * s;
      const __m256i a0 = bc(p), a1 = bc(p + 4), a2 = bc(p + 8), a3 = bc(p + 12);
      const __m256i init = _mm256_set1_epi32(x[s]);
      _Pragma("GCC unroll 2")
      for (int h = 0; h < 2; ++h) {
        const auto [lo0, hi0, lo1, hi1] = q6_codes(c + 32 * h, s);
        const __m256i sum = widen16(widen16(init, pair16(lo0, a0, hi0, a2)), pair16(lo1, a1, hi1, a3));
        isum[h] = _mm256_add_epi32(isum[h], _mm256_mullo_epi32(sum, i8x8(m + 32 + 16 * s + 8 * h)));
      }
    }
    const __m256 da = _mm256_set1_ps(act_f32(qa - 4));
    _Pragma("GCC unroll 2")
    for (int h = 0; h < 2; ++h)
      acc[h] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum[h]), _mm256_mul_ps(da, halves8(m + 16 * h)), acc[h]);
  }
  _mm256_storeu_ps(g.y, acc[0]);
  _mm256_storeu_ps(g.y + 8, acc[1]);
}

template <int U, int NT>
void micro(GGMLType t, const Args& g) {
  switch (t) {
    case GGMLType::Q8_0: micro_q8_0<U, NT, false>(g); return;
    case GGMLType::Q4_0: micro_q8_0<U, NT, true>(g); return;
    case GGMLType::Q5_0: micro_q8_0<U, NT, true, true>(g); return;
    case GGMLType::Q4_K:
      if constexpr (U == 2 && NT == 1 && !kNativeDp) return gemv_q4_k<false>(g);  // run_cfg: g.h0 == 0
      micro_q4_k<U, NT, false>(g); return;
    case GGMLType::Q5_K:
      if constexpr (U == 2 && NT == 1 && !kNativeDp) return gemv_q4_k<true>(g);
      micro_q4_k<U, NT, true>(g); return;
    case GGMLType::Q6_K:
      if constexpr (U == 2 && NT == 1 && !kNativeDp) return gemv_q6_k(g);
      micro_q6_k<U, NT>(g); return;
    default: return;
  }
}

constexpr int kTB = 128;  // tokens whose activations stay in L2 while the row range is swept

template <int U, int NT>
void tokens(GGMLType t, const Args& g, int n) {  // n <= NT
  if constexpr (NT > 1)
    if (n < NT) return tokens<U, NT - 1>(t, g, n);
  micro<U, NT>(t, g);
}

// U units x NT tokens per pass over halves [2 g0, 2 g1); the last pass of a range
// not a multiple of U takes the remaining halves one at a time.
template <int U, int NT>
void run_cfg(const Packed& p, const uint8_t* act, size_t as, const int32_t* aux, size_t xs, int nt, int64_t g0,
             int64_t g1, float* y, int64_t ldy) {
  const bool legacy = p.type == GGMLType::Q8_0 || p.type == GGMLType::Q4_0 || p.type == GGMLType::Q5_0;
  const int64_t nb = p.n_in / (legacy ? 32 : 256);
  const size_t pd = nt == 1 ? pf_dist() : 0;
  for (int tb = 0; tb < nt; tb += kTB) {
    const int te = std::min(nt, tb + kTB);
    for (int64_t hu = 2 * g0; hu < 2 * g1;) {
      const bool full = hu + U <= 2 * g1;
      for (int t = tb; t < te;) {
        const int n = std::min(NT, te - t);
        const Args ar{p.data + static_cast<size_t>(hu / 2) * p.group_bytes, static_cast<int>(hu % 2), p.group_bytes,
                      p.blk, nb, act + as * static_cast<size_t>(t), as,
                      aux + xs * static_cast<size_t>(t), xs, y + t * ldy + hu * 8, ldy, pd};
        if (full) tokens<U, NT>(p.type, ar, n);
        else tokens<1, NT>(p.type, ar, n);
        t += n;
      }
      hu += full ? U : 1;
    }
  }
}

// Blocking per type, measured on Zen 5 (bench/repack_gemm_bench.cpp BM_GemmFamily,
// 512 tokens; bench/gemv_bench.cpp BM_gemv_family): with 16 ymm registers,
// native vpdpbusd does best with 4 halves x 2 tokens on Q8_0 / Q4_0 / Q4_K
// (~5-10 % over 2 x 3), but Q5_K's fifth-bit and Q6_K's high-bit unpacking
// must be shared by more tokens (1 half x 8 and x 4: +40 % and +15 %). The
// emulated dot (more temporaries), measured on Zen 3 (AVX2 only, 1 thread,
// GOPS): Q5_K 1 x 8 (104 vs 92 at 1 x 4), Q6_K 1 x 8 once its scales go through
// vpmaddwd (148 vs 139 at 1 x 6, 119 at 1 x 4, 110 at 2 x 3), Q4_0 and
// Q4_K 1 x 6 once their int16 partials are pinned (keep(): Q4_K 177 vs 153 at
// 1 x 4, 150 at 1 x 8, 147 at 2 x 2); Q8_0 prefill has its own int16 kernel
// (repack_avx2.cpp). One token: 2 halves (one group, two chains each), on a par
// with the AVX-512 gemv from DRAM.
void run(const Packed& p, const uint8_t* act, size_t as, const int32_t* aux, size_t xs, int nt, int64_t g0,
         int64_t g1, float* y, int64_t ldy) {
  if (nt == 1) return run_cfg<2, 1>(p, act, as, aux, xs, nt, g0, g1, y, ldy);
  if constexpr (!kNativeDp) {
    switch (p.type) {
      case GGMLType::Q5_K:
      case GGMLType::Q6_K: return run_cfg<1, 8>(p, act, as, aux, xs, nt, g0, g1, y, ldy);
      default: return run_cfg<1, 6>(p, act, as, aux, xs, nt, g0, g1, y, ldy);
    }
  } else {
    switch (p.type) {
      case GGMLType::Q5_K: return run_cfg<1, 8>(p, act, as, aux, xs, nt, g0, g1, y, ldy);
      case GGMLType::Q6_K: return run_cfg<1, 4>(p, act, as, aux, xs, nt, g0, g1, y, ldy);
      default: return run_cfg<4, 2>(p, act, as, aux, xs, nt, g0, g1, y, ldy);
    }
  }
}

}  // namespace
