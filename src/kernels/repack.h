// Load-time repacking of quantized weight matrices into a row-interleaved
// layout, so the sequential (llama.cpp AMX) order of docs/numerics.md can be
// vectorised across outputs: one vpdpbusd produces 16 rows' partial integer
// sums in 16 lanes (no horizontal sums), and the per-block float fma is one
// vector fma for 16 outputs. Each lane performs exactly the scalar reference's
// operations (exact integer block sum, float conversion, the same products and
// fmas in block order), so results are bit-identical to qdot::seq_rows.
//
// Layout. A group of 16 rows is one sequential stream of block pairs: the pair's
// two scale records (padded to 64 bytes), then its two blocks' code vectors
// ("vector" = 64 bytes, byte 4r+e = element e of a 4-element k-group of row r);
// an odd last block is a pair without its second half. Decode reads each group
// front to back, and one stream is what the hardware prefetcher follows best
// (scales in a region of their own made a second, slow stream: 1.3-1.5x less
// bandwidth for the one-token kernels).
//         scales per block                  | codes per block            bytes/16 rows
//   Q8_0  d[16] fp16                        | 8 vectors of codes + 128 (u8)      544
//   Q4_0  d[16] fp16                        | 4 nibble vectors (low: k-group v,  288
//                                           |   high: k-group v + 4)
//   Q4_K  d[16], dmin[16] fp16, sc[8][16],  | per 32-element sub-block 4 nibble 2368
//         mn[8][16] u8                      |   vectors (k-groups v, v + 4)
//   Q5_K  as Q4_K                           | as Q4_K, then per sub-block 8 bit  2880
//                                           |   masks (bit 4; lo0 hi0 lo1 hi1 ..)
//   Q6_K  d[16] fp16, sc[16][16] i8         | per 16-element sub-block 2 nibble  3360
//                                           |   vectors (k-groups v, v + 2); then
//                                           |   per sub-block the codes' bits 4-5
//                                           |   (2 bits per vector: lo0 hi0 lo1 hi1)
// Codes are stored unsigned (Q8_0 + 128, Q6_K without its -32); the offsets
// come back as per-token integer corrections (act_aux), so sums stay exact.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "format/ggml_types.h"
#include "kernels/matmul.h"
#include "kernels/qdot.h"

namespace larql {
class ThreadPool;
}

namespace larql::repack {

constexpr int kRows = 16;  // rows interleaved per group (one zmm of int32 lanes)

// Where block b's scales and code vectors sit inside a group (layout above).
struct BlockLayout {
  size_t mb = 0, cb = 0;  // scale bytes and code bytes (a multiple of 64) per block
  size_t pm = 0, pb = 0;  // a pair's scale bytes (64-aligned) and whole size
  size_t meta(int64_t b) const { return static_cast<size_t>(b >> 1) * pb + static_cast<size_t>(b & 1) * mb; }
  size_t codes(int64_t b) const { return static_cast<size_t>(b >> 1) * pb + pm + static_cast<size_t>(b & 1) * cb; }
};

// Step k of `steps` equal steps through block b's share of its group's byte
// stream: the bytes [first, first + bytes). Each block owns half of its pair,
// scale records included, so the one-token kernels prefetch a fixed distance
// ahead of what they read at an even rate. Prefetching ahead of the codes alone
// skipped every pair's scale lines, which then missed on demand (llama-8b gate,
// Zen 3, both cores: 30 -> 35+ GB/s). The steps tile the group, except for an
// odd block count the last pm / 2 bytes (a trailing unpaired block is pm + cb,
// not half a pair; covering it too measured slower, 1-4 % on llama-8b decode).
// pm and cb are multiples of 64, so 1, 8 or 16 steps divide a share exactly.
struct ShareStep {
  size_t first, bytes;
};
inline ShareStep share_step(const BlockLayout& L, int64_t b, int k, int steps) {
  const size_t step = L.pb / (2 * static_cast<size_t>(steps));
  return {static_cast<size_t>(b >> 1) * L.pb + static_cast<size_t>(b & 1) * (L.pb / 2) + static_cast<size_t>(k) * step,
          step};
}
// The one-token kernels' prefetch: the lines of share_step's bytes, dist bytes
// ahead. An asm statement, because GCC deletes a loop whose body is only
// __builtin_prefetch (it has no side effects, and C++ loops are assumed to
// terminate).
inline void prefetch_share(const uint8_t* group, const BlockLayout& L, int64_t b, int k, int steps, size_t dist) {
  const ShareStep st = share_step(L, b, k, steps);
  const uint8_t* p = group + st.first + dist;
  for (size_t o = 0; o < st.bytes; o += 64) {
#if defined(__x86_64__) || defined(__i386__)
    __asm__ volatile("prefetcht0 %0" : : "m"(*(p + o)));
#else
    __builtin_prefetch(p + o, 0, 3);
#endif
  }
}

struct Packed {
  GGMLType type = GGMLType::F32;
  int64_t n_in = 0, n_out = 0;
  const uint8_t* src = nullptr;  // WeightView::data it was built from
  BlockLayout blk;
  size_t group_bytes = 0;        // one group of 16 rows
  size_t bytes = 0;
  uint8_t* data = nullptr;       // 64-byte aligned; owned unless pack_into() wrote it into caller memory
  bool owned = true;
  Packed() = default;
  Packed(const Packed&) = delete;
  Packed& operator=(const Packed&) = delete;
  ~Packed();
};

// Whether this matrix can be packed: Q8_0, Q4_0, Q4_K, Q5_K or Q6_K with
// n_out % 16 == 0 and whole blocks per row. matmul() uses a packed copy only for
// products in the sequential order (qdot::seq_order), so callers pack only those.
bool packable(GGMLType type, int64_t n_in, int64_t n_out);
// Whether packing pays on this CPU: a packed SIMD kernel exists for qdot::isa()
// (AVX-512 VNNI, AVX-VNNI or AVX2) and LARQL_REPACK is not "0".
bool enabled();
// enabled() and qdot::isa()'s family has a packed kernel for this type (plain
// AVX2: avx2::handles).
bool enabled(GGMLType type);
// Builds the packed copy of w (split over pool's threads when given). Throws
// larql::Error when !packable.
std::unique_ptr<Packed> pack(const WeightView& w, ThreadPool* pool = nullptr);
// pack() with the portable scalar packer whatever the CPU (the SIMD packers are
// tested against it byte for byte).
std::unique_ptr<Packed> pack_portable(const WeightView& w, ThreadPool* pool = nullptr);
// pack() with the packer of one family, for tests and A/B runs: Avx512 /
// Avx512Vnni the AVX-512 one (repack_pack_avx512.cpp), Avx2 / AvxVnni the AVX2
// one (repack_pack_avx2.cpp), Scalar the portable one; nullptr where the CPU
// (or a clang build) lacks it. pack() takes the best the CPU has.
std::unique_ptr<Packed> pack_using(const WeightView& w, qdot::Isa packer, ThreadPool* pool = nullptr);
// Packed size of w (what pack() allocates); throws when !packable.
size_t packed_bytes(const WeightView& w);
// An allocation for packed copies: 2 MiB aligned, populated, transparent huge
// pages over its whole 2 MiB pages (LARQL_HUGEPAGES=0: none).
std::shared_ptr<uint8_t> alloc_arena(size_t bytes);
// pack() into caller memory (64-byte aligned, packed_bytes(w) long, e.g. inside
// an alloc_arena buffer); the Packed does not own it and must not outlive it.
std::unique_ptr<Packed> pack_into(const WeightView& w, uint8_t* dst, ThreadPool* pool = nullptr);
// Whether p is the packed form of exactly this view (slices of a view are not).
inline bool matches(const Packed* p, const WeightView& w) {
  return p && p->src == w.data && p->type == w.type && p->n_in == w.n_in && p->n_out == w.n_out;
}

// Per-token integer corrections the packed kernels start their sums from:
// Q8_0 -128*sum(a) and Q4_0 -8*sum(a) per block; Q4_K/Q5_K the 8 per-32 sums of
// each block; Q6_K -32*bsum for its 16 sub-blocks.
size_t aux_count(GGMLType type, int64_t n_in);
// Q4_K / Q5_K: pair i of a block's 8 corrections (x = the block's first) as two
// int16 in one int32, low x[2i], high x[2i+1] (|x| <= 32 * 128 fits), the
// operand the kernels' vpdpwssd pairs with (mn_2i, mn_2i+1).
inline int32_t aux_pair(const int32_t* x, int i) {
  return static_cast<int32_t>((static_cast<uint32_t>(x[2 * i + 1]) << 16) | (static_cast<uint32_t>(x[2 * i]) & 0xFFFFu));
}
void act_aux(GGMLType type, const uint8_t* act, int64_t n_in, int32_t* aux);

// y[t * ldy + o] for outputs o in [16 * g0, 16 * g1) and tokens t < nt; act and aux
// hold nt tokens (quantized as qdot::quantize_act, aux by act_aux), act_stride and
// aux_stride apart. family: qdot::Isa::Avx512Vnni, AvxVnni, Avx2 (types
// avx2::handles) or Scalar (the reference; any other family or type uses it).
void gemm(qdot::Isa family, const Packed& p, const uint8_t* act, size_t act_stride, const int32_t* aux,
          size_t aux_stride, int nt, int64_t g0, int64_t g1, float* y, int64_t ldy);

}  // namespace larql::repack

// AVX-512 VNNI kernels (repack_avx512vnni.cpp); same contract as gemm().
namespace larql::repack::avx512vnni {
void gemm(const Packed& p, const uint8_t* act, size_t act_stride, const int32_t* aux, size_t aux_stride, int nt,
          int64_t g0, int64_t g1, float* y, int64_t ldy);
// One row group x up to 8 tokens per pass (every type; gemm() uses it where
// gemm_blocked does not apply).
void gemm_rowgroup(const Packed& p, const uint8_t* act, size_t act_stride, const int32_t* aux, size_t aux_stride,
                   int nt, int64_t g0, int64_t g1, float* y, int64_t ldy);
// Register-blocked prefill GEMM (repack_gemm_avx512vnni.cpp): 3 row groups x 4
// tokens per pass; for types where gemm_blocked_supported (Q8_0, Q4_0).
bool gemm_blocked_supported(GGMLType t);
void gemm_blocked(const Packed& p, const uint8_t* act, size_t act_stride, const int32_t* aux, size_t aux_stride,
                  int nt, int64_t g0, int64_t g1, float* y, int64_t ldy);
}
// One-token K-quant kernels (repack_gemv_avx512vnni.cpp): gemm() with nt = 1 for
// the types gemv_handles(); aux as act_aux, y[16 * g0 ...) as gemm's with ldy unused.
namespace larql::repack::avx512vnni {
bool gemv_handles(GGMLType type);
void gemv(const Packed& p, const uint8_t* act, const int32_t* aux, int64_t g0, int64_t g1, float* y);
}
// 256-bit kernels (repack_ymm_inl.h): half a row group (8 rows) per ymm, same
// contract as gemm(). AVX-VNNI (repack_avxvnni.cpp): every packed type. Plain
// AVX2 (repack_avx2.cpp): the types avx2::handles (vpmaddubsw + vpmaddwd).
namespace larql::repack::avxvnni {
void gemm(const Packed& p, const uint8_t* act, size_t act_stride, const int32_t* aux, size_t aux_stride, int nt,
          int64_t g0, int64_t g1, float* y, int64_t ldy);
}
namespace larql::repack::avx2 {
bool handles(GGMLType type);
void gemm(const Packed& p, const uint8_t* act, size_t act_stride, const int32_t* aux, size_t aux_stride, int nt,
          int64_t g0, int64_t g1, float* y, int64_t ldy);
}
