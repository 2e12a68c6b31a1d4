// Fact tables and relation templates in the facts fixture's TSV formats
// (docs/editing.md): facts.tsv `subject relation object split` and
// templates.tsv `relation template split` with {s}/{o} ({a_s}/{a_o}: a/an +
// subject/object). The prompt of a template is its text up to the object.
#pragma once
#include <string>
#include <vector>

namespace larql::edit {

struct FactRow {
  std::string subject, relation, object, split;
};
struct TemplateRow {
  std::string relation, text, split;
};

std::vector<FactRow> load_facts_tsv(const std::string& path);          // throws larql::Error naming file:line
std::vector<TemplateRow> load_templates_tsv(const std::string& path);
// "The capital of {s} is {o}." + Spain -> "The capital of Spain is". The
// first letter is upper-cased; {a_o} keeps its article ("A baby dog is called a").
std::string prompt_of(const std::string& tmpl, const std::string& subject, const std::string& object);
// The first template of the relation with the split ("train": canonical, "heldout_template").
const TemplateRow* find_template(const std::vector<TemplateRow>& t, const std::string& relation, const std::string& split);
// Lines of a text file (empty lines skipped), at most max_lines.
std::vector<std::string> read_lines(const std::string& path, size_t max_lines = 1000000);

}  // namespace larql::edit
