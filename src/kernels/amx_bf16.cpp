// The AMX-BF16 GEMM for BF16 weights (scheme in amx.h), written once against
// the tile API of amx_tiles.h and instantiated for the hardware (inline-asm tile
// instructions) and for the software model. Per pair of 16-row groups: the
// weights are packed into lane order once (a 16 x 16 dword transpose per 32
// elements of 16 rows, AVX2), then every pair of 16-token tiles runs the 16 lanes
// through four C tiles, parks them (64 KiB) and reduces them by the tree.
// Headers come before the target pragma so nothing shared is built for AVX2.
#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <vector>

#include "kernels/amx.h"
#include "kernels/amx_tiles.h"
#include "util/error.h"

namespace larql::halfdot::amx {

int64_t lane_stride(int64_t n) { return (n / 16 + 31) / 32 * 32; }
size_t lanes_size(int64_t n, int nt) { return static_cast<size_t>(lane_stride(n)) * 16 * static_cast<size_t>(nt); }

}  // namespace larql::halfdot::amx

#if defined(__clang__) || !defined(__x86_64__)
namespace larql::halfdot::amx {
// clang builds leave the GCC-pragma kernels out (model_runnable() and
// bf16_available() are false there, so nothing calls these).
void to_lanes(const float*, int64_t, int64_t, int, int, int, uint16_t*) {
  throw Error("amx: kernels not built with this compiler");
}
void gemm(const Rows&, int64_t, int64_t, const uint16_t*, const float*, int64_t, int, float*, int64_t) {
  throw Error("amx: kernels not built with this compiler");
}
void gemm_model(const Rows&, int64_t, int64_t, const uint16_t*, const float*, int64_t, int, float*, int64_t) {
  throw Error("amx: kernels not built with this compiler");
}
void gemm_model_faulty(const Rows&, int64_t, int64_t, const uint16_t*, const float*, int64_t, int, float*, int64_t) {
  throw Error("amx: kernels not built with this compiler");
}
}  // namespace larql::halfdot::amx
#else
#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c")

namespace larql::halfdot::amx {

namespace {

// The packing and the tree are AVX2 (every AMX CPU has it), so the whole kernel
// also runs, through the tile model, on the AVX2 machines the tests run on.

// In-place 8 x 8 dword transpose: a[i][j] becomes a[j][i].
inline void transpose8(__m256i a[8]) {
  __m256i t[8], u[8];
  for (int i = 0; i < 8; i += 2) {
    t[i] = _mm256_unpacklo_epi32(a[i], a[i + 1]);
    t[i + 1] = _mm256_unpackhi_epi32(a[i], a[i + 1]);
  }
  for (int i = 0; i < 8; i += 4) {  // u[i + c], 128-bit half h: rows i..i+3 of column 4h + c
    u[i] = _mm256_unpacklo_epi64(t[i], t[i + 2]);
    u[i + 1] = _mm256_unpackhi_epi64(t[i], t[i + 2]);
    u[i + 2] = _mm256_unpacklo_epi64(t[i + 1], t[i + 3]);
    u[i + 3] = _mm256_unpackhi_epi64(t[i + 1], t[i + 3]);
  }
  for (int c = 0; c < 4; ++c) {
    a[c] = _mm256_permute2x128_si256(u[c], u[4 + c], 0x20);
    a[4 + c] = _mm256_permute2x128_si256(u[c], u[4 + c], 0x31);
  }
}

// 16 x 16 dwords, row i = r[i][0] (dwords 0-7) and r[i][1] (8-15): r[i][k]
// becomes r[k][i], as four 8 x 8 blocks.
inline void transpose16(__m256i r[16][2]) {
  __m256i blk[2][2][8];  // [row block][column block]
  for (int rb = 0; rb < 2; ++rb)
    for (int cb = 0; cb < 2; ++cb) {
      for (int i = 0; i < 8; ++i) blk[rb][cb][i] = r[8 * rb + i][cb];
      transpose8(blk[rb][cb]);  // now column 8 cb + i, rows 8 rb..8 rb + 7
    }
  for (int cb = 0; cb < 2; ++cb)
    for (int i = 0; i < 8; ++i)
      for (int rb = 0; rb < 2; ++rb) r[8 * cb + i][rb] = blk[rb][cb][i];
}

// Two 16-element halves (a: elements 0-15, b: 16-31) interleaved by element:
// dword L = (a_L, b_L), L 0-7 in lo, 8-15 in hi.
inline void pair_words(__m256i a, __m256i b, __m256i& lo, __m256i& hi) {
  const __m256i l = _mm256_unpacklo_epi16(a, b), h = _mm256_unpackhi_epi16(a, b);  // L 0-3 | 8-11, 4-7 | 12-15
  lo = _mm256_permute2x128_si256(l, h, 0x20);
  hi = _mm256_permute2x128_si256(l, h, 0x31);
}

constexpr size_t kTileBytes = 1024;  // 16 rows x 64 bytes

// 32 bytes at p, or zeros (past the last j).
inline __m256i load_or_zero(const void* p, bool in) {
  return in ? _mm256_loadu_si256(static_cast<const __m256i*>(p)) : _mm256_setzero_si256();
}

// Packs rows [r, r + 16) into B tiles: lane L, chunk c (j in [32c, 32c + 32)),
// tile row kk = 16 rows x (j = 32c + 2kk, 32c + 2kk + 1) as bf16 pairs, at
// bt + (L * nc + c) * kTileBytes + kk * 64. j >= n / 16 is zero.
void pack_b(const Rows& m, int64_t r, int64_t nc, uint8_t* bt) {
  const int64_t nj = m.n / 16;
  for (int64_t c = 0; c < nc; ++c)
    for (int kk = 0; kk < 16; ++kk) {
      const int64_t j0 = 32 * c + 2 * kk;
      __m256i q[16][2];
      for (int n = 0; n < 16; ++n) {
        const uint8_t* w = m.w + static_cast<size_t>(r + n) * m.row_bytes + static_cast<size_t>(32 * j0);
        pair_words(load_or_zero(w, j0 < nj), load_or_zero(w + 32, j0 + 1 < nj), q[n][0], q[n][1]);
      }
      transpose16(q);  // q[L]: the 16 rows' pairs of lane L
      for (int L = 0; L < 16; ++L) {
        uint8_t* dst = bt + static_cast<size_t>(L * nc + c) * kTileBytes + 64 * kk;
        _mm256_store_si256(reinterpret_cast<__m256i*>(dst), q[L][0]);
        _mm256_store_si256(reinterpret_cast<__m256i*>(dst + 32), q[L][1]);
      }
    }
}

// ggml's 16-lane tree, element-wise over 8 outputs: a_i = v_{i+8} + v_i,
// b_i = a_{i+4} + a_i, (b0 + b2) + (b1 + b3).
inline __m256 tree(const __m256* v) {
  __m256 a[8], b[4];
  for (int i = 0; i < 8; ++i) a[i] = _mm256_add_ps(v[i + 8], v[i]);
  for (int i = 0; i < 4; ++i) b[i] = _mm256_add_ps(a[i + 4], a[i]);
  return _mm256_add_ps(_mm256_add_ps(b[0], b[2]), _mm256_add_ps(b[1], b[3]));
}

struct alignas(64) Park {
  float c[16][4][16][16];  // [lane][C tile][token][row]
};

// RG row groups (B tiles 6, 7) x TT token tiles (A tiles 4, 5) from token t0:
// C tile 2 rg + tt. Every lane's C runs over all nc chunks, is parked, and
// the tree of the 16 parked lanes gives the outputs.
template <int RG, int TT, class Tiles>
void block(Tiles& tl, const uint8_t* const* bt, int64_t nc, const uint16_t* lanes, int nt, int64_t J, int t0, Park& pk,
           float* y, int64_t ldy, int64_t row) {
  const size_t as = static_cast<size_t>(J) * 2;
  for (int L = 0; L < 16; ++L) {
    const uint16_t* a = lanes + (static_cast<size_t>(L) * nt + t0) * J;
    const uint8_t* b0 = bt[0] + static_cast<size_t>(L * nc) * kTileBytes;
    const uint8_t* b1 = bt[RG - 1] + static_cast<size_t>(L * nc) * kTileBytes;
    tl.template zero<0>();
    if constexpr (TT > 1) tl.template zero<1>();
    if constexpr (RG > 1) tl.template zero<2>();
    if constexpr (RG > 1 && TT > 1) tl.template zero<3>();
    for (int64_t c = 0; c < nc; ++c) {
      tl.template load<4>(a + 32 * c, as);
      if constexpr (TT > 1) tl.template load<5>(a + 16 * J + 32 * c, as);
      tl.template load<6>(b0 + c * kTileBytes, 64);
      if constexpr (RG > 1) tl.template load<7>(b1 + c * kTileBytes, 64);
      tl.template dpbf16ps<0, 4, 6>();
      if constexpr (TT > 1) tl.template dpbf16ps<1, 5, 6>();
      if constexpr (RG > 1) tl.template dpbf16ps<2, 4, 7>();
      if constexpr (RG > 1 && TT > 1) tl.template dpbf16ps<3, 5, 7>();
    }
    tl.template store<0>(pk.c[L][0], 64);
    if constexpr (TT > 1) tl.template store<1>(pk.c[L][1], 64);
    if constexpr (RG > 1) tl.template store<2>(pk.c[L][2], 64);
    if constexpr (RG > 1 && TT > 1) tl.template store<3>(pk.c[L][3], 64);
  }
  for (int rg = 0; rg < RG; ++rg)
    for (int tt = 0; tt < TT; ++tt)
      for (int t = 0; t < 16; ++t)
        for (int h = 0; h < 2; ++h) {
          __m256 v[16];
          for (int L = 0; L < 16; ++L) v[L] = _mm256_load_ps(pk.c[L][2 * rg + tt][t] + 8 * h);
          _mm256_storeu_ps(y + (t0 + 16 * tt + t) * ldy + row + 16 * rg + 8 * h, tree(v));
        }
}

template <class Tiles>
void run(Tiles& tl, const Rows& m, int64_t r0, int64_t r1, const uint16_t* lanes, const float* x, int64_t ldx, int nt,
         float* y, int64_t ldy) {
  if (m.type != GGMLType::BF16 || m.n % 16 != 0) throw Error("amx: the BF16 kernel needs BF16 rows of a multiple of 16");
  const int64_t J = lane_stride(m.n), nc = J / 32;
  const int n16 = nt / 16 * 16;
  const int64_t ng = std::max<int64_t>(0, r1 - r0) / 16, rt = r0 + 16 * ng;  // whole row groups end at rt
  if (n16 > 0 && ng > 0) {
    larql::amx::TileConfig cfg;
    for (int i = 0; i < 8; ++i) cfg.rows[i] = 16, cfg.colsb[i] = 64;  // C, A and B: 16 x 64 bytes
    tl.config(cfg);
    thread_local std::vector<uint8_t> bbuf;  // two row groups' B tiles; grows once per thread
    thread_local const std::unique_ptr<Park> park(new Park);
    const size_t group_bytes = static_cast<size_t>(16 * nc) * kTileBytes;
    if (bbuf.size() < 2 * group_bytes + 64) bbuf.resize(2 * group_bytes + 64);
    uint8_t* base = bbuf.data() + (64 - reinterpret_cast<uintptr_t>(bbuf.data()) % 64) % 64;
    const uint8_t* bt[2] = {base, base + group_bytes};
    for (int64_t g = 0; g < ng; g += 2) {
      const bool two = g + 1 < ng;
      const int64_t row = r0 + 16 * g;
      pack_b(m, row, nc, base);
      if (two) pack_b(m, row + 16, nc, base + group_bytes);
      int t0 = 0;
      for (; t0 + 32 <= n16; t0 += 32)
        two ? block<2, 2>(tl, bt, nc, lanes, nt, J, t0, *park, y, ldy, row)
            : block<1, 2>(tl, bt, nc, lanes, nt, J, t0, *park, y, ldy, row);
      if (t0 < n16)
        two ? block<2, 1>(tl, bt, nc, lanes, nt, J, t0, *park, y, ldy, row)
            : block<1, 1>(tl, bt, nc, lanes, nt, J, t0, *park, y, ldy, row);
    }
    tl.release();
  }
  // Rows past the whole groups (every token), then the whole groups' tail tokens:
  // halfdot's SIMD kernels compute the same order on the rounded floats.
  if (rt < r1) halfdot::gemm(m, true, rt, r1, x, ldx, nt, y, ldy);
  if (nt > n16 && ng > 0) halfdot::gemm(m, true, r0, rt, x + n16 * ldx, ldx, nt - n16, y + n16 * ldy, ldy);
}

}  // namespace

void to_lanes(const float* x, int64_t ldx, int64_t n, int nt, int t0, int t1, uint16_t* lanes) {
  const int64_t nj = n / 16, J = lane_stride(n), nc = J / 32;
  const __m256i high = _mm256_set1_epi32(int(0xFFFF0000u));
  for (int t = t0; t < t1; ++t) {
    const float* xt = x + t * ldx;
    for (int64_t c = 0; c < nc; ++c) {
      __m256i p[16][2];  // dword L of row i: the bf16 bits of j = 32c + 2i (low) and 32c + 2i + 1 (high), lane L
      for (int i = 0; i < 16; ++i) {
        const int64_t j = 32 * c + 2 * i;
        for (int h = 0; h < 2; ++h) {
          const __m256i lo = load_or_zero(xt + 16 * j + 8 * h, j < nj);
          const __m256i hi = load_or_zero(xt + 16 * (j + 1) + 8 * h, j + 1 < nj);
          p[i][h] = _mm256_or_si256(_mm256_srli_epi32(lo, 16), _mm256_and_si256(hi, high));
        }
      }
      transpose16(p);  // p[L]: lane L's j = 32c .. 32c + 31
      for (int L = 0; L < 16; ++L) {
        uint16_t* dst = lanes + (static_cast<size_t>(L) * nt + t) * J + 32 * c;
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst), p[L][0]);
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + 16), p[L][1]);
      }
    }
  }
}

void gemm(const Rows& m, int64_t r0, int64_t r1, const uint16_t* lanes, const float* x, int64_t ldx, int nt, float* y,
          int64_t ldy) {
  larql::amx::TileHw tl;
  run(tl, m, r0, r1, lanes, x, ldx, nt, y, ldy);
}

void gemm_model(const Rows& m, int64_t r0, int64_t r1, const uint16_t* lanes, const float* x, int64_t ldx, int nt,
                float* y, int64_t ldy) {
  larql::amx::TileModel tl;
  run(tl, m, r0, r1, lanes, x, ldx, nt, y, ldy);
}

void gemm_model_faulty(const Rows& m, int64_t r0, int64_t r1, const uint16_t* lanes, const float* x, int64_t ldx,
                       int nt, float* y, int64_t ldy) {
  larql::amx::TileModel tl;
  tl.inject_fault(true);
  run(tl, m, r0, r1, lanes, x, ldx, nt, y, ldy);
}

}  // namespace larql::halfdot::amx

#pragma GCC pop_options
#endif
