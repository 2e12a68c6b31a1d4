// Edit-quality measurement on a facts table (docs/editing.md): insert the
// held-out facts with one mechanism and measure efficacy (target top-1 on the
// canonical prompt), generalization (top-1 on the relation's held-out
// template), specificity (mean KL(base || edited) and recall over prompts of
// untouched training facts) and the unedited baseline.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "edit/editor.h"
#include "edit/facts.h"

namespace larql::edit {

struct EvalConfig {
  EditOptions opt;
  int64_t count = -1;              // held-out facts to insert (-1: all)
  int64_t n_specificity = 100;     // training-fact prompts for specificity
  std::vector<FactRow> facts;
  std::vector<TemplateRow> templates;
  std::vector<std::string> covariance_lines;  // MEMIT
};

struct EvalResult {
  std::string mode;
  int64_t n_edits = 0, n_general = 0, n_spec = 0;
  double efficacy = 0, generalization = 0;  // fractions
  double efficacy_before = 0, generalization_before = 0;
  double recall_base = 0, recall_edited = 0;
  double mean_kl = 0;
  double seconds = 0;
  Patch patch;                     // what was inserted
  std::vector<std::string> failures;  // inserts that found no balanced write
  std::string to_json() const;
};

// Decoy prompts for a fact: other training facts of its relation and the
// subject's other relations (canonical templates), at most n.
std::vector<std::string> decoys_for(const FactRow& f, const std::vector<FactRow>& facts,
                                    const std::vector<TemplateRow>& templates, size_t n = 48);
// The fact with its canonical prompt and target token; throws when the relation has no template.
Fact make_fact(const Editor& ed, const std::string& entity, const std::string& relation, const std::string& target,
               const std::vector<TemplateRow>& templates);

EvalResult evaluate(Editor& ed, const EvalConfig& cfg);
// After several FEATURE inserts: re-balances those whose target no longer wins
// (later inserts shift residuals); returns how many needed it.
int64_t rebalance(const Editor& ed, PatchStack& stack, double margin);
// Measures an already-built patch stack (e.g. after COMPILE, on the compiled model: pass nullptr patch).
void measure(const Editor& ed, const EvalConfig& cfg, const std::vector<FactRow>& edited, const FfnPatch* patch,
             const std::vector<KnnEntry>& knn, EvalResult& r);

// Top-1 of a forward with a KNN overlay on top (what LQL INFER does).
std::vector<float> logits_with_knn(const Editor& ed, const std::string& prompt, const FfnPatch* patch,
                                   const std::vector<KnnEntry>& knn, const KnnEntry** fired = nullptr);

}  // namespace larql::edit
