#include "kernels/qdot.h"
#include "kernels/qdot_mxfp4.h"

#include "kernels/qdot_simd.h"
#include "kernels/vec_simd.h"
#include "util/cpu.h"

#include <cmath>
#include <cstdlib>
#include <cstring>

#include "tensor/quants_impl.h"  // block layouts (kernels sit directly above tensor)
#include "util/error.h"
#include "util/half.h"

namespace larql::qdot {

using namespace larql::quant;

namespace {

struct BlockQ8_1 { uint8_t d[2]; uint8_t s[2]; int8_t qs[32]; };  // s = d * sum(qs)

float q8k_d(const BlockQ8_K& b) { float d; std::memcpy(&d, b.d, 4); return d; }
int16_t q8k_bsum(const BlockQ8_K& b, int j) { int16_t s; std::memcpy(&s, b.bsums + 2 * j, 2); return s; }

// ggml's AVX path for Q8_0/Q8_1: d = amax/127 stored as fp16, codes = round-half-even(x * 127/amax).
void quant_q8_0_act(const float* x, uint8_t* out, int64_t nb, bool with_sum) {
  for (int64_t i = 0; i < nb; ++i, x += 32) {
    float amax = 0;
    for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(x[j]));
    const float d = amax / 127.f, id = amax != 0.f ? 127.f / amax : 0.f;
    int8_t* qs;
    if (with_sum) {
      auto* b = reinterpret_cast<BlockQ8_1*>(out) + i;
      store_half(b->d, d);
      qs = b->qs;
    } else {
      auto* b = reinterpret_cast<BlockQ8_0*>(out) + i;
      store_half(b->d, d);
      qs = b->qs;
    }
    int sum = 0;
    for (int j = 0; j < 32; ++j) {
      qs[j] = static_cast<int8_t>(std::nearbyint(x[j] * id));
      sum += qs[j];
    }
    if (with_sum) store_half(reinterpret_cast<BlockQ8_1*>(out)[i].s, d * static_cast<float>(sum));
  }
}

// ggml's quantize_row_q8_K_ref: signed max -> iscale = -127/max, round-half-even, cap 127, bsums per 16.
void quant_q8_k_act(const float* x, uint8_t* out, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, x += 256) {
    auto& b = reinterpret_cast<BlockQ8_K*>(out)[i];
    float mx = 0, amax = 0;
    for (int j = 0; j < 256; ++j)
      if (std::fabs(x[j]) > amax) { amax = std::fabs(x[j]); mx = x[j]; }
    if (amax == 0.f) {
      std::memset(&b, 0, sizeof b);
      continue;
    }
    const float iscale = -127.f / mx;
    for (int j = 0; j < 256; ++j) {
      int v = static_cast<int>(std::nearbyint(iscale * x[j]));
      b.qs[j] = static_cast<int8_t>(v > 127 ? 127 : v);
    }
    for (int j = 0; j < 16; ++j) {
      int s = 0;
      for (int k = 0; k < 16; ++k) s += b.qs[j * 16 + k];
      int16_t s16 = static_cast<int16_t>(s);
      std::memcpy(b.bsums + 2 * j, &s16, 2);
    }
    const float d = 1.f / iscale;
    std::memcpy(b.d, &d, 4);
  }
}

uint32_t qh32(const uint8_t* p) { uint32_t v; std::memcpy(&v, p, 4); return v; }

// ggml's x86 kernels keep 8 float lanes, lane l summing bytes 4l..4l+3 of every
// block times the block's scale, and add the lanes pairwise at the end; the same
// order here keeps results bit-identical to llama.cpp's.
float hsum8(const float* a) { return ((a[0] + a[4]) + (a[2] + a[6])) + ((a[1] + a[5]) + (a[3] + a[7])); }

float dot_q8_0(const uint8_t* w, const uint8_t* a, int64_t nb) {
  const auto* x = reinterpret_cast<const BlockQ8_0*>(w);
  const auto* y = reinterpret_cast<const BlockQ8_0*>(a);
  float acc[8] = {};
  for (int64_t i = 0; i < nb; ++i) {
    const float d = load_half(x[i].d) * load_half(y[i].d);
    for (int l = 0; l < 8; ++l) {
      int s = 0;
      for (int k = 0; k < 4; ++k) s += x[i].qs[4 * l + k] * y[i].qs[4 * l + k];
      acc[l] = std::fma(d, static_cast<float>(s), acc[l]);
    }
  }
  return hsum8(acc);
}

float dot_q4_0(const uint8_t* w, const uint8_t* a, int64_t nb) {
  const auto* x = reinterpret_cast<const BlockQ4_0*>(w);
  const auto* y = reinterpret_cast<const BlockQ8_0*>(a);
  float s = 0;
  for (int64_t i = 0; i < nb; ++i) {
    int acc = 0;
    for (int j = 0; j < 16; ++j)
      acc += ((x[i].qs[j] & 0x0F) - 8) * y[i].qs[j] + ((x[i].qs[j] >> 4) - 8) * y[i].qs[j + 16];
    s += load_half(x[i].d) * load_half(y[i].d) * static_cast<float>(acc);
  }
  return s;
}

// Q5_0 / Q4_1 / Q5_1 in ggml's AVX2 vec_dot order (as dot_q8_0): 8 float lanes,
// lane l fed fma(d_w*d_a, S_l, acc_l) with S_l the exact sum over bytes 4l..4l+3;
// Q4_1/Q5_1 add the min terms fma(m, s, summs) in one separate float added after the lanes.
// The SIMD kernels (qdot_avx2.cpp, qdot_avx512_impl.h) reproduce this bit for bit.
// Codes of one block in activation order (bytes 0-15 low nibbles, 16-31 high).
void codes_q45(const uint8_t* qs, const uint8_t* qhp, int off, int* q) {
  const uint32_t qh = qhp ? qh32(qhp) : 0;
  for (int j = 0; j < 16; ++j) {
    q[j] = (qs[j] & 0x0F) | (((qh >> j) & 1) << 4);
    q[j + 16] = (qs[j] >> 4) | (((qh >> (j + 16)) & 1) << 4);
  }
  for (int j = 0; j < 32; ++j) q[j] -= off;
}

template <class Block, bool MIN, bool FIVE>
float dot_q45_lanes(const uint8_t* w, const uint8_t* a, int64_t nb) {
  const auto* x = reinterpret_cast<const Block*>(w);
  float acc[8] = {}, summs = 0;
  int q[32];
  for (int64_t i = 0; i < nb; ++i) {
    const int8_t* yq;
    float yd;
    if constexpr (MIN) {
      const auto& y = reinterpret_cast<const BlockQ8_1*>(a)[i];
      yq = y.qs; yd = load_half(y.d);
      summs = std::fma(load_half(x[i].m), load_half(y.s), summs);  // fused: same bits in every TU
    } else {
      const auto& y = reinterpret_cast<const BlockQ8_0*>(a)[i];
      yq = y.qs; yd = load_half(y.d);
    }
    const uint8_t* qh = nullptr;
    if constexpr (FIVE) qh = x[i].qh;
    codes_q45(x[i].qs, qh, MIN ? 0 : 16, q);
    const float d = load_half(x[i].d) * yd;
    for (int l = 0; l < 8; ++l) {
      int s = 0;
      for (int k = 0; k < 4; ++k) s += q[4 * l + k] * yq[4 * l + k];
      acc[l] = std::fma(d, static_cast<float>(s), acc[l]);
    }
  }
  return hsum8(acc) + summs;
}

float dot_q5_0(const uint8_t* w, const uint8_t* a, int64_t nb) { return dot_q45_lanes<BlockQ5_0, false, true>(w, a, nb); }
float dot_q4_1(const uint8_t* w, const uint8_t* a, int64_t nb) { return dot_q45_lanes<BlockQ4_1, true, false>(w, a, nb); }
float dot_q5_1(const uint8_t* w, const uint8_t* a, int64_t nb) { return dot_q45_lanes<BlockQ5_1, true, true>(w, a, nb); }

// K-quants: codes q[256], per-16 integer scales sc[16] (and mins mn[16]); the
// block contributes d*sum_g sc_g*sum(q*a) - dmin*sum_g mn_g*bsum_g.
// A K-quant block's exact integer sums: sumi = sum_g sc_g * sum(q * a) and
// summ = sum_g mn_g * bsum_g (both orders below start from these).
struct KInts { int sumi = 0, summ = 0; };
KInts kints(const int8_t* q, const int* sc, const int* mn, const BlockQ8_K& y) {
  KInts r;
  for (int g = 0; g < 16; ++g) {
    int acc = 0;
    for (int k = 0; k < 16; ++k) acc += q[g * 16 + k] * y.qs[g * 16 + k];
    r.sumi += sc[g] * acc;
    if (mn) r.summ += mn[g] * q8k_bsum(y, g);
  }
  return r;
}

float kdot(const int8_t* q, const int* sc, const int* mn, float d, float dmin, const BlockQ8_K& y) {
  const KInts k = kints(q, sc, mn, y);
  const float yd = q8k_d(y);
  return d * yd * static_cast<float>(k.sumi) - dmin * yd * static_cast<float>(k.summ);
}

// One Q4_K / Q5_K block as 256 unsigned codes with per-16 scales and mins.
void unpack_q45k(const uint8_t* w, int64_t i, bool five, int8_t* q, int* sc, int* mn, float* d, float* dmin) {
  const uint8_t *scales, *qs, *qh = nullptr;
  if (five) {
    const auto& x = reinterpret_cast<const BlockQ5_K*>(w)[i];
    scales = x.scales; qs = x.qs; qh = x.qh; *d = load_half(x.d); *dmin = load_half(x.dmin);
  } else {
    const auto& x = reinterpret_cast<const BlockQ4_K*>(w)[i];
    scales = x.scales; qs = x.qs; *d = load_half(x.d); *dmin = load_half(x.dmin);
  }
  // 64-element chunks: low nibbles are sub-block 2c, high nibbles 2c+1; Q5_K's fifth bits from qh.
  for (int c = 0; c < 4; ++c)
    for (int l = 0; l < 32; ++l) {
      int lo = qs[c * 32 + l] & 0x0F, hi = qs[c * 32 + l] >> 4;
      if (qh) {
        lo |= ((qh[l] >> (2 * c)) & 1) << 4;
        hi |= ((qh[l] >> (2 * c + 1)) & 1) << 4;
      }
      q[c * 64 + l] = static_cast<int8_t>(lo);
      q[c * 64 + 32 + l] = static_cast<int8_t>(hi);
    }
  for (int j = 0; j < 8; ++j) {
    int scv, mv;
    unpack_scale_min_k4(scales, j, &scv, &mv);
    sc[2 * j] = sc[2 * j + 1] = scv;
    mn[2 * j] = mn[2 * j + 1] = mv;
  }
}

float dot_q4_k(const uint8_t* w, const uint8_t* a, int64_t nb, bool five) {
  const auto* y = reinterpret_cast<const BlockQ8_K*>(a);
  float s = 0;
  int8_t q[256];
  int sc[16], mn[16];
  for (int64_t i = 0; i < nb; ++i) {
    float d, dmin;
    unpack_q45k(w, i, five, q, sc, mn, &d, &dmin);
    s += kdot(q, sc, mn, d, dmin, y[i]);
  }
  return s;
}

// One Q6_K block as 256 signed codes (0..63 minus 32) and its 16 scales.
void unpack_q6k(const BlockQ6_K& x, int8_t* q, int* sc) {
  for (int half = 0; half < 2; ++half) {
    const uint8_t* ql = x.ql + 64 * half;
    const uint8_t* qh = x.qh + 32 * half;
    int8_t* o = q + 128 * half;
    for (int l = 0; l < 32; ++l) {
      o[l] = static_cast<int8_t>(((ql[l] & 0x0F) | (((qh[l] >> 0) & 3) << 4)) - 32);
      o[l + 32] = static_cast<int8_t>(((ql[l + 32] & 0x0F) | (((qh[l] >> 2) & 3) << 4)) - 32);
      o[l + 64] = static_cast<int8_t>(((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32);
      o[l + 96] = static_cast<int8_t>(((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32);
    }
  }
  for (int g = 0; g < 16; ++g) sc[g] = x.scales[g];
}

float dot_q6_k(const uint8_t* w, const uint8_t* a, int64_t nb) {
  const auto* y = reinterpret_cast<const BlockQ8_K*>(a);
  float s = 0;
  int8_t q[256];
  int sc[16];
  for (int64_t i = 0; i < nb; ++i) {
    const auto& x = reinterpret_cast<const BlockQ6_K*>(w)[i];
    unpack_q6k(x, q, sc);
    s += kdot(q, sc, nullptr, load_half(x.d), 0.f, y[i]);
  }
  return s;
}

float dot_q2_k(const uint8_t* w, const uint8_t* a, int64_t nb) {
  const auto* y = reinterpret_cast<const BlockQ8_K*>(a);
  float s = 0;
  int8_t q[256];
  int sc[16], mn[16];
  for (int64_t i = 0; i < nb; ++i) {
    const auto& x = reinterpret_cast<const BlockQ2_K*>(w)[i];
    for (int half = 0; half < 2; ++half)
      for (int shift = 0; shift < 4; ++shift)
        for (int l = 0; l < 32; ++l)
          q[half * 128 + shift * 32 + l] = static_cast<int8_t>((x.qs[half * 32 + l] >> (2 * shift)) & 3);
    for (int g = 0; g < 16; ++g) {
      sc[g] = x.scales[g] & 0x0F;
      mn[g] = x.scales[g] >> 4;
    }
    s += kdot(q, sc, mn, load_half(x.d), load_half(x.dmin), y[i]);
  }
  return s;
}

float dot_q3_k(const uint8_t* w, const uint8_t* a, int64_t nb) {
  const auto* y = reinterpret_cast<const BlockQ8_K*>(a);
  float s = 0;
  int8_t q[256];
  int sc[16];
  for (int64_t i = 0; i < nb; ++i) {
    const auto& x = reinterpret_cast<const BlockQ3_K*>(w)[i];
    int m = 0;
    for (int half = 0; half < 2; ++half)
      for (int shift = 0; shift < 4; ++shift, ++m)
        for (int l = 0; l < 32; ++l) {
          const int lo = (x.qs[half * 32 + l] >> (2 * shift)) & 3;
          const int high = (x.hmask[l] >> m) & 1;
          q[half * 128 + shift * 32 + l] = static_cast<int8_t>(lo - (high ? 0 : 4));
        }
    // 16 six-bit scales packed in 12 bytes, stored with an offset of 32.
    const uint8_t* p = x.scales;
    for (int j = 0; j < 16; ++j) {
      int low = j < 8 ? (p[j] & 0x0F) : (p[j - 8] >> 4);
      int high = (p[8 + (j % 4)] >> (2 * (j / 4))) & 3;
      sc[j] = (low | (high << 4)) - 32;
    }
    s += kdot(q, sc, nullptr, load_half(x.d), 0.f, y[i]);
  }
  return s;
}

// --- llama.cpp's AMX-path order (see docs/numerics.md) ---
// One float accumulator per output; per block an exact integer sum S, then
// acc = fma(float(S), d_w * d_a, acc) (K-quants with mins add a second fma).

float seq_q8_0(const uint8_t* w, const uint8_t* a, int64_t nb, bool four_bit) {
  const auto* y = reinterpret_cast<const BlockQ8_0*>(a);
  float acc = 0;
  for (int64_t i = 0; i < nb; ++i) {
    int s = 0;
    float dw;
    if (four_bit) {
      const auto& x = reinterpret_cast<const BlockQ4_0*>(w)[i];
      for (int j = 0; j < 16; ++j) s += ((x.qs[j] & 0x0F) - 8) * y[i].qs[j] + ((x.qs[j] >> 4) - 8) * y[i].qs[j + 16];
      dw = load_half(x.d);
    } else {
      const auto& x = reinterpret_cast<const BlockQ8_0*>(w)[i];
      for (int j = 0; j < 32; ++j) s += x.qs[j] * y[i].qs[j];
      dw = load_half(x.d);
    }
    acc = std::fma(static_cast<float>(s), dw * load_half(y[i].d), acc);
  }
  return acc;
}

// Q5_0 in the same order (routed experts packed by Model::pack_experts; plain
// Q5_0 products keep ggml's vec_dot order, seq_order() says no).
float seq_q5_0(const uint8_t* w, const uint8_t* a, int64_t nb) {
  const auto* y = reinterpret_cast<const BlockQ8_0*>(a);
  float acc = 0;
  for (int64_t i = 0; i < nb; ++i) {
    const uint8_t* x = w + i * 22;  // d, qh[4], qs[16]
    uint32_t qh;
    std::memcpy(&qh, x + 2, 4);
    int s = 0;
    for (int j = 0; j < 16; ++j)
      s += (((x[6 + j] & 0x0F) | (((qh >> j) & 1) << 4)) - 16) * y[i].qs[j] +
           (((x[6 + j] >> 4) | (((qh >> (j + 16)) & 1) << 4)) - 16) * y[i].qs[j + 16];
    acc = std::fma(static_cast<float>(s), load_half(x) * load_half(y[i].d), acc);
  }
  return acc;
}

float seq_q4_k(const uint8_t* w, const uint8_t* a, int64_t nb, bool five) {
  const auto* y = reinterpret_cast<const BlockQ8_K*>(a);
  float acc = 0;
  int8_t q[256];
  int sc[16], mn[16];
  for (int64_t i = 0; i < nb; ++i) {
    float d, dmin;
    unpack_q45k(w, i, five, q, sc, mn, &d, &dmin);
    const KInts k = kints(q, sc, mn, y[i]);
    const float yd = q8k_d(y[i]);
    acc = std::fma(static_cast<float>(k.sumi), yd * d, acc);
    acc = std::fma(static_cast<float>(k.summ), -(yd * dmin), acc);
  }
  return acc;
}

float seq_q6_k(const uint8_t* w, const uint8_t* a, int64_t nb) {
  const auto* y = reinterpret_cast<const BlockQ8_K*>(a);
  float acc = 0;
  int8_t q[256];
  int sc[16];
  for (int64_t i = 0; i < nb; ++i) {
    const auto& x = reinterpret_cast<const BlockQ6_K*>(w)[i];
    unpack_q6k(x, q, sc);
    const KInts k = kints(q, sc, nullptr, y[i]);
    acc = std::fma(static_cast<float>(k.sumi), q8k_d(y[i]) * load_half(x.d), acc);
  }
  return acc;
}
}  // namespace

GGMLType act_type(GGMLType w) {
  switch (w) {
    case GGMLType::Q8_0: case GGMLType::Q4_0: case GGMLType::Q5_0: case GGMLType::MXFP4: return GGMLType::Q8_0;
    case GGMLType::Q4_1: case GGMLType::Q5_1: return GGMLType::Q8_1;
    case GGMLType::Q2_K: case GGMLType::Q3_K: case GGMLType::Q4_K: case GGMLType::Q5_K: case GGMLType::Q6_K:
      return GGMLType::Q8_K;
    case GGMLType::F16: return GGMLType::F16;
    case GGMLType::BF16: return GGMLType::BF16;
    default: return GGMLType::F32;
  }
}

bool supported(GGMLType w) {
  switch (w) {
    case GGMLType::Q8_0: case GGMLType::Q4_0: case GGMLType::Q5_0: case GGMLType::Q4_1: case GGMLType::Q5_1:
    case GGMLType::Q2_K: case GGMLType::Q3_K: case GGMLType::Q4_K: case GGMLType::Q5_K: case GGMLType::Q6_K:
    case GGMLType::F16: case GGMLType::BF16: case GGMLType::MXFP4:
      return true;
    default:
      return false;
  }
}

size_t act_bytes(GGMLType w, int64_t n) {
  GGMLType a = act_type(w);
  if (a == GGMLType::Q8_1) return static_cast<size_t>(n / 32 * 36);
  return static_cast<size_t>(ggml_row_size(a, static_cast<uint64_t>(n)));
}

void quantize_act_scalar(GGMLType w, const float* x, int64_t n, uint8_t* out) {
  switch (act_type(w)) {
    case GGMLType::Q8_0: quant_q8_0_act(x, out, n / 32, false); return;
    case GGMLType::Q8_1: quant_q8_0_act(x, out, n / 32, true); return;
    case GGMLType::Q8_K: quant_q8_k_act(x, out, n / 256); return;
    default: quantize_act(w, x, n, out);  // the others have no SIMD version
  }
}

void quantize_act(GGMLType w, const float* x, int64_t n, uint8_t* out) {
  const Isa f = isa();
  const bool v512 = f == Isa::Avx512 || f == Isa::Avx512Vnni, v256 = f == Isa::Avx2 || f == Isa::AvxVnni;
  switch (act_type(w)) {
    case GGMLType::Q8_0:
    case GGMLType::Q8_1: {
      const bool sum = act_type(w) == GGMLType::Q8_1;
      if ((v512 && vec::avx512::quant_q8_0(x, out, n / 32, sum)) || (v256 && vec::avx2::quant_q8_0(x, out, n / 32, sum)))
        break;
      quant_q8_0_act(x, out, n / 32, sum);  // scalar, or a NaN in the row
      break;
    }
    case GGMLType::Q8_K:
      if ((v512 && vec::avx512::quant_q8_k(x, out, n / 256)) || (v256 && vec::avx2::quant_q8_k(x, out, n / 256)))
        break;
      quant_q8_k_act(x, out, n / 256);
      break;
    case GGMLType::F16: {
      auto* o = reinterpret_cast<uint16_t*>(out);
      for (int64_t i = 0; i < n; ++i) o[i] = fp32_to_fp16(x[i]);
      break;
    }
    case GGMLType::BF16: {
      auto* o = reinterpret_cast<uint16_t*>(out);
      for (int64_t i = 0; i < n; ++i) o[i] = fp32_to_bf16(x[i]);
      break;
    }
    default: std::memcpy(out, x, static_cast<size_t>(n) * 4);
  }
}

namespace {
// Types with kernels in the sequential order (seq_rows).
bool has_seq_kernel(GGMLType w) {
  return w == GGMLType::Q8_0 || w == GGMLType::Q4_0 || w == GGMLType::Q4_K || w == GGMLType::Q5_K ||
         w == GGMLType::Q6_K;
}
// Types with kernels in the vec_dot order (dot_rows): those plus Q5_0, Q4_1, Q5_1.
bool has_simd_kernel(GGMLType w) {
  return has_seq_kernel(w) || w == GGMLType::Q5_0 || w == GGMLType::Q4_1 || w == GGMLType::Q5_1;
}

Isa choose_isa() {
  const CpuFeatures& c = cpu_features();
  if (c.force_scalar) return Isa::Scalar;
  Isa best = Isa::Scalar;
  for (Isa f : {Isa::Avx2, Isa::AvxVnni, Isa::Avx512, Isa::Avx512Vnni})
    if (isa_available(f)) best = f;
  if (const char* e = std::getenv("LARQL_QDOT_ISA"))
    for (Isa f : {Isa::Scalar, Isa::Avx2, Isa::AvxVnni, Isa::Avx512, Isa::Avx512Vnni})
      if (std::strcmp(e, isa_name(f)) == 0 && f < best) best = f;
  return best;
}

// AVX2 rows: the 4-row kernels where they exist, else one row at a time.
void avx2_rows(GGMLType w, const uint8_t* wr, const uint8_t* a, size_t stride, int64_t n, int nt, float* out) {
  if (w == GGMLType::Q5_0 || w == GGMLType::Q4_1 || w == GGMLType::Q5_1) {
    for (; nt >= 4; nt -= 4, a += 4 * stride, out += 4) avx2::dot_q45_x4(w, wr, a, stride, n / 32, out);
    for (; nt > 0; --nt, a += stride, ++out) avx2::dot_q45_x1(w, wr, a, n / 32, out);
    return;
  }
  for (; nt >= 4 && w != GGMLType::Q4_0; nt -= 4, a += 4 * stride, out += 4) {
    if (w == GGMLType::Q6_K) avx2::dot_q6_k_x4(wr, a, stride, n / 256, out);
    else if (w == GGMLType::Q8_0) avx2::dot_q8_0_x4(wr, a, stride, n / 32, out);
    else avx2::dot_q4_k_x4(wr, a, stride, n / 256, w == GGMLType::Q5_K, out);
  }
  for (; nt > 0; --nt, a += stride, ++out) {
    switch (w) {
      case GGMLType::Q8_0: *out = avx2::dot_q8_0(wr, a, n / 32); break;
      case GGMLType::Q4_0: *out = avx2::dot_q4_0(wr, a, n / 32); break;
      case GGMLType::Q6_K: *out = avx2::dot_q6_k(wr, a, n / 256); break;
      default: *out = avx2::dot_q4_k(wr, a, n / 256, w == GGMLType::Q5_K);
    }
  }
}
}  // namespace

bool isa_available(Isa f) {
  const CpuFeatures& c = cpu_features();
  const bool avx2 = c.avx2 && c.fma;
#if defined(__clang__)
  const bool avx512 = false;  // the AVX-512 kernels are built by GCC only (qdot_avx512.cpp)
#else
  const bool avx512 = avx2 && c.avx512f && c.avx512bw && c.avx512vl && c.avx512dq;
#endif
  switch (f) {
    case Isa::Scalar: return true;
    case Isa::Avx2: return avx2;
#if defined(__clang__)
    case Isa::AvxVnni: return false;  // its packed kernels are built by GCC only
#else
    case Isa::AvxVnni: return avx2 && c.f16c && c.avx_vnni;
#endif
    case Isa::Avx512: return avx512;
    case Isa::Avx512Vnni: return avx512 && c.avx512vnni;
  }
  return false;
}

const char* isa_name(Isa f) {
  switch (f) {
    case Isa::Scalar: return "scalar";
    case Isa::Avx2: return "avx2";
    case Isa::AvxVnni: return "avxvnni";
    case Isa::Avx512: return "avx512";
    case Isa::Avx512Vnni: return "avx512vnni";
  }
  return "?";
}

Isa isa() {
  static const Isa f = choose_isa();
  return f;
}

void dot_rows(Isa f, GGMLType w, const uint8_t* wr, const uint8_t* a, size_t stride, int64_t n, int nt, float* out) {
  if (w == GGMLType::MXFP4) return mxfp4::dot_rows(isa_available(f) ? f : Isa::Scalar, wr, a, stride, n, nt, out);
  if (!has_simd_kernel(w) || !isa_available(f)) f = Isa::Scalar;
  switch (f) {
    case Isa::Avx512Vnni: avx512vnni::dot_rows(w, wr, a, stride, n, nt, out); return;
    case Isa::Avx512: avx512::dot_rows(w, wr, a, stride, n, nt, out); return;
    case Isa::AvxVnni:  // no row-major kernels of its own
    case Isa::Avx2: avx2_rows(w, wr, a, stride, n, nt, out); return;
    case Isa::Scalar:
      for (int t = 0; t < nt; ++t) out[t] = dot_scalar(w, wr, a + t * stride, n);
      return;
  }
}

void dot_rows(GGMLType w, const uint8_t* wr, const uint8_t* a, size_t stride, int64_t n, int nt, float* out) {
  dot_rows(isa(), w, wr, a, stride, n, nt, out);
}

float dot(GGMLType w, const uint8_t* wr, const uint8_t* a, int64_t n) {
  float r;
  dot_rows(isa(), w, wr, a, 0, n, 1, &r);
  return r;
}

void dot4(GGMLType w, const uint8_t* wr, const uint8_t* a, size_t stride, int64_t n, float* out) {
  dot_rows(isa(), w, wr, a, stride, n, 4, out);
}

float dot_scalar(GGMLType w, const uint8_t* wr, const uint8_t* a, int64_t n) {
  switch (w) {
    case GGMLType::Q8_0: return dot_q8_0(wr, a, n / 32);
    case GGMLType::Q4_0: return dot_q4_0(wr, a, n / 32);
    case GGMLType::Q5_0: return dot_q5_0(wr, a, n / 32);
    case GGMLType::Q4_1: return dot_q4_1(wr, a, n / 32);
    case GGMLType::Q5_1: return dot_q5_1(wr, a, n / 32);
    case GGMLType::Q2_K: return dot_q2_k(wr, a, n / 256);
    case GGMLType::Q3_K: return dot_q3_k(wr, a, n / 256);
    case GGMLType::Q4_K: return dot_q4_k(wr, a, n / 256, false);
    case GGMLType::Q5_K: return dot_q4_k(wr, a, n / 256, true);
    case GGMLType::Q6_K: return dot_q6_k(wr, a, n / 256);
    case GGMLType::MXFP4: return mxfp4::dot_scalar(wr, a, n / 32);
    case GGMLType::F16: case GGMLType::BF16: {
      const auto* x = reinterpret_cast<const uint16_t*>(wr);
      const auto* y = reinterpret_cast<const uint16_t*>(a);
      const bool bf = w == GGMLType::BF16;
      double s = 0;  // ggml accumulates f16 products in double (ggml_float) in its reference dot
      for (int64_t i = 0; i < n; ++i)
        s += static_cast<double>(bf ? bf16_to_fp32(x[i]) * bf16_to_fp32(y[i]) : fp16_to_fp32(x[i]) * fp16_to_fp32(y[i]));
      return static_cast<float>(s);
    }
    default: throw Error("qdot: no integer dot product for this tensor type");
  }
}

bool seq_order(GGMLType w, int64_t n_out) {
  if (n_out % 32 != 0) return false;
  switch (w) {
    case GGMLType::Q8_0: case GGMLType::Q4_0: case GGMLType::Q4_K: case GGMLType::Q5_K: case GGMLType::Q6_K: return true;
    default: return false;
  }
}

float dot_seq_scalar(GGMLType w, const uint8_t* wr, const uint8_t* a, int64_t n) {
  switch (w) {
    case GGMLType::Q8_0: return seq_q8_0(wr, a, n / 32, false);
    case GGMLType::Q4_0: return seq_q8_0(wr, a, n / 32, true);
    case GGMLType::Q5_0: return seq_q5_0(wr, a, n / 32);
    case GGMLType::Q4_K: return seq_q4_k(wr, a, n / 256, false);
    case GGMLType::Q5_K: return seq_q4_k(wr, a, n / 256, true);
    case GGMLType::Q6_K: return seq_q6_k(wr, a, n / 256);
    default: throw Error("qdot: no sequential-order dot product for this tensor type");
  }
}

void seq_rows(Isa f, GGMLType w, const uint8_t* wr, const uint8_t* a, size_t stride, int64_t n, int nt, float* out) {
  if (!has_seq_kernel(w) || !isa_available(f)) f = Isa::Scalar;
  if (f == Isa::AvxVnni) f = Isa::Avx2;  // no row-major kernels of its own
  if (f == Isa::Avx2 && w == GGMLType::Q4_0) f = Isa::Scalar;  // no AVX2 kernel in this order
  switch (f) {
    case Isa::Avx512Vnni: avx512vnni::seq_rows(w, wr, a, stride, n, nt, out); return;
    case Isa::Avx512: avx512::seq_rows(w, wr, a, stride, n, nt, out); return;
    case Isa::AvxVnni:
    case Isa::Avx2:
      for (; nt >= 4; nt -= 4, a += 4 * stride, out += 4) {
        if (w == GGMLType::Q6_K) avx2::seq_q6_k_x4(wr, a, stride, n / 256, out);
        else if (w == GGMLType::Q8_0) avx2::seq_q8_0_x4(wr, a, stride, n / 32, out);
        else avx2::seq_q4_k_x4(wr, a, stride, n / 256, w == GGMLType::Q5_K, out);
      }
      for (; nt > 0; --nt, a += stride, ++out) {
        if (w == GGMLType::Q6_K) avx2::seq_q6_k_x1(wr, a, n / 256, out);
        else if (w == GGMLType::Q8_0) avx2::seq_q8_0_x1(wr, a, n / 32, out);
        else avx2::seq_q4_k_x1(wr, a, n / 256, w == GGMLType::Q5_K, out);
      }
      return;
    case Isa::Scalar:
      for (int t = 0; t < nt; ++t) out[t] = dot_seq_scalar(w, wr, a + t * stride, n);
      return;
  }
}

void seq_rows(GGMLType w, const uint8_t* wr, const uint8_t* a, size_t stride, int64_t n, int nt, float* out) {
  seq_rows(isa(), w, wr, a, stride, n, nt, out);
}

}  // namespace larql::qdot
