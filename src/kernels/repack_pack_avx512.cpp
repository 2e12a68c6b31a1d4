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

// out[16 k + r] = in[r][k] for 16 rows of 16 bytes (same rounds on bytes).
inline void transpose_bytes(const uint8_t (*in)[16], uint8_t* out) {
  __m128i a[16];
#pragma GCC unroll 16
  for (int r = 0; r < 16; ++r) a[r] = _mm_load_si128(reinterpret_cast<const __m128i*>(in[r]));
#pragma GCC unroll 4
  for (int round = 0; round < 4; ++round) {
    __m128i b[16];
#pragma GCC unroll 8
    for (int i = 0; i < 8; ++i) {
      b[2 * i] = _mm_unpacklo_epi8(a[i], a[i + 8]);
      b[2 * i + 1] = _mm_unpackhi_epi8(a[i], a[i + 8]);
    }
#pragma GCC unroll 16
    for (int i = 0; i < 16; ++i) a[i] = b[i];
  }
#pragma GCC unroll 16
  for (int k = 0; k < 16; ++k) _mm_storeu_si128(reinterpret_cast<__m128i*>(out + 16 * k), a[k]);
}

inline void copy2(uint8_t* d, const uint8_t* s) { std::memcpy(d, s, 2); }

// The 16 source rows are 16 streams, more than the hardware prefetchers follow:
// fetch each row's next `bytes` kPrefetch ahead of the step that reads them.
constexpr size_t kPrefetch = 1024;
inline void prefetch_rows(const uint8_t* s0, size_t rs, size_t bytes) {
  for (int r = 0; r < R; ++r)
    for (size_t k = 0; k < bytes; k += 64) _mm_prefetch(reinterpret_cast<const char*>(s0 + r * rs + kPrefetch + k), _MM_HINT_T0);
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

// The 16 bytes [sc0..sc7, mn0..mn7] of a K-quant block's 12 packed scale bytes
// (16 bytes read from s; the last 4 are ignored).
inline __m128i kquant_scales(const uint8_t* s) {
  const __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s));
  const __m128i a = _mm_shuffle_epi8(x, _mm_setr_epi8(0, 1, 2, 3, 8, 9, 10, 11, 4, 5, 6, 7, 8, 9, 10, 11));
  const __m128i b = _mm_shuffle_epi8(x, _mm_setr_epi8(-1, -1, -1, -1, 0, 1, 2, 3, -1, -1, -1, -1, 4, 5, 6, 7));
  const __m128i low = _mm_and_si128(a, _mm_setr_epi8(63, 63, 63, 63, 15, 15, 15, 15, 63, 63, 63, 63, 0, 0, 0, 0));
  const __m128i high = _mm_and_si128(_mm_srli_epi16(a, 4), _mm_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 15, 15, 15, 15));
  const __m128i top = _mm_and_si128(_mm_srli_epi16(b, 2), _mm_setr_epi8(0, 0, 0, 0, 48, 48, 48, 48, 0, 0, 0, 0, 48, 48, 48, 48));
  return _mm_or_si128(_mm_or_si128(low, high), top);
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

// Q8_0 (34-byte blocks): 2 blocks (8 vectors each) per transpose.
void group_q8(const uint8_t* rows, size_t rs, int64_t nb, uint8_t* grp, const BlockLayout& L) {
  const __m512i x80 = _mm512_set1_epi8(static_cast<char>(0x80));  // int8 + 128
  for (int64_t b0 = 0; b0 < nb; b0 += 2) {
    const bool two = nb - b0 >= 2;
    const uint8_t* s0 = rows + static_cast<size_t>(b0) * 34;
    prefetch_rows(s0, rs, 68);
    for (int r = 0; r < R; ++r)
      for (int k = 0; k < (two ? 2 : 1); ++k) copy2(grp + L.meta(b0 + k) + 2 * r, s0 + r * rs + 34 * k);
    emit(grp + L.codes(b0), [&](int r) {  // a pair's codes are contiguous
      const uint8_t* s = s0 + r * rs + 2;
      const __m256i lo = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(s));
      const __m256i hi = two ? _mm256_loadu_si256(reinterpret_cast<const __m256i*>(s + 34)) : _mm256_setzero_si256();
      return _mm512_xor_si512(_mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1), x80);
    }, two ? 16 : 8);
  }
}

// Q4_0 (18-byte blocks): 4 blocks (4 vectors each) per transpose; the layout's
// nibble vectors are Q4_0's code bytes as stored.
void group_q4(const uint8_t* rows, size_t rs, int64_t nb, uint8_t* grp, const BlockLayout& L) {
  for (int64_t b0 = 0; b0 < nb; b0 += 4) {
    const int n = static_cast<int>(nb - b0 < 4 ? nb - b0 : 4);
    const uint8_t* s0 = rows + static_cast<size_t>(b0) * 18;
    prefetch_rows(s0, rs, 72);
    for (int r = 0; r < R; ++r)
      for (int k = 0; k < n; ++k) copy2(grp + L.meta(b0 + k) + 2 * r, s0 + r * rs + 18 * k);
    auto q = [&](const uint8_t* s, int k) {
      return k < n ? _mm_loadu_si128(reinterpret_cast<const __m128i*>(s + 18 * k)) : _mm_setzero_si128();
    };
    emit(grp + L.codes(b0), [&](int r) {  // blocks b0, b0 + 1 then the next pair's
      const uint8_t* s = s0 + r * rs + 2;
      const __m256i lo = _mm256_inserti128_si256(_mm256_castsi128_si256(q(s, 0)), q(s, 1), 1);
      const __m256i hi = _mm256_inserti128_si256(_mm256_castsi128_si256(q(s, 2)), q(s, 3), 1);
      return _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
    }, 4 * n, n > 2 ? grp + L.codes(b0 + 2) : nullptr);
  }
}

// Q4_K (144-byte blocks) and Q5_K (176).
void group_q45k(bool q5, const uint8_t* rows, size_t rs, int64_t nb, uint8_t* grp, const BlockLayout& L) {
  alignas(16) uint8_t sm[R][16];
  const size_t bs = q5 ? 176 : 144, qs = q5 ? 48 : 16;
  for (int64_t b = 0; b < nb; ++b) {
    uint8_t* o = grp + L.meta(b);
    uint8_t* c = grp + L.codes(b);
    const uint8_t* s0 = rows + static_cast<size_t>(b) * bs;
    prefetch_rows(s0, rs, bs);
    for (int r = 0; r < R; ++r) {
      const uint8_t* s = s0 + r * rs;
      copy2(o + 2 * r, s);
      copy2(o + 32 + 2 * r, s + 2);
      _mm_store_si128(reinterpret_cast<__m128i*>(sm[r]), kquant_scales(s + 4));
    }
    transpose_bytes(sm, o + 64);  // sc[8][16] then mn[8][16]
    emit(c, [&](int r) { return kquant_nibbles(s0 + r * rs + qs); });
    emit(c + 1024, [&](int r) { return kquant_nibbles(s0 + r * rs + qs + 64); });
    if (q5) {  // mask (j, v): bit 4r+e = bit j of row r's qh[4 kg + e]
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
  }
}

// Q6_K (210-byte blocks): 32 nibble dwords then 16 high-bit dwords per row.
void group_q6k(const uint8_t* rows, size_t rs, int64_t nb, uint8_t* grp, const BlockLayout& L) {
  alignas(16) uint8_t sm[R][16];
  for (int64_t b = 0; b < nb; ++b) {
    uint8_t* o = grp + L.meta(b);
    uint8_t* c = grp + L.codes(b);
    const uint8_t* s0 = rows + static_cast<size_t>(b) * 210;
    prefetch_rows(s0, rs, 210);
    for (int r = 0; r < R; ++r) {
      const uint8_t* s = s0 + r * rs;
      copy2(o + 2 * r, s + 208);
      _mm_store_si128(reinterpret_cast<__m128i*>(sm[r]), _mm_loadu_si128(reinterpret_cast<const __m128i*>(s + 192)));
    }
    transpose_bytes(sm, o + 32);  // sc[16][16]
    emit(c, [&](int r) { return q6_nibbles(s0 + r * rs); });
    emit(c + 1024, [&](int r) { return q6_nibbles(s0 + r * rs + 64); });
    emit(c + 2048, [&](int r) { return q6_high(s0 + r * rs + 128); });
  }
}

}  // namespace

bool pack_groups(const WeightView& w, const Packed& p, int64_t g0, int64_t g1) {
  const GGMLType t = w.type;
  if (t != GGMLType::Q8_0 && t != GGMLType::Q4_0 && t != GGMLType::Q4_K && t != GGMLType::Q5_K && t != GGMLType::Q6_K)
    return false;  // other packable types (Q5_0) take the portable packer
  const int64_t nb = w.n_in / (t == GGMLType::Q8_0 || t == GGMLType::Q4_0 ? 32 : 256);
  for (int64_t g = g0; g < g1; ++g) {
    const uint8_t* rows = w.data + static_cast<uint64_t>(g) * R * w.row_bytes;
    uint8_t* grp = p.data + static_cast<size_t>(g) * p.group_bytes;
    if (t == GGMLType::Q8_0) group_q8(rows, w.row_bytes, nb, grp, p.blk);
    else if (t == GGMLType::Q4_0) group_q4(rows, w.row_bytes, nb, grp, p.blk);
    else if (t == GGMLType::Q6_K) group_q6k(rows, w.row_bytes, nb, grp, p.blk);
    else group_q45k(t == GGMLType::Q5_K, rows, w.row_bytes, nb, grp, p.blk);
  }
  _mm_sfence();  // the streaming stores are visible before pack() returns
  return true;
}

}  // namespace larql::repack::avx512

#pragma GCC pop_options
#endif
