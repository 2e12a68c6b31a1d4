#include "util/cpu.h"

#include <cstdlib>
#include <cstring>

namespace larql {

const CpuFeatures& cpu_features() {
  static const CpuFeatures f = [] {
    CpuFeatures c;
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    c.avx2 = __builtin_cpu_supports("avx2");
    c.fma = __builtin_cpu_supports("fma");
    c.avx512f = __builtin_cpu_supports("avx512f");
    c.avx512bw = __builtin_cpu_supports("avx512bw");
    c.avx512vl = __builtin_cpu_supports("avx512vl");
    c.avx512vnni = __builtin_cpu_supports("avx512vnni");
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
  add(c.avx512vnni, "avx512vnni");
  if (c.force_scalar) s += " (scalar forced)";
  return s.empty() ? "baseline" : s;
}

}  // namespace larql
