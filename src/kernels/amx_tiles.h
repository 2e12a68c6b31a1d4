// The tile API the AMX kernels are written against (amx_gemm.cpp: INT8,
// amx_bf16.cpp: BF16): TileHw, the instructions themselves, and TileModel, a
// software model of them in plain C++. Each kernel source is compiled twice,
// once over each, so the kernel's tile usage and everything around it (B-tile
// packing, corrections, float steps) can be verified on a CPU without AMX.
//
// The model follows the documented semantics (Intel SDM / ISA extensions
// reference, palette 1): 8 tiles of up to 16 rows x 64 bytes; loads write
// rows x colsb bytes and zero the rest of the tile; TDPB{SS,US}D compute
// C[m][n] += sum_k sum_{e<4} A[m][4k+e] * B[k][4n+e] (A bytes signed for SSD,
// unsigned for USD; B bytes signed) with int32 wrap-around; TDPBF16PS
// accumulates into each float C[m][n], for k in order and e = 0 then 1, the
// product A[m][2k+e] * B[k][2n+e] of two bf16 values (exact in float), each
// addition rounded to nearest even, bf16 and accumulator denormals read as zero
// and denormal sums flushed to zero. Both then zero the columns past C's colsb
// and the rows past C's rows. Configurations and shape combinations the
// hardware faults on (#UD / #GP) throw larql::Error here, so a kernel that
// passes under the model uses only legal tile shapes.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>

#include "util/error.h"

namespace larql::amx {

constexpr int kTiles = 8, kMaxRows = 16, kMaxColsb = 64;

// The 64-byte operand of LDTILECFG (palette 1).
struct alignas(64) TileConfig {
  uint8_t palette = 1, start_row = 0;
  uint8_t reserved[14] = {};
  uint16_t colsb[16] = {};  // bytes per row of tile i (i < 8)
  uint8_t rows[16] = {};
};
static_assert(sizeof(TileConfig) == 64, "LDTILECFG operand is 64 bytes");

class TileModel {
 public:
  void config(const TileConfig& c) {
    if (c.palette != 1) throw Error("amx model: palette " + std::to_string(c.palette) + " (only 1 is modelled)");
    if (c.start_row != 0) throw Error("amx model: start_row " + std::to_string(c.start_row) + " (restarts are not modelled)");
    for (int i = 0; i < 14; ++i)
      if (c.reserved[i]) throw Error("amx model: reserved config byte " + std::to_string(2 + i) + " set");
    for (int i = 0; i < 16; ++i) {
      const bool used = i < kTiles;
      if (c.rows[i] > (used ? kMaxRows : 0) || c.colsb[i] > (used ? kMaxColsb : 0) || ((c.rows[i] == 0) != (c.colsb[i] == 0)))
        throw Error("amx model: tile " + std::to_string(i) + " configured " + std::to_string(c.rows[i]) + " x " +
                    std::to_string(c.colsb[i]) + " bytes");
    }
    cfg_ = c;
    configured_ = true;
    std::memset(t_, 0, sizeof t_);  // LDTILECFG zeroes the tile data
  }
  void release() {
    configured_ = false;
    cfg_ = TileConfig{};
    std::memset(t_, 0, sizeof t_);
  }

  void zero(int t) {
    check(t, "tilezero");
    std::memset(t_[t], 0, sizeof t_[t]);
  }
  void load(int t, const void* base, size_t stride) {
    check(t, "tileloadd");
    std::memset(t_[t], 0, sizeof t_[t]);
    for (int m = 0; m < cfg_.rows[t]; ++m) std::memcpy(t_[t][m], static_cast<const uint8_t*>(base) + m * stride, cfg_.colsb[t]);
  }
  void store(int t, void* base, size_t stride) const {
    check(t, "tilestored");
    for (int m = 0; m < cfg_.rows[t]; ++m) std::memcpy(static_cast<uint8_t*>(base) + m * stride, t_[t][m], cfg_.colsb[t]);
  }
  // C += A x B, A's bytes signed (a_signed) or unsigned, B's signed.
  void dp(int c, int a, int b, bool a_signed) {
    const int M = dp_shape(c, a, b, "tdpb*d"), N = cfg_.colsb[c] / 4, K = cfg_.colsb[a] / 4;
    uint8_t out[kMaxRows][kMaxColsb] = {};
    for (int m = 0; m < M; ++m)
      for (int n = 0; n < N; ++n) {
        uint32_t acc;
        std::memcpy(&acc, &t_[c][m][4 * n], 4);
        for (int k = 0; k < K; ++k)
          for (int e = 0; e < 4; ++e) {
            const uint8_t x = t_[a][m][4 * k + e];
            const int32_t av = a_signed ? static_cast<int8_t>(x) : x;
            acc += static_cast<uint32_t>(av * static_cast<int8_t>(t_[b][k][4 * n + e]));  // wraps mod 2^32
          }
        if (fault_ && m == 0 && n == 0) acc += 1;
        std::memcpy(&out[m][4 * n], &acc, 4);
      }
    std::memcpy(t_[c], out, sizeof out);
  }
  // C += A x B over bf16 pairs into float (TDPBF16PS).
  void dp_bf16(int c, int a, int b) {
    const int M = dp_shape(c, a, b, "tdpbf16ps"), N = cfg_.colsb[c] / 4, K = cfg_.colsb[a] / 4;
    uint8_t out[kMaxRows][kMaxColsb] = {};
    for (int m = 0; m < M; ++m)
      for (int n = 0; n < N; ++n) {
        float acc = daz(f32_at(&t_[c][m][4 * n]));
        for (int k = 0; k < K; ++k)
          for (int e = 0; e < 2; ++e) {
            const float p = daz(bf16_at(&t_[a][m][4 * k + 2 * e])) * daz(bf16_at(&t_[b][k][4 * n + 2 * e]));
            acc = daz(acc + p);  // flush-to-zero of the rounded sum
          }
        if (fault_ && m == 0 && n == 0) acc += 1.f;
        std::memcpy(&out[m][4 * n], &acc, 4);
      }
    std::memcpy(t_[c], out, sizeof out);
  }

  // The compile-time-index form the kernels use (the hardware needs immediates).
  template <int T> void zero() { zero(T); }
  template <int T> void load(const void* base, size_t stride) { load(T, base, stride); }
  template <int T> void store(void* base, size_t stride) const { store(T, base, stride); }
  template <int C, int A, int B> void dpbssd() { dp(C, A, B, true); }
  template <int C, int A, int B> void dpbusd() { dp(C, A, B, false); }
  template <int C, int A, int B> void dpbf16ps() { dp_bf16(C, A, B); }

  // Test hook: every TDPB*D / TDPBF16PS then adds 1 to C[0][0] (a broken
  // backend for the run-time self-checks' tests).
  void inject_fault(bool on) { fault_ = on; }
  // Raw tile bytes (tests).
  const uint8_t* row(int t, int m) const { return t_[t][m]; }

 private:
  void check(int t, const char* op) const {
    if (!configured_) throw Error(std::string("amx model: ") + op + " without a tile configuration");
    if (t < 0 || t >= kTiles || cfg_.rows[t] == 0) throw Error(std::string("amx model: ") + op + " on unconfigured tile " + std::to_string(t));
  }
  std::string shape(int t) const { return std::to_string(cfg_.rows[t]) + "x" + std::to_string(cfg_.colsb[t]); }
  // Checks a product's operands (C = rows x colsb, A = rows x 4K, B = K x colsb); returns C's rows.
  int dp_shape(int c, int a, int b, const char* op) const {
    check(c, op);
    check(a, op);
    check(b, op);
    if (c == a || c == b || a == b) throw Error(std::string("amx model: ") + op + " operands must be three distinct tiles");
    const int M = cfg_.rows[c], K = cfg_.colsb[a] / 4;
    if (cfg_.colsb[c] % 4 || cfg_.colsb[a] % 4 || cfg_.rows[a] != M || cfg_.colsb[b] != cfg_.colsb[c] || cfg_.rows[b] != K)
      throw Error(std::string("amx model: ") + op + " shapes C " + shape(c) + ", A " + shape(a) + ", B " + shape(b) +
                  " do not agree");
    return M;
  }
  static float f32_at(const uint8_t* p) {
    float f;
    std::memcpy(&f, p, 4);
    return f;
  }
  static float bf16_at(const uint8_t* p) {
    uint16_t h;
    std::memcpy(&h, p, 2);
    const uint32_t u = uint32_t{h} << 16;
    float f;
    std::memcpy(&f, &u, 4);
    return f;
  }
  static float daz(float f) { return std::fabs(f) < std::numeric_limits<float>::min() ? std::copysign(0.f, f) : f; }

  TileConfig cfg_{};
  bool configured_ = false, fault_ = false;
  uint8_t t_[kTiles][kMaxRows][kMaxColsb] = {};
};

#if defined(__x86_64__)
// The tile hardware (only where larql::amx::available() / bf16_available()).
// Own inline asm rather than GCC's _tile_* macros: those take the tile number by
// stringizing (no template arguments) and tell the compiler neither that
// tileloadd reads memory nor that ldtilecfg reads all 64 bytes, so data stored
// just before could be reordered past the load.
struct TileHw {
  void config(const TileConfig& c) { asm volatile("ldtilecfg %0" ::"m"(c) : "memory"); }
  void release() { asm volatile("tilerelease" ::: "memory"); }
  template <int T> void zero() { asm volatile("tilezero %%tmm%c0" ::"i"(T)); }
  template <int T> void load(const void* base, size_t stride) {
    asm volatile("tileloadd (%0,%1,1), %%tmm%c2" ::"r"(base), "r"(stride), "i"(T) : "memory");
  }
  template <int T> void store(void* base, size_t stride) {
    asm volatile("tilestored %%tmm%c2, (%0,%1,1)" ::"r"(base), "r"(stride), "i"(T) : "memory");
  }
  template <int C, int A, int B> void dpbssd() { asm volatile("tdpbssd %%tmm%c2, %%tmm%c1, %%tmm%c0" ::"i"(C), "i"(A), "i"(B)); }
  template <int C, int A, int B> void dpbf16ps() { asm volatile("tdpbf16ps %%tmm%c2, %%tmm%c1, %%tmm%c0" ::"i"(C), "i"(A), "i"(B)); }
};
#endif

}  // namespace larql::amx
