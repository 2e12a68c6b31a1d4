// The block loops of the SIMD forms of repack::pack(), shared by the AVX-512
// (repack_pack_avx512.cpp) and AVX2 (repack_pack_avx2.cpp) packers, and
// pack_groups() itself. Include after the file's target pragma, inside its
// namespace and after its anonymous namespace, which defines the ISA parts:
//   R (= kRows); Img, one row's 64-byte image (a register or a pair);
//   emit(dst, row, n = 16, upper = nullptr): row(r) -> Img for r < R,
//     transposed so dword r of vector k = dword k of row r's image, the first n
//     vectors stored at dst (vectors 8..15 at upper, default dst + 512);
//   image_q8(s, two), image_q4(s, n), kquant_nibbles(qs), q6_nibbles(ql),
//     q6_high(qh) -> Img; q5_masks(s0, rs, codes).
#pragma once

namespace {

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


// Q8_0 (34-byte blocks): 2 blocks (8 vectors each) per transpose.
void group_q8(const uint8_t* rows, size_t rs, int64_t nb, uint8_t* grp, const BlockLayout& L) {
  for (int64_t b0 = 0; b0 < nb; b0 += 2) {
    const bool two = nb - b0 >= 2;
    const uint8_t* s0 = rows + static_cast<size_t>(b0) * 34;
    prefetch_rows(s0, rs, 68);
    for (int r = 0; r < R; ++r)
      for (int k = 0; k < (two ? 2 : 1); ++k) copy2(grp + L.meta(b0 + k) + 2 * r, s0 + r * rs + 34 * k);
    // a pair's codes are contiguous
    emit(grp + L.codes(b0), [&](int r) { return image_q8(s0 + r * rs + 2, two); }, two ? 16 : 8);
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
    // blocks b0, b0 + 1 then the next pair's
    emit(grp + L.codes(b0), [&](int r) { return image_q4(s0 + r * rs + 2, n); }, 4 * n,
         n > 2 ? grp + L.codes(b0 + 2) : nullptr);
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
    if (q5) q5_masks(s0, rs, c);
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
