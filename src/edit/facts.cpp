#include "edit/facts.h"

#include <algorithm>
#include <cctype>
#include <fstream>
#include <sstream>

#include "util/error.h"

namespace larql::edit {

namespace {
std::vector<std::vector<std::string>> read_tsv(const std::string& path, size_t cols) {
  std::ifstream f(path);
  if (!f) throw Error("cannot read '" + path + "'");
  std::vector<std::vector<std::string>> rows;
  std::string line;
  for (int ln = 1; std::getline(f, line); ++ln) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || line[0] == '#') continue;
    std::vector<std::string> c;
    std::stringstream ss(line);
    for (std::string x; std::getline(ss, x, '\t');) c.push_back(x);
    if (c.size() != cols) throw Error(path + ":" + std::to_string(ln) + ": expected " + std::to_string(cols) + " tab-separated columns");
    if (ln == 1 && (c[0] == "subject" || c[0] == "relation")) continue;  // header
    rows.push_back(std::move(c));
  }
  return rows;
}

std::string article(const std::string& w) {
  const char c = w.empty() ? 'x' : static_cast<char>(std::tolower(static_cast<unsigned char>(w[0])));
  return std::string("aeiou").find(c) != std::string::npos ? "an" : "a";
}

void replace_all(std::string& s, const std::string& from, const std::string& to) {
  for (size_t p = 0; (p = s.find(from, p)) != std::string::npos; p += to.size()) s.replace(p, from.size(), to);
}
}  // namespace

std::vector<FactRow> load_facts_tsv(const std::string& path) {
  std::vector<FactRow> out;
  for (auto& c : read_tsv(path, 4)) out.push_back({c[0], c[1], c[2], c[3]});
  if (out.empty()) throw Error(path + ": no facts");
  return out;
}

std::vector<TemplateRow> load_templates_tsv(const std::string& path) {
  std::vector<TemplateRow> out;
  for (auto& c : read_tsv(path, 3)) {
    if (c[1].find("{o}") == std::string::npos && c[1].find("{a_o}") == std::string::npos)
      throw Error(path + ": template for '" + c[0] + "' has no {o}");
    out.push_back({c[0], c[1], c[2]});
  }
  if (out.empty()) throw Error(path + ": no templates");
  return out;
}

std::string prompt_of(const std::string& tmpl, const std::string& subject, const std::string& object) {
  std::string t = tmpl;
  size_t cut = t.find("{o}");
  const size_t ao = t.find("{a_o}");
  if (ao != std::string::npos && (cut == std::string::npos || ao < cut)) {
    t = t.substr(0, ao) + article(object);
  } else if (cut != std::string::npos) {
    t = t.substr(0, cut);
  }
  replace_all(t, "{a_s}", article(subject) + " " + subject);
  replace_all(t, "{s}", subject);
  while (!t.empty() && std::isspace(static_cast<unsigned char>(t.back()))) t.pop_back();
  if (!t.empty()) t[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(t[0])));
  return t;
}

const TemplateRow* find_template(const std::vector<TemplateRow>& t, const std::string& relation, const std::string& split) {
  // Object-first templates ("{o} is the capital of {s}.") give no prompt that ends at the object.
  for (const TemplateRow& r : t) {
    const size_t o = std::min(r.text.find("{o}"), r.text.find("{a_o}")), sp = r.text.find("{s}"), as = r.text.find("{a_s}");
    if (r.relation == relation && r.split == split && std::min(sp, as) < o) return &r;
  }
  return nullptr;
}

std::vector<std::string> read_lines(const std::string& path, size_t max_lines) {
  std::ifstream f(path);
  if (!f) throw Error("cannot read '" + path + "'");
  std::vector<std::string> out;
  for (std::string l; out.size() < max_lines && std::getline(f, l);)
    if (!l.empty()) out.push_back(l);
  return out;
}

}  // namespace larql::edit
