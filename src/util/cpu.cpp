#include "util/cpu.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

#include <cstdint>
#include <cstdlib>
#include <cstring>

namespace larql {

const CpuFeatures& cpu_features() {
  static const CpuFeatures f = [] {
    CpuFeatures c;
#if defined(__x86_64__) || defined(__i386__)
    // cpuid directly (not __builtin_cpu_supports, whose feature names differ
    // between GCC and clang), and xgetbv so a feature counts only when the OS
    // saves its registers.
    unsigned a = 0, b = 0, cx = 0, d = 0;
    const unsigned max_leaf = __get_cpuid_max(0, nullptr);
    if (max_leaf >= 1 && __get_cpuid(1, &a, &b, &cx, &d)) {
      const bool osxsave = cx & (1u << 27), avx = cx & (1u << 28);
      uint64_t xcr0 = 0;
      if (osxsave) {
        uint32_t lo, hi;
        __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
        xcr0 = (static_cast<uint64_t>(hi) << 32) | lo;
      }
      const bool ymm_os = avx && (xcr0 & 0x6) == 0x6;
      const bool zmm_os = ymm_os && (xcr0 & 0xe0) == 0xe0;
      c.fma = ymm_os && (cx & (1u << 12));
      c.f16c = ymm_os && (cx & (1u << 29));
      if (max_leaf >= 7) {
        __cpuid_count(7, 0, a, b, cx, d);
        c.avx2 = ymm_os && (b & (1u << 5));
        c.avx512f = zmm_os && (b & (1u << 16));
        c.avx512dq = zmm_os && (b & (1u << 17));
        c.avx512bw = zmm_os && (b & (1u << 30));
        c.avx512vl = zmm_os && (b & (1u << 31));
        c.avx512vnni = zmm_os && (cx & (1u << 11));
        // AMX: CPUID.7.0:EDX bits 24 (tile), 25 (int8), 22 (bf16); XCR0 bits 17-18
        // (XTILECFG, XTILEDATA). Linux still wants a per-process permission request.
        const bool tile_os = (xcr0 & (3ull << 17)) == (3ull << 17);
        c.amx_tile = tile_os && (d & (1u << 24));
        c.amx_int8 = c.amx_tile && (d & (1u << 25));
        c.amx_bf16 = c.amx_tile && (d & (1u << 22));
        __cpuid_count(7, 1, a, b, cx, d);
        c.avx_vnni = ymm_os && (a & (1u << 4));
      }
    }
#endif
    const char* e = std::getenv("LARQL_FORCE_SCALAR");
    c.force_scalar = e && *e && std::strcmp(e, "0") != 0;
    return c;
  }();
  return f;
}

std::string cpu_features_string() {
  const CpuFeatures& c = cpu_features();
  std::string s;
  auto add = [&](bool on, const char* n) { if (on) s += (s.empty() ? "" : " ") + std::string(n); };
  add(c.avx2, "avx2");
  add(c.fma, "fma");
  add(c.avx512f, "avx512f");
  add(c.avx512bw, "avx512bw");
  add(c.avx512vl, "avx512vl");
  add(c.avx512dq, "avx512dq");
  add(c.avx512vnni, "avx512vnni");
  add(c.avx_vnni, "avxvnni");
  add(c.amx_tile, "amx_tile");
  add(c.amx_int8, "amx_int8");
  add(c.amx_bf16, "amx_bf16");
  if (c.force_scalar) s += " (scalar forced)";
  return s.empty() ? "baseline" : s;
}

}  // namespace larql
