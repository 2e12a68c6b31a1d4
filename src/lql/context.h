// What a sequence of LQL statements runs against: the vindex and/or model
// chosen by USE, and caches derived from them. One Context per REPL session
// or HTTP client; not thread-safe.
#pragma once
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "edit/facts.h"

namespace larql {
class Model;
class Tokenizer;
namespace vindex { class Vindex; }
namespace edit { class Workspace; }
}  // namespace larql

namespace larql::lql {

class Analyzer;

struct Context {
  Context();
  ~Context();
  Context(Context&&) noexcept;
  Context& operator=(Context&&) noexcept;

  std::unique_ptr<vindex::Vindex> vindex;  // USE "x.vindex"
  std::unique_ptr<Model> model;            // the vindex's inference weights, or USE MODEL
  std::string source;                      // the path USE named
  // false (HTTP server): statements may not write files (EXTRACT, TRACE SAVE).
  bool allow_writes = true;
  int n_threads = 0;                       // 0 = all cores
  // Relation prompt templates for DESCRIBE ("capital" -> "The capital of {X} is"),
  // in the vindex probe-file format. USE of a vindex loads <dir>/probes.txt
  // when present and none were set.
  std::vector<std::pair<std::string, std::string>> templates;
  // The probe file's "entities:" line: DESCRIBE contrasts an entity's answers
  // with theirs, so that answers every entity gets ("A baby X is called a")
  // do not count as facts.
  std::vector<std::string> contrast;
  // Also reads the facts fixture's templates.tsv format (relation<TAB>template<TAB>split,
  // {s}/{o}), kept whole in template_rows for edits (INSERT's canonical prompts).
  void load_templates(const std::string& path);  // throws larql::Error
  std::vector<edit::TemplateRow> template_rows;
  // Edits (patch stack, open patch): created by the first edit statement.
  std::unique_ptr<edit::Workspace> edits;
  // DESCRIBE's cache: (relation, contrast entity) -> mean next-token probabilities.
  std::map<std::pair<std::string, std::string>, std::vector<double>> contrast_probs;

  // Forward passes and feature math over whatever is loaded (built lazily).
  Analyzer& analyzer();
  const Tokenizer* tokenizer() const;      // null when nothing is loaded
  void clear();                            // forget vindex, model and caches

 private:
  std::unique_ptr<Analyzer> analyzer_;
};

}  // namespace larql::lql
