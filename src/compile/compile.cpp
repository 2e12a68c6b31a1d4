// write_model's front door: override validation and encoding, the overlay
// source, read_f32, and the vindex route (GGUF or HF folder to a temporary
// path, then vindex::extract).
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>

#include "compile/compile_internal.h"
#include "format/gguf.h"
#include "tensor/quants.h"
#include "tokenizer/tokenizer.h"
#include "util/error.h"
#include "vindex/vindex.h"

namespace larql::compile {
namespace fs = std::filesystem;
using namespace detail;

Format format_from_name(const std::string& s) {
  if (s == "gguf" || s == "GGUF") return Format::GGUF;
  if (s == "safetensors" || s == "SAFETENSORS" || s == "hf") return Format::Safetensors;
  if (s == "vindex" || s == "VINDEX") return Format::Vindex;
  throw Error("unknown output format '" + s + "' (expected gguf, safetensors or vindex)");
}

const char* format_name(Format f) {
  switch (f) {
    case Format::GGUF: return "gguf";
    case Format::Safetensors: return "safetensors";
    case Format::Vindex: return "vindex";
  }
  return "?";
}

namespace detail {

uint64_t n_elements(const std::vector<int64_t>& ne) {
  uint64_t n = 1;
  for (int64_t d : ne) n *= static_cast<uint64_t>(d);
  return n;
}

static bool is_float_type(GGMLType t) { return t == GGMLType::F32 || t == GGMLType::F16 || t == GGMLType::BF16; }

std::map<std::string, Resolved> resolve(const ModelSource& src, const Overrides& ov, const Options& opt) {
  std::map<std::string, Resolved> out;
  for (const auto& [name, o] : ov) {
    const TensorRef* t = src.find(name);
    if (!t) throw Error("compile: override '" + name + "' names no tensor of '" + src.path() + "'");
    const uint64_t n = n_elements(t->ne);
    if (o.data.size() != n)
      throw Error("compile: override '" + name + "' has " + std::to_string(o.data.size()) + " values, the tensor has " +
                  std::to_string(n));
    for (size_t i = 0; i < o.data.size(); ++i)
      if (!std::isfinite(o.data[i]))
        throw Error("compile: override '" + name + "' holds a non-finite value at index " + std::to_string(i));
    Resolved r;
    r.src = t;
    r.ov = &o;
    if (o.type) {
      r.type = *o.type;
      r.why = "as requested";
    } else if (is_float_type(t->type)) {
      r.type = t->type;
      r.why = "source type kept";
    } else {
      r.type = opt.quantized_override_type;
      r.why = std::string("quantized source (") + ggml_type_name(static_cast<uint32_t>(t->type)) + ") written as " +
              ggml_type_name(static_cast<uint32_t>(r.type)) + " so the edit is not re-quantized away";
    }
    if (!can_quantize(r.type) || r.type == GGMLType::Q8_K)  // Q8_K is an activation type: no loader accepts it as weights
      throw Error("compile: override '" + name + "': cannot write type " + ggml_type_name(static_cast<uint32_t>(r.type)));
    if (t->ne[0] % ggml_type_traits(static_cast<uint32_t>(r.type))->block_size != 0)
      throw Error("compile: override '" + name + "': row length " + std::to_string(t->ne[0]) + " is not a multiple of the " +
                  ggml_type_name(static_cast<uint32_t>(r.type)) + " block size");
    out.emplace(name, std::move(r));
  }
  return out;
}

std::vector<uint8_t> encode(const Resolved& r) {
  const int64_t row = r.src->ne[0], rows = r.src->rows();
  const uint64_t rb = ggml_row_size(r.type, static_cast<uint64_t>(row));
  std::vector<uint8_t> out(rb * static_cast<uint64_t>(rows));
  for (int64_t i = 0; i < rows; ++i)
    quantize_row(r.type, r.ov->data.data() + i * row, out.data() + static_cast<uint64_t>(i) * rb, row);
  return out;
}

bool is_vindex_dir(const std::string& path) {
  std::error_code ec;
  return fs::is_directory(path, ec) && fs::exists(fs::path(path) / "index.json", ec);
}

std::unique_ptr<gguf::File> source_metadata(const ModelSource& src) {
  const std::string p = src.path();
  std::error_code ec;
  if (fs::is_regular_file(p, ec)) {
    char m[4] = {};
    if (FILE* f = std::fopen(p.c_str(), "rb")) {
      const size_t got = std::fread(m, 1, 4, f);
      std::fclose(f);
      if (got == 4 && std::memcmp(m, "GGUF", 4) == 0) return gguf::File::open(p);
    }
    return nullptr;
  }
  if (is_vindex_dir(p) && fs::exists(fs::path(p) / "tokenizer.gguf", ec))
    return gguf::File::open((fs::path(p) / "tokenizer.gguf").string());
  return nullptr;
}

void remove_path(const std::string& p) {
  std::error_code ec;
  fs::remove_all(p, ec);
}

uint64_t path_bytes(const std::string& p) {
  std::error_code ec;
  if (fs::is_regular_file(p, ec)) return fs::file_size(p, ec);
  uint64_t n = 0;
  for (const auto& e : fs::recursive_directory_iterator(p, ec))
    if (e.is_regular_file(ec)) n += e.file_size(ec);
  return n;
}

}  // namespace detail

namespace {

// The source seen through the overrides (for live inference on an edit).
class OverlaySource final : public ModelSource {
 public:
  OverlaySource(const ModelSource& base, const std::map<std::string, Resolved>& ov,
                std::unique_ptr<ModelSource> owned = nullptr)
      : owned_(std::move(owned)), base_(base) {
    for (const auto& [name, r] : ov) {
      bytes_[name] = encode(r);
      TensorRef t = *r.src;
      t.type = r.type;
      t.data = bytes_[name].data();
      t.n_bytes = bytes_[name].size();
      refs_.emplace(name, std::move(t));
    }
  }
  const HParams& hparams() const override { return base_.hparams(); }
  const TensorRef* find(const std::string& name) const override {
    auto it = refs_.find(name);
    return it != refs_.end() ? &it->second : base_.find(name);
  }
  std::vector<const TensorRef*> tensors() const override {
    auto v = base_.tensors();
    for (auto& t : v)
      if (auto it = refs_.find(t->name); it != refs_.end()) t = &it->second;
    return v;
  }
  std::unique_ptr<Tokenizer> tokenizer() const override { return base_.tokenizer(); }
  std::string chat_template() const override { return base_.chat_template(); }
  std::string path() const override { return base_.path(); }
  uint64_t file_bytes() const override { return base_.file_bytes(); }

 private:
  std::unique_ptr<ModelSource> owned_;  // set when the overlay owns its base
  const ModelSource& base_;
  std::map<std::string, std::vector<uint8_t>> bytes_;
  std::map<std::string, TensorRef> refs_;
};

// Extract options as the source vindex had them, unless the caller chose.
vindex::ExtractOptions extract_options(const ModelSource& src, const Options& opt, Result& res) {
  vindex::ExtractOptions eo;
  eo.progress = opt.progress;
  eo.probes_file = opt.probes_file;
  if (is_vindex_dir(src.path())) {
    auto v = vindex::Vindex::open(src.path());
    const auto& m = v->manifest();
    eo.down_top_k = m.down_top_k;
    eo.n_clusters = m.n_clusters;
    eo.level = m.level == vindex::Level::Browse ? vindex::Level::All : m.level;
    if (m.has_probes && opt.probes_file.empty())
      res.notes.push_back("the source vindex had probe labels; pass a probes file to relabel the output");
  }
  if (opt.down_top_k >= 0) eo.down_top_k = opt.down_top_k;
  if (opt.n_clusters >= 0) eo.n_clusters = opt.n_clusters;
  return eo;
}

}  // namespace

std::unique_ptr<ModelSource> with_overrides(const ModelSource& src, const Overrides& overrides, const Options& opt) {
  return std::make_unique<OverlaySource>(src, resolve(src, overrides, opt));
}

std::unique_ptr<ModelSource> with_overrides(std::unique_ptr<ModelSource> src, const Overrides& overrides,
                                            const Options& opt) {
  if (!src) throw Error("compile: with_overrides on a null source");
  const ModelSource& ref = *src;
  return std::make_unique<OverlaySource>(ref, resolve(ref, overrides, opt), std::move(src));
}

std::vector<float> read_f32(const ModelSource& src, const std::string& gguf_name) {
  const TensorRef& t = src.require(gguf_name);
  if (!can_dequantize(t.type))
    throw Error("compile: tensor '" + gguf_name + "' has type " + ggml_type_name(static_cast<uint32_t>(t.type)) +
                ", which LARQL cannot dequantize");
  const int64_t row = t.ne.empty() ? 1 : t.ne[0], rows = t.rows();
  const uint64_t rb = ggml_row_size(t.type, static_cast<uint64_t>(row));
  if (rb * static_cast<uint64_t>(rows) != t.n_bytes)
    throw Error("compile: tensor '" + gguf_name + "' has " + std::to_string(t.n_bytes) + " bytes, its shape needs " +
                std::to_string(rb * static_cast<uint64_t>(rows)));
  std::vector<float> out(static_cast<size_t>(row * rows));
  for (int64_t i = 0; i < rows; ++i) dequantize_row(t.type, t.data + static_cast<uint64_t>(i) * rb, out.data() + i * row, row);
  return out;
}

Result write_model(const ModelSource& src, const Overrides& overrides, const std::string& out_path, const Options& opt) {
  const auto t0 = std::chrono::steady_clock::now();
  if (out_path.empty()) throw Error("compile: empty output path");
  std::error_code ec;
  const fs::path out_abs = fs::weakly_canonical(out_path, ec);
  const fs::path src_abs = fs::weakly_canonical(src.path(), ec);
  if (!out_abs.empty() && out_abs == src_abs) throw Error("compile: output '" + out_path + "' is the source itself");
  if (fs::exists(out_path, ec)) {
    if (!opt.overwrite) throw Error("compile: output '" + out_path + "' already exists (use overwrite to replace it)");
    if (opt.format != Format::GGUF) remove_path(out_path);  // a GGUF is replaced atomically by rename
  }
  if (opt.safetensors_dtype != GGMLType::F32 && opt.safetensors_dtype != GGMLType::F16 &&
      opt.safetensors_dtype != GGMLType::BF16)
    throw Error("compile: safetensors dtype must be F32, F16 or BF16");
  const auto ov = resolve(src, overrides, opt);
  Result res;
  for (const auto& [name, r] : ov) res.notes.push_back(name + ": " + ggml_type_name(static_cast<uint32_t>(r.type)) + " (" + r.why + ")");
  res.tensors_changed = static_cast<int64_t>(ov.size());

  switch (opt.format) {
    case Format::GGUF: write_gguf(src, ov, out_path, opt, res); break;
    case Format::Safetensors: write_hf(src, ov, out_path, opt, res); break;
    case Format::Vindex: {
      const auto eo = extract_options(src, opt, res);
      const bool via_gguf = source_metadata(src) != nullptr;
      const std::string tmp = out_path + ".compile-" + std::to_string(::getpid()) + (via_gguf ? ".gguf" : ".hf");
      remove_path(tmp);
      try {
        Options o = opt;
        o.overwrite = false;
        if (via_gguf) {
          write_gguf(src, ov, tmp, o, res);
        } else {
          o.safetensors_dtype = GGMLType::F32;
          write_hf(src, ov, tmp, o, res);
        }
        vindex::extract(tmp, out_path, eo);
      } catch (...) {
        remove_path(tmp);
        throw;
      }
      remove_path(tmp);
      res.notes.push_back(std::string("vindex extracted from a temporary ") + (via_gguf ? "GGUF" : "safetensors folder") +
                          " (down_top_k " + std::to_string(eo.down_top_k) + ", clusters " + std::to_string(eo.n_clusters) + ")");
      break;
    }
  }
  res.bytes = path_bytes(out_path);
  res.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return res;
}

}  // namespace larql::compile
