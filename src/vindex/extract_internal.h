// Extraction stages beyond copying tensors (internal).
#pragma once
#include <string>
#include <vector>

#include "vindex/layout.h"
#include "vindex/writer.h"

namespace larql {
class ModelSource;
class Tokenizer;
}

namespace larql::vindex {

// Down columns of a (dense or per-expert) FFN as rows: out is
// n_experts' x n_features x n_embd floats (n_experts' = max(1, n_experts)).
std::vector<float> down_columns(const ModelSource& src, const FfnLayout& f, int64_t n_embd);

// The final-norm + head projector of a source model.
VocabProjector projector_for(const ModelSource& src);

// k-means over the unit down directions of every feature already written
// under `root` (read back from the layer files), writing clusters.bin and
// clusters.json.
void build_clusters(const std::string& root, Manifest& m, const VocabProjector& proj, int64_t k, ThreadPool& pool,
                    const Tokenizer& tok);

// Runs the probe templates through the model and writes probes.json.
void build_probes(const std::string& model_path, const std::string& probes_file, const std::string& root,
                  Manifest& m, ThreadPool& pool);

}  // namespace larql::vindex
