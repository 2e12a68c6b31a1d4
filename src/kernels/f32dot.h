// ggml's float dot-product orders (docs/numerics.md) with SIMD versions that
// give the same bits as the scalar references: every output is the same
// sequence of correctly rounded fma/add/mul, only spread over vector lanes.
#pragma once
#include <cstdint>

namespace larql::f32dot {

// ggml's 16-lane float reduction: a_i = t[i+8]+t[i], b_i = a[i+4]+a[i], (b0+b2)+(b1+b3).
float tree16(const float* t);

// Scalar references (the definition of the order).
float lanes16_ref(const float* x, const float* y, int64_t n);
float dot4x16_ref(const float* x, const float* y, int64_t n);

// Weighted sum of value columns in one of the two orders, vectorized over d:
// out[d] = DOT(col_d, p) over positions 0..n_kv-1 where col_d[j] = v[j*stride+d].
// Only positions jb..je-1 are read; every other position must have p[j] == +0
// and a finite value (the caller guarantees it), so it adds a signed zero,
// which can only change an output that is itself zero: those outputs are
// recomputed including the skipped positions (exact for any input).
// Positions >= vc.n_real read as 0 (the cache padding). scratch: at least
// 64*dv floats (16*dv for lanes16).
struct ValueCols {
  const float* v = nullptr;  // position 0, this head
  int64_t stride = 0;        // floats between positions
  int64_t n_real = 0;        // positions >= n_real are zero (padding)
};
void weighted_cols(bool four16, const ValueCols& vc, const float* p, int64_t jb, int64_t je, int64_t n_kv, int64_t dv,
                   float* scratch, float* out);
void weighted_cols_ref(bool four16, const ValueCols& vc, const float* p, int64_t n_kv, int64_t dv, float* out);

// lanes16 of one row w with 4 activation rows x + i*ldx (i < 4): out[i]
// equals lanes16_ref(w, x + i*ldx, n) bit for bit; the row is loaded once.
void lanes16_x4(const float* w, const float* x, int64_t ldx, int64_t n, float* out);

// out[j] = dot4x16(k + j*stride, q, n) for jb <= j < je (attention scores).
void dot4x16_rows(const float* k, int64_t stride, const float* q, int64_t n, int64_t jb, int64_t je, float* out);

// ISA kernels (defined only where the compiler supports the target attribute).
namespace avx2 {
float lanes16(const float* x, const float* y, int64_t n);
void lanes16_x4(const float* w, const float* x, int64_t ldx, int64_t n, float* out);
float dot4x16(const float* x, const float* y, int64_t n);
void acc_cols(bool four16, const ValueCols& vc, const float* p, int64_t jb, int64_t je, int64_t np, int64_t dv,
              float* acc);
void reduce_cols(bool four16, int64_t dv, const float* acc, float* out);
void tail_cols(const ValueCols& vc, const float* p, int64_t jb, int64_t je, int64_t dv, float* out);
}  // namespace avx2
namespace avx512 {
float lanes16(const float* x, const float* y, int64_t n);
void dot4x16_rows(const float* k, int64_t stride, const float* q, int64_t n, int64_t jb, int64_t je, float* out);
void lanes16_x4(const float* w, const float* x, int64_t ldx, int64_t n, float* out);
float dot4x16(const float* x, const float* y, int64_t n);
void acc_cols(bool four16, const ValueCols& vc, const float* p, int64_t jb, int64_t je, int64_t np, int64_t dv,
              float* acc);
void reduce_cols(bool four16, int64_t dv, const float* acc, float* out);
void tail_cols(const ValueCols& vc, const float* p, int64_t jb, int64_t je, int64_t dv, float* out);
}  // namespace avx512

}  // namespace larql::f32dot
