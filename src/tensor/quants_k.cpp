// K-quant decoders (256-element super-blocks). The products are formed in
// the same order as ggml (sub-block scale first, then times the code), so
// results match ggml and gguf-py bit for bit.
//
// Shared element order for the 2-bit planes (Q2_K, Q3_K, Q6_K's qh): the
// super-block is two halves of 128; in half h, element 32*s + l (s = 0..3,
// l = 0..31) sits in bits 2s..2s+1 of byte 32*h + l.
#include "tensor/quants_impl.h"

namespace larql::quant {

void dequant_q2_k(const uint8_t* x, float* y, int64_t nb) {
  const auto* b = reinterpret_cast<const BlockQ2_K*>(x);
  for (int64_t i = 0; i < nb; ++i) {
    const float d = load_half(b[i].d), dmin = load_half(b[i].dmin);
    for (int h = 0; h < 2; ++h) {
      const uint8_t* q = b[i].qs + 32 * h;
      for (int s = 0; s < 4; ++s, y += 32) {
        // Sub-blocks of 16: element l < 16 uses scale 8h+2s, l >= 16 uses 8h+2s+1;
        // each scale byte is (4-bit scale) | (4-bit min) << 4.
        for (int half = 0; half < 2; ++half) {
          const uint8_t sc = b[i].scales[8 * h + 2 * s + half];
          const float dl = d * static_cast<float>(sc & 0x0F);
          const float ml = dmin * static_cast<float>(sc >> 4);
          for (int l = 16 * half; l < 16 * half + 16; ++l)
            y[l] = dl * static_cast<float>((q[l] >> (2 * s)) & 3) - ml;
        }
      }
    }
  }
}

namespace {
// Q3_K: 16 signed 6-bit scales (stored +32) in 12 bytes. Low 4 bits: scale j
// (j < 8) in the low nibble of byte j, scale j+8 in its high nibble. High 2
// bits of scale j: bits 2*(j/4).. of byte 8 + j%4.
void unpack_q3k_scales(const uint8_t* s, int out[16]) {
  for (int j = 0; j < 16; ++j) {
    const int lo = j < 8 ? (s[j] & 0x0F) : (s[j - 8] >> 4);
    const int hi = (s[8 + j % 4] >> (2 * (j / 4))) & 3;
    out[j] = (lo | (hi << 4)) - 32;
  }
}
}  // namespace

void dequant_q3_k(const uint8_t* x, float* y, int64_t nb) {
  const auto* b = reinterpret_cast<const BlockQ3_K*>(x);
  int sc[16];
  for (int64_t i = 0; i < nb; ++i) {
    const float d = load_half(b[i].d);
    unpack_q3k_scales(b[i].scales, sc);
    for (int h = 0; h < 2; ++h) {
      const uint8_t* q = b[i].qs + 32 * h;
      for (int s = 0; s < 4; ++s, y += 32) {
        // The third bit of element (h, s, l) is bit 4h+s of hmask[l]; a clear
        // bit means the 2-bit code is offset by -4.
        const int bit = 4 * h + s;
        for (int half = 0; half < 2; ++half) {
          const float dl = d * static_cast<float>(sc[8 * h + 2 * s + half]);
          for (int l = 16 * half; l < 16 * half + 16; ++l) {
            const int q3 = ((q[l] >> (2 * s)) & 3) - (((b[i].hmask[l] >> bit) & 1) ? 0 : 4);
            y[l] = dl * static_cast<float>(q3);
          }
        }
      }
    }
  }
}

// Q4_K: 8 sub-blocks of 32 with 6-bit scale and min; in each 64-element
// chunk c, byte 32c+l holds element 64c+l (low nibble, sub-block 2c) and
// element 64c+32+l (high nibble, sub-block 2c+1).
void dequant_q4_k(const uint8_t* x, float* y, int64_t nb) {
  const auto* b = reinterpret_cast<const BlockQ4_K*>(x);
  for (int64_t i = 0; i < nb; ++i) {
    const float d = load_half(b[i].d), dmin = load_half(b[i].dmin);
    for (int c = 0; c < 4; ++c, y += 64) {
      int sc0, m0, sc1, m1;
      unpack_scale_min_k4(b[i].scales, 2 * c, &sc0, &m0);
      unpack_scale_min_k4(b[i].scales, 2 * c + 1, &sc1, &m1);
      const float d0 = d * static_cast<float>(sc0), o0 = dmin * static_cast<float>(m0);
      const float d1 = d * static_cast<float>(sc1), o1 = dmin * static_cast<float>(m1);
      const uint8_t* q = b[i].qs + 32 * c;
      for (int l = 0; l < 32; ++l) y[l] = d0 * static_cast<float>(q[l] & 0x0F) - o0;
      for (int l = 0; l < 32; ++l) y[l + 32] = d1 * static_cast<float>(q[l] >> 4) - o1;
    }
  }
}

// Q5_K: Q4_K plus a fifth bit: element 64c+l has it in bit 2c of qh[l],
// element 64c+32+l in bit 2c+1.
void dequant_q5_k(const uint8_t* x, float* y, int64_t nb) {
  const auto* b = reinterpret_cast<const BlockQ5_K*>(x);
  for (int64_t i = 0; i < nb; ++i) {
    const float d = load_half(b[i].d), dmin = load_half(b[i].dmin);
    for (int c = 0; c < 4; ++c, y += 64) {
      int sc0, m0, sc1, m1;
      unpack_scale_min_k4(b[i].scales, 2 * c, &sc0, &m0);
      unpack_scale_min_k4(b[i].scales, 2 * c + 1, &sc1, &m1);
      const float d0 = d * static_cast<float>(sc0), o0 = dmin * static_cast<float>(m0);
      const float d1 = d * static_cast<float>(sc1), o1 = dmin * static_cast<float>(m1);
      const uint8_t* q = b[i].qs + 32 * c;
      for (int l = 0; l < 32; ++l) {
        const int q0 = (q[l] & 0x0F) | (((b[i].qh[l] >> (2 * c)) & 1) << 4);
        y[l] = d0 * static_cast<float>(q0) - o0;
      }
      for (int l = 0; l < 32; ++l) {
        const int q1 = (q[l] >> 4) | (((b[i].qh[l] >> (2 * c + 1)) & 1) << 4);
        y[l + 32] = d1 * static_cast<float>(q1) - o1;
      }
    }
  }
}

// Q6_K: 16 sub-blocks of 16 with int8 scales. In half h (128 elements),
// element 32s+l (s = 0..3, l = 0..31) has its low 4 bits in
// ql[64h + l + 32*(s&1)] (low nibble for s < 2, high nibble for s >= 2) and
// its high 2 bits in bits 2s..2s+1 of qh[32h + l]; the code is stored +32.
void dequant_q6_k(const uint8_t* x, float* y, int64_t nb) {
  const auto* b = reinterpret_cast<const BlockQ6_K*>(x);
  for (int64_t i = 0; i < nb; ++i) {
    const float d = load_half(b[i].d);
    for (int h = 0; h < 2; ++h) {
      const uint8_t* ql = b[i].ql + 64 * h;
      const uint8_t* qh = b[i].qh + 32 * h;
      for (int s = 0; s < 4; ++s, y += 32) {
        const uint8_t* lo = ql + 32 * (s & 1);
        const int shift = s < 2 ? 0 : 4;
        for (int half = 0; half < 2; ++half) {
          const float dl = d * static_cast<float>(b[i].scales[8 * h + 2 * s + half]);
          for (int l = 16 * half; l < 16 * half + 16; ++l) {
            const int q = ((lo[l] >> shift) & 0x0F) | (((qh[l] >> (2 * s)) & 3) << 4);
            y[l] = dl * static_cast<float>(q - 32);
          }
        }
      }
    }
  }
}

void dequant_q8_k(const uint8_t* x, float* y, int64_t nb) {
  const auto* b = reinterpret_cast<const BlockQ8_K*>(x);
  for (int64_t i = 0; i < nb; ++i, y += QK_K) {
    float d;
    std::memcpy(&d, b[i].d, sizeof d);
    for (int j = 0; j < QK_K; ++j) y[j] = d * static_cast<float>(b[i].qs[j]);
  }
}

}  // namespace larql::quant
