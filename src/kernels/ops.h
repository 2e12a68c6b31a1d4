// Element-wise and row operations of the forward pass, written to reproduce
// ggml's CPU arithmetic (double accumulation in norms, iterative float rope
// angles, fp16 GELU table semantics); see docs/numerics.md.
#pragma once
#include <cstdint>

namespace larql::ops {

// y = x / sqrt(mean(x^2) + eps) * w   (w may be null)
void rms_norm(const float* x, const float* w, float eps, int64_t n, float* y);
// y = (x - mean) / sqrt(var + eps) * w + b   (w, b may be null)
void layer_norm(const float* x, const float* w, const float* b, float eps, int64_t n, float* y);
// In-place numerically stable softmax over n values.
void softmax(float* x, int64_t n);
// exp(x) by the vectorised polynomial ggml's CPU backend uses for SiLU and
// softmax (range reduction by ln2 and a degree-5 polynomial, ~1.5 ulp):
// quantized activations round on these exact values, so parity needs them.
float expf_fast(float x);
// x / (1 + exp(-x)) with expf_fast.
float silu(float x);
// out[i] = silu(g[i]) * u[i] (out may alias g or u): the SwiGLU gate. SIMD
// where the CPU has it (qdot::isa() picks), bit-identical to the scalar loop.
void swiglu(const float* g, const float* u, float* out, int64_t n);
// ggml's GELU (tanh approximation) evaluated through its fp16 lookup table:
// input rounded to fp16, result rounded to fp16, identity above 10, 0 below -10.
float gelu_ggml(float x);
// GELU, tanh approximation, in float (the models' own definition).
float gelu_tanh(float x);

enum class RopeMode { Norm, Neox };  // Norm: adjacent pairs (2i, 2i+1); Neox: (i, i + d/2)

// Rotary embedding parameters, including the long-context scalings:
// linear (freq_scale = 1/factor), YaRN (ext_factor 1, corr_dims, magnitude
// correction) and Llama 3's per-frequency factors (freq_factors, theta/ff).
struct RopeConfig {
  int64_t n_rot = 0;
  float freq_base = 10000.0f;
  float freq_scale = 1.0f;
  float ext_factor = 0.0f;
  float attn_factor = 1.0f;
  float corr_dims[2] = {0, 0};
  const float* freq_factors = nullptr;  // n_rot/2 values or null
  RopeMode mode = RopeMode::Norm;
};
// YaRN's dimension range [low, high] that blends interpolation and extrapolation.
void rope_yarn_corr_dims(int64_t n_rot, int64_t n_ctx_orig, float freq_base, float beta_fast, float beta_slow,
                         float dims[2]);
// Rotates the first n_rot dims of each of n_heads vectors of length head_dim at position pos.
void rope(float* x, int64_t n_heads, int64_t head_dim, int64_t pos, const RopeConfig& cfg);
// Plain rope (no scaling).
void rope(float* x, int64_t n_heads, int64_t head_dim, int64_t n_rot, int64_t pos, float freq_base,
          float freq_scale, RopeMode mode);

}  // namespace larql::ops
