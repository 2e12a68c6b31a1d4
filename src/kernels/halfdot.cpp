// Scalar references of the F16 / BF16 product orders and the run-time
// dispatch to their AVX2 / AVX-512 versions (halfdot_avx2.cpp, halfdot_avx512.cpp).
#include "kernels/halfdot.h"

#include <cmath>
#include <cstring>

#include "kernels/f32dot.h"
#include "util/cpu.h"
#include "util/error.h"
#include "util/half.h"

namespace larql::halfdot {

namespace {

enum class Isa { Scalar, Avx2, Avx512 };
Isa isa() {
  static const Isa i = [] {
    const CpuFeatures& c = cpu_features();
    if (c.force_scalar) return Isa::Scalar;
    if (c.avx512f && c.avx512bw && c.f16c) return Isa::Avx512;
    if (c.avx2 && c.fma && c.f16c) return Isa::Avx2;
    return Isa::Scalar;
  }();
  return i;
}

inline float widen(GGMLType t, const uint8_t* w, int64_t k) { return widen_one(t == GGMLType::BF16, w + 2 * k); }

}  // namespace

bool handles(GGMLType t) { return t == GGMLType::F16 || t == GGMLType::BF16; }

void round_acts(GGMLType t, const float* x, int64_t n, float* out) {
  if (t == GGMLType::BF16)
    for (int64_t i = 0; i < n; ++i) out[i] = bf16_to_fp32(fp32_to_bf16(x[i]));
  else
    for (int64_t i = 0; i < n; ++i) out[i] = fp16_to_fp32(fp32_to_fp16(x[i]));
}

float lanes16_ref(GGMLType t, const uint8_t* w, const float* x, int64_t n) {
  float acc[16] = {};
  for (int64_t k = 0; k < n; ++k) acc[k % 16] = std::fma(widen(t, w, k), x[k], acc[k % 16]);
  return f32dot::tree16(acc);
}

float dot4x16_ref(GGMLType t, const uint8_t* w, const float* x, int64_t n) {
  const int64_t np = n & ~int64_t{63};
  float acc[4][16] = {};
  for (int64_t c = 0; c < np; c += 64)
    for (int j = 0; j < 4; ++j)
      for (int l = 0; l < 16; ++l) {
        const int64_t k = c + 16 * j + l;
        acc[j][l] = std::fma(widen(t, w, k), x[k], acc[j][l]);
      }
  float r[16];
  for (int l = 0; l < 16; ++l) r[l] = (acc[0][l] + acc[2][l]) + (acc[1][l] + acc[3][l]);
  double s = f32dot::tree16(r);
  for (int64_t k = np; k < n; ++k) {
    volatile float p = widen(t, w, k) * x[k];  // a float product (never fused into the double add)
    s += static_cast<double>(p);
  }
  return static_cast<float>(s);
}

void gemm_scalar(const Rows& m, bool lanes16, int64_t r0, int64_t r1, const float* x, int64_t ldx, int nt, float* y,
                 int64_t ldy) {
  for (int64_t r = r0; r < r1; ++r) {
    const uint8_t* w = m.w + static_cast<size_t>(r) * m.row_bytes;
    for (int t = 0; t < nt; ++t)
      y[t * ldy + r] = lanes16 ? lanes16_ref(m.type, w, x + t * ldx, m.n) : dot4x16_ref(m.type, w, x + t * ldx, m.n);
  }
}

void gemm(const Rows& m, bool lanes16, int64_t r0, int64_t r1, const float* x, int64_t ldx, int nt, float* y,
          int64_t ldy) {
  if (!handles(m.type)) throw Error("halfdot: weights must be F16 or BF16");
  if (lanes16 && m.n % 16 != 0) throw Error("halfdot: the 16-lane order needs rows of a multiple of 16");
  switch (isa()) {
    case Isa::Avx512: avx512::gemm(m, lanes16, r0, r1, x, ldx, nt, y, ldy); return;
    case Isa::Avx2: avx2::gemm(m, lanes16, r0, r1, x, ldx, nt, y, ldy); return;
    case Isa::Scalar: gemm_scalar(m, lanes16, r0, r1, x, ldx, nt, y, ldy); return;
  }
}

}  // namespace larql::halfdot
