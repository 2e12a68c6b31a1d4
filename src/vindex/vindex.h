// The vindex: a model extracted into a directory laid out for queries
// (docs/vindex-format.md). An FFN layer is a key→value memory: gate rows are
// the keys a residual is matched against, down columns the values written
// back. A vindex stores them feature-major (one feature = one contiguous
// read), plus what each feature writes (down_meta), relation clusters,
// optional probe labels, and the source's inference weights untouched.
//
// Reading goes through FeatureStore: the LQL executor codes against it, and
// a later patch overlay (INSERT/DELETE, .vlp files) wraps a base store and
// overrides individual features without touching the read-only base.
// Products run on ThreadPool::global() (size it first to choose the threads).
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "format/ggml_types.h"
#include "model/hparams.h"

namespace larql {
class Model;
class ModelSource;
class Tokenizer;
class ThreadPool;
}  // namespace larql

namespace larql::vindex {

inline constexpr int kFormatVersion = 1;

// What `larql extract --level` stores.
//   Browse:    features (gate, up, down rows), norms, embeddings, output head,
//              down_meta, clusters, probes. No attention: no inference.
//   Inference: every source tensor (inference works) + feature rows; no
//              down_meta/clusters (fast to extract).
//   All:       both (the default).
enum class Level { Browse, Inference, All };
const char* level_name(Level l);
Level level_from_name(const std::string& s);  // throws larql::Error

// A feature's address. expert = -1 for a dense FFN; 0..n_expert-1 for an
// expert's FFN in an MoE layer (the format stores these; dense first).
struct FeatureAddr {
  int64_t layer = 0;
  int64_t expert = -1;
  int64_t feature = 0;
  bool operator==(const FeatureAddr&) const = default;
};

// One stored tensor: where it lives inside the vindex directory.
struct TensorEntry {
  std::string name;            // GGUF name ("blk.3.attn_q.weight") or vindex name ("blk.3.ffn_down_feat")
  std::string file;            // relative to the vindex directory
  uint64_t offset = 0;         // byte offset in file
  uint64_t n_bytes = 0;
  GGMLType type = GGMLType::F32;
  std::vector<int64_t> ne;     // GGML order, ne[0] = row length
};

struct FileEntry {
  std::string path;            // relative
  uint64_t bytes = 0;
  std::string xxh64;           // 16 hex digits, XXH64 seed 0 of the whole file
};

// Per layer: its features. Experts are listed only for MoE layers.
struct LayerInfo {
  int64_t layer = 0;
  int64_t n_features = 0;      // dense FFN width (0 if the layer has only experts)
  int64_t n_experts = 0;       // 0 for dense layers
  int64_t n_features_expert = 0;
};

struct Provenance {
  std::string source_path;
  std::string source_format;   // "gguf" | "safetensors"
  uint64_t source_bytes = 0;
  std::string created_utc;     // ISO 8601
  std::string larql_version;
  double extract_seconds = 0;
};

struct Manifest {
  int version = kFormatVersion;
  std::string family;          // == hparams.arch
  HParams hparams;
  Level level = Level::All;
  std::string tokenizer_kind;  // "gguf" (tokenizer.gguf) | "hf" (tokenizer.json [+ tokenizer_config.json])
  std::string chat_template;
  std::vector<LayerInfo> layers;
  int64_t down_top_k = 0;      // tokens per feature in down_meta (0: none stored)
  int64_t n_clusters = 0;      // 0: none stored
  bool has_probes = false;
  Provenance provenance;
  std::vector<TensorEntry> tensors;
  std::vector<FileEntry> files;

  const TensorEntry* find(const std::string& name) const;  // nullptr if absent
  bool has_inference() const { return level != Level::Browse; }
};

struct TokenScore {
  int32_t token = 0;
  float score = 0;
};

struct FeatureHit {
  FeatureAddr addr;
  float score = 0;             // gate · q
};

// Features grouped by output (down) direction. Labels are the tokens the
// cluster centroid writes most (through the final norm and the output head).
struct Cluster {
  int64_t id = 0;
  std::string label;           // top tokens joined with '/', e.g. "Paris/Berlin/Rome"
  std::vector<TokenScore> top_tokens;
  int64_t size = 0;            // member features
};

// A label from a probe template: the feature fired strongly at the last
// position of prompts of this relation.
struct ProbeLabel {
  FeatureAddr addr;
  std::string relation;        // "capital"
  float score = 0;             // mean activation over the relation's prompts
  int64_t hits = 0;            // prompts where it ranked in the layer's top features
};

// Read interface over features: the seam for patch overlays. Every method is
// const and thread-safe for concurrent readers. Vectors are n_embd floats.
class FeatureStore {
 public:
  virtual ~FeatureStore() = default;

  virtual const Manifest& manifest() const = 0;
  int64_t n_layers() const;
  int64_t n_embd() const;
  // Features of a layer (dense, or per expert when expert >= 0).
  virtual int64_t n_features(int64_t layer, int64_t expert = -1) const = 0;

  // Feature vectors as floats (dequantized where stored quantized).
  // Throws larql::Error on an address out of range. up() is all zeros for
  // families without an up/gate pair (gpt2's key is its fc/up row: gate()).
  virtual void gate(const FeatureAddr& a, float* out) const = 0;
  virtual void up(const FeatureAddr& a, float* out) const = 0;
  virtual void down(const FeatureAddr& a, float* out) const = 0;

  // scores[f] = G_layer[f] · q for all features of the layer (q: n_embd floats).
  virtual void gate_scores(int64_t layer, int64_t expert, const float* q, float* scores) const = 0;
  // Top-k features by gate score (by |score| when abs), best first.
  virtual std::vector<FeatureHit> gate_knn(int64_t layer, const float* q, int64_t k,
                                           bool abs = false, int64_t expert = -1) const;
  // gate_knn over layers [first, last] inclusive; one result list per layer.
  virtual std::vector<std::vector<FeatureHit>> walk(const float* q, int64_t first, int64_t last,
                                                    int64_t k, bool abs = false) const;

  // Top tokens the feature's down vector writes, best first (empty when the
  // vindex has no down_meta).
  virtual std::vector<TokenScore> down_meta(const FeatureAddr& a) const = 0;
  // Relation clusters; cluster_of returns -1 when unclustered.
  virtual const std::vector<Cluster>& clusters() const = 0;
  virtual int64_t cluster_of(const FeatureAddr& a) const = 0;
  // Probe labels (empty when extracted without --probes).
  virtual const std::vector<ProbeLabel>& probe_labels() const = 0;
  // The best label for a feature: its probe relation, else its cluster label, else "".
  virtual std::string label(const FeatureAddr& a) const;
};

// A read-only vindex directory (memory-mapped).
class Vindex : public FeatureStore {
 public:
  // Opens and validates index.json and every file it names (sizes, tensor
  // bounds). verify_checksums additionally hashes every file.
  static std::unique_ptr<Vindex> open(const std::string& dir, bool verify_checksums = false);
  ~Vindex() override;

  const std::string& path() const;
  const Manifest& manifest() const override;
  const Tokenizer& tokenizer() const;
  // A fresh copy of the stored tokenizer (for callers that need ownership).
  std::unique_ptr<Tokenizer> make_tokenizer() const;

  // The stored tensors as a ModelSource (GGUF names and shapes), so the
  // engine runs on it: Model::from_source(v.model_source()). Throws when the
  // vindex was extracted at --level browse.
  std::unique_ptr<ModelSource> model_source() const;
  // Convenience: the Model over model_source().
  std::unique_ptr<Model> load_model() const;

  // Raw token embedding row (before any family scaling), n_embd floats.
  void embedding(int32_t token, float* out) const;
  // The FFN input the gates see: the layer's pre-FFN norm applied to a residual.
  void ffn_input(int64_t layer, const float* residual, float* out) const;
  // Top-k tokens a vector writes: output_head · (final_norm_weight ⊙ v), soft-capped as the model does.
  std::vector<TokenScore> project_to_vocab(const float* v, int64_t k) const;

  int64_t n_features(int64_t layer, int64_t expert = -1) const override;
  void gate(const FeatureAddr& a, float* out) const override;
  void up(const FeatureAddr& a, float* out) const override;
  void down(const FeatureAddr& a, float* out) const override;
  void gate_scores(int64_t layer, int64_t expert, const float* q, float* scores) const override;
  std::vector<TokenScore> down_meta(const FeatureAddr& a) const override;
  const std::vector<Cluster>& clusters() const override;
  int64_t cluster_of(const FeatureAddr& a) const override;
  const std::vector<ProbeLabel>& probe_labels() const override;

  struct Impl;

 private:
  explicit Vindex(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// True when `path` is a directory holding an index.json.
bool is_vindex(const std::string& path);

struct ExtractOptions {
  Level level = Level::All;
  int64_t down_top_k = 10;     // 0: no down_meta
  int64_t n_clusters = 32;     // 0: no clusters (capped at the number of features)
  std::string probes_file;     // "" : no probes (format: docs/vindex-format.md)
  int n_threads = 0;           // 0: all cores
  bool progress = true;        // progress bar on stderr (when it is a terminal)
};

struct ExtractStats {
  double seconds = 0;
  uint64_t bytes = 0;          // total size of the vindex
};

// Extracts a GGUF file or safetensors model into out_dir, streaming layer by
// layer, writing into out_dir.tmp-<pid> and renaming at the end. Throws
// larql::Error if out_dir exists or on any bad input.
ExtractStats extract(const std::string& model_path, const std::string& out_dir, const ExtractOptions& opt);

// Recomputes every file's checksum and size. Problems are human-readable
// lines naming the file; ok() when there are none.
struct VerifyResult {
  std::vector<std::string> problems;
  int64_t files_checked = 0;
  bool ok() const { return problems.empty(); }
};
VerifyResult verify(const std::string& dir);

// XXH64 (seed 0), as the manifest's checksums use.
uint64_t xxh64(const uint8_t* data, size_t n, uint64_t seed = 0);

}  // namespace larql::vindex
