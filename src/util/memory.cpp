#include "util/memory.h"

#include <algorithm>
#include <fstream>
#include <sstream>
#include <string>

namespace larql {

namespace {

// One unsigned number from a file; false for "max", absent or unreadable files.
bool read_u64(const std::string& path, uint64_t& v) {
  std::ifstream f(path);
  std::string s;
  if (!(f >> s) || s.empty() || s[0] < '0' || s[0] > '9') return false;
  v = std::stoull(s);
  return true;
}

// The limit minus usage of this process's memory cgroup, v2 or v1.
uint64_t cgroup_headroom() {
  std::ifstream f("/proc/self/cgroup");
  std::string line;
  uint64_t best = UINT64_MAX;
  while (std::getline(f, line)) {
    const size_t a = line.find(':'), b = line.find(':', a + 1);
    if (a == std::string::npos || b == std::string::npos) continue;
    const std::string ctrl = line.substr(a + 1, b - a - 1), path = line.substr(b + 1);
    uint64_t limit = 0, usage = 0;
    if (ctrl.empty()) {  // v2
      const std::string d = "/sys/fs/cgroup" + path;
      if (read_u64(d + "/memory.max", limit) && read_u64(d + "/memory.current", usage))
        best = std::min(best, limit > usage ? limit - usage : 0);
    } else if (ctrl.find("memory") != std::string::npos) {  // v1
      const std::string d = "/sys/fs/cgroup/memory" + path;
      if (read_u64(d + "/memory.limit_in_bytes", limit) && read_u64(d + "/memory.usage_in_bytes", usage) &&
          limit < (uint64_t{1} << 60))
        best = std::min(best, limit > usage ? limit - usage : 0);
    }
  }
  return best;
}

}  // namespace

uint64_t available_memory_bytes() {
  uint64_t avail = UINT64_MAX;
  std::ifstream f("/proc/meminfo");
  std::string key;
  uint64_t kb = 0;
  std::string unit;
  while (f >> key >> kb) {
    std::getline(f, unit);
    if (key == "MemAvailable:") {
      avail = kb * 1024;
      break;
    }
  }
  try {
    return std::min(avail, cgroup_headroom());
  } catch (const std::exception&) {  // a malformed cgroup file: MemAvailable alone
    return avail;
  }
}

}  // namespace larql
