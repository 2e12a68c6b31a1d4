// The software model of the AMX tile instructions (kernels/amx_tiles.h) against
// a naive int64 matrix product reduced mod 2^32, written from the documented
// definition: C[m][n] += sum_k A[m][k] * B[k / 4][4 n + k % 4] over K = A.colsb
// bytes, A signed (TDPBSSD) or unsigned (TDPBUSD), B signed. Also the parts a
// kernel relies on: strided loads and stores, zeroing past the configured
// rows/bytes, int32 wrap-around, and faults on illegal shapes.
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <vector>

#include "kernels/amx_tiles.h"
#include "util/error.h"

using namespace larql;
using amx::TileConfig;
using amx::TileModel;

namespace {

TileConfig cfg_mnk(int M, int N, int K) {  // C 0 = A 1 x B 2: M x N int32, K bytes per A row
  TileConfig c;
  c.rows[0] = uint8_t(M), c.colsb[0] = uint16_t(4 * N);
  c.rows[1] = uint8_t(M), c.colsb[1] = uint16_t(K);
  c.rows[2] = uint8_t(K / 4), c.colsb[2] = uint16_t(4 * N);
  return c;
}

void product(int M, int N, int K, bool a_signed, uint32_t seed, bool big_c) {
  std::mt19937 g(seed);
  // Memory operands with strides larger than a row, and junk past each row.
  const size_t sa = 80, sb = 96, sc = 72;
  std::vector<uint8_t> A(16 * sa), B(16 * sb), C(16 * sc);
  for (auto& v : A) v = uint8_t(g());
  for (auto& v : B) v = uint8_t(g());
  for (int m = 0; m < M; ++m)
    for (int n = 0; n < N; ++n) {
      // Near INT32_MAX / INT32_MIN so the sums wrap.
      const uint32_t v = big_c ? ((g() & 1) ? 0x7FFFFF00u + (g() & 0xFF) : 0x80000000u + (g() & 0xFF)) : uint32_t(g());
      std::memcpy(&C[m * sc + 4 * n], &v, 4);
    }
  TileModel t;
  t.config(cfg_mnk(M, N, K));
  t.load<0>(C.data(), sc);
  t.load<1>(A.data(), sa);
  t.load<2>(B.data(), sb);
  if (a_signed) t.dpbssd<0, 1, 2>();
  else t.dpbusd<0, 1, 2>();
  std::vector<uint8_t> out(16 * sc, 0xCD);
  t.store<0>(out.data(), sc);
  for (int m = 0; m < 16; ++m)
    for (int n = 0; n < 16; ++n) {
      if (m >= M || n >= N) {  // outside the tile: the store leaves memory alone, the tile holds zeros
        if (4 * n + 3 < int(sc)) {
          EXPECT_EQ(out[m * sc + 4 * n], 0xCD);
        }
        for (int e = 0; e < 4; ++e) EXPECT_EQ(t.row(0, m)[4 * n + e], 0) << "m " << m << " n " << n;
        continue;
      }
      int64_t ref;
      {
        uint32_t c0;
        std::memcpy(&c0, &C[m * sc + 4 * n], 4);
        ref = int32_t(c0);
      }
      for (int k = 0; k < K; ++k) {
        const int64_t a = a_signed ? int64_t(int8_t(A[m * sa + k])) : int64_t(A[m * sa + k]);
        ref += a * int8_t(B[(k / 4) * sb + 4 * n + k % 4]);
      }
      uint32_t got;
      std::memcpy(&got, &out[m * sc + 4 * n], 4);
      ASSERT_EQ(got, uint32_t(uint64_t(ref))) << "M " << M << " N " << N << " K " << K << " signed " << a_signed
                                               << " at [" << m << "][" << n << "]";
    }
}

}  // namespace

TEST(RepackAmxModel, MatchesNaiveProduct) {
  uint32_t seed = 1;
  for (int M : {1, 5, 16})
    for (int N : {1, 7, 16})
      for (int K : {4, 16, 32, 64})
        for (bool s : {true, false}) {
          product(M, N, K, s, seed++, false);
          if (HasFatalFailure()) return;
        }
}

TEST(RepackAmxModel, WrapsMod2To32) {
  uint32_t seed = 100;
  for (bool s : {true, false}) {
    product(16, 16, 64, s, seed++, true);
    product(3, 16, 32, s, seed++, true);
  }
}

// Hand-computed: all A bytes 0xFF are -1 for TDPBSSD, 255 for TDPBUSD; B bytes 2.
TEST(RepackAmxModel, SignednessOfA) {
  std::vector<uint8_t> A(64, 0xFF), B(16 * 64, 2), out(64);
  for (bool s : {true, false}) {
    TileModel t;
    t.config(cfg_mnk(1, 16, 64));
    t.zero<0>();
    t.load<1>(A.data(), 64);
    t.load<2>(B.data(), 64);
    if (s) t.dpbssd<0, 1, 2>();
    else t.dpbusd<0, 1, 2>();
    t.store<0>(out.data(), 64);
    int32_t v;
    std::memcpy(&v, out.data() + 60, 4);
    EXPECT_EQ(v, s ? -128 : 64 * 255 * 2);
  }
}

TEST(RepackAmxModel, LoadZeroesPastConfiguredShape) {
  std::vector<uint8_t> src(16 * 64, 0xAB);
  TileConfig c;
  c.rows[3] = 16, c.colsb[3] = 64;
  TileModel t;
  t.config(c);
  t.load<3>(src.data(), 64);
  c.rows[3] = 5, c.colsb[3] = 12;
  t.config(c);  // reconfiguring zeroes every tile
  EXPECT_EQ(t.row(3, 0)[0], 0);
  t.load<3>(src.data(), 64);
  EXPECT_EQ(t.row(3, 4)[11], 0xAB);
  EXPECT_EQ(t.row(3, 4)[12], 0);
  EXPECT_EQ(t.row(3, 5)[0], 0);
}

TEST(RepackAmxModel, FaultsLikeTheHardware) {
  std::vector<uint8_t> buf(16 * 64);
  TileModel t;
  EXPECT_THROW(t.zero<0>(), Error);  // no configuration yet
  TileConfig bad;
  bad.rows[0] = 17, bad.colsb[0] = 64;
  EXPECT_THROW(t.config(bad), Error);
  bad = TileConfig{};
  bad.rows[1] = 4, bad.colsb[1] = 68;
  EXPECT_THROW(t.config(bad), Error);
  bad = TileConfig{};
  bad.palette = 2;
  EXPECT_THROW(t.config(bad), Error);
  bad = TileConfig{};
  bad.rows[8] = 1, bad.colsb[8] = 4;  // palette 1 has 8 tiles
  EXPECT_THROW(t.config(bad), Error);

  t.config(cfg_mnk(16, 16, 32));
  EXPECT_THROW(t.load<5>(buf.data(), 64), Error);  // tile 5 not configured
  EXPECT_NO_THROW((t.dpbssd<0, 1, 2>()));
  EXPECT_THROW((t.dpbssd<0, 0, 2>()), Error);  // operands must be distinct
  TileConfig c = cfg_mnk(16, 16, 32);
  c.rows[2] = 4;  // K / 4 must equal B's rows
  t.config(c);
  EXPECT_THROW((t.dpbssd<0, 1, 2>()), Error);
  c = cfg_mnk(16, 16, 32);
  c.rows[1] = 8;  // A's rows must equal C's
  t.config(c);
  EXPECT_THROW((t.dpbusd<0, 1, 2>()), Error);
  c = cfg_mnk(16, 16, 32);
  c.colsb[2] = 32;  // B's row bytes must equal C's
  t.config(c);
  EXPECT_THROW((t.dpbssd<0, 1, 2>()), Error);
  t.release();
  EXPECT_THROW(t.store<0>(buf.data(), 64), Error);
}
