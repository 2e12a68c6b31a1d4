// The tile API the AMX-INT8 kernels are written against (amx_gemm.cpp), and a
// software model of it in plain C++. The kernel source is compiled twice: once
// over the hardware backend (tile instructions, amx_gemm.cpp) and once over
// TileModel, so the kernel's tile usage and everything around it (B-tile
// unpacking, corrections, float steps) can be verified on a CPU without AMX.
//
// The model follows the documented semantics (Intel SDM / ISA extensions
// reference, palette 1): 8 tiles of up to 16 rows x 64 bytes; loads write
// rows x colsb bytes and zero the rest of the tile; TDPB{SS,US}D compute
// C[m][n] += sum_k sum_{e<4} A[m][4k+e] * B[k][4n+e] (A bytes signed for SSD,
// unsigned for USD; B bytes signed) with int32 wrap-around, then zero the
// columns past C's colsb and the rows past C's rows. Configurations and shape
// combinations the hardware faults on (#UD / #GP) throw larql::Error here, so
// a kernel that passes under the model uses only legal tile shapes.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>
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
    check(c, "tdpb*d dst");
    check(a, "tdpb*d src1");
    check(b, "tdpb*d src2");
    if (c == a || c == b || a == b) throw Error("amx model: tdpb*d operands must be three distinct tiles");
    const int M = cfg_.rows[c], N = cfg_.colsb[c] / 4, K = cfg_.colsb[a] / 4;
    if (cfg_.colsb[c] % 4 || cfg_.colsb[a] % 4 || cfg_.rows[a] != M || cfg_.colsb[b] != cfg_.colsb[c] || cfg_.rows[b] != K)
      throw Error("amx model: tdpb*d shapes C " + shape(c) + ", A " + shape(a) + ", B " + shape(b) + " do not agree");
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

  // The compile-time-index form the kernels use (the hardware needs immediates).
  template <int T> void zero() { zero(T); }
  template <int T> void load(const void* base, size_t stride) { load(T, base, stride); }
  template <int T> void store(void* base, size_t stride) const { store(T, base, stride); }
  template <int C, int A, int B> void dpbssd() { dp(C, A, B, true); }
  template <int C, int A, int B> void dpbusd() { dp(C, A, B, false); }

  // Test hook: every TDPB*D then adds 1 to C[0][0] (a broken backend for the
  // run-time self-check's tests).
  void inject_fault(bool on) { fault_ = on; }
  // Raw tile bytes (tests).
  const uint8_t* row(int t, int m) const { return t_[t][m]; }

 private:
  void check(int t, const char* op) const {
    if (!configured_) throw Error(std::string("amx model: ") + op + " without a tile configuration");
    if (t < 0 || t >= kTiles || cfg_.rows[t] == 0) throw Error(std::string("amx model: ") + op + " on unconfigured tile " + std::to_string(t));
  }
  std::string shape(int t) const { return std::to_string(cfg_.rows[t]) + "x" + std::to_string(cfg_.colsb[t]); }

  TileConfig cfg_{};
  bool configured_ = false, fault_ = false;
  uint8_t t_[kTiles][kMaxRows][kMaxColsb] = {};
};

}  // namespace larql::amx
