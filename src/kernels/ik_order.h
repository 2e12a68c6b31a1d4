// ik_llama.cpp 8337e4c's CPU operation orders on an AVX-512+VNNI machine
// (1 thread), so the ik-made fixture references can be reproduced bit-exactly.
// Active under the ik_llama.cpp numerics profile (kernels/numerics.h).
#pragma once
#include <cstdint>

#include "kernels/matmul.h"

namespace larql::ik {

// True when the ik_llama.cpp numerics profile is selected.
bool enabled();

// 16 lanes by k mod 16 (first product a plain multiply), 4-wide tail into
// lanes 0..3, then the 8/4/2/1 halving tree.
float dot16(const float* x, const float* y, int64_t n);

// Y = W X in ik's order for F32, Q8_0, Q4_K, Q5_K, Q6_K; false if not covered.
bool matmul(const WeightView& w, const float* x, int64_t n_tok, float* y);

// ik's AVX-512 GELU (tanh form through exp, not the fp16 table).
float gelu(float x);

}  // namespace larql::ik
