#include "lql/context.h"

#include <fstream>

#include "util/error.h"

#include "edit/workspace.h"
#include "engine/model.h"
#include "lql/analysis.h"
#include "tokenizer/tokenizer.h"
#include "vindex/vindex.h"

namespace larql::lql {

Context::Context() = default;
Context::~Context() = default;
Context::Context(Context&&) noexcept = default;
Context& Context::operator=(Context&&) noexcept = default;

Analyzer& Context::analyzer() {
  if (!analyzer_) analyzer_ = std::make_unique<Analyzer>(model.get(), vindex.get(), n_threads);
  return *analyzer_;
}

const Tokenizer* Context::tokenizer() const {
  if (model) return &model->tokenizer();
  if (vindex) return &vindex->tokenizer();
  return nullptr;
}

void Context::load_templates(const std::string& path) {
  std::ifstream f(path);
  if (!f) throw Error("cannot read templates file '" + path + "'");
  {
    std::string first;
    while (std::getline(f, first) && (first.empty() || first[0] == '#')) {}
    if (first.find('\t') != std::string::npos) {  // templates.tsv: converted for DESCRIBE too
      template_rows = edit::load_templates_tsv(path);
      std::vector<std::pair<std::string, std::string>> out;
      for (const edit::TemplateRow& r : template_rows)
        if (r.split == "train" && edit::find_template({r}, r.relation, "train"))
          out.emplace_back(r.relation, edit::prompt_of(r.text, "{X}", "x"));
      templates = std::move(out);
      contrast_probs.clear();
      return;
    }
    f.clear();
    f.seekg(0);
  }
  auto trim = [](const std::string& x) {
    const size_t a = x.find_first_not_of(" \t\r\n"), b = x.find_last_not_of(" \t\r\n");
    return a == std::string::npos ? std::string() : x.substr(a, b - a + 1);
  };
  std::vector<std::pair<std::string, std::string>> out;
  std::vector<std::string> ents;
  std::string line;
  for (int ln = 1; std::getline(f, line); ++ln) {
    const std::string t = trim(line);
    if (t.empty() || t[0] == '#') continue;
    const size_t colon = t.find(':');
    if (colon == std::string::npos || colon == 0)
      throw Error(path + ":" + std::to_string(ln) + ": expected 'relation: template with {X}'");
    const std::string rel = trim(t.substr(0, colon)), tmpl = trim(t.substr(colon + 1));
    if (rel == "entities") {
      std::string rest = tmpl;
      for (size_t c = 0; c != std::string::npos;) {
        const size_t n = rest.find(',', c);
        const std::string e = trim(rest.substr(c, n == std::string::npos ? std::string::npos : n - c));
        if (!e.empty()) ents.push_back(e);
        c = n == std::string::npos ? n : n + 1;
      }
      continue;
    }
    if (rel != "entities" && tmpl.find("{X}") == std::string::npos)
      throw Error(path + ":" + std::to_string(ln) + ": template for '" + rel + "' has no {X}");
    out.emplace_back(rel, tmpl);
  }
  if (out.empty()) throw Error(path + ": no templates");
  templates = std::move(out);
  contrast_probs.clear();
  contrast = std::move(ents);
}

void Context::clear() {
  edits.reset();  // refers to the model
  contrast_probs.clear();
  analyzer_.reset();
  model.reset();
  vindex.reset();
  source.clear();
}

}  // namespace larql::lql
