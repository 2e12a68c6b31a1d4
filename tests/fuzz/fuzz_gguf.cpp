// libFuzzer target: the GGUF parser must reject any malformed buffer with
// larql::Error and never read outside it.
#include <cstddef>
#include <cstdint>

#include "format/gguf.h"
#include "util/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    auto f = larql::gguf::File::from_memory(data, size);
    // Touch every tensor's first and last byte: views must lie inside the buffer.
    volatile uint8_t sink = 0;
    for (const auto& t : f->tensors())
      if (t.n_bytes) sink = sink + t.data[0] + t.data[t.n_bytes - 1];
    for (const auto& kv : f->metadata()) (void)kv.second.to_string();
  } catch (const larql::Error&) {
  }
  return 0;
}
