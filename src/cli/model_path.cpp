#include "cli/model_path.h"

#include <cstring>
#include <filesystem>
#include <fstream>

#include "format/safetensors.h"
#include "util/error.h"

namespace larql::cli {

bool model_is_gguf(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::exists(path, ec)) throw Error("model '" + path + "' does not exist");
  if (fs::is_regular_file(path, ec)) {
    char magic[4] = {};
    std::ifstream f(path, std::ios::binary);
    f.read(magic, 4);
    if (f.gcount() == 4 && std::memcmp(magic, "GGUF", 4) == 0) return true;
  }
  if (safetensors::is_safetensors_path(path)) return false;
  throw Error("'" + path + "' is neither a GGUF file nor a safetensors model (file or folder with config.json)");
}

}  // namespace larql::cli
