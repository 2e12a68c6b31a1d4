// How much memory this process may still take: the kernel's MemAvailable,
// capped by a cgroup (v1 or v2) memory limit minus that cgroup's usage.
#pragma once
#include <cstdint>

namespace larql {
// UINT64_MAX when nothing can be read (not Linux, no /proc).
uint64_t available_memory_bytes();
}  // namespace larql
