// Edit-quality measurement on a facts table (docs/editing.md): insert the
// held-out facts with one mechanism and measure efficacy (target top-1 on the
// canonical prompt), generalization (top-1 on the relation's held-out
// template), the same for the whole target word under greedy decoding, specificity (mean KL(base || edited) and recall over prompts of
// untouched training facts) and the unedited baseline. With a compile path,
// the same numbers again on the compiled GGUF (materialized edits, no patch).
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "edit/editor.h"
#include "edit/facts.h"

namespace larql {
class ThreadPool;
}

namespace larql::edit {

struct EvalConfig {
  EditOptions opt;
  int64_t count = -1;              // held-out facts to insert (-1: all)
  int64_t n_specificity = 100;     // training-fact prompts for specificity
  std::vector<FactRow> facts;
  std::vector<TemplateRow> templates;
  std::vector<std::string> covariance_lines;  // MEMIT
};

// The same measurements on the COMPILEd model file (edits baked into the
// weights, loaded back with Model::load, no patch). KNN is never compiled.
struct CompiledEval {
  bool measured = false;           // false: not asked for, or KNN (see note)
  std::string note;                // e.g. "n/a (not compiled)"
  std::string path;                // the GGUF written (removed unless kept)
  double efficacy = 0, generalization = 0, recall_edited = 0, mean_kl = 0;
  double efficacy_word = 0, generalization_word = 0;  // whole target under greedy decoding
  int64_t tensors_changed = 0;
  uint64_t bytes = 0;
  double seconds = 0;              // materialize + write + load + measure
};

struct EvalResult {
  std::string mode;
  int64_t n_edits = 0, n_general = 0, n_spec = 0;
  double efficacy = 0, generalization = 0;  // fractions
  double efficacy_before = 0, generalization_before = 0;
  // Whole word: the greedy continuation starts with " " + target (every token).
  double efficacy_word = 0, generalization_word = 0;
  double efficacy_word_before = 0, generalization_word_before = 0;
  double recall_base = 0, recall_edited = 0;
  double mean_kl = 0;
  double seconds = 0;
  Patch patch;                     // what was inserted
  std::vector<std::string> failures;  // inserts that found no balanced write
  CompiledEval compiled;
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
// Same, with the edited forward on another model (`edited`, e.g. the compiled
// file) and the baseline ("before", KL reference) on `base`.
void measure(const Editor& base, const Editor& edited, const EvalConfig& cfg, const std::vector<FactRow>& edited_facts,
             const FfnPatch* patch, const std::vector<KnnEntry>& knn, EvalResult& r);
// Materializes r.patch (base = base.model()), writes it as a GGUF to out_path
// with compile::write_model, loads that file and fills r.compiled from it.
// keep=false removes the file afterwards. KNN mode: r.compiled.note only.
void evaluate_compiled(const Editor& base, std::shared_ptr<ThreadPool> pool, const EvalConfig& cfg,
                       const std::string& out_path, bool keep, EvalResult& r);
// The held-out facts evaluate() inserts (the first cfg.count rows of split heldout_fact).
std::vector<FactRow> heldout_facts(const EvalConfig& cfg);

// Top-1 of a forward with a KNN overlay on top (what LQL INFER does).
std::vector<float> logits_with_knn(const Editor& ed, const std::string& prompt, const FfnPatch* patch,
                                   const std::vector<KnnEntry>& knn, const KnnEntry** fired = nullptr);
std::vector<float> logits_with_knn(const Editor& ed, const std::vector<int32_t>& tokens, const FfnPatch* patch,
                                   const std::vector<KnnEntry>& knn, const KnnEntry** fired = nullptr);
// The text of n greedily decoded tokens after the prompt (patch and KNN overlay applied at every step).
std::string greedy_text(const Editor& ed, const std::string& prompt, int64_t n, const FfnPatch* patch,
                        const std::vector<KnnEntry>& knn);

}  // namespace larql::edit
