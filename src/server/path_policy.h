// Path policy for requests that name files (POST /v1/lql): every path must
// stay inside the server's --model-dir, and statements that write files need
// --allow-writes. Kept free of HTTP so it can be unit-tested on its own.
#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace larql::server {

// Resolves `requested` (relative to `root`) and returns its canonical absolute
// path. Throws larql::Error when the path is empty, absolute, contains a ".."
// component or a NUL byte, or when it resolves (symlinks followed, the target
// need not exist yet) outside the canonical `root`, or `root` is not a folder.
std::string resolve_inside(const std::string& root, const std::string& requested);

// The statements of an LQL query split on ';' outside quotes, trimmed, empty ones dropped.
std::vector<std::string> split_statements(std::string_view query);

// True when the statement's first keyword writes files (EXTRACT, SAVE, COMPILE;
// case-insensitive).
bool statement_writes(std::string_view statement);

}  // namespace larql::server
