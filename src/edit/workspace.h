// The editing state of one LQL context (docs/editing.md): the applied patch
// stack, which patch edits go into (BEGIN PATCH, else an unnamed session
// patch), and explanations of which edit produced an answer.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "edit/editor.h"
#include "edit/facts.h"
#include "edit/patch.h"

namespace larql {
class Model;
class ThreadPool;
}

namespace larql::edit {

class Workspace {
 public:
  Workspace(const Model& m, std::shared_ptr<ThreadPool> pool, std::string source);
  Editor& editor() { return ed_; }
  const Model& model() const { return ed_.model(); }
  const BaseId& base() const { return base_; }
  PatchStack& stack() { return stack_; }

  // The patch new edits go into; opens the unnamed session patch when none is open.
  Patch& open_patch();
  bool has_open() const { return open_ >= 0; }
  void begin(const std::string& path);   // BEGIN PATCH: a new (or existing, reloaded) named patch
  std::string save();                    // SAVE PATCH: writes the open named patch; returns its path
  void apply(const std::string& path);   // APPLY PATCH: load, check the base, push
  void remove(const std::string& path);  // REMOVE PATCH
  // Adds an operation to the open patch and recomposes.
  void add(Operation op);
  // Lines naming the edits that fired on a prompt's forward (FEATURE slot
  // activations, MEMIT columns, a KNN hit), from its per-layer FFN inputs.
  std::vector<std::string> explain(const std::vector<std::vector<float>>& ffn_in, const KnnEntry* knn_hit, float knn_cos,
                                   const std::string& answer) const;
  // Inserted facts of the live stack (entity, relation, target, mode, patch).
  struct Row { Fact fact; Mode mode; std::string patch; std::string op; };
  std::vector<Row> rows() const;

  std::vector<TemplateRow> templates;    // from templates.tsv (or converted probe templates)
  std::string covariance_file;           // MEMIT default covariance text

 private:
  Editor ed_;
  BaseId base_;
  PatchStack stack_;
  int open_ = -1;                        // index into stack_.patches
};

}  // namespace larql::edit
