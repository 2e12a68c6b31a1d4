#include "kernels/numerics.h"

#include <atomic>

#include "util/error.h"

namespace larql {

namespace {
std::atomic<Numerics> g_numerics{Numerics::LlamaCpp};
}

void set_numerics(Numerics n) { g_numerics.store(n, std::memory_order_relaxed); }
Numerics numerics() { return g_numerics.load(std::memory_order_relaxed); }

Numerics parse_numerics(const std::string& name) {
  if (name == "llama.cpp") return Numerics::LlamaCpp;
  if (name == "ik_llama.cpp") return Numerics::IkLlamaCpp;
  throw Error("unknown numerics profile '" + name + "' (expected llama.cpp or ik_llama.cpp)");
}

const char* numerics_name(Numerics n) { return n == Numerics::IkLlamaCpp ? "ik_llama.cpp" : "llama.cpp"; }

}  // namespace larql
