// Knowledge edits as patches (docs/editing.md, docs/patch-format.md): a
// .vlp file is JSON holding a list of operations, each with everything needed
// to replay it (the fact, the mechanism, the computed vectors) and the base
// model's identity so that applying it to another model is refused. Patches
// stack: PatchStack composes them, in order, into one FfnPatch for the
// forward pass plus the KNN overlay that acts after the logits.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "engine/ffn_patch.h"

namespace larql {
class Model;
}

namespace larql::edit {

inline constexpr int kPatchVersion = 1;

enum class Mode { KNN, Feature, Memit, Mask };
const char* mode_name(Mode m);      // "knn" | "feature" | "memit" | "mask"
Mode mode_from_name(const std::string& s);  // case-insensitive; throws larql::Error

struct Fact {
  std::string entity, relation, target;
  std::string prompt;          // the canonical prompt the edit was computed on
  int32_t target_token = -1;   // first token of " " + target
  // Every token of " " + target (whole-word edits steer each in turn). Empty in
  // patches written before whole-word edits: they steer the first token only.
  std::vector<int32_t> target_tokens = {};
  // The tokens an edit steers: target_tokens, else {target_token}.
  std::vector<int32_t> steps() const {
    return !target_tokens.empty() ? target_tokens : std::vector<int32_t>{target_token};
  }
};

// KNN overlay entry: if the last position's residual (after layer `layer`) has
// cosine >= threshold with `key`, the target token is put on top of the logits.
struct KnnEntry {
  int64_t layer = 0;
  std::vector<float> key;
  float threshold = 0.9f;
  Fact fact;
  // Whole-word edits: one entry per target token. The key is taken at the
  // prompt followed by the target's first `step` tokens; `token` (-1: the
  // fact's first token) is the one this entry puts on top.
  int64_t step = 0;
  int32_t token = -1;
  int32_t steers() const { return token >= 0 ? token : fact.target_token; }
};

struct Operation {
  std::string op = "insert";   // "insert" | "delete"
  Mode mode = Mode::Feature;
  std::vector<Fact> facts;     // insert: the facts written; delete: what was deleted
  double alpha = 0;            // the scale the balancing search chose
  double confidence = 1;
  std::vector<int64_t> layers;
  FfnPatch ffn;                // FEATURE slots, MEMIT low-rank terms, delete masks
  std::vector<KnnEntry> knn;
  bool cancels = false;        // delete of earlier inserts (matched by facts), not of base knowledge
  // MEMIT: the fact of each rank column (a whole-word fact has one column per
  // target token). Empty (older patches): column j belongs to fact j % facts.
  // FEATURE: a layer's slots are the fact's target tokens in order.
  std::vector<int64_t> column_fact = {};
};

// What a patch was computed against. fingerprint hashes weights the edit
// does not change (norms, embeddings) plus each layer's first down row, so a
// compiled (edited) model or another model is told apart from the base.
struct BaseId {
  std::string family;
  int64_t n_layer = 0, n_embd = 0, n_ff = 0, n_vocab = 0;
  std::string fingerprint;     // 16 hex digits
  std::string source;          // informational: the path it was computed on
  bool operator==(const BaseId& o) const {
    return family == o.family && n_layer == o.n_layer && n_embd == o.n_embd && n_ff == o.n_ff &&
           n_vocab == o.n_vocab && fingerprint == o.fingerprint;
  }
};
BaseId base_id(const Model& m, const std::string& source);

struct Patch {
  std::string path;            // "" : the unnamed session patch
  BaseId base;
  std::string description;
  std::vector<Operation> ops;
  int64_t n_facts() const;
};

// JSON (de)serialization. load checks the format, version and every size;
// errors name the file and the field.
void save_patch(const Patch& p, const std::string& path);
Patch load_patch(const std::string& path);
std::string patch_to_json(const Patch& p, int indent = -1);
Patch patch_from_json(const std::string& text, const std::string& where);

// Which mechanism wrote a fact, for labelling answers.
struct EditRef {
  const Fact* fact = nullptr;
  Mode mode = Mode::Feature;
  std::string patch;           // its patch's path or "(session)"
  int64_t layer = -1, feature = -1;  // FEATURE slot, MEMIT: layer and rank column
};

// Patches in application order. compose() rebuilds the forward's view.
class PatchStack {
 public:
  std::vector<Patch> patches;
  // Composed: later deletes cancel earlier matching inserts; masks add up.
  std::shared_ptr<const FfnPatch> ffn() const { return ffn_; }
  const std::vector<KnnEntry>& knn() const { return knn_; }
  const std::vector<EditRef>& refs() const { return refs_; }
  void compose();
  bool empty() const;

 private:
  std::shared_ptr<const FfnPatch> ffn_;
  std::vector<KnnEntry> knn_;
  std::vector<EditRef> refs_;  // per FEATURE slot / MEMIT column
  std::vector<Operation> kept_;  // the composed operations refs_ point into
};

// Cosine of two n-vectors (0 when either is zero).
float cosine(const float* a, const float* b, int64_t n);

}  // namespace larql::edit

namespace larql::edit {
// The KNN overlay: the best entry whose key has cosine >= its threshold with
// the residual after its layer at the last position (resid: per layer), or null.
const KnnEntry* knn_match(const std::vector<KnnEntry>& knn, const std::vector<std::vector<float>>& resid, float* cos = nullptr);
// Puts the entry's target on top of the logits (1 logit above the best other).
void knn_apply(const KnnEntry& e, std::vector<float>& logits);
}  // namespace larql::edit
