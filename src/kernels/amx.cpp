// AMX detection, the Linux permission request, and the run-time self-checks
// that guard the hardware paths (amx.h).
#include "kernels/amx.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <vector>

#if defined(__linux__) && defined(__x86_64__)
#include <sys/syscall.h>
#include <unistd.h>
#endif

#include "kernels/halfdot.h"
#include "kernels/qdot.h"
#include "kernels/repack.h"
#include "tensor/quants.h"
#include "util/cpu.h"
#include "util/half.h"

namespace larql::amx {

bool cpu_supported() {
  const CpuFeatures& c = cpu_features();
  return c.amx_tile && c.amx_int8;
}

namespace {
// Linux (5.16+) keeps the 8 KiB tile state out of a process's signal frames and
// context until it asks: without this the first tile instruction faults.
bool request_tile_permission() {
#if defined(__linux__) && defined(__x86_64__) && defined(SYS_arch_prctl)
  constexpr long kArchReqXcompPerm = 0x1023, kXfeatureXtiledata = 18;
  return syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtiledata) == 0;
#else
  return false;
#endif
}

// LARQL_AMX=0 / model, LARQL_FORCE_SCALAR, or no granted tile state: no tile instructions at all.
bool tiles_allowed() {
  static const bool on = [] {
    const char* e = std::getenv("LARQL_AMX");
    if (e && (std::strcmp(e, "0") == 0 || std::strcmp(e, "model") == 0)) return false;
    const CpuFeatures& c = cpu_features();
    if (c.force_scalar || !c.amx_tile) return false;
    return request_tile_permission();
  }();
  return on;
}

}  // namespace

bool available() {
  // The AMX kernels and the float step around them are built by GCC only (target
  // pragmas), and they need AVX-512 VNNI for the tail tokens and the float step.
  static const bool on = cpu_supported() && repack::amx::model_runnable() && tiles_allowed();
  return on;
}

bool bf16_available() {
  static const bool on = cpu_features().amx_bf16 && halfdot::amx::model_runnable() && tiles_allowed();
  return on;
}

}  // namespace larql::amx

namespace larql::repack::amx {

bool model_runnable() { return qdot::isa_available(qdot::Isa::Avx512Vnni); }

bool self_check(GemmFn fn, const char* name) {
  const GGMLType types[] = {GGMLType::Q8_0, GGMLType::Q4_0, GGMLType::Q5_0, GGMLType::Q4_K, GGMLType::Q5_K, GGMLType::Q6_K};
  const int64_t n_in = 512, n_out = 32;  // 2 row groups; 2 K-quant blocks, 16 legacy ones
  const int nt = 35;                     // 2 token tiles and a 3-token tail
  std::mt19937 g(20261127);
  std::normal_distribution<float> d(0.f, 1.f);
  std::vector<float> x(n_in);
  for (GGMLType t : types) {
    const uint64_t rb = ggml_row_size(t, uint64_t(n_in));
    std::vector<uint8_t> w(rb * n_out);
    for (int64_t r = 0; r < n_out; ++r) {
      for (auto& v : x) v = d(g);
      quantize_row(t, x.data(), w.data() + rb * uint64_t(r), n_in);
    }
    const auto p = pack_portable(WeightView{t, w.data(), n_in, n_out, rb});
    const size_t ab = qdot::act_bytes(t, n_in), xn = aux_count(t, n_in);
    std::vector<uint8_t> a(ab * nt);
    std::vector<int32_t> aux(xn * nt);
    for (int k = 0; k < nt; ++k) {
      for (auto& v : x) v = 3.f * d(g);
      qdot::quantize_act(t, x.data(), n_in, a.data() + ab * k);
      act_aux(t, a.data() + ab * k, n_in, aux.data() + xn * k);
    }
    std::vector<float> ref(size_t(n_out) * nt), got(ref.size(), 0.f);
    repack::gemm(qdot::Isa::Scalar, *p, a.data(), ab, aux.data(), xn, nt, 0, n_out / kRows, ref.data(), n_out);
    fn(*p, a.data(), ab, aux.data(), xn, nt, 0, n_out / kRows, got.data(), n_out);
    if (std::memcmp(ref.data(), got.data(), ref.size() * sizeof(float)) != 0) {
      std::fprintf(stderr, "larql: AMX self-check failed (%s, %s differs from the reference); AMX disabled\n", name,
                   ggml_type_name(uint32_t(t)).c_str());
      return false;
    }
  }
  return true;
}

bool model_mode() {
  static const bool on = [] {
    const char* e = std::getenv("LARQL_AMX");
    return e && std::strcmp(e, "model") == 0;
  }();
  return on;
}

bool usable() {
  static const bool ok = model_mode() ? model_runnable() && self_check(gemm_model, "software model")
                                      : larql::amx::available() && self_check(gemm, "tile hardware");
  return ok;
}

GemmFn kernel() { return model_mode() ? gemm_model : gemm; }

}  // namespace larql::repack::amx

namespace larql::halfdot::amx {

bool model_runnable() {
#if defined(__clang__) || !defined(__x86_64__)
  return false;
#else
  const CpuFeatures& c = cpu_features();
  return !c.force_scalar && c.avx2 && c.fma && c.f16c;
#endif
}

bool self_check(GemmFn fn, const char* name) {
  const int64_t n = 1040, rows = 56;  // 65 j per lane (3 chunks, the last padded); 3 row groups + 8 rows
  const int nt = 51;                  // 3 token tiles and a 3-token tail
  std::mt19937 g(20261128);
  std::normal_distribution<float> d(0.f, 1.f);
  std::vector<uint16_t> w(static_cast<size_t>(n * rows));
  for (auto& v : w) v = fp32_to_bf16(d(g));
  std::vector<float> raw(static_cast<size_t>(n) * nt), x(raw.size());
  for (auto& v : raw) v = 2.f * d(g);
  round_acts(GGMLType::BF16, raw.data(), static_cast<int64_t>(raw.size()), x.data());
  std::vector<uint16_t> lanes(lanes_size(n, nt));
  to_lanes(x.data(), n, n, nt, 0, nt, lanes.data());
  const Rows m{GGMLType::BF16, reinterpret_cast<const uint8_t*>(w.data()), static_cast<size_t>(2 * n), n};
  std::vector<float> ref(static_cast<size_t>(rows) * nt), got(ref.size(), 0.f);
  gemm_scalar(m, true, 0, rows, x.data(), n, nt, ref.data(), rows);
  fn(m, 0, rows, lanes.data(), x.data(), n, nt, got.data(), rows);
  if (std::memcmp(ref.data(), got.data(), ref.size() * sizeof(float)) != 0) {
    std::fprintf(stderr, "larql: AMX-BF16 self-check failed (%s differs from the reference); AMX-BF16 disabled\n", name);
    return false;
  }
  return true;
}

bool usable() {
  static const bool ok = repack::amx::model_mode() ? model_runnable() && self_check(gemm_model, "software model")
                                                   : larql::amx::bf16_available() && self_check(gemm, "tile hardware");
  return ok;
}

GemmFn kernel() { return repack::amx::model_mode() ? gemm_model : gemm; }

}  // namespace larql::halfdot::amx
