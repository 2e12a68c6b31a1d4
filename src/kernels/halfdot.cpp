// Scalar references of the F16 / BF16 product orders and the run-time
// dispatch to their AVX2 / AVX-512 versions (halfdot_avx2.cpp, halfdot_avx512.cpp).
#include "kernels/halfdot.h"

#include <cstring>
#include <vector>

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

// The references are f32dot's on the widened row (exact), with vec_dot_f16's
// double-precision reduction and tail for dot4x16.
namespace {
const float* widened(GGMLType t, const uint8_t* w, int64_t n) {
  thread_local std::vector<float> row;
  row.resize(static_cast<size_t>(n));
  for (int64_t k = 0; k < n; ++k) row[static_cast<size_t>(k)] = widen(t, w, k);
  return row.data();
}
}  // namespace

float lanes16_ref(GGMLType t, const uint8_t* w, const float* x, int64_t n) {
  return f32dot::lanes16_ref(widened(t, w, n), x, n);
}

float dot4x16_ref(GGMLType t, const uint8_t* w, const float* x, int64_t n) {
  const int64_t np = n & ~int64_t{63};
  const float* r = widened(t, w, n);
  double s = f32dot::dot4x16_ref(r, x, np);  // whole chunks only: no float tail
  for (int64_t k = np; k < n; ++k) {
    volatile float p = r[k] * x[k];  // a float product (never fused into the double add)
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
