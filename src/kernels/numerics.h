// Which engine's floating-point operation order the kernels reproduce bit for
// bit (docs/numerics.md). Process-wide: matrix products are free functions.
#pragma once
#include <string>

namespace larql {

enum class Numerics {
  LlamaCpp,    // llama.cpp c392e50 on AVX-512 + AMX (default; also the fast path)
  IkLlamaCpp,  // ik_llama.cpp 8337e4c on AVX-512 + VNNI, one thread (scalar; for parity checks)
};

void set_numerics(Numerics n);
Numerics numerics();
// "llama.cpp" or "ik_llama.cpp"; throws larql::Error otherwise.
Numerics parse_numerics(const std::string& name);
const char* numerics_name(Numerics n);

}  // namespace larql
