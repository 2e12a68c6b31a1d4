// larql extract: source model -> vindex directory, one layer at a time.
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "format/gguf.h"
#include "model/model_source.h"
#include "tokenizer/tokenizer.h"
#include "util/error.h"
#include "util/half.h"
#include "util/progress.h"
#include "util/thread_pool.h"
#include "vindex/extract_internal.h"
#include "vindex/manifest.h"

namespace larql::vindex {
namespace fs = std::filesystem;

namespace {

bool file_is_gguf(const std::string& path) {
  if (!fs::is_regular_file(path)) return false;
  std::ifstream f(path, std::ios::binary);
  char m[4] = {};
  f.read(m, 4);
  return f.gcount() == 4 && std::memcmp(m, "GGUF", 4) == 0;
}

std::string read_text(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  if (!f) throw Error("cannot read '" + p.string() + "'");
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::string now_utc() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// Copies the tokenizer: GGUF metadata (no tensors) into tokenizer.gguf, or
// the Hugging Face JSON files as they are.
void write_tokenizer(const std::string& model_path, bool gguf_src, const std::string& root, Manifest& m) {
  if (gguf_src) {
    auto f = gguf::File::open(model_path);
    gguf::Writer w;
    for (const auto& [k, v] : f->metadata()) w.set(k, v);
    w.write((fs::path(root) / "tokenizer.gguf").string());
    m.files.push_back(hash_file(root, "tokenizer.gguf"));
    m.tokenizer_kind = "gguf";
    return;
  }
  fs::path dir = fs::is_directory(model_path) ? fs::path(model_path) : fs::path(model_path).parent_path();
  if (!fs::exists(dir / "tokenizer.json")) throw Error("'" + dir.string() + "' has no tokenizer.json");
  write_file(root, "tokenizer.json", read_text(dir / "tokenizer.json"), m);
  if (fs::exists(dir / "tokenizer_config.json"))
    write_file(root, "tokenizer_config.json", read_text(dir / "tokenizer_config.json"), m);
  m.tokenizer_kind = "hf";
}

bool is_global_browse(const std::string& n) {
  return n == "token_embd.weight" || n == "output_norm.weight" || n == "output_norm.bias" || n == "output.weight";
}

bool is_ffn_browse(const std::string& suffix) {
  return suffix.rfind("ffn_norm.", 0) == 0 || suffix.rfind("ffn_gate", 0) == 0 || suffix.rfind("ffn_up", 0) == 0;
}

// Stores one FFN's down columns as rows (+ down_meta when asked).
void write_features(const ModelSource& src, const FfnLayout& f, int64_t n_embd, BinWriter& layer_w,
                    BinWriter* meta_w, const VocabProjector* proj, int64_t top_k, ThreadPool& pool) {
  std::vector<float> cols = down_columns(src, f, n_embd);
  const GGMLType src_type = src.require(f.down).type;
  const int64_t n_exp = std::max<int64_t>(1, f.n_experts);
  const int64_t n_rows = n_exp * f.n_features;
  std::vector<int64_t> ne = {n_embd, f.n_features};
  if (f.n_experts) ne.push_back(f.n_experts);
  // Exact float types keep their precision; quantized down columns are stored
  // dequantized as F16 (F32 would double the size for no information).
  if (src_type == GGMLType::F32 || src_type == GGMLType::BF16) {
    layer_w.add(f.down_feat, GGMLType::F32, ne, cols.data(), cols.size() * 4);
  } else {
    std::vector<uint16_t> h(cols.size());
    for (size_t i = 0; i < cols.size(); ++i) h[i] = fp32_to_fp16(cols[i]);
    layer_w.add(f.down_feat, GGMLType::F16, ne, h.data(), h.size() * 2);
  }
  if (!meta_w || !proj || top_k <= 0) return;
  const int64_t k = std::min(top_k, proj->n_vocab());
  auto tops = proj->top(cols.data(), n_rows, k, pool);
  std::vector<int32_t> tok(static_cast<size_t>(n_rows * k));
  std::vector<float> score(tok.size());
  for (int64_t r = 0; r < n_rows; ++r)
    for (int64_t j = 0; j < k; ++j) {
      tok[static_cast<size_t>(r * k + j)] = tops[static_cast<size_t>(r)][static_cast<size_t>(j)].token;
      score[static_cast<size_t>(r * k + j)] = tops[static_cast<size_t>(r)][static_cast<size_t>(j)].score;
    }
  std::vector<int64_t> mne = {k, f.n_features};
  if (f.n_experts) mne.push_back(f.n_experts);
  meta_w->add(f.meta_tok, GGMLType::I32, mne, tok.data(), tok.size() * 4);
  meta_w->add(f.meta_score, GGMLType::F32, mne, score.data(), score.size() * 4);
}

}  // namespace

ExtractStats extract(const std::string& model_path, const std::string& out_dir, const ExtractOptions& opt) {
  const auto t0 = std::chrono::steady_clock::now();
  if (out_dir.empty()) throw Error("extract: empty output path");
  if (fs::exists(out_dir)) throw Error("extract: output '" + out_dir + "' already exists");
  if (opt.down_top_k < 0 || opt.n_clusters < 0) throw Error("extract: --down-top and --clusters must be >= 0");
  if (!opt.probes_file.empty() && !fs::exists(opt.probes_file))
    throw Error("extract: probes file '" + opt.probes_file + "' does not exist");
  if (!opt.probes_file.empty() && opt.level == Level::Inference)
    throw Error("extract: --probes needs --level browse or all");
  auto src = open_model(model_path);
  const HParams& hp = src->hparams();
  const bool gguf_src = file_is_gguf(model_path);
  ThreadPool& pool = ThreadPool::global(opt.n_threads);

  const std::string tmp = out_dir + ".tmp-" + std::to_string(::getpid());
  fs::remove_all(tmp);
  fs::create_directories(tmp);
  try {
    Manifest m;
    m.family = hp.arch;
    m.hparams = hp;
    m.level = opt.level;
    m.chat_template = src->chat_template();
    m.provenance = {fs::absolute(model_path).string(), gguf_src ? "gguf" : "safetensors", src->file_bytes(),
                    now_utc(), "0.1.0", 0};
    const bool inference = opt.level != Level::Browse;
    const bool browse = opt.level != Level::Inference;
    m.down_top_k = browse ? opt.down_top_k : 0;
    write_tokenizer(model_path, gguf_src, tmp, m);

    const int64_t E = hp.n_embd;
    {  // Global tensors: embeddings, final norm, head (and, for inference, the rest).
      BinWriter w(tmp, "model.bin");
      for (const TensorRef* t : src->tensors())
        if (t->name.rfind("blk.", 0) != 0 && (inference || is_global_browse(t->name)))
          w.add(t->name, t->type, t->ne, t->data, t->n_bytes);
      w.close(m);
    }
    std::unique_ptr<VocabProjector> proj;
    if (browse && (opt.down_top_k > 0 || opt.n_clusters > 0)) proj = std::make_unique<VocabProjector>(projector_for(*src));
    std::unique_ptr<BinWriter> meta_w;
    if (browse && opt.down_top_k > 0) meta_w = std::make_unique<BinWriter>(tmp, "down_meta.bin");

    auto shape = [&](const std::string& n) {
      const TensorRef* t = src->find(n);
      return t ? t->ne : std::vector<int64_t>{};
    };
    ProgressBar bar("extract", opt.progress);
    for (int64_t l = 0; l < hp.n_layer; ++l) {
      bar.update(static_cast<size_t>(l), static_cast<size_t>(hp.n_layer), "layer " + std::to_string(l));
      char rel[48];
      std::snprintf(rel, sizeof rel, "layers/blk.%03lld.bin", static_cast<long long>(l));
      BinWriter w(tmp, rel);
      const std::string prefix = "blk." + std::to_string(l) + ".";
      for (const TensorRef* t : src->tensors()) {
        if (t->name.rfind(prefix, 0) != 0) continue;
        if (inference || is_ffn_browse(t->name.substr(prefix.size())))
          w.add(t->name, t->type, t->ne, t->data, t->n_bytes);
      }
      LayerInfo li;
      li.layer = l;
      FfnLayout d = dense_layout(l, shape), x = expert_layout(l, shape);
      if (d.present()) {
        li.n_features = d.n_features;
        write_features(*src, d, E, w, meta_w.get(), proj.get(), m.down_top_k, pool);
      }
      if (x.present()) {
        li.n_experts = x.n_experts;
        li.n_features_expert = x.n_features;
        write_features(*src, x, E, w, meta_w.get(), proj.get(), m.down_top_k, pool);
      }
      m.layers.push_back(li);
      w.close(m);
    }
    bar.update(static_cast<size_t>(hp.n_layer), static_cast<size_t>(hp.n_layer), "done");
    bar.finish();
    if (meta_w) meta_w->close(m);
    if (browse && opt.n_clusters > 0) {
      build_clusters(tmp, m, *proj, opt.n_clusters, pool, *src->tokenizer());
    }
    if (!opt.probes_file.empty()) build_probes(model_path, opt.probes_file, tmp, m, pool);

    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    m.provenance.extract_seconds = secs;
    {
      std::ofstream f(fs::path(tmp) / "index.json", std::ios::binary);
      f << manifest_to_json(m).dump(1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
      if (!f) throw Error("write failed on index.json");
    }
    fs::rename(tmp, out_dir);
    ExtractStats st;
    st.seconds = secs;
    for (const auto& e : fs::recursive_directory_iterator(out_dir))
      if (e.is_regular_file()) st.bytes += e.file_size();
    return st;
  } catch (...) {
    std::error_code ec;
    fs::remove_all(tmp, ec);
    throw;
  }
}

}  // namespace larql::vindex
