#include "kernels/repack.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <sys/mman.h>

#include "kernels/amx.h"
#include "tensor/quants_impl.h"  // block layouts
#include "util/error.h"
#include "util/thread_pool.h"

namespace larql::repack {

// repack_pack_avx512.cpp: pack()'s loop over row groups [g0, g1) with AVX-512;
// false where the build has none.
namespace avx512 {
bool pack_groups(const WeightView& w, const Packed& p, int64_t g0, int64_t g1);
}
// repack_pack_avx2.cpp: the same with AVX2.
namespace avx2 {
bool pack_groups(const WeightView& w, const Packed& p, int64_t g0, int64_t g1);
}

using namespace larql::quant;

namespace {

constexpr int R = kRows;

int block_elems(GGMLType t) { return (t == GGMLType::Q8_0 || t == GGMLType::Q4_0 || t == GGMLType::Q5_0) ? 32 : 256; }

// Per block of 16 rows: scales ("meta") and code vectors (see repack.h's layout).
size_t meta_bytes(GGMLType t) {
  switch (t) {
    case GGMLType::Q8_0: case GGMLType::Q4_0: case GGMLType::Q5_0: return 32;
    case GGMLType::Q4_K: case GGMLType::Q5_K: return 64 + 256;
    case GGMLType::Q6_K: return 32 + 256;
    default: return 0;
  }
}
size_t code_bytes(GGMLType t) {
  switch (t) {
    case GGMLType::Q8_0: return 8 * 64;
    case GGMLType::Q4_0: return 4 * 64;
    case GGMLType::Q5_0: return 4 * 64 + 64;  // Q4_0's nibble vectors, then bit 4 as 8 masks
    case GGMLType::Q4_K: return 8 * 4 * 64;
    case GGMLType::Q5_K: return 8 * 4 * 64 + 8 * 64;
    case GGMLType::Q6_K: return 16 * 2 * 64 + 16 * 64;
    default: return 0;
  }
}

// One block of one row as unsigned codes (the packed form), with K-quant scales/mins.
struct RowBlock {
  uint8_t q[256];
  int sc[16], mn[8];
  uint16_t d, dmin;
};

uint16_t u16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | (p[1] << 8)); }

void decode_src(GGMLType t, const uint8_t* blk, RowBlock& o) {
  switch (t) {
    case GGMLType::Q8_0:
      o.d = u16(blk);
      for (int j = 0; j < 32; ++j) o.q[j] = blk[2 + j] ^ 0x80;  // int8 + 128
      return;
    case GGMLType::Q4_0:
      o.d = u16(blk);
      for (int j = 0; j < 16; ++j) { o.q[j] = blk[2 + j] & 15; o.q[j + 16] = blk[2 + j] >> 4; }
      return;
    case GGMLType::Q5_0: {  // d, qh (32 fifth bits), qs: code = nibble | bit << 4 (value - 16)
      o.d = u16(blk);
      const uint32_t qh = static_cast<uint32_t>(blk[2] | (blk[3] << 8) | (blk[4] << 16)) | (static_cast<uint32_t>(blk[5]) << 24);
      for (int j = 0; j < 16; ++j) {
        o.q[j] = static_cast<uint8_t>((blk[6 + j] & 15) | (((qh >> j) & 1) << 4));
        o.q[j + 16] = static_cast<uint8_t>((blk[6 + j] >> 4) | (((qh >> (j + 16)) & 1) << 4));
      }
      return;
    }
    case GGMLType::Q4_K: case GGMLType::Q5_K: {
      const bool five = t == GGMLType::Q5_K;
      const uint8_t* scales = blk + 4;
      const uint8_t* qh = five ? blk + 16 : nullptr;
      const uint8_t* qs = five ? blk + 48 : blk + 16;
      o.d = u16(blk);
      o.dmin = u16(blk + 2);
      for (int c = 0; c < 4; ++c)
        for (int l = 0; l < 32; ++l) {
          int lo = qs[c * 32 + l] & 15, hi = qs[c * 32 + l] >> 4;
          if (qh) { lo |= ((qh[l] >> (2 * c)) & 1) << 4; hi |= ((qh[l] >> (2 * c + 1)) & 1) << 4; }
          o.q[c * 64 + l] = static_cast<uint8_t>(lo);
          o.q[c * 64 + 32 + l] = static_cast<uint8_t>(hi);
        }
      for (int j = 0; j < 8; ++j) unpack_scale_min_k4(scales, j, &o.sc[j], &o.mn[j]);
      return;
    }
    case GGMLType::Q6_K: {
      const auto& x = *reinterpret_cast<const BlockQ6_K*>(blk);
      for (int h = 0; h < 2; ++h) {
        const uint8_t* ql = x.ql + 64 * h;
        const uint8_t* qh = x.qh + 32 * h;
        uint8_t* q = o.q + 128 * h;
        for (int l = 0; l < 32; ++l) {
          q[l] = static_cast<uint8_t>((ql[l] & 15) | ((qh[l] & 3) << 4));
          q[l + 32] = static_cast<uint8_t>((ql[l + 32] & 15) | (((qh[l] >> 2) & 3) << 4));
          q[l + 64] = static_cast<uint8_t>((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4));
          q[l + 96] = static_cast<uint8_t>((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4));
        }
      }
      for (int g = 0; g < 16; ++g) o.sc[g] = x.scales[g];
      o.d = u16(x.d);
      return;
    }
    default: throw Error("repack: unsupported type");
  }
}

// The portable packer (CPUs without AVX-512, where enabled() is false anyway),
// kept straightforward: decode a block of each row, then interleave.
// Byte 4r+e of a vector holding k-group kg (4 elements from k0 + 4*kg) of every row.
void put_bytes(uint8_t* v, const RowBlock* rb, int k0, int kg) {
  for (int r = 0; r < R; ++r)
    for (int e = 0; e < 4; ++e) v[4 * r + e] = rb[r].q[k0 + 4 * kg + e];
}
// Nibble vector: k-group lo in the low nibbles, k-group hi in the high ones.
void put_nibbles(uint8_t* v, const RowBlock* rb, int k0, int lo, int hi) {
  for (int r = 0; r < R; ++r)
    for (int e = 0; e < 4; ++e)
      v[4 * r + e] = static_cast<uint8_t>((rb[r].q[k0 + 4 * lo + e] & 15) | ((rb[r].q[k0 + 4 * hi + e] & 15) << 4));
}
void put_half(uint8_t* p, uint16_t h) { p[0] = static_cast<uint8_t>(h); p[1] = static_cast<uint8_t>(h >> 8); }

void pack_block(GGMLType t, const RowBlock* rb, uint8_t* o, uint8_t* c) {
  switch (t) {
    case GGMLType::Q8_0:
      for (int r = 0; r < R; ++r) put_half(o + 2 * r, rb[r].d);
      for (int g = 0; g < 8; ++g) put_bytes(c + 64 * g, rb, 0, g);
      return;
    case GGMLType::Q4_0: case GGMLType::Q5_0:
      for (int r = 0; r < R; ++r) put_half(o + 2 * r, rb[r].d);
      for (int v = 0; v < 4; ++v) put_nibbles(c + 64 * v, rb, 0, v, v + 4);
      if (t == GGMLType::Q5_0)
        for (int v = 0; v < 8; ++v) {  // v = 2 * vector + (0 low, 1 high), as Q5_K's masks
          const int kg = v / 2 + 4 * (v % 2);
          uint64_t m = 0;
          for (int r = 0; r < R; ++r)
            for (int e = 0; e < 4; ++e) m |= static_cast<uint64_t>((rb[r].q[4 * kg + e] >> 4) & 1) << (4 * r + e);
          std::memcpy(c + 256 + v * 8, &m, 8);
        }
      return;
    case GGMLType::Q4_K: case GGMLType::Q5_K: {
      for (int r = 0; r < R; ++r) { put_half(o + 2 * r, rb[r].d); put_half(o + 32 + 2 * r, rb[r].dmin); }
      for (int j = 0; j < 8; ++j)
        for (int r = 0; r < R; ++r) {
          o[64 + 16 * j + r] = static_cast<uint8_t>(rb[r].sc[j]);
          o[192 + 16 * j + r] = static_cast<uint8_t>(rb[r].mn[j]);
        }
      uint8_t* codes = c;
      for (int j = 0; j < 8; ++j)
        for (int v = 0; v < 4; ++v) put_nibbles(codes + (4 * j + v) * 64, rb, 32 * j, v, v + 4);
      if (t == GGMLType::Q5_K) {
        uint8_t* masks = codes + 2048;
        for (int j = 0; j < 8; ++j)
          for (int v = 0; v < 8; ++v) {  // v = 2 * vector + (0 low, 1 high)
            const int kg = v / 2 + 4 * (v % 2);
            uint64_t m = 0;
            for (int r = 0; r < R; ++r)
              for (int e = 0; e < 4; ++e) m |= static_cast<uint64_t>((rb[r].q[32 * j + 4 * kg + e] >> 4) & 1) << (4 * r + e);
            std::memcpy(masks + (8 * j + v) * 8, &m, 8);
          }
      }
      return;
    }
    case GGMLType::Q6_K: {
      for (int r = 0; r < R; ++r) put_half(o + 2 * r, rb[r].d);
      for (int g = 0; g < 16; ++g)
        for (int r = 0; r < R; ++r) o[32 + 16 * g + r] = static_cast<uint8_t>(static_cast<int8_t>(rb[r].sc[g]));
      uint8_t* codes = c;
      uint8_t* high = codes + 2048;
      static const int kKg[4] = {0, 2, 1, 3};  // vector order lo0 hi0 lo1 hi1
      for (int g = 0; g < 16; ++g) {
        for (int v = 0; v < 2; ++v) put_nibbles(codes + (2 * g + v) * 64, rb, 16 * g, v, v + 2);
        uint8_t* hv = high + 64 * g;
        for (int r = 0; r < R; ++r)
          for (int e = 0; e < 4; ++e) {
            int b = 0;
            for (int c = 0; c < 4; ++c) b |= ((rb[r].q[16 * g + 4 * kKg[c] + e] >> 4) & 3) << (2 * c);
            hv[4 * r + e] = static_cast<uint8_t>(b);
          }
      }
      return;
    }
    default: throw Error("repack: unsupported type");
  }
}

// The scalar reference reads the packed layout back (so the tests check it too).
void unpack_block(GGMLType t, const uint8_t* o, const uint8_t* c, RowBlock* rb) {
  auto nib = [&](const uint8_t* v, int k0, int lo, int hi) {
    for (int r = 0; r < R; ++r)
      for (int e = 0; e < 4; ++e) {
        rb[r].q[k0 + 4 * lo + e] = v[4 * r + e] & 15;
        rb[r].q[k0 + 4 * hi + e] = v[4 * r + e] >> 4;
      }
  };
  for (int r = 0; r < R; ++r) rb[r].d = u16(o + 2 * r);
  switch (t) {
    case GGMLType::Q8_0:
      for (int g = 0; g < 8; ++g)
        for (int r = 0; r < R; ++r)
          for (int e = 0; e < 4; ++e) rb[r].q[4 * g + e] = c[64 * g + 4 * r + e];
      return;
    case GGMLType::Q4_0: case GGMLType::Q5_0:
      for (int v = 0; v < 4; ++v) nib(c + 64 * v, 0, v, v + 4);
      if (t == GGMLType::Q5_0)
        for (int v = 0; v < 8; ++v) {
          uint64_t m;
          std::memcpy(&m, c + 256 + v * 8, 8);
          const int kg = v / 2 + 4 * (v % 2);
          for (int r = 0; r < R; ++r)
            for (int e = 0; e < 4; ++e) rb[r].q[4 * kg + e] |= static_cast<uint8_t>(((m >> (4 * r + e)) & 1) << 4);
        }
      return;
    case GGMLType::Q4_K: case GGMLType::Q5_K:
      for (int r = 0; r < R; ++r) rb[r].dmin = u16(o + 32 + 2 * r);
      for (int j = 0; j < 8; ++j)
        for (int r = 0; r < R; ++r) { rb[r].sc[j] = o[64 + 16 * j + r]; rb[r].mn[j] = o[192 + 16 * j + r]; }
      for (int j = 0; j < 8; ++j)
        for (int v = 0; v < 4; ++v) nib(c + (4 * j + v) * 64, 32 * j, v, v + 4);
      if (t == GGMLType::Q5_K)
        for (int j = 0; j < 8; ++j)
          for (int v = 0; v < 8; ++v) {
            uint64_t m;
            std::memcpy(&m, c + 2048 + (8 * j + v) * 8, 8);
            const int kg = v / 2 + 4 * (v % 2);
            for (int r = 0; r < R; ++r)
              for (int e = 0; e < 4; ++e) rb[r].q[32 * j + 4 * kg + e] |= static_cast<uint8_t>(((m >> (4 * r + e)) & 1) << 4);
          }
      return;
    case GGMLType::Q6_K: {
      static const int kKg[4] = {0, 2, 1, 3};
      for (int g = 0; g < 16; ++g) {
        for (int r = 0; r < R; ++r) rb[r].sc[g] = static_cast<int8_t>(o[32 + 16 * g + r]);
        for (int v = 0; v < 2; ++v) nib(c + (2 * g + v) * 64, 16 * g, v, v + 2);
        const uint8_t* hv = c + 2048 + 64 * g;
        for (int r = 0; r < R; ++r)
          for (int e = 0; e < 4; ++e)
            for (int c = 0; c < 4; ++c) rb[r].q[16 * g + 4 * kKg[c] + e] |= static_cast<uint8_t>(((hv[4 * r + e] >> (2 * c)) & 3) << 4);
      }
      return;
    }
    default: return;
  }
}

void gemm_scalar(const Packed& p, const uint8_t* act, size_t as, const int32_t* aux, size_t xs, int nt, int64_t g0,
                 int64_t g1, float* y, int64_t ldy) {
  const GGMLType t = p.type;
  const int be = block_elems(t);
  const int64_t nb = p.n_in / be;
  const bool kq = be == 256;
  RowBlock rb[R];
  for (int64_t g = g0; g < g1; ++g)
    for (int k = 0; k < nt; ++k) {
      const uint8_t* a = act + as * static_cast<size_t>(k);
      const int32_t* x = aux + xs * static_cast<size_t>(k);
      float acc[R] = {};
      for (int64_t b = 0; b < nb; ++b) {
        const uint8_t* gp = p.data + static_cast<size_t>(g) * p.group_bytes;
        unpack_block(t, gp + p.blk.meta(b), gp + p.blk.codes(b), rb);
        const int8_t* qa = reinterpret_cast<const int8_t*>(a + b * (kq ? sizeof(BlockQ8_K) : sizeof(BlockQ8_0)) + (kq ? 4 : 2));
        float ad;
        if (kq) std::memcpy(&ad, a + b * sizeof(BlockQ8_K), 4);
        else ad = load_half(a + b * sizeof(BlockQ8_0));
        for (int r = 0; r < R; ++r) {
          const float dw = fp16_to_fp32(rb[r].d);
          if (!kq) {
            int s = x[b];
            for (int j = 0; j < 32; ++j) s += rb[r].q[j] * qa[j];
            acc[r] = std::fma(static_cast<float>(s), dw * ad, acc[r]);
          } else if (t == GGMLType::Q6_K) {
            int isum = 0;
            for (int sb = 0; sb < 16; ++sb) {
              int s = x[b * 16 + sb];
              for (int j = 0; j < 16; ++j) s += rb[r].q[16 * sb + j] * qa[16 * sb + j];
              isum += rb[r].sc[sb] * s;
            }
            acc[r] = std::fma(static_cast<float>(isum), ad * dw, acc[r]);
          } else {
            int isum = 0, msum = 0;
            for (int sb = 0; sb < 8; ++sb) {
              int s = 0;
              for (int j = 0; j < 32; ++j) s += rb[r].q[32 * sb + j] * qa[32 * sb + j];
              isum += rb[r].sc[sb] * s;
              msum += rb[r].mn[sb] * x[b * 8 + sb];
            }
            acc[r] = std::fma(static_cast<float>(isum), ad * dw, acc[r]);
            acc[r] = std::fma(static_cast<float>(msum), -(ad * fp16_to_fp32(rb[r].dmin)), acc[r]);
          }
        }
      }
      for (int r = 0; r < R; ++r) y[k * ldy + g * R + r] = acc[r];
    }
}

}  // namespace

Packed::~Packed() {
  if (owned) std::free(data);
}

bool packable(GGMLType t, int64_t n_in, int64_t n_out) {
  if (meta_bytes(t) == 0) return false;
  return n_out % R == 0 && n_in > 0 && n_in % block_elems(t) == 0;
}

bool enabled() {
  static const bool on = [] {
    const char* e = std::getenv("LARQL_REPACK");
    if (e && std::strcmp(e, "0") == 0) return false;
#if defined(__clang__)
    return false;  // the packed kernels are built by GCC only (target pragmas)
#else
    const qdot::Isa f = qdot::isa();
    // AVX-512 without VNNI (Skylake-SP) runs the 256-bit maddubs kernels: 2.4x
    // the row-major AVX-512 prefill (LARQL_QDOT_ISA=avx512 on a Zen 5, pp128).
    return f == qdot::Isa::Avx512Vnni || f == qdot::Isa::AvxVnni || f == qdot::Isa::Avx2 || f == qdot::Isa::Avx512;
#endif
  }();
  return on;
}

bool enabled(GGMLType t) {
  const qdot::Isa f = qdot::isa();
  return enabled() && ((f != qdot::Isa::Avx2 && f != qdot::Isa::Avx512) || avx2::handles(t));
}

namespace {
enum class Packer { Portable, Avx2, Avx512 };
std::unique_ptr<Packed> pack_with(const WeightView& w, ThreadPool* pool, Packer packer, uint8_t* dst);

// The layout fields of w's packed form (no data).
void layout(const WeightView& w, Packed& p) {
  if (!packable(w.type, w.n_in, w.n_out)) throw Error("repack: matrix type/shape cannot be packed");
  p.type = w.type;
  p.n_in = w.n_in;
  p.n_out = w.n_out;
  p.src = w.data;
  const int64_t nb = w.n_in / block_elems(w.type), ng = w.n_out / R;
  BlockLayout& L = p.blk;
  L.mb = meta_bytes(w.type);
  L.cb = code_bytes(w.type);
  L.pm = (2 * L.mb + 63) / 64 * 64;
  L.pb = L.pm + 2 * L.cb;
  p.group_bytes = static_cast<size_t>(nb / 2) * L.pb + (nb % 2 ? L.pm + L.cb : 0);
  p.bytes = p.group_bytes * static_cast<size_t>(ng);
}

// Transparent huge pages for the whole 2 MiB pages of a copy: decode streams
// these matrices, and with 4 KiB pages every page is a TLB miss (a two-level
// walk in a VM) that stalls the stream. A partial last 2 MiB stays in 4 KiB
// pages so no buffer pays up to 2 MiB of unused RSS.
uint8_t* alloc_packed(size_t bytes) {
  constexpr size_t kHuge = size_t{2} << 20;
  const size_t alloc = (bytes + 4095) / 4096 * 4096;
  // posix_memalign: aligned_alloc wants the size to be a multiple of the alignment.
  void* mem = nullptr;
  if (posix_memalign(&mem, alloc >= kHuge ? kHuge : 4096, alloc) != 0 || !mem) throw Error("repack: out of memory");
  auto* d = static_cast<uint8_t*>(mem);
#ifdef MADV_HUGEPAGE
  static const bool thp = [] {  // LARQL_HUGEPAGES=0 turns it off (A/B runs)
    const char* e = std::getenv("LARQL_HUGEPAGES");
    return !(e && std::strcmp(e, "0") == 0);
  }();
  if (thp && alloc >= kHuge) madvise(d, alloc / kHuge * kHuge, MADV_HUGEPAGE);
#endif
#ifdef MADV_POPULATE_WRITE
  madvise(d, alloc, MADV_POPULATE_WRITE);  // one call instead of a page fault per 4 KiB (costly in a VM)
#endif
  return d;
}

Packer packer_for(qdot::Isa f) {
  return f >= qdot::Isa::Avx512 ? Packer::Avx512 : f >= qdot::Isa::Avx2 ? Packer::Avx2 : Packer::Portable;
}

Packer best_packer() {  // LARQL_QDOT_ISA caps it with the kernels (avx2: the AVX2 packer, scalar: portable)
  static const Packer p = packer_for(qdot::isa());
  return p;
}
}  // namespace

std::unique_ptr<Packed> pack(const WeightView& w, ThreadPool* pool) { return pack_with(w, pool, best_packer(), nullptr); }

std::unique_ptr<Packed> pack_portable(const WeightView& w, ThreadPool* pool) {
  return pack_with(w, pool, Packer::Portable, nullptr);
}

std::unique_ptr<Packed> pack_using(const WeightView& w, qdot::Isa f, ThreadPool* pool) {
#if defined(__clang__)
  if (f != qdot::Isa::Scalar) return nullptr;  // the SIMD packers are built by GCC only
#endif
  if (!qdot::isa_available(f)) return nullptr;
  return pack_with(w, pool, packer_for(f), nullptr);
}

size_t packed_bytes(const WeightView& w) {
  Packed p;
  layout(w, p);
  return p.bytes;
}

std::unique_ptr<Packed> pack_into(const WeightView& w, uint8_t* dst, ThreadPool* pool) {
  return pack_with(w, pool, best_packer(), dst);
}

std::shared_ptr<uint8_t> alloc_arena(size_t bytes) {
  return std::shared_ptr<uint8_t>(alloc_packed(std::max<size_t>(bytes, 64)), [](uint8_t* b) { std::free(b); });
}

namespace {
std::unique_ptr<Packed> pack_with(const WeightView& w, ThreadPool* pool, Packer packer, uint8_t* dst) {
  auto p = std::make_unique<Packed>();
  layout(w, *p);
  const int64_t nb = w.n_in / block_elems(w.type), ng = w.n_out / R;
  p->owned = dst == nullptr;
  p->data = dst ? dst : alloc_packed(p->bytes);
  const uint64_t sbytes = ggml_type_traits(static_cast<uint32_t>(w.type))->type_size;
  auto work = [&](int64_t q0, int64_t q1, int) {
    if (packer == Packer::Avx512 && avx512::pack_groups(w, *p, q0, q1)) return;  // same bytes, ~10x faster
    if (packer == Packer::Avx2 && avx2::pack_groups(w, *p, q0, q1)) return;
    RowBlock rb[R];
    for (int64_t g = q0; g < q1; ++g)
      for (int64_t b = 0; b < nb; ++b) {
        for (int r = 0; r < R; ++r)
          decode_src(w.type, w.data + static_cast<uint64_t>(g * R + r) * w.row_bytes + static_cast<uint64_t>(b) * sbytes, rb[r]);
        uint8_t* gp = p->data + static_cast<size_t>(g) * p->group_bytes;
        pack_block(w.type, rb, gp + p->blk.meta(b), gp + p->blk.codes(b));
      }
  };
  if (pool) pool->parallel_for(ng, work);
  else work(0, ng, 0);
  return p;
}
}  // namespace

size_t aux_count(GGMLType t, int64_t n_in) {
  switch (t) {
    case GGMLType::Q8_0: case GGMLType::Q4_0: case GGMLType::Q5_0: return static_cast<size_t>(n_in / 32);
    case GGMLType::Q4_K: case GGMLType::Q5_K: return static_cast<size_t>(n_in / 256 * 8);
    case GGMLType::Q6_K: return static_cast<size_t>(n_in / 256 * 16);
    default: return 0;
  }
}

void act_aux(GGMLType t, const uint8_t* act, int64_t n_in, int32_t* aux) {
  if (t == GGMLType::Q8_0 || t == GGMLType::Q4_0 || t == GGMLType::Q5_0) {
    const int mul = t == GGMLType::Q8_0 ? -128 : t == GGMLType::Q5_0 ? -16 : -8;
    const auto* y = reinterpret_cast<const BlockQ8_0*>(act);
    for (int64_t b = 0; b < n_in / 32; ++b) {
      int s = 0;
      for (int j = 0; j < 32; ++j) s += y[b].qs[j];
      aux[b] = mul * s;
    }
    return;
  }
  const auto* y = reinterpret_cast<const BlockQ8_K*>(act);
  for (int64_t b = 0; b < n_in / 256; ++b) {
    int16_t bs[16];
    std::memcpy(bs, y[b].bsums, 32);
    if (t == GGMLType::Q6_K)
      for (int g = 0; g < 16; ++g) aux[b * 16 + g] = -32 * bs[g];
    else
      for (int j = 0; j < 8; ++j) aux[b * 8 + j] = bs[2 * j] + bs[2 * j + 1];
  }
}

void gemm(qdot::Isa f, const Packed& p, const uint8_t* act, size_t as, const int32_t* aux, size_t xs, int nt,
          int64_t g0, int64_t g1, float* y, int64_t ldy) {
  if (!qdot::isa_available(f)) f = qdot::Isa::Scalar;
#if defined(__clang__)
  if (f == qdot::Isa::Avx2 || f == qdot::Isa::Avx512) f = qdot::Isa::Scalar;  // the packed kernels are built by GCC only
#endif
  if (f == qdot::Isa::Avx512Vnni) {
    if (nt == 1 && avx512vnni::gemv_handles(p.type)) avx512vnni::gemv(p, act, aux, g0, g1, y);  // decode
    else if (nt >= amx::kMinTokens && amx::supported(p.type) && amx::usable())  // AMX-INT8 (amx.h)
      amx::kernel()(p, act, as, aux, xs, nt, g0, g1, y, ldy);
    else avx512vnni::gemm(p, act, as, aux, xs, nt, g0, g1, y, ldy);
  } else if (f == qdot::Isa::AvxVnni) {
    avxvnni::gemm(p, act, as, aux, xs, nt, g0, g1, y, ldy);
  } else if ((f == qdot::Isa::Avx2 || f == qdot::Isa::Avx512) && avx2::handles(p.type)) {
    avx2::gemm(p, act, as, aux, xs, nt, g0, g1, y, ldy);
  } else {
    gemm_scalar(p, act, as, aux, xs, nt, g0, g1, y, ldy);
  }
}

}  // namespace larql::repack
