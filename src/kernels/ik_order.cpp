#include "kernels/ik_order.h"

#include <cmath>
#include <cstring>
#include <vector>

#include "kernels/numerics.h"
#include "kernels/ops.h"
#include "util/half.h"

namespace larql::ik {
namespace {

float h2f(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return fp16_to_fp32(h);
}
float round_h(float x) { return fp16_to_fp32(fp32_to_fp16(x)); }
float round_bf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  u = (u + (0x7fffu + ((u >> 16) & 1u))) & 0xffff0000u;
  std::memcpy(&f, &u, 4);
  return f;
}

float tree16(const float* a) {
  float t[8], u[4];
  for (int i = 0; i < 8; ++i) t[i] = a[i] + a[i + 8];
  for (int i = 0; i < 4; ++i) u[i] = t[i] + t[i + 4];
  return (u[0] + u[2]) + (u[1] + u[3]);
}

// Activation block: 32 int8 with a bf16-rounded scale and the int16 sum of the quants.
struct Act {
  float d;
  int isum;
  int8_t q[32];
};

void quantize_act(const float* x, int64_t n, Act* out) {
  for (int64_t b = 0; b < n / 32; ++b) {
    float amax = 0;
    for (int i = 0; i < 32; ++i) amax = std::fmax(amax, std::fabs(x[b * 32 + i]));
    const float d = round_bf16(amax / 127.f);
    const float id = d > 0 ? 1.f / d : 0.f;
    int s = 0;
    for (int i = 0; i < 32; ++i) {
      const int v = static_cast<int>(std::nearbyint(x[b * 32 + i] * id));
      out[b].q[i] = static_cast<int8_t>(v);
      s += v;
    }
    out[b].d = d;
    out[b].isum = static_cast<int16_t>(s);
  }
}

void scale_min_k4(int j, const uint8_t* q, int* d, int* m) {
  if (j < 4) {
    *d = q[j] & 63;
    *m = q[j + 4] & 63;
  } else {
    *d = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
    *m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
  }
}

// Q4_K / Q5_K super-block as unsigned quants, 8 scales, 8 mins.
void unpack_q45k(const uint8_t* b, bool five, int* q, int* sc, int* mn, float* d, float* dmin) {
  *d = h2f(b);
  *dmin = h2f(b + 2);
  const uint8_t* scales = b + 4;
  const uint8_t* qh = b + 16;
  const uint8_t* qs = five ? b + 48 : b + 16;
  for (int j = 0; j < 8; ++j) scale_min_k4(j, scales, &sc[j], &mn[j]);
  for (int c = 0; c < 4; ++c)
    for (int l = 0; l < 32; ++l) {
      int lo = qs[32 * c + l] & 15, hi = qs[32 * c + l] >> 4;
      if (five) {
        lo |= ((qh[l] >> (2 * c)) & 1) << 4;
        hi |= ((qh[l] >> (2 * c + 1)) & 1) << 4;
      }
      q[64 * c + l] = lo;
      q[64 * c + 32 + l] = hi;
    }
}

void unpack_q6k(const uint8_t* b, int* q, int* sc, float* d) {
  const uint8_t *ql = b, *qh = b + 128;
  for (int n = 0; n < 2; ++n)
    for (int l = 0; l < 32; ++l) {
      const uint8_t *L = ql + 64 * n, *H = qh + 32 * n;
      int* o = q + 128 * n;
      o[l] = ((L[l] & 15) | (((H[l] >> 0) & 3) << 4)) - 32;
      o[l + 32] = ((L[l + 32] & 15) | (((H[l] >> 2) & 3) << 4)) - 32;
      o[l + 64] = ((L[l] >> 4) | (((H[l] >> 4) & 3) << 4)) - 32;
      o[l + 96] = ((L[l + 32] >> 4) | (((H[l] >> 6) & 3) << 4)) - 32;
    }
  for (int i = 0; i < 16; ++i) sc[i] = static_cast<int8_t>(b[192 + i]);
  *d = h2f(b + 208);
}

int idot(const int8_t* w, const int8_t* a, int n, int add) {
  int s = 0;
  for (int i = 0; i < n; ++i) s += (w[i] + add) * a[i];
  return s;
}
int idot(const int* w, const int8_t* a, int n) {
  int s = 0;
  for (int i = 0; i < n; ++i) s += w[i] * a[i];
  return s;
}

// Q8_0, batch < 32: weights offset by +127; 8 lanes = (block mod 4, half of 16);
// the -127 correction summed in 4 float lanes; final (lo+hi)+min, then a 4-tree.
float q8_0_direct(const uint8_t* w, const Act* a, int64_t nb) {
  float acc[8] = {}, accm[4] = {};
  for (int64_t g = 0; g < nb / 4; ++g)
    for (int j = 0; j < 4; ++j) {
      const int64_t b = 4 * g + j;
      const uint8_t* blk = w + 34 * b;
      const int8_t* q = reinterpret_cast<const int8_t*>(blk + 2);
      const float dw = h2f(blk), da = a[b].d;
      const float D = dw * da, M = (dw * -127.f) * (da * static_cast<float>(a[b].isum));
      acc[j] = std::fma(D, static_cast<float>(idot(q, a[b].q, 16, 127)), acc[j]);
      acc[4 + j] = std::fma(D, static_cast<float>(idot(q + 16, a[b].q + 16, 16, 127)), acc[4 + j]);
      accm[j] += M;
    }
  float s[4];
  for (int j = 0; j < 4; ++j) s[j] = (acc[j] + acc[4 + j]) + accm[j];
  return (s[0] + s[2]) + (s[1] + s[3]);
}

// Q8_0, batch >= 32 (rows repacked 8 at a time): one accumulator for the
// offset products, one for scale x activation-sum, combined by fma(-127, ...).
float q8_0_r8(const uint8_t* w, const Act* a, int64_t nb) {
  float acc0 = 0, acc1 = 0;
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* blk = w + 34 * b;
    const float dw = h2f(blk);
    const int S = idot(reinterpret_cast<const int8_t*>(blk + 2), a[b].q, 32, 127);
    acc0 = std::fma(dw * a[b].d, static_cast<float>(S), acc0);
    acc1 = std::fma(dw, a[b].d * static_cast<float>(a[b].isum), acc1);
  }
  return std::fma(-127.f, acc1, acc0);
}

// Q4_K/Q5_K, batch < 32: 8 lanes; per super-block first the mins into lane
// k (sub-block k), then the scales into lane (sub-block mod 4) + 4*half.
float q45k_direct(const uint8_t* w, const Act* a, int64_t ns, bool five) {
  float acc[8] = {};
  int q[256], sc[8], mn[8];
  float d, dmin;
  for (int64_t i = 0; i < ns; ++i) {
    unpack_q45k(w + (five ? 176 : 144) * i, five, q, sc, mn, &d, &dmin);
    const Act* ab = a + 8 * i;
    for (int k = 0; k < 8; ++k)
      acc[k] = std::fma(ab[k].d * static_cast<float>(ab[k].isum), -(dmin * static_cast<float>(mn[k])), acc[k]);
    for (int b = 0; b < 8; ++b) {
      const float D = (d * static_cast<float>(sc[b])) * ab[b].d;
      acc[b & 3] = std::fma(D, static_cast<float>(idot(q + 32 * b, ab[b].q, 16)), acc[b & 3]);
      acc[4 + (b & 3)] = std::fma(D, static_cast<float>(idot(q + 32 * b + 16, ab[b].q + 16, 16)), acc[4 + (b & 3)]);
    }
  }
  float x[4];
  for (int k = 0; k < 4; ++k) x[k] = acc[k] + acc[4 + k];
  return (x[0] + x[2]) + (x[1] + x[3]);
}

// Q4_K/Q5_K, batch >= 32: converted to 8-bit blocks whose scale fp16(d*sc) and
// min fp16(-dmin*m) are rounded to half; one accumulator, per 4 blocks the mins first.
float q45k_r8(const uint8_t* w, const Act* a, int64_t ns, bool five) {
  float acc = 0;
  int q[256], sc[8], mn[8];
  float d, dmin;
  for (int64_t i = 0; i < ns; ++i) {
    unpack_q45k(w + (five ? 176 : 144) * i, five, q, sc, mn, &d, &dmin);
    const Act* ab = a + 8 * i;
    for (int g = 0; g < 2; ++g) {
      for (int b = 4 * g; b < 4 * g + 4; ++b)
        acc = std::fma(round_h(-dmin * static_cast<float>(mn[b])), static_cast<float>(ab[b].isum) * ab[b].d, acc);
      for (int b = 4 * g; b < 4 * g + 4; ++b)
        acc = std::fma(round_h(d * static_cast<float>(sc[b])) * ab[b].d, static_cast<float>(idot(q + 32 * b, ab[b].q, 32)), acc);
    }
  }
  return acc;
}

// Q6_K, batch < 64: 8 lanes over 16-element sub-blocks (even ones in lanes 0..3,
// odd in 4..7) per 128-element half.
float q6k_direct(const uint8_t* w, const Act* a, int64_t ns) {
  float acc[8] = {};
  int q[256], sc[16];
  float d;
  for (int64_t i = 0; i < ns; ++i) {
    unpack_q6k(w + 210 * i, q, sc, &d);
    const Act* ab = a + 8 * i;
    for (int j = 0; j < 2; ++j)
      for (int l = 0; l < 8; ++l) {
        const int sub = 8 * j + (l < 4 ? 2 * l : 2 * (l - 4) + 1), b = 4 * j + (l & 3);
        const float D = (d * static_cast<float>(sc[sub])) * ab[b].d;
        acc[l] = std::fma(D, static_cast<float>(idot(q + 16 * sub, ab[b].q + (sub & 1) * 16, 16)), acc[l]);
      }
  }
  float x[4];
  for (int k = 0; k < 4; ++k) x[k] = acc[k] + acc[4 + k];
  return (x[0] + x[2]) + (x[1] + x[3]);
}

}  // namespace

bool enabled() { return numerics() == Numerics::IkLlamaCpp; }

float dot16(const float* x, const float* y, int64_t n) {
  float acc[16] = {};
  const int64_t n16 = n & ~int64_t{15};
  for (int64_t k = 0; k < n16; ++k) acc[k % 16] = k < 16 ? x[k] * y[k] : std::fma(x[k], y[k], acc[k % 16]);
  for (int64_t k = n16; k + 4 <= n; k += 4)
    for (int l = 0; l < 4; ++l) acc[l] = std::fma(x[k + l], y[k + l], acc[l]);
  return tree16(acc);
}

bool matmul(const WeightView& w, const float* x, int64_t n_tok, float* y) {
  const int64_t K = w.n_in, R = w.n_out;
  if (w.type == GGMLType::F32) {
    if (K % 4) return false;
    for (int64_t r = 0; r < R; ++r) {
      const float* row = reinterpret_cast<const float*>(w.data + static_cast<uint64_t>(r) * w.row_bytes);
      for (int64_t t = 0; t < n_tok; ++t) y[t * R + r] = dot16(row, x + t * K, K);
    }
    return true;
  }
  const bool q80 = w.type == GGMLType::Q8_0, q4k = w.type == GGMLType::Q4_K, q5k = w.type == GGMLType::Q5_K,
             q6k = w.type == GGMLType::Q6_K;
  if (!(q80 || q4k || q5k || q6k) || K % 256) return false;
  const int64_t nb = K / 32;
  std::vector<Act> act(static_cast<size_t>(nb * n_tok));
  for (int64_t t = 0; t < n_tok; ++t) quantize_act(x + t * K, K, act.data() + t * nb);
  // One thread: weights are converted for batches >= 32 (Q6_K: >= 64, not covered) when rows >= 32.
  const bool conv = n_tok >= 32 && R >= 32 && R % 8 == 0;
  if (q6k && n_tok >= 64) return false;
  for (int64_t r = 0; r < R; ++r) {
    const uint8_t* row = w.data + static_cast<uint64_t>(r) * w.row_bytes;
    for (int64_t t = 0; t < n_tok; ++t) {
      const Act* a = act.data() + t * nb;
      float v;
      if (q80) v = conv ? q8_0_r8(row, a, nb) : q8_0_direct(row, a, nb);
      else if (q6k) v = q6k_direct(row, a, K / 256);
      else v = conv ? q45k_r8(row, a, K / 256, q5k) : q45k_direct(row, a, K / 256, q5k);
      y[t * R + r] = v;
    }
  }
  return true;
}

float gelu(float x) {
  const float c1 = 0.044715f, c2 = 2.f * 0.79788456080286535587989211986876f;
  float arg = std::fma(x, c1 * x, 1.0f);
  arg = arg * (c2 * x);
  if (arg > 30.f) return x;
  const float e = ops::expf_fast(arg);
  return x * (e / (e + 1.0f));
}

}  // namespace larql::ik
