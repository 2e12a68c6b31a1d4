// libFuzzer target: the safetensors header parser must reject malformed
// input with larql::Error and keep every tensor view inside the buffer.
#include <cstddef>
#include <cstdint>

#include "format/safetensors.h"
#include "util/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    auto f = larql::safetensors::File::from_memory(data, size);
    volatile uint8_t sink = 0;
    for (const auto& t : f->tensors())
      if (t.n_bytes) sink = sink + t.data[0] + t.data[t.n_bytes - 1];
  } catch (const larql::Error&) {
  }
  return 0;
}
