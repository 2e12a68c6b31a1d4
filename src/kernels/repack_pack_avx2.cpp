// AVX2 form of repack::pack() (layout in repack.h) for CPUs without AVX-512,
// byte-identical to the portable packer in repack.cpp and to the AVX-512 one
// (tests/unit/kernels/repack_pack_test.cpp). The same plan as
// repack_pack_avx512.cpp: each row's block becomes a 64-byte image holding the
// 16 dwords it gives 16 consecutive vectors, and 16 rows' images are transposed
// (here four 8x8 dword transposes of ymm halves, through an L1-resident buffer
// written and read at the same 32-byte width) and streamed out. The packer ran
// portable on AVX2 before: 69 % of loading llama-8b Q4_K_M on Zen 3.
// Headers come before the target pragma so nothing shared is built for AVX2.
#include <immintrin.h>

#include <cstring>

#include "kernels/repack.h"

namespace larql::repack::avx2 {
// Packs row groups [g0, g1) of w into p (allocated by pack()); false if this
// build has no AVX2 packer (clang). Declared here and in repack.cpp only.
bool pack_groups(const WeightView& w, const Packed& p, int64_t g0, int64_t g1);
}  // namespace larql::repack::avx2

#if defined(__clang__)
namespace larql::repack::avx2 {
bool pack_groups(const WeightView&, const Packed&, int64_t, int64_t) { return false; }
}  // namespace larql::repack::avx2
#else
#pragma GCC push_options
#pragma GCC diagnostic ignored "-Wuninitialized"  // GCC 12 false positives in the intrinsic headers
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC target("avx2")

namespace larql::repack::avx2 {

namespace {

constexpr int R = kRows;

inline __m256i load32(const uint8_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }
inline __m128i load16(const uint8_t* p) { return _mm_loadu_si128(reinterpret_cast<const __m128i*>(p)); }
inline __m256i join(__m128i lo, __m128i hi) { return _mm256_inserti128_si256(_mm256_castsi128_si256(lo), hi, 1); }

// a[k] lane r = a[r] lane k for 8 vectors of 8 dwords.
inline void transpose8(__m256i* a) {
  __m256i t[8], u[8];
#pragma GCC unroll 4
  for (int i = 0; i < 4; ++i) {
    t[2 * i] = _mm256_unpacklo_epi32(a[2 * i], a[2 * i + 1]);
    t[2 * i + 1] = _mm256_unpackhi_epi32(a[2 * i], a[2 * i + 1]);
  }
#pragma GCC unroll 2
  for (int h = 0; h < 2; ++h) {  // rows 4h..4h+3: u[4h + c] holds columns c and c + 4
    u[4 * h + 0] = _mm256_unpacklo_epi64(t[4 * h], t[4 * h + 2]);
    u[4 * h + 1] = _mm256_unpackhi_epi64(t[4 * h], t[4 * h + 2]);
    u[4 * h + 2] = _mm256_unpacklo_epi64(t[4 * h + 1], t[4 * h + 3]);
    u[4 * h + 3] = _mm256_unpackhi_epi64(t[4 * h + 1], t[4 * h + 3]);
  }
#pragma GCC unroll 4
  for (int c = 0; c < 4; ++c) {
    a[c] = _mm256_permute2x128_si256(u[c], u[4 + c], 0x20);
    a[c + 4] = _mm256_permute2x128_si256(u[c], u[4 + c], 0x31);
  }
}

struct Img {  // one row's 64-byte image
  __m256i lo, hi;
};

// 16 vectors from the row images row(r) (dword r of vector k = dword k of row
// r's image) at dst; the first n stored, vectors 8..15 at upper (default: right
// after the first 8). The images wait in an L1 buffer, stored and loaded whole
// at one width (no store-forwarding stall), for four 8x8 transposes.
template <class F>
inline void emit(uint8_t* dst, F row, int n = 16, uint8_t* upper = nullptr) {
  if (!upper) upper = dst + 512;
  alignas(32) __m256i img[R][2];
  for (int r = 0; r < R; ++r) {
    const Img m = row(r);
    img[r][0] = m.lo;
    img[r][1] = m.hi;
  }
#pragma GCC unroll 2
  for (int c = 0; c < 2; ++c) {  // dwords 8c..8c+7 of the images: vectors 8c..8c+7
    if (8 * c >= n) break;
#pragma GCC unroll 2
    for (int rh = 0; rh < 2; ++rh) {  // rows 8rh..8rh+7: the vectors' 32-byte half rh
      __m256i a[8];
#pragma GCC unroll 8
      for (int i = 0; i < 8; ++i) a[i] = img[8 * rh + i][c];
      transpose8(a);
#pragma GCC unroll 8
      for (int k = 0; k < 8; ++k) {
        const int v = 8 * c + k;
        if (v < n) _mm256_stream_si256(reinterpret_cast<__m256i*>((v < 8 ? dst + 64 * v : upper + 64 * (v - 8)) + 32 * rh), a[k]);
      }
    }
  }
}

// A row's 64-byte image of a Q8_0 block pair (the second zero when !two): codes + 128.
inline Img image_q8(const uint8_t* s, bool two) {
  const __m256i x80 = _mm256_set1_epi8(static_cast<char>(0x80));
  return {_mm256_xor_si256(load32(s), x80), two ? _mm256_xor_si256(load32(s + 34), x80) : _mm256_setzero_si256()};
}

// A row's image of n <= 4 Q4_0 blocks' code bytes as stored (missing ones zero).
inline Img image_q4(const uint8_t* s, int n) {
  auto q = [&](int k) { return k < n ? load16(s + 18 * k) : _mm_setzero_si128(); };
  return {join(q(0), q(1)), join(q(2), q(3))};
}

// Q4_K/Q5_K: 64 code bytes (A0 B0 A1 B1 of 16 bytes) to sub-blocks 2c, 2c+1 of
// both halves: low (A & 15) | (B << 4), high (A >> 4) | (B & 0xF0).
inline Img kquant_nibbles(const uint8_t* qs) {
  const __m128i m = _mm_set1_epi8(0x0F), mh = _mm_set1_epi8(static_cast<char>(0xF0));
  __m256i h[2];
#pragma GCC unroll 2
  for (int i = 0; i < 2; ++i) {
    const __m128i a = load16(qs + 32 * i), b = load16(qs + 32 * i + 16);
    const __m128i lo = _mm_or_si128(_mm_and_si128(a, m), _mm_and_si128(_mm_slli_epi16(b, 4), mh));
    const __m128i hi = _mm_or_si128(_mm_and_si128(_mm_srli_epi16(a, 4), m), _mm_and_si128(b, mh));
    h[i] = join(lo, hi);
  }
  return {h[0], h[1]};
}

// Q6_K: 64 ql bytes (half h) to the nibble vectors' dwords of sub-blocks 8h..8h+7:
// chunk i's low nibbles feed sub-block 8h+i, its high nibbles 8h+4+i; each
// sub-block's 8 bytes are (X[0..8] | X[8..16] << 4) of its nibbles.
inline Img q6_nibbles(const uint8_t* ql) {
  const __m256i m = _mm256_set1_epi8(0x0F), mh = _mm256_set1_epi8(static_cast<char>(0xF0));
  __m256i lo[2], hi[2];
#pragma GCC unroll 2
  for (int i = 0; i < 2; ++i) {
    const __m256i x = load32(ql + 32 * i), y = _mm256_bsrli_epi128(x, 8);
    lo[i] = _mm256_or_si256(_mm256_and_si256(x, m), _mm256_and_si256(_mm256_slli_epi16(y, 4), mh));
    hi[i] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(x, 4), m), _mm256_and_si256(y, mh));
  }
  // the low 8 bytes of each 16: lo[0] q0 q2, lo[1] q0 q2, then the same of hi
  return {_mm256_permute4x64_epi64(_mm256_unpacklo_epi64(lo[0], lo[1]), 0xD8),
          _mm256_permute4x64_epi64(_mm256_unpacklo_epi64(hi[0], hi[1]), 0xD8)};
}

// Q6_K: 64 qh bytes to the 16 high-bit dwords (sub-block g = 8h + 2s + t reads
// bits 2s..2s+1 of chunk 2h+t). Per element e the 4 source bytes (k-groups
// 0, 2, 1, 3 as the layout orders them) hold a 4x4 matrix of 2-bit fields;
// two delta swaps transpose it so byte s is sub-block s's output byte.
inline Img q6_high(const uint8_t* qh) {
  const __m256i gather = _mm256_broadcastsi128_si256(_mm_setr_epi8(0, 8, 4, 12, 1, 9, 5, 13, 2, 10, 6, 14, 3, 11, 7, 15));
  const __m256i spread = _mm256_broadcastsi128_si256(_mm_setr_epi8(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15));
  __m256i out[2];
#pragma GCC unroll 2
  for (int i = 0; i < 2; ++i) {
    __m256i w = _mm256_shuffle_epi8(load32(qh + 32 * i), gather);
    __m256i t = _mm256_and_si256(_mm256_xor_si256(_mm256_srli_epi32(w, 12), w), _mm256_set1_epi32(0x0000F0F0));
    w = _mm256_xor_si256(w, _mm256_xor_si256(t, _mm256_slli_epi32(t, 12)));
    t = _mm256_and_si256(_mm256_xor_si256(_mm256_srli_epi32(w, 6), w), _mm256_set1_epi32(0x00CC00CC));
    w = _mm256_xor_si256(w, _mm256_xor_si256(t, _mm256_slli_epi32(t, 6)));
    // lane u dword e byte s -> lane u dword s byte e, then dword 4u + s to g
    w = _mm256_shuffle_epi8(w, spread);
    out[i] = _mm256_permutevar8x32_epi32(w, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
  }
  return {out[0], out[1]};
}

// Q5_K block at s0 (rows rs apart): mask (j, v) at c + 2048 + (8 j + v) 8, bit
// 4r+e = bit j of row r's qh[4 kg + e].
inline void q5_masks(const uint8_t* s0, size_t rs, uint8_t* c) {
  __m256i qh[8][2];  // qh[k][rh]: dword k of rows 8rh..8rh+7's 32 qh bytes
#pragma GCC unroll 2
  for (int rh = 0; rh < 2; ++rh) {
    __m256i a[8];
#pragma GCC unroll 8
    for (int i = 0; i < 8; ++i) a[i] = load32(s0 + (8 * rh + i) * rs + 16);
    transpose8(a);
#pragma GCC unroll 8
    for (int k = 0; k < 8; ++k) qh[k][rh] = a[k];
  }
  for (int j = 0; j < 8; ++j) {
    const __m256i bit = _mm256_set1_epi8(static_cast<char>(1 << j));
#pragma GCC unroll 8
    for (int v = 0; v < 8; ++v) {
      const __m256i* q = qh[v / 2 + 4 * (v % 2)];
      const uint64_t lo = static_cast<uint32_t>(_mm256_movemask_epi8(_mm256_cmpeq_epi8(_mm256_and_si256(q[0], bit), bit)));
      const uint64_t hi = static_cast<uint32_t>(_mm256_movemask_epi8(_mm256_cmpeq_epi8(_mm256_and_si256(q[1], bit), bit)));
      const uint64_t m = lo | hi << 32;
      std::memcpy(c + 2048 + (8 * j + v) * 8, &m, 8);
    }
  }
}

}  // namespace

#include "kernels/repack_pack_inl.h"

}  // namespace larql::repack::avx2

#pragma GCC pop_options
#endif
