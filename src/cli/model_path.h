// Deciding what kind of model a path names.
#pragma once
#include <string>

namespace larql::cli {
// True for a file starting with the GGUF magic; false for safetensors files
// and folders. Throws larql::Error when the path does not exist or is neither.
bool model_is_gguf(const std::string& path);
}  // namespace larql::cli
