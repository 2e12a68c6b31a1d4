// The AMX-INT8 prefill GEMM (scheme in amx.h), written once against the tile API
// of amx_tiles.h and instantiated for the hardware (inline-asm tile
// instructions) and for the software model. Per row group: the codes of every
// block are widened into VNNI-order B tiles once (L2-resident, reused by every
// 16-token tile); then per token tile units go through the tiles in pairs (C =
// A x B for two units at once, four C tiles so one pair computes while the
// previous one is stored to L1 and folded into 16 float accumulators, one zmm
// of 16 rows per token, exactly as the reference does).
// Headers come before the target pragma so nothing shared is built for AVX-512.
#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "kernels/amx.h"
#include "kernels/amx_tiles.h"
#include "kernels/repack.h"
#include "tensor/quants_impl.h"
#include "util/error.h"

namespace larql::repack::amx {

bool supported(GGMLType t) {
  return t == GGMLType::Q8_0 || t == GGMLType::Q4_0 || t == GGMLType::Q5_0 || t == GGMLType::Q4_K ||
         t == GGMLType::Q5_K || t == GGMLType::Q6_K;
}

}  // namespace larql::repack::amx

#if defined(__clang__) || !defined(__x86_64__)
namespace larql::repack::amx {
// clang builds leave the GCC-pragma kernels out (model_runnable() and
// larql::amx::available() are false there, so nothing calls these).
void gemm(const Packed&, const uint8_t*, size_t, const int32_t*, size_t, int, int64_t, int64_t, float*, int64_t) {
  throw Error("amx: kernels not built with this compiler");
}
void gemm_model(const Packed&, const uint8_t*, size_t, const int32_t*, size_t, int, int64_t, int64_t, float*, int64_t) {
  throw Error("amx: kernels not built with this compiler");
}
void gemm_model_faulty(const Packed&, const uint8_t*, size_t, const int32_t*, size_t, int, int64_t, int64_t, float*,
                       int64_t) {
  throw Error("amx: kernels not built with this compiler");
}
}  // namespace larql::repack::amx
#else
#pragma GCC push_options
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,avx2,fma,f16c")

namespace larql::repack::amx {

using namespace larql::quant;

#include "kernels/repack_simd_inl.h"

namespace {

using larql::amx::TileHw;

// Per-type unit geometry: a unit is one integer sum the reference computes (a
// legacy block, a Q4_K/Q5_K 32-element or Q6_K 16-element sub-block): K bytes
// of A per token, K / 4 B rows of 64 bytes.
template <GGMLType T> constexpr bool kLegacy = T == GGMLType::Q8_0 || T == GGMLType::Q4_0 || T == GGMLType::Q5_0;
template <GGMLType T> constexpr int kUnits = kLegacy<T> ? 1 : T == GGMLType::Q6_K ? 16 : 8;
template <GGMLType T> constexpr int kK = T == GGMLType::Q6_K ? 16 : 32;
template <GGMLType T> constexpr size_t kABlock = kLegacy<T> ? sizeof(BlockQ8_0) : sizeof(BlockQ8_K);
template <GGMLType T> constexpr size_t kAHead = kLegacy<T> ? 2 : 4;  // scale bytes before the int8 values

inline __m512i ld(const uint8_t* p) { return _mm512_loadu_si512(p); }
inline void st(uint8_t* p, __m512i v) { _mm512_storeu_si512(p, v); }

// The B tile of unit u of block b (c: the block's code vectors), rows in k order:
// byte 64 kg + 4r + e = signed code of row r, element 4 kg + e of the unit.
template <GGMLType T>
void widen_unit(const uint8_t* c, int u, uint8_t* bt) {
  const __m512i m4 = _mm512_set1_epi8(0x0F);
  if constexpr (T == GGMLType::Q8_0) {
    for (int q = 0; q < 8; ++q) st(bt + 64 * q, _mm512_xor_si512(ld(c + 64 * q), _mm512_set1_epi8(char(0x80))));
  } else if constexpr (T == GGMLType::Q6_K) {
    const __m512i m30 = _mm512_set1_epi8(0x30);
    const __m512i h = ld(c + 2048 + 64 * u), r0 = ld(c + 128 * u), r1 = ld(c + 128 * u + 64);
    // code | high bits << 4 (ternary logic A | (B & C) = 0xF8); vectors hold k-groups (0, 2) and (1, 3)
    st(bt, _mm512_ternarylogic_epi32(_mm512_and_si512(r0, m4), _mm512_slli_epi16(h, 4), m30, 0xF8));
    st(bt + 64, _mm512_ternarylogic_epi32(_mm512_and_si512(r1, m4), h, m30, 0xF8));
    st(bt + 128, _mm512_ternarylogic_epi32(_mm512_and_si512(_mm512_srli_epi16(r0, 4), m4), _mm512_slli_epi16(h, 2), m30, 0xF8));
    st(bt + 192, _mm512_ternarylogic_epi32(_mm512_and_si512(_mm512_srli_epi16(r1, 4), m4), _mm512_srli_epi16(h, 2), m30, 0xF8));
  } else {  // nibble vectors v: k-group v low, v + 4 high (Q4_K/Q5_K: per sub-block u)
    const uint8_t* cv = c + (kLegacy<T> ? 0 : 256 * u);
    for (int v = 0; v < 4; ++v) {
      const __m512i raw = ld(cv + 64 * v);
      __m512i lo = _mm512_and_si512(raw, m4), hi = _mm512_and_si512(_mm512_srli_epi16(raw, 4), m4);
      if constexpr (T == GGMLType::Q5_0) add_fifth_bits(lo, hi, c + 256 + 16 * v);
      if constexpr (T == GGMLType::Q5_K) add_fifth_bits(lo, hi, c + 2048 + (8 * u + 2 * v) * 8);
      st(bt + 64 * v, lo);
      st(bt + 64 * (v + 4), hi);
    }
  }
}

inline __m512i u8x16(const uint8_t* p) { return _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))); }
inline __m512 halves(const uint8_t* p) { return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p))); }
inline float act_half(const uint8_t* p) { uint16_t h; std::memcpy(&h, p, 2); return _cvtsh_ss(h); }
inline float act_f32(const uint8_t* p) { float f; std::memcpy(&f, p, 4); return f; }

struct Tile16 {  // one token tile of one row group
  const uint8_t* a;  // token 0's activations
  size_t as;
  const int32_t* x;  // token 0's corrections
  size_t xs;
  const uint8_t* grp;  // the row group (block b's scales at + L.meta(b))
  repack::BlockLayout L;
};

// Folds the stored sums of unit (b, u), c[token][row], into the accumulators as
// the reference does per (row, token).
template <GGMLType T>
void fold(const Tile16& k, int64_t b, int u, const int32_t (*c)[16], __m512i* isum, __m512* acc) {
  const uint8_t* wm = k.grp + k.L.meta(b);
  if constexpr (kLegacy<T>) {  // acc = fma(float(x + S), d_w * d_a, acc)
    const __m512 dw = halves(wm);
    for (int t = 0; t < 16; ++t) {
      __m512i s = _mm512_load_si512(c[t]);
      if constexpr (T != GGMLType::Q8_0) s = _mm512_add_epi32(s, _mm512_set1_epi32(k.x[t * k.xs + b]));
      const __m512 da = _mm512_set1_ps(act_half(k.a + t * k.as + b * sizeof(BlockQ8_0)));
      acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), _mm512_mul_ps(dw, da), acc[t]);
    }
  } else if constexpr (T == GGMLType::Q6_K) {  // isum = sum_s sc_s * (x_s + S_s); acc = fma(float(isum), d_a * d, acc)
    const __m512i sc = _mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(wm + 32 + 16 * u)));
    for (int t = 0; t < 16; ++t) {
      const __m512i s = _mm512_add_epi32(_mm512_load_si512(c[t]), _mm512_set1_epi32(k.x[t * k.xs + b * 16 + u]));
      isum[t] = _mm512_add_epi32(u == 0 ? _mm512_setzero_si512() : isum[t], _mm512_mullo_epi32(s, sc));
    }
    if (u == 15) {
      const __m512 d = halves(wm);
      for (int t = 0; t < 16; ++t) {
        const __m512 da = _mm512_set1_ps(act_f32(k.a + t * k.as + b * sizeof(BlockQ8_K)));
        acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum[t]), _mm512_mul_ps(da, d), acc[t]);
      }
    }
  } else {  // Q4_K/Q5_K: isum = sum_j sc_j * S_j, msum = sum_j mn_j * B_j (exact), two fmas
    const __m512i sc = u8x16(wm + 64 + 16 * u);
    for (int t = 0; t < 16; ++t)
      isum[t] = _mm512_add_epi32(u == 0 ? _mm512_setzero_si512() : isum[t], _mm512_mullo_epi32(_mm512_load_si512(c[t]), sc));
    if (u == 7) {
      __m512i mnp[4];  // lane r: mn_2i (low 16 bits) | mn_2i+1 (high) of row r
      for (int i = 0; i < 4; ++i)
        mnp[i] = _mm512_or_si512(u8x16(wm + 192 + 32 * i), _mm512_slli_epi32(u8x16(wm + 192 + 32 * i + 16), 16));
      const __m512 d = halves(wm), dmin = halves(wm + 32);
      for (int t = 0; t < 16; ++t) {
        const int32_t* x = k.x + t * k.xs + b * 8;  // B_j as int16 pairs (|B_j| <= 32 * 128)
        __m512i msum = _mm512_setzero_si512();
        for (int i = 0; i < 4; ++i) {
          msum = _mm512_dpwssd_epi32(msum, mnp[i], _mm512_set1_epi32(repack::aux_pair(x, i)));
        }
        const __m512 da = _mm512_set1_ps(act_f32(k.a + t * k.as + b * sizeof(BlockQ8_K)));
        acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum[t]), _mm512_mul_ps(da, d), acc[t]);
        acc[t] = _mm512_fnmadd_ps(_mm512_cvtepi32_ps(msum), _mm512_mul_ps(da, dmin), acc[t]);
      }
    }
  }
}

// Units 2q and 2q + 1 of one token tile go through C tiles CB and CB + 1 (A tiles
// 4/5, B tiles 6/7): issue() starts the products, drain() stores and folds them.
// run() issues pair q + 1 into the other two C tiles before draining pair q, so
// the tile unit works while the AVX-512 float step runs.
template <GGMLType T, class Tiles>
struct Pairs {
  static constexpr size_t kUnitBytes = 16 * kK<T>;  // K / 4 B rows of 64 bytes
  Tiles& tl;
  const Tile16& k;
  const uint8_t* b;  // the row group's B tiles
  int64_t nu;        // units per row
  int32_t (*c)[16][16];  // two stored C tiles
  __m512i* isum;
  __m512* acc;

  const uint8_t* a_unit(int64_t i) const {
    return k.a + (i / kUnits<T>) * kABlock<T> + kAHead<T> + (i % kUnits<T>) * kK<T>;
  }
  template <int CB> void issue(int64_t q) {
    const int64_t i = 2 * q;
    tl.template zero<CB>();
    tl.template load<4>(a_unit(i), k.as);
    tl.template load<6>(b + static_cast<size_t>(i) * kUnitBytes, 64);
    tl.template dpbssd<CB, 4, 6>();
    if (i + 1 < nu) {  // units come in pairs except a legacy type's odd last block
      tl.template zero<CB + 1>();
      tl.template load<5>(a_unit(i + 1), k.as);
      tl.template load<7>(b + static_cast<size_t>(i + 1) * kUnitBytes, 64);
      tl.template dpbssd<CB + 1, 5, 7>();
    }
  }
  template <int CB> void drain(int64_t q) {
    const int64_t i = 2 * q;
    tl.template store<CB>(c[0], 64);
    if (i + 1 < nu) tl.template store<CB + 1>(c[1], 64);
    fold<T>(k, i / kUnits<T>, static_cast<int>(i % kUnits<T>), c[0], isum, acc);
    if (i + 1 < nu) fold<T>(k, (i + 1) / kUnits<T>, static_cast<int>((i + 1) % kUnits<T>), c[1], isum, acc);
  }
};

template <GGMLType T, class Tiles>
void run(Tiles& tl, const Packed& p, const uint8_t* act, size_t as, const int32_t* aux, size_t xs, int nt,
         int64_t g0, int64_t g1, float* y, int64_t ldy) {
  constexpr int U = kUnits<T>, K = kK<T>;
  constexpr size_t kUnitBytes = Pairs<T, Tiles>::kUnitBytes;
  const int64_t nb = p.n_in / (kLegacy<T> ? 32 : 256), nu = nb * U, np = (nu + 1) / 2;
  larql::amx::TileConfig cfg;
  for (int i = 0; i < 4; ++i) cfg.rows[i] = 16, cfg.colsb[i] = 64;  // C: 16 tokens x 16 rows (int32)
  for (int i = 4; i < 6; ++i) cfg.rows[i] = 16, cfg.colsb[i] = K;   // A: 16 tokens x K bytes
  for (int i = 6; i < 8; ++i) cfg.rows[i] = K / 4, cfg.colsb[i] = 64;  // B: K / 4 k-groups x 16 rows x 4 bytes
  tl.config(cfg);
  thread_local std::vector<uint8_t> bbuf;  // one row group's B tiles, grows once per thread
  if (bbuf.size() < static_cast<size_t>(nu) * kUnitBytes) bbuf.resize(static_cast<size_t>(nu) * kUnitBytes);
  alignas(64) int32_t c[2][16][16];
  for (int64_t g = g0; g < g1; ++g) {
    const uint8_t* gp = p.data + static_cast<size_t>(g) * p.group_bytes;
    for (int64_t i = 0; i < nu; ++i)
      widen_unit<T>(gp + p.blk.codes(i / U), static_cast<int>(i % U),
                    bbuf.data() + static_cast<size_t>(i) * kUnitBytes);
    for (int t0 = 0; t0 + 16 <= nt; t0 += 16) {
      const Tile16 k{act + t0 * as, as, aux + t0 * xs, xs, gp, p.blk};
      __m512 acc[16];
      __m512i isum[16];
      for (int t = 0; t < 16; ++t) acc[t] = _mm512_setzero_ps(), isum[t] = _mm512_setzero_si512();
      Pairs<T, Tiles> pr{tl, k, bbuf.data(), nu, c, isum, acc};
      pr.template issue<0>(0);
      for (int64_t q = 0; q < np; q += 2) {  // pairs alternate between C tiles 0/1 and 2/3
        if (q + 1 < np) pr.template issue<2>(q + 1);
        pr.template drain<0>(q);
        if (q + 1 < np) {
          if (q + 2 < np) pr.template issue<0>(q + 2);
          pr.template drain<2>(q + 1);
        }
      }
      for (int t = 0; t < 16; ++t) _mm512_storeu_ps(y + (t0 + t) * ldy + g * kRows, acc[t]);
    }
  }
  tl.release();
}

template <class Tiles>
void gemm_with(Tiles& tl, const Packed& p, const uint8_t* act, size_t as, const int32_t* aux, size_t xs, int nt,
               int64_t g0, int64_t g1, float* y, int64_t ldy) {
  const int n16 = nt / 16 * 16;
  if (n16 > 0 && g1 > g0) switch (p.type) {
      case GGMLType::Q8_0: run<GGMLType::Q8_0>(tl, p, act, as, aux, xs, n16, g0, g1, y, ldy); break;
      case GGMLType::Q4_0: run<GGMLType::Q4_0>(tl, p, act, as, aux, xs, n16, g0, g1, y, ldy); break;
      case GGMLType::Q5_0: run<GGMLType::Q5_0>(tl, p, act, as, aux, xs, n16, g0, g1, y, ldy); break;
      case GGMLType::Q4_K: run<GGMLType::Q4_K>(tl, p, act, as, aux, xs, n16, g0, g1, y, ldy); break;
      case GGMLType::Q5_K: run<GGMLType::Q5_K>(tl, p, act, as, aux, xs, n16, g0, g1, y, ldy); break;
      case GGMLType::Q6_K: run<GGMLType::Q6_K>(tl, p, act, as, aux, xs, n16, g0, g1, y, ldy); break;
      default: throw Error("amx: no AMX kernel for this packed type");
    }
  if (nt > n16)  // the tail tokens: the AVX-512 kernels are bit-identical to the reference too
    avx512vnni::gemm(p, act + as * static_cast<size_t>(n16), as, aux + xs * static_cast<size_t>(n16), xs, nt - n16,
                     g0, g1, y + n16 * ldy, ldy);
}

}  // namespace

void gemm(const Packed& p, const uint8_t* act, size_t as, const int32_t* aux, size_t xs, int nt, int64_t g0,
          int64_t g1, float* y, int64_t ldy) {
  TileHw tl;
  gemm_with(tl, p, act, as, aux, xs, nt, g0, g1, y, ldy);
}

void gemm_model(const Packed& p, const uint8_t* act, size_t as, const int32_t* aux, size_t xs, int nt, int64_t g0,
                int64_t g1, float* y, int64_t ldy) {
  larql::amx::TileModel tl;
  gemm_with(tl, p, act, as, aux, xs, nt, g0, g1, y, ldy);
}

void gemm_model_faulty(const Packed& p, const uint8_t* act, size_t as, const int32_t* aux, size_t xs, int nt,
                       int64_t g0, int64_t g1, float* y, int64_t ldy) {
  larql::amx::TileModel tl;
  tl.inject_fault(true);
  gemm_with(tl, p, act, as, aux, xs, nt, g0, g1, y, ldy);
}

}  // namespace larql::repack::amx

#pragma GCC pop_options
#endif
