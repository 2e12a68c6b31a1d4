// Helpers shared by the packed-layout kernels (repack_*avx512vnni.cpp). Include
// after the file's AVX-512 target pragma, inside its namespace, so nothing here
// is built for a CPU without AVX-512.
#pragma once

// Q5_K / Q5_0: bit 4 of each code, stored as two 64-bit masks (low nibble
// vector, then high) at `masks`, added back as 16.
inline void add_fifth_bits(__m512i& lo, __m512i& hi, const uint8_t* masks) {
  uint64_t kl, kh;
  std::memcpy(&kl, masks, 8);
  std::memcpy(&kh, masks + 8, 8);
  const __m512i b16 = _mm512_set1_epi8(16);
  lo = _mm512_mask_add_epi8(lo, _cvtu64_mask64(kl), lo, b16);
  hi = _mm512_mask_add_epi8(hi, _cvtu64_mask64(kh), hi, b16);
}
