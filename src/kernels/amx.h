// AMX prefill GEMMs (Sapphire Rapids and later): AMX-INT8 over the packed
// layout of repack.h (larql::repack::amx) and AMX-BF16 for BF16 weights in
// ggml's 16-lane float order (larql::halfdot::amx, below). Each kernel source
// (amx_gemm.cpp, amx_bf16.cpp) runs either on the tile hardware or on the
// software model of amx_tiles.h; the model path is what the tests verify
// against the scalar reference on CPUs without AMX, and on real AMX hardware
// usable() first runs a self-check against the scalar reference.
//
// INT8 scheme (per 16 rows x 16 tokens, per block or K-quant sub-block):
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
#include "kernels/halfdot.h"

namespace larql::repack {
struct Packed;
}

namespace larql::amx {

// CPUID AMX-TILE and AMX-INT8 and the OS enables XTILECFG/XTILEDATA in XCR0.
bool cpu_supported();
// cpu_supported(), LARQL_FORCE_SCALAR unset, LARQL_AMX neither "0" nor "model",
// and Linux granted this process XTILEDATA (arch_prctl ARCH_REQ_XCOMP_PERM,
// asked once). INT8 tile instructions may run only when this is true.
bool available();
// The same for AMX-BF16 (CPUID AMX-TILE and AMX-BF16): TDPBF16PS may run.
bool bf16_available();

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
bool model_mode();  // LARQL_AMX=model (read once)

}  // namespace larql::repack::amx

// AMX-BF16 GEMM for BF16 weights, equal bit for bit to halfdot's 16-lane order
// (lanes16: lane L sums k = 16 j + L by fma in increasing j, then the 16-lane
// tree), as long as no operand or partial sum is a float denormal (below
// 1.2e-38: TDPBF16PS reads them as zero and flushes such sums).
//
// Why it is exact: a product of two bf16 values is exact in float, so fma(w, x,
// acc) is acc + w * x rounded once, which is what TDPBF16PS does per element,
// in order. Each lane is therefore its own tile product over j: A = the
// activations of lane L (16 tokens x 32 consecutive j), B = the weights of lane
// L (16 rows x the same 32 j, as VNNI pairs), C = 16 tokens x 16 rows of that
// lane's sums, which run on through every 32-j chunk of K; zero padding past
// the last j adds +0 and changes nothing. The 16 lanes' C tiles are stored and
// reduced by the tree in AVX2. Per 32 rows x 32 tokens, four C tiles share
// two A and two B tiles. The weights of a row group are packed into lane order
// once per call (L2-resident) and reused by every token tile.
namespace larql::halfdot::amx {

constexpr int kMinTokens = 16;  // one A tile of tokens; fewer go to halfdot::gemm

// The activations in lane order: token t's rounded element k = 16 j + L (as
// bf16 bits) at lanes[(L * nt + t) * lane_stride(n) + j], j < n / 16, zero up
// to lane_stride(n) (n / 16 rounded up to 32). n % 16 == 0.
int64_t lane_stride(int64_t n);
size_t lanes_size(int64_t n, int nt);  // elements of the whole buffer
// Writes tokens [t0, t1) of the nt rows x (ldx apart; already rounded to bf16,
// halfdot::round_acts) into lanes. Needs model_runnable().
void to_lanes(const float* x, int64_t ldx, int64_t n, int nt, int t0, int t1, uint16_t* lanes);

// y[t * ldy + r] = lanes16 order (row r, token t) for r0 <= r < r1, t < nt:
// whole 16-row groups x 16-token tiles on the tiles, other rows and the
// nt % 16 tail tokens on halfdot::gemm (from x, the rounded floats).
// m.type must be BF16 and m.n % 16 == 0. gemm() runs the tile instructions
// (only when larql::amx::bf16_available()), gemm_model() the software model
// (model_runnable()), gemm_model_faulty() a model whose TDPBF16PS is off by one.
using GemmFn = void (*)(const Rows& m, int64_t r0, int64_t r1, const uint16_t* lanes, const float* x, int64_t ldx,
                        int nt, float* y, int64_t ldy);
void gemm(const Rows& m, int64_t r0, int64_t r1, const uint16_t* lanes, const float* x, int64_t ldx, int nt, float* y,
          int64_t ldy);
void gemm_model(const Rows& m, int64_t r0, int64_t r1, const uint16_t* lanes, const float* x, int64_t ldx, int nt,
                float* y, int64_t ldy);
void gemm_model_faulty(const Rows& m, int64_t r0, int64_t r1, const uint16_t* lanes, const float* x, int64_t ldx,
                       int nt, float* y, int64_t ldy);
bool model_runnable();  // AVX2 + FMA + F16C (the packing and the float steps), GCC build

// fn on random BF16 problems (3 row groups and 8 rows, K with padding, 51
// tokens) against gemm_scalar bit for bit; on a mismatch one line to stderr.
bool self_check(GemmFn fn, const char* name);
// Whether BF16 plain products of >= kMinTokens tokens go to kernel(): decided
// once per process, like repack::amx::usable() (LARQL_AMX=model: the model).
bool usable();
GemmFn kernel();

}  // namespace larql::halfdot::amx
