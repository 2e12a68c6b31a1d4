// Internal to src/tensor: the scale searches behind the Q4_0 and K-quant
// quantizers.
//
// Both fits try a small grid of inverse scales around the naive one
// (max -> top code), round every element to its code under each, and keep the
// candidate whose least-squares refit has the lowest weighted squared error.
// The error of a refit follows in closed form from the sums
// (sum w*l, w*l*l, w*x*l), so a candidate costs one pass over the group.
//
// Speed: each call fits 4 independent groups (sub-blocks) at once, one per
// lane of a 4-float vector, so the per-candidate bookkeeping (divisions,
// comparisons, selection) is vectorised too and there are no horizontal sums.
// The vectors are GCC/Clang vector extensions (SSE2 on x86-64, NEON on ARM):
// portable, and > 50M elements/s per core for Q4_K/Q5_K/Q6_K.
#pragma once
#include <cstdint>

namespace larql::quant {

typedef float v4f __attribute__((vector_size(16)));
typedef int32_t v4i __attribute__((vector_size(16)));

inline v4f splat(float v) { return v4f{v, v, v, v}; }
// Ties-to-even rounding, exact for |v| < 2^22 (callers clamp the result).
inline v4f vround(v4f v) {
  const v4f magic = splat(12582912.f);  // 1.5 * 2^23
  return (v + magic) - magic;
}
inline v4f vmin(v4f a, v4f b) { return a < b ? a : b; }
inline v4f vmax(v4f a, v4f b) { return a > b ? a : b; }
inline v4f vsel(v4i mask, v4f a, v4f b) { return mask ? a : b; }

// Element l of the 4 groups as one vector (lane g = group g).
template <int N>
inline void transpose4(const float* const g[4], v4f out[N]) {
  for (int l = 0; l < N; ++l) out[l] = v4f{g[0][l], g[1][l], g[2][l], g[3][l]};
}

// Asymmetric fit for Q4_K / Q5_K: x ~= scale * l - min with l in [0, nmax],
// scale >= 0 and min >= 0 (a positive offset cannot be stored). Starts from
// the naive fit ([min(x,0), max(x)] onto [0, nmax]), then tries inverse
// scales (nmax + rmin + rdelta*k) / (max - origin), k = 0..nstep, where the
// origin follows the best offset found so far (this adaptive anchor is what
// makes the grid find as good fits as llama.cpp's quantizer).
template <int N>
void fit_affine_x4(const float* const xs[4], const float* const ws[4], int nmax, float rmin, float rdelta,
                   int nstep, float scale[4], float min[4]) {
  static_assert(N % 2 == 0);
  v4f X[N], W[N];
  transpose4<N>(xs, X);
  transpose4<N>(ws, W);
  const v4f zero = splat(0.f), top = splat(static_cast<float>(nmax));
  v4f lo = zero, hi = X[0], sw = zero, swx = zero, swxx = zero;
  for (int l = 0; l < N; ++l) {
    lo = vmin(lo, X[l]);
    hi = vmax(hi, X[l]);
    sw += W[l];
    swx += W[l] * X[l];
    swxx += W[l] * X[l] * X[l];
  }
  const v4i ok = hi > lo;  // false: constant (or NaN) group, the min alone represents it
  const v4f one = splat(1.f);

  // Sums of w*l, w*l*l, w*x*l for the codes l = round((x - origin) * is).
  v4f Sl, Sll, Sxl;
  auto code_sums = [&](v4f origin, v4f is) {
    const v4f off = -origin * is;
    v4f a0 = zero, a1 = zero, a2 = zero, b0 = zero, b1 = zero, b2 = zero;
    for (int l = 0; l < N; l += 2) {  // two accumulator sets: shorter dependency chains
      const v4f q0 = vmin(vmax(vround(X[l] * is + off), zero), top);
      const v4f q1 = vmin(vmax(vround(X[l + 1] * is + off), zero), top);
      const v4f w0 = W[l] * q0, w1 = W[l + 1] * q1;
      a0 += w0;
      a1 += w0 * q0;
      a2 += w0 * X[l];
      b0 += w1;
      b1 += w1 * q1;
      b2 += w1 * X[l + 1];
    }
    Sl = a0 + b0, Sll = a1 + b1, Sxl = a2 + b2;
  };
  // Weighted squared error of x ~= s*l + m, from the sums.
  auto error = [&](v4f s, v4f m) {
    return swxx + s * s * Sll + m * m * sw - splat(2.f) * (s * Sxl + m * swx - s * m * Sl);
  };

  const v4f range = vsel(ok, hi - lo, one);
  v4f best_s = range / top, best_m = lo;  // m: offset, x ~= s*l + m (m <= 0)
  code_sums(lo, top / range);
  v4f best_err = error(best_s, best_m);
  v4f origin = lo;
  for (int k = 0; k <= nstep; ++k) {
    const v4f span = hi - origin;
    const v4f is = splat(static_cast<float>(nmax) + rmin + rdelta * static_cast<float>(k)) /
                   vsel(span > zero, span, one);
    code_sums(origin, is);
    const v4f D = sw * Sll - Sl * Sl;
    const v4f Dinv = one / vsel(D > zero, D, one);
    v4f s = (sw * Sxl - swx * Sl) * Dinv;
    v4f m = (Sll * swx - Sl * Sxl) * Dinv;
    const v4i pos = m > zero;  // offset must be <= 0: refit the scale alone
    m = vsel(pos, zero, m);
    s = vsel(pos, Sxl / vsel(Sll > zero, Sll, one), s);
    const v4f err = error(s, m);
    const v4i better = (D > zero) & (s > zero) & (err < best_err);
    best_err = vsel(better, err, best_err);
    best_s = vsel(better, s, best_s);
    best_m = vsel(better, m, best_m);
    origin = vsel(better & (hi > m), m, origin);
  }
  for (int g = 0; g < 4; ++g) {
    scale[g] = ok[g] ? best_s[g] : 0.f;
    min[g] = ok[g] ? -best_m[g] : -lo[g];
  }
}

// Symmetric fit for Q6_K / Q4_0: x ~= scale * l with l in [-nmax, nmax-1].
// The element of largest magnitude maps to about -nmax (the side with the
// extra code), so the scale has the opposite sign of that element.
// Candidates: inverse scale -(nmax + delta*k) / max, k = -nstep..nstep; the
// winner maximises sum(w*x*l)^2 / sum(w*l*l), i.e. minimises the error
// after the least-squares scale sum(w*x*l) / sum(w*l*l).
template <int N>
void fit_symmetric_x4(const float* const xs[4], const float* const ws[4], int nmax, float delta, int nstep,
                      float scale[4]) {
  static_assert(N % 2 == 0);
  v4f X[N], W[N], WX[N];
  transpose4<N>(xs, X);
  transpose4<N>(ws, W);
  const v4f zero = splat(0.f), one = splat(1.f);
  v4f amax = zero, max = zero;
  for (int l = 0; l < N; ++l) {
    WX[l] = W[l] * X[l];
    const v4f a = vmax(X[l], -X[l]);
    const v4i gt = a > amax;
    amax = vsel(gt, a, amax);
    max = vsel(gt, X[l], max);
  }
  const v4i ok = amax > splat(1e-30f);
  const v4f vmaxs = vsel(ok, max, one);
  const v4f lo = splat(static_cast<float>(-nmax)), hi = splat(static_cast<float>(nmax - 1));
  v4f best_scale = -vmaxs / splat(static_cast<float>(nmax)), best_num = splat(-1.f), best_den = one;
  for (int k = -nstep; k <= nstep; ++k) {
    const v4f is = splat(-(static_cast<float>(nmax) + delta * static_cast<float>(k))) / vmaxs;
    v4f a0 = zero, a1 = zero, b0 = zero, b1 = zero;
    for (int l = 0; l < N; l += 2) {
      const v4f q0 = vmin(vmax(vround(X[l] * is), lo), hi);
      const v4f q1 = vmin(vmax(vround(X[l + 1] * is), lo), hi);
      a0 += W[l] * q0 * q0;
      a1 += WX[l] * q0;
      b0 += W[l + 1] * q1 * q1;
      b1 += WX[l + 1] * q1;
    }
    const v4f Sll = a0 + b0, Sxl = a1 + b1;
    const v4i better = (Sll > zero) & (Sxl * Sxl * best_den > best_num * Sll);
    best_num = vsel(better, Sxl * Sxl, best_num);
    best_den = vsel(better, Sll, best_den);
    best_scale = vsel(better, Sxl / vsel(Sll > zero, Sll, one), best_scale);
  }
  for (int g = 0; g < 4; ++g) scale[g] = ok[g] ? best_scale[g] : 0.f;
}

}  // namespace larql::quant
