// AMX-INT8 prefill GEMM over the packed layout of repack.h (Sapphire Rapids and
// later). One kernel source (amx_gemm.cpp) runs either on the tile hardware or
// on the software model of amx_tiles.h; the model path is what the tests verify
// against the scalar reference on CPUs without AMX, and on real AMX hardware
// usable() first runs a self-check against the scalar reference.
//
// Scheme (per 16 rows x 16 tokens, per block or K-quant sub-block):
//   C[token][row] = TDPBSSD(A = the activations' int8 bytes, loaded straight
//   from the quantized activations with the token stride; B = the weight codes
//   as signed bytes in VNNI order, i.e. the packed code vectors widened to one
//   code per byte: Q8_0 codes xor 0x80, nibbles and 5/6-bit codes as they are).
// Every C element is then exactly the reference's integer block (sub-block) sum
// less its act_aux correction, which is added back per token (Q4_0, Q5_0, Q6_K;
// Q8_0's correction is the xor; Q4_K/Q5_K's sums have none), and the float step
// runs as the AVX-512 kernels do it on the stored int32 tiles: the same
// conversions, products and fmas in block order, so results equal
// repack::gemm(qdot::Isa::Scalar, ...) bit for bit.
#pragma once
#include <cstddef>
#include <cstdint>

#include "format/ggml_types.h"

namespace larql::repack {
struct Packed;
}

namespace larql::amx {

// CPUID AMX-TILE and AMX-INT8 and the OS enables XTILECFG/XTILEDATA in XCR0.
bool cpu_supported();
// cpu_supported(), LARQL_FORCE_SCALAR unset, LARQL_AMX not "0", and Linux granted
// this process XTILEDATA (arch_prctl ARCH_REQ_XCOMP_PERM, asked once). Tile
// instructions may run only when this is true.
bool available();

}  // namespace larql::amx

namespace larql::repack::amx {

constexpr int kMinTokens = 16;  // one A tile of tokens; fewer go to the AVX-512 kernels

// Types with an AMX kernel: Q8_0, Q4_0, Q5_0, Q4_K, Q5_K, Q6_K.
bool supported(GGMLType t);

using GemmFn = void (*)(const Packed& p, const uint8_t* act, size_t act_stride, const int32_t* aux,
                        size_t aux_stride, int nt, int64_t g0, int64_t g1, float* y, int64_t ldy);

// repack::gemm's contract for a supported type: whole 16-token tiles on the
// tiles, the remaining nt % 16 tokens on avx512vnni::gemm. gemm() runs the tile
// instructions (only when larql::amx::available()); gemm_model() the software
// model (any CPU with AVX-512 VNNI, i.e. when model_runnable()); and
// gemm_model_faulty() a model whose TDPBSSD is off by one (self_check's tests).
void gemm(const Packed& p, const uint8_t* act, size_t act_stride, const int32_t* aux, size_t aux_stride, int nt,
          int64_t g0, int64_t g1, float* y, int64_t ldy);
void gemm_model(const Packed& p, const uint8_t* act, size_t act_stride, const int32_t* aux, size_t aux_stride,
                int nt, int64_t g0, int64_t g1, float* y, int64_t ldy);
void gemm_model_faulty(const Packed& p, const uint8_t* act, size_t act_stride, const int32_t* aux,
                       size_t aux_stride, int nt, int64_t g0, int64_t g1, float* y, int64_t ldy);
bool model_runnable();

// Runs fn on small random problems of every supported type (2 row groups,
// 35 tokens) and compares with the scalar reference bit for bit; on a mismatch
// prints one line naming `name` and the type to stderr and returns false.
bool self_check(GemmFn fn, const char* name);
// Whether repack::gemm hands >= kMinTokens tokens to kernel(): decided on the
// first call in the process. Normally larql::amx::available() and
// self_check(gemm). LARQL_AMX=model instead routes them through the software
// model (model_runnable() and self_check(gemm_model)): slow, for checking the
// whole engine's products through this kernel on a CPU without AMX.
bool usable();
// gemm, or gemm_model under LARQL_AMX=model.
GemmFn kernel();

}  // namespace larql::repack::amx
