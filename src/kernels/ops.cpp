#include "kernels/ops.h"

#include <algorithm>
#include <cmath>

#include "kernels/numerics.h"
#include "kernels/qdot.h"
#include "kernels/vec_simd.h"
#include "util/half.h"

namespace larql::ops {

void rms_norm(const float* x, const float* w, float eps, int64_t n, float* y) {
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) sum += static_cast<double>(x[i] * x[i]);
  const float mean = static_cast<float>(sum / static_cast<double>(n));
  const float scale = 1.0f / std::sqrt(mean + eps);
  // ik_llama.cpp fuses the weight into the scale first.
  if (w && numerics() == Numerics::IkLlamaCpp) for (int64_t i = 0; i < n; ++i) y[i] = (scale * w[i]) * x[i];
  else if (w) for (int64_t i = 0; i < n; ++i) y[i] = (x[i] * scale) * w[i];
  else for (int64_t i = 0; i < n; ++i) y[i] = x[i] * scale;
}

void layer_norm(const float* x, const float* w, const float* b, float eps, int64_t n, float* y) {
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) sum += static_cast<double>(x[i]);
  const float mean = static_cast<float>(sum / static_cast<double>(n));
  double sum2 = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    const float v = x[i] - mean;
    y[i] = v;
    sum2 += static_cast<double>(v * v);
  }
  const float variance = static_cast<float>(sum2 / static_cast<double>(n));
  const float scale = 1.0f / std::sqrt(variance + eps);
  for (int64_t i = 0; i < n; ++i) {
    float v = y[i] * scale;
    if (w) v *= w[i];
    if (b) v += b[i];
    y[i] = v;
  }
}

void softmax(float* x, int64_t n) {
  float mx = -INFINITY;
  for (int64_t i = 0; i < n; ++i) mx = x[i] > mx ? x[i] : mx;
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    const float e = x[i] == -INFINITY ? 0.0f : expf_fast(x[i] - mx);
    x[i] = e;
    sum += static_cast<double>(e);
  }
  const float inv = static_cast<float>(1.0 / sum);
  for (int64_t i = 0; i < n; ++i) x[i] *= inv;
}

float expf_fast(float x) {
  // n = round(x / ln2) via the 1.5*2^23 trick; b = x - n*ln2 in two parts (hi, lo).
  const float shifter = 0x1.8p23f;
  const float z = std::fma(x, 0x1.715476p+0f, shifter);
  const float n = z - shifter;
  const float b = std::fma(-n, 0x1.7f7d1cp-20f, std::fma(-n, 0x1.62e4p-1f, x));
  if (std::fabs(n) > 192.0f) return n <= 0.0f ? 0.0f : INFINITY;
  const float u = b * b;
  const float j = std::fma(std::fma(std::fma(0x1.0e4020p-7f, b, 0x1.573e2ep-5f), u, std::fma(0x1.555e66p-3f, b, 0x1.fffdb6p-2f)),
                           u, std::fma(0x1.ffffecp-1f, b, 1.0f));
  return std::ldexp(j, static_cast<int>(n));
}

float silu(float x) { return x / (1.0f + expf_fast(-x)); }

void swiglu(const float* g, const float* u, float* out, int64_t n) {
  switch (qdot::isa()) {
    case qdot::Isa::Avx512:
    case qdot::Isa::Avx512Vnni: return vec::avx512::swiglu(g, u, out, n);
    case qdot::Isa::AvxVnni:
    case qdot::Isa::Avx2: return vec::avx2::swiglu(g, u, out, n);
    case qdot::Isa::Scalar: break;
  }
  for (int64_t i = 0; i < n; ++i) out[i] = silu(g[i]) * u[i];
}

float gelu_ggml(float x) {
  if (x <= -10.0f) return 0.0f;
  if (x >= 10.0f) return x;
  const float v = fp16_to_fp32(fp32_to_fp16(x));
  constexpr float kSqrt2OverPi = 0.79788456080286535587989211986876f;
  constexpr float kCoef = 0.044715f;
  const float g = 0.5f * v * (1.0f + std::tanh(kSqrt2OverPi * v * (1.0f + kCoef * v * v)));
  return fp16_to_fp32(fp32_to_fp16(g));
}

float gelu_tanh(float x) {
  constexpr float kSqrt2OverPi = 0.79788456080286535587989211986876f;
  return 0.5f * x * (1.0f + std::tanh(kSqrt2OverPi * x * (1.0f + 0.044715f * x * x)));
}

void rope_yarn_corr_dims(int64_t n_rot, int64_t n_ctx_orig, float freq_base, float beta_fast, float beta_slow,
                         float dims[2]) {
  // The dimension whose wavelength completes n_rotations over the original context.
  auto corr_dim = [&](float n_rotations) {
    return static_cast<float>(n_rot) * std::log(static_cast<float>(n_ctx_orig) / (n_rotations * 2.0f * 3.14159265358979f)) /
           (2.0f * std::log(freq_base));
  };
  dims[0] = std::max(0.0f, std::floor(corr_dim(beta_fast)));
  dims[1] = std::min(static_cast<float>(n_rot - 1), std::ceil(corr_dim(beta_slow)));
}

void rope(float* x, int64_t n_heads, int64_t head_dim, int64_t pos, const RopeConfig& c) {
  // Angles as ggml derives them: theta_{i+1} = theta_i * base^(-2/n_rot), in float.
  const float theta_scale = std::pow(c.freq_base, -2.0f / static_cast<float>(c.n_rot));
  float cos_c[512], sin_c[512];
  float theta = static_cast<float>(pos);
  const int64_t half = std::min<int64_t>(c.n_rot / 2, 512);
  for (int64_t i = 0; i < half; ++i) {
    const float extrap = c.freq_factors ? theta / c.freq_factors[i] : theta;
    const float interp = c.freq_scale * extrap;
    float t = interp, mscale = c.attn_factor;
    if (c.ext_factor != 0.0f) {
      // YaRN: low dims extrapolate, high dims interpolate, ramp between corr_dims.
      const float y = (static_cast<float>(i) - c.corr_dims[0]) / std::max(0.001f, c.corr_dims[1] - c.corr_dims[0]);
      const float ramp = (1.0f - std::min(1.0f, std::max(0.0f, y))) * c.ext_factor;
      t = interp * (1 - ramp) + extrap * ramp;
      mscale *= 1.0f + 0.1f * std::log(1.0f / c.freq_scale);
    }
    cos_c[i] = std::cos(t) * mscale;
    sin_c[i] = std::sin(t) * mscale;
    theta *= theta_scale;
  }
  for (int64_t h = 0; h < n_heads; ++h) {
    float* v = x + h * head_dim;
    for (int64_t i = 0; i < half; ++i) {
      const int64_t a = c.mode == RopeMode::Norm ? 2 * i : i;
      const int64_t b = c.mode == RopeMode::Norm ? 2 * i + 1 : i + c.n_rot / 2;
      const float x0 = v[a], x1 = v[b];
      // llama.cpp's compiled rope fuses the x0 products (as GCC contracts them).
      v[a] = std::fma(x0, cos_c[i], -(x1 * sin_c[i]));
      v[b] = std::fma(x0, sin_c[i], x1 * cos_c[i]);
    }
  }
}

void rope(float* x, int64_t n_heads, int64_t head_dim, int64_t n_rot, int64_t pos, float freq_base,
          float freq_scale, RopeMode mode) {
  RopeConfig c;
  c.n_rot = n_rot;
  c.freq_base = freq_base;
  c.freq_scale = freq_scale;
  c.mode = mode;
  rope(x, n_heads, head_dim, pos, c);
}

}  // namespace larql::ops
