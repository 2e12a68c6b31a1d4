#include "lql/result.h"

#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>

namespace larql::lql {

int Result::col(const std::string& name) const {
  for (size_t i = 0; i < columns.size(); ++i)
    if (columns[i].name == name) return static_cast<int>(i);
  return -1;
}

std::string cell_text(const Cell& c, const Column& col) {
  if (std::holds_alternative<std::monostate>(c)) return "";
  if (const int64_t* i = std::get_if<int64_t>(&c)) return std::to_string(*i);
  if (const double* d = std::get_if<double>(&c)) {
    if (!std::isfinite(*d)) return *d > 0 ? "inf" : *d < 0 ? "-inf" : "nan";
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*f", col.decimals, *d);
    std::string s = buf;
    if (s.size() > 1 && s[0] == '-' && s.find_first_not_of("-0.") == std::string::npos) s.erase(0, 1);  // no "-0.000"
    return s;
  }
  return std::get<std::string>(c);
}

namespace {
// Display width: count UTF-8 code points (continuation bytes take no column).
size_t width(const std::string& s) {
  size_t w = 0;
  for (unsigned char c : s)
    if ((c & 0xC0) != 0x80) ++w;
  return w;
}
// Control characters (a token may be "\n") are shown escaped so rows stay on one line.
std::string printable(const std::string& s) {
  std::string o;
  for (unsigned char c : s) {
    if (c == '\n') o += "\\n";
    else if (c == '\t') o += "\\t";
    else if (c == '\r') o += "\\r";
    else if (c < 0x20 || c == 0x7f) { char b[8]; std::snprintf(b, sizeof b, "\\x%02x", c); o += b; }
    else o += static_cast<char>(c);
  }
  return o;
}
}  // namespace

std::string render_text(const Result& r) {
  std::string out;
  for (const std::string& h : r.header) out += h + "\n";
  if (!r.columns.empty()) {
    const size_t nc = r.columns.size();
    std::vector<size_t> w(nc);
    std::vector<std::vector<std::string>> cells;
    for (size_t c = 0; c < nc; ++c) w[c] = width(r.columns[c].name);
    for (const Row& row : r.rows) {
      std::vector<std::string> line(nc);
      for (size_t c = 0; c < nc && c < row.size(); ++c) {
        line[c] = printable(cell_text(row[c], r.columns[c]));
        w[c] = std::max(w[c], width(line[c]));
      }
      cells.push_back(std::move(line));
    }
    auto emit = [&](const std::vector<std::string>& line) {
      std::string s;
      for (size_t c = 0; c < nc; ++c) {
        const size_t pad = w[c] - std::min(w[c], width(line[c]));
        const bool right = r.columns[c].type != ColType::Text;
        if (c) s += "  ";
        if (right) s += std::string(pad, ' ') + line[c];
        else s += line[c] + (c + 1 < nc ? std::string(pad, ' ') : "");
      }
      while (!s.empty() && s.back() == ' ') s.pop_back();
      out += s + "\n";
    };
    std::vector<std::string> head;
    for (const Column& c : r.columns) head.push_back(c.name);
    emit(head);
    std::string rule;
    for (size_t c = 0; c < nc; ++c) rule += (c ? "  " : "") + std::string(w[c], '-');
    out += rule + "\n";
    for (const auto& line : cells) emit(line);
    out += "(" + std::to_string(r.rows.size()) + (r.rows.size() == 1 ? " row)\n" : " rows)\n");
  }
  for (const std::string& n : r.notes) out += n + "\n";
  return out;
}

nlohmann::json to_json(const Result& r) {
  nlohmann::json j;
  j["statement"] = r.statement;
  j["kind"] = r.kind;
  j["header"] = r.header;
  nlohmann::json cols = nlohmann::json::array();
  for (const Column& c : r.columns)
    cols.push_back({{"name", c.name}, {"type", c.type == ColType::Int ? "int" : c.type == ColType::Float ? "float" : "text"}});
  j["columns"] = cols;
  nlohmann::json rows = nlohmann::json::array();
  for (const Row& row : r.rows) {
    nlohmann::json jr = nlohmann::json::array();
    for (const Cell& c : row) {
      if (const int64_t* i = std::get_if<int64_t>(&c)) jr.push_back(*i);
      else if (const double* d = std::get_if<double>(&c)) jr.push_back(std::isfinite(*d) ? nlohmann::json(*d) : nlohmann::json());
      else if (const std::string* s = std::get_if<std::string>(&c)) jr.push_back(*s);
      else jr.push_back(nullptr);
    }
    rows.push_back(jr);
  }
  j["rows"] = rows;
  j["notes"] = r.notes;
  return j;
}

int compare_cells(const Cell& a, const Cell& b) {
  const bool an = std::holds_alternative<std::monostate>(a), bn = std::holds_alternative<std::monostate>(b);
  if (an || bn) return an == bn ? 0 : an ? -1 : 1;
  auto num = [](const Cell& c, double& v) {
    if (const int64_t* i = std::get_if<int64_t>(&c)) { v = static_cast<double>(*i); return true; }
    if (const double* d = std::get_if<double>(&c)) { v = *d; return true; }
    return false;
  };
  double x = 0, y = 0;
  const bool ax = num(a, x), by = num(b, y);
  if (ax && by) return x < y ? -1 : x > y ? 1 : 0;
  if (ax != by) return ax ? -1 : 1;  // numbers before text
  const int c = std::get<std::string>(a).compare(std::get<std::string>(b));
  return c < 0 ? -1 : c > 0 ? 1 : 0;
}

}  // namespace larql::lql
