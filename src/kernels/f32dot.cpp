// Scalar references of ggml's float dot orders and the run-time dispatch to
// their AVX2 / AVX-512 versions (f32dot_avx2.cpp, f32dot_avx512.cpp).
#include "kernels/f32dot.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "kernels/matmul.h"
#include "util/cpu.h"

namespace larql {
namespace f32dot {
float tree16(const float* t) {
  float a[8], b[4];
  for (int i = 0; i < 8; ++i) a[i] = t[i + 8] + t[i];
  for (int i = 0; i < 4; ++i) b[i] = a[i + 4] + a[i];
  return (b[0] + b[2]) + (b[1] + b[3]);
}

namespace {

enum class Isa { Scalar, Avx2, Avx512 };
Isa pick() {
  const CpuFeatures& c = cpu_features();
  if (c.force_scalar) return Isa::Scalar;
  if (c.avx512f) return Isa::Avx512;
  if (c.avx2 && c.fma) return Isa::Avx2;
  return Isa::Scalar;
}
Isa isa() {
  static const Isa i = pick();
  return i;
}

// Portable versions of the column kernels (same operation sequence per output).
void acc_cols_scalar(bool four16, const ValueCols& vc, const float* p, int64_t jb, int64_t je, int64_t dv,
                     float* acc) {
  const int64_t ns = four16 ? 64 : 16;
  for (int64_t j = jb; j < je; ++j) {
    const float* v = vc.v + j * vc.stride;
    float* a = acc + (j & (ns - 1)) * dv;
    for (int64_t d = 0; d < dv; ++d) a[d] = std::fma(v[d], p[j], a[d]);
  }
}
void reduce_cols_scalar(bool four16, int64_t dv, const float* acc, float* out) {
  float t[16];
  for (int64_t d = 0; d < dv; ++d) {
    for (int l = 0; l < 16; ++l)
      t[l] = four16 ? (acc[l * dv + d] + acc[(32 + l) * dv + d]) + (acc[(16 + l) * dv + d] + acc[(48 + l) * dv + d])
                    : acc[l * dv + d];
    out[d] = tree16(t);
  }
}
void tail_cols_scalar(const ValueCols& vc, const float* p, int64_t jb, int64_t je, int64_t dv, float* out) {
  for (int64_t j = jb; j < je; ++j) {
    const float* v = vc.v + j * vc.stride;
    for (int64_t d = 0; d < dv; ++d) out[d] += v[d] * p[j];
  }
}
}  // namespace

float lanes16_ref(const float* x, const float* y, int64_t n) {
  float acc[16] = {};
  for (int64_t k = 0; k < n; ++k) acc[k % 16] = std::fma(x[k], y[k], acc[k % 16]);
  return tree16(acc);
}

float dot4x16_ref(const float* x, const float* y, int64_t n) {
  const int64_t np = n & ~int64_t{63};
  float acc[4][16] = {};
  for (int64_t c = 0; c < np; c += 64)
    for (int j = 0; j < 4; ++j)
      for (int l = 0; l < 16; ++l) {
        const int64_t k = c + 16 * j + l;
        acc[j][l] = std::fma(x[k], y[k], acc[j][l]);
      }
  float t[16];
  for (int l = 0; l < 16; ++l) t[l] = (acc[0][l] + acc[2][l]) + (acc[1][l] + acc[3][l]);
  float s = tree16(t);
  for (int64_t k = np; k < n; ++k) s += x[k] * y[k];
  return s;
}

void lanes16_x4(const float* w, const float* x, int64_t ldx, int64_t n, float* out) {
  switch (isa()) {
    case Isa::Avx512: avx512::lanes16_x4(w, x, ldx, n, out); return;
    case Isa::Avx2: avx2::lanes16_x4(w, x, ldx, n, out); return;
    case Isa::Scalar:
      for (int i = 0; i < 4; ++i) out[i] = lanes16_ref(w, x + i * ldx, n);
      return;
  }
}

void dot4x16_rows(const float* k, int64_t stride, const float* q, int64_t n, int64_t jb, int64_t je, float* out) {
  if (isa() == Isa::Avx512) return avx512::dot4x16_rows(k, stride, q, n, jb, je, out);
  for (int64_t j = jb; j < je; ++j) out[j] = dot_f32_4x16(k + j * stride, q, n);
}

void weighted_cols_ref(bool four16, const ValueCols& vc, const float* p, int64_t n_kv, int64_t dv, float* out) {
  std::vector<float> col(static_cast<size_t>(n_kv));
  for (int64_t d = 0; d < dv; ++d) {
    for (int64_t j = 0; j < n_kv; ++j) col[static_cast<size_t>(j)] = j < vc.n_real ? vc.v[j * vc.stride + d] : 0.0f;
    out[d] = four16 ? dot4x16_ref(col.data(), p, n_kv) : lanes16_ref(col.data(), p, n_kv);
  }
}

void weighted_cols(bool four16, const ValueCols& vc, const float* p, int64_t jb, int64_t je, int64_t n_kv, int64_t dv,
                   float* scratch, float* out) {
  const int64_t np = four16 ? (n_kv & ~int64_t{63}) : n_kv;
  je = std::min(je, vc.n_real);  // padding holds zeros: adds +0 at most
  jb = std::max<int64_t>(jb, 0);
  std::memset(scratch, 0, sizeof(float) * static_cast<size_t>((four16 ? 64 : 16) * dv));
  const int64_t ae = std::min(je, np), tb = std::max(jb, np);
  switch (isa()) {
    case Isa::Avx512:
      avx512::acc_cols(four16, vc, p, jb, ae, np, dv, scratch);
      avx512::reduce_cols(four16, dv, scratch, out);
      if (tb < je) avx512::tail_cols(vc, p, tb, je, dv, out);
      break;
    case Isa::Avx2:
      avx2::acc_cols(four16, vc, p, jb, ae, np, dv, scratch);
      avx2::reduce_cols(four16, dv, scratch, out);
      if (tb < je) avx2::tail_cols(vc, p, tb, je, dv, out);
      break;
    case Isa::Scalar:
      acc_cols_scalar(four16, vc, p, jb, ae, dv, scratch);
      reduce_cols_scalar(four16, dv, scratch, out);
      if (tb < je) tail_cols_scalar(vc, p, tb, je, dv, out);
      break;
  }
  // A skipped position adds a signed zero: it can only flip the sign of a zero
  // output. Recompute such outputs (rare) with every position.
  if (jb == 0 && je == n_kv) return;
  thread_local std::vector<float> col;
  for (int64_t d = 0; d < dv; ++d) {
    if (out[d] != 0.0f) continue;
    col.resize(static_cast<size_t>(n_kv));
    for (int64_t j = 0; j < n_kv; ++j) col[static_cast<size_t>(j)] = j < vc.n_real ? vc.v[j * vc.stride + d] : 0.0f;
    out[d] = four16 ? dot_f32_4x16(col.data(), p, n_kv) : dot_f32_lanes16(col.data(), p, n_kv);
  }
}

}  // namespace f32dot

float dot_f32_lanes16(const float* x, const float* y, int64_t n) {
  using namespace f32dot;
  switch (isa()) {
    case Isa::Avx512: return avx512::lanes16(x, y, n);
    case Isa::Avx2: return avx2::lanes16(x, y, n);
    default: return lanes16_ref(x, y, n);
  }
}

float dot_f32_4x16(const float* x, const float* y, int64_t n) {
  using namespace f32dot;
  switch (isa()) {
    case Isa::Avx512: return avx512::dot4x16(x, y, n);
    case Isa::Avx2: return avx2::dot4x16(x, y, n);
    default: return dot4x16_ref(x, y, n);
  }
}

}  // namespace larql
