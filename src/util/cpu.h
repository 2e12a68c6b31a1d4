// CPU features detected at run time; SIMD kernels are chosen from these, never
// from compile-time flags, so one binary runs on any x86-64.
#pragma once
#include <string>

namespace larql {

struct CpuFeatures {
  bool avx2 = false, fma = false, f16c = false;
  bool avx512f = false, avx512bw = false, avx512vl = false, avx512dq = false, avx512vnni = false;
  bool avx_vnni = false;
  bool amx_tile = false, amx_int8 = false, amx_bf16 = false;  // CPUID and XCR0 only; see amx::available()
  bool force_scalar = false;  // LARQL_FORCE_SCALAR=1
};

const CpuFeatures& cpu_features();
std::string cpu_features_string();

}  // namespace larql
