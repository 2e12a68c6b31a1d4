// AVX-512 form of repack::pack() (layout in repack.h), byte-identical to the
// portable packer in repack.cpp (tests/unit/kernels/repack_pack_test.cpp).
// Every code vector of the layout is a transpose: its dword r is 4 bytes of
// row r. So each row's block becomes, in one register, the 16 dwords it gives
// 16 consecutive vectors (a few whole-vector shifts/selects/shuffles per type),
// and 16 rows' registers are transposed (4 rounds of vpermt2d perfect shuffles)
// and written as whole 64-byte vectors with streaming stores (the copy is not
// read again during the load). Per-row scale bytes are transposed the same way
// (16x16 bytes, punpck rounds); Q5_K's bit masks are one vptestmb each on the
// transposed qh bytes. ~10x the portable packer's speed (docs/benchmarks.md).
// Headers come before the target pragma so nothing shared is built for AVX-512.
#include <immintrin.h>

#include <cstring>

#include "kernels/repack.h"

namespace larql::repack::avx512 {
// Packs row groups [g0, g1) of w into p (allocated by pack()); false if this
// build has no AVX-512 packer (clang). Declared here and in repack.cpp only.
bool pack_groups(const WeightView& w, const Packed& p, int64_t g0, int64_t g1);
}  // namespace larql::repack::avx512

#if defined(__clang__)
namespace larql::repack::avx512 {
bool pack_groups(const WeightView&, const Packed&, int64_t, int64_t) { return false; }
}  // namespace larql::repack::avx512
#else
#pragma GCC push_options
#pragma GCC diagnostic ignored "-Wuninitialized"  // GCC 12 false positives in the intrinsic headers
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512dq,avx2")

namespace larql::repack::avx512 {

namespace {

constexpr int R = kRows;

// a[k] dword r = a[r] dword k: four perfect-shuffle rounds (each moves one bit
// of the row index into the column index, so four of them swap the two).
inline void transpose16(__m512i* a) {
  const __m512i lo = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  const __m512i hi = _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
#pragma GCC unroll 4
  for (int round = 0; round < 4; ++round) {
    __m512i b[16];
#pragma GCC unroll 8
    for (int i = 0; i < 8; ++i) {
      b[2 * i] = _mm512_permutex2var_epi32(a[i], lo, a[i + 8]);
      b[2 * i + 1] = _mm512_permutex2var_epi32(a[i], hi, a[i + 8]);
    }
#pragma GCC unroll 16
    for (int i = 0; i < 16; ++i) a[i] = b[i];
  }
}

// 16 vectors from the transposed row images row(0..15) (dword r of vector k =
// dword k of row r's image) at dst; the first n stored. The images go straight
// from registers into the transpose (a spill through memory would stall on
// store forwarding when built from narrower pieces).
// Vectors 8..15 go to upper (default: right after the first 8).
template <class F>
inline void emit(uint8_t* dst, F row, int n = 16, uint8_t* upper = nullptr) {
  if (!upper) upper = dst + 512;
  __m512i a[16];
#pragma GCC unroll 16
  for (int r = 0; r < R; ++r) a[r] = row(r);
  transpose16(a);
#pragma GCC unroll 16
  for (int i = 0; i < 16; ++i)  // unrolled so a[] stays in registers
    if (i < n) _mm512_stream_si512(reinterpret_cast<__m512i*>(i < 8 ? dst + 64 * i : upper + 64 * (i - 8)), a[i]);
}

// Q4_K/Q5_K: 64 code bytes (lanes A0 B0 A1 B1 of 16 bytes) to sub-blocks 2c, 2c+1
// of both halves: low (A & 15) | (B << 4), high (A >> 4) | (B & 0xF0).
inline __m512i kquant_nibbles(const uint8_t* qs) {
  const __m512i x = _mm512_loadu_si512(qs);
  const __m512i a = _mm512_shuffle_i64x2(x, x, _MM_SHUFFLE(2, 2, 0, 0));
  const __m512i b = _mm512_shuffle_i64x2(x, x, _MM_SHUFFLE(3, 3, 1, 1));
  const __m512i ra = _mm512_setr_epi64(0, 0, 0x0004000400040004, 0x0004000400040004, 0, 0, 0x0004000400040004,
                                       0x0004000400040004);
  const __m512i lb = _mm512_setr_epi64(0x0004000400040004, 0x0004000400040004, 0, 0, 0x0004000400040004,
                                       0x0004000400040004, 0, 0);
  // bitwise select (0xCA): low nibble from the shifted A, high nibble from the shifted B
  return _mm512_ternarylogic_epi32(_mm512_set1_epi8(0x0F), _mm512_srlv_epi16(a, ra), _mm512_sllv_epi16(b, lb), 0xCA);
}

// Q6_K: 64 ql bytes (half h) to the nibble vectors' dwords of sub-blocks 8h..8h+7:
// chunk i's low nibbles feed sub-block 8h+i, its high nibbles 8h+4+i; each
// sub-block's 8 bytes are (X[0..8] | X[8..16] << 4) of its nibbles.
inline __m512i q6_nibbles(const uint8_t* ql) {
  const __m512i x = _mm512_loadu_si512(ql);
  const __m512i y = _mm512_bsrli_epi128(x, 8);
  const __m512i m = _mm512_set1_epi8(0x0F);
  const __m512i lo = _mm512_ternarylogic_epi32(m, x, _mm512_slli_epi16(y, 4), 0xCA);
  const __m512i hi = _mm512_ternarylogic_epi32(m, _mm512_srli_epi16(x, 4), y, 0xCA);
  return _mm512_permutex2var_epi64(lo, _mm512_setr_epi64(0, 2, 4, 6, 8, 10, 12, 14), hi);
}

// Q6_K: 64 qh bytes to the 16 high-bit dwords (sub-block g = 8h + 2s + t reads
// bits 2s..2s+1 of chunk 2h+t). Per element e the 4 source bytes (k-groups
// 0, 2, 1, 3 as the layout orders them) hold a 4x4 matrix of 2-bit fields;
// two delta swaps transpose it so byte s is sub-block s's output byte.
inline __m512i q6_high(const uint8_t* qh) {
  const __m512i x = _mm512_loadu_si512(qh);
  __m512i w = _mm512_shuffle_epi8(x, _mm512_broadcast_i32x4(_mm_setr_epi8(0, 8, 4, 12, 1, 9, 5, 13, 2, 10, 6, 14, 3, 11, 7, 15)));
  __m512i t = _mm512_and_si512(_mm512_xor_si512(_mm512_srli_epi32(w, 12), w), _mm512_set1_epi32(0x0000F0F0));
  w = _mm512_xor_si512(w, _mm512_xor_si512(t, _mm512_slli_epi32(t, 12)));
  t = _mm512_and_si512(_mm512_xor_si512(_mm512_srli_epi32(w, 6), w), _mm512_set1_epi32(0x00CC00CC));
  w = _mm512_xor_si512(w, _mm512_xor_si512(t, _mm512_slli_epi32(t, 6)));
  // lane u dword e byte s -> lane u dword s byte e, then dword 4u + s to g
  w = _mm512_shuffle_epi8(w, _mm512_broadcast_i32x4(_mm_setr_epi8(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15)));
  return _mm512_permutexvar_epi32(_mm512_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7, 8, 12, 9, 13, 10, 14, 11, 15), w);
}

// A row's 64-byte image of a Q8_0 block pair (the second zero when !two): codes + 128.
inline __m512i image_q8(const uint8_t* s, bool two) {
  const __m256i lo = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(s));
  const __m256i hi = two ? _mm256_loadu_si256(reinterpret_cast<const __m256i*>(s + 34)) : _mm256_setzero_si256();
  return _mm512_xor_si512(_mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1), _mm512_set1_epi8(static_cast<char>(0x80)));
}

// A row's image of n <= 4 Q4_0 blocks' code bytes as stored (missing ones zero).
inline __m512i image_q4(const uint8_t* s, int n) {
  auto q = [&](int k) { return k < n ? _mm_loadu_si128(reinterpret_cast<const __m128i*>(s + 18 * k)) : _mm_setzero_si128(); };
  const __m256i lo = _mm256_inserti128_si256(_mm256_castsi128_si256(q(0)), q(1), 1);
  const __m256i hi = _mm256_inserti128_si256(_mm256_castsi128_si256(q(2)), q(3), 1);
  return _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
}

// Q5_K block at s0 (rows rs apart): mask (j, v) at c + 2048 + (8 j + v) 8, bit
// 4r+e = bit j of row r's qh[4 kg + e].
inline void q5_masks(const uint8_t* s0, size_t rs, uint8_t* c) {
  __m512i qh[16];
#pragma GCC unroll 16
  for (int r = 0; r < R; ++r) qh[r] = _mm512_castsi256_si512(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(s0 + r * rs + 16)));
  transpose16(qh);
  for (int j = 0; j < 8; ++j) {
    const __m512i bit = _mm512_set1_epi8(static_cast<char>(1 << j));
#pragma GCC unroll 8
    for (int v = 0; v < 8; ++v) {
      const uint64_t m = _mm512_test_epi8_mask(qh[v / 2 + 4 * (v % 2)], bit);
      std::memcpy(c + 2048 + (8 * j + v) * 8, &m, 8);
    }
  }
}

}  // namespace

#include "kernels/repack_pack_inl.h"

}  // namespace larql::repack::avx512

#pragma GCC pop_options
#endif
