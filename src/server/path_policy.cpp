#include "server/path_policy.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <system_error>

#include "util/error.h"

namespace fs = std::filesystem;

namespace larql::server {

namespace {

// True when `p` equals `root` or lies below it (both canonical, lexical compare by component).
bool within(const fs::path& root, const fs::path& p) {
  return std::mismatch(root.begin(), root.end(), p.begin(), p.end()).first == root.end();
}

}  // namespace

std::string resolve_inside(const std::string& root, const std::string& requested) {
  if (requested.empty()) throw Error("path is empty");
  if (requested.find('\0') != std::string::npos) throw Error("path contains a NUL byte");
  const fs::path req(requested);
  if (req.is_absolute() || requested[0] == '/' || requested[0] == '~')
    throw Error("path '" + requested + "' is absolute; give a path relative to --model-dir");
  for (const auto& part : req)
    if (part == "..") throw Error("path '" + requested + "' contains '..'");
  std::error_code ec;
  if (root.empty() || !fs::is_directory(root, ec)) throw Error("--model-dir is not set or not a folder");
  const fs::path croot = fs::canonical(root, ec);
  if (ec) throw Error("--model-dir cannot be resolved: " + ec.message());
  // weakly_canonical follows every symlink that exists, so a link pointing
  // outside is caught even when the final file does not exist yet.
  const fs::path full = fs::weakly_canonical(croot / req, ec);
  if (ec) throw Error("path '" + requested + "' cannot be resolved: " + ec.message());
  if (!within(croot, full)) throw Error("path '" + requested + "' resolves outside --model-dir");
  return full.string();
}

std::vector<std::string> split_statements(std::string_view q) {
  std::vector<std::string> out;
  std::string cur;
  char quote = 0;
  auto flush = [&] {
    size_t b = 0, e = cur.size();
    while (b < e && std::isspace(static_cast<unsigned char>(cur[b]))) ++b;
    while (e > b && std::isspace(static_cast<unsigned char>(cur[e - 1]))) --e;
    if (e > b) out.push_back(cur.substr(b, e - b));
    cur.clear();
  };
  for (size_t i = 0; i < q.size(); ++i) {
    const char c = q[i];
    if (quote) {
      cur += c;
      if (c == '\\' && i + 1 < q.size()) cur += q[++i];
      else if (c == quote) quote = 0;
    } else if (c == '"' || c == '\'') {
      quote = c;
      cur += c;
    } else if (c == ';') {
      flush();
    } else {
      cur += c;
    }
  }
  flush();
  return out;
}

bool statement_writes(std::string_view s) {
  size_t b = 0;
  while (b < s.size() && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  size_t e = b;
  while (e < s.size() && std::isalpha(static_cast<unsigned char>(s[e]))) ++e;
  std::string kw(s.substr(b, e - b));
  std::transform(kw.begin(), kw.end(), kw.begin(), [](unsigned char c) { return std::toupper(c); });
  return kw == "EXTRACT" || kw == "SAVE" || kw == "COMPILE";
}

}  // namespace larql::server
