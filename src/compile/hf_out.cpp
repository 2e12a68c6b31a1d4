// Hugging Face folder output: config.json, model.safetensors under HF names
// (Q/K un-permuted, gemma norms back to w, gpt2 Conv1D transposed back,
// experts split), tokenizer files. Written into <out>.tmp-<pid>, then renamed.
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "compile/hf_out.h"
#include "format/safetensors.h"
#include "model/hf_names.h"
#include "tensor/quants.h"
#include "tokenizer/tokenizer.h"
#include "util/error.h"
#include "util/half.h"

namespace larql::compile::detail {
namespace fs = std::filesystem;

namespace {

struct Blob {
  std::string name;
  std::vector<int64_t> shape;  // HF (row-major, outermost first)
  std::vector<uint8_t> bytes;
};

// F32 values of a tensor: the override as it would be stored, or the source.
std::vector<float> values(const ModelSource& src, const TensorRef& t, const std::map<std::string, Resolved>& ov) {
  auto it = ov.find(t.name);
  if (it == ov.end()) return read_f32(src, t.name);
  const auto enc = encode(it->second);
  const int64_t row = t.ne[0], rows = t.rows();
  const uint64_t rb = ggml_row_size(it->second.type, static_cast<uint64_t>(row));
  std::vector<float> out(static_cast<size_t>(row * rows));
  for (int64_t r = 0; r < rows; ++r) dequantize_row(it->second.type, enc.data() + static_cast<uint64_t>(r) * rb, out.data() + r * row, row);
  return out;
}

std::vector<uint8_t> to_dtype(const float* v, size_t n, GGMLType dt) {
  std::vector<uint8_t> out(n * (dt == GGMLType::F32 ? 4 : 2));
  if (dt == GGMLType::F32) {
    std::memcpy(out.data(), v, n * 4);
  } else {
    for (size_t i = 0; i < n; ++i) {
      const uint16_t h = dt == GGMLType::F16 ? fp32_to_fp16(v[i]) : fp32_to_bf16(v[i]);
      std::memcpy(out.data() + i * 2, &h, 2);
    }
  }
  return out;
}

// Undoes the converter's transform (hf_names.h) on GGML-order values; returns the HF shape.
std::vector<int64_t> invert(hf::Xform xf, const HParams& hp, const std::vector<int64_t>& ne, std::vector<float>& v,
                            const std::string& name) {
  std::vector<int64_t> shape(ne.rbegin(), ne.rend());
  switch (xf) {
    case hf::Xform::None: return shape;
    case hf::Xform::Squeeze: return {1, ne[0]};
    case hf::Xform::NormPlusOne:
      for (float& x : v) x -= 1.0f;
      return shape;
    case hf::Xform::Transpose: {
      const int64_t in = ne[0], outn = ne.size() > 1 ? ne[1] : 1;
      std::vector<float> t(v.size());
      for (int64_t o = 0; o < outn; ++o)
        for (int64_t i = 0; i < in; ++i) t[static_cast<size_t>(i * outn + o)] = v[static_cast<size_t>(o * in + i)];
      v.swap(t);
      return {in, outn};
    }
    case hf::Xform::PermuteQ:
    case hf::Xform::PermuteK: {
      // GGUF row h*d + 2i + j came from HF row h*d + j*d/2 + i.
      const int64_t heads = xf == hf::Xform::PermuteQ ? hp.n_head : hp.n_head_kv;
      const int64_t row = ne.size() > 1 ? ne[0] : 1;
      const int64_t rows = static_cast<int64_t>(v.size()) / row;
      if (rows % (2 * heads) != 0)
        throw Error("compile: tensor '" + name + "' has " + std::to_string(rows) + " rows, not a multiple of 2 x " +
                    std::to_string(heads) + " heads");
      const int64_t d = rows / heads, half = d / 2;
      std::vector<float> t(v.size());
      for (int64_t h = 0; h < heads; ++h)
        for (int64_t i = 0; i < half; ++i)
          for (int64_t j = 0; j < 2; ++j)
            std::memcpy(&t[static_cast<size_t>((h * d + j * half + i) * row)], &v[static_cast<size_t>((h * d + 2 * i + j) * row)],
                        static_cast<size_t>(row) * 4);
      v.swap(t);
      return shape;
    }
  }
  throw Error("compile: unhandled transform for '" + name + "'");
}

std::string with_expert(std::string hf, int64_t e) {
  const std::string key = ".experts.0.";
  const size_t p = hf.find(key);
  if (p == std::string::npos) throw Error("compile: expert tensor name '" + hf + "' has no expert index");
  return hf.replace(p, key.size(), ".experts." + std::to_string(e) + ".");
}

}  // namespace

void write_hf(const ModelSource& src, const std::map<std::string, Resolved>& ov, const std::string& out_dir,
              const Options& opt, Result& res) {
  const HParams& hp = src.hparams();
  const GGMLType dt = opt.safetensors_dtype;
  std::vector<Blob> blobs;
  for (const TensorRef* t : src.tensors()) {
    if (t->name == "rope_freqs.weight" || t->name.rfind("rope_factors_", 0) == 0)
      throw Error("compile: '" + t->name + "' (RoPE scaling factors) cannot be written as a Hugging Face config yet");
    const std::string hf = hf::hf_name_for(hp.arch, t->name);
    if (hf.empty()) throw Error("compile: tensor '" + t->name + "' has no Hugging Face name in a " + hp.arch + " model");
    auto m = hf::map_tensor_name(hp.arch, hf, hp.n_layer);
    if (!m || m->gguf != t->name) throw Error("compile: tensor '" + t->name + "' does not map back from '" + hf + "'");
    std::vector<float> v = values(src, *t, ov);
    if (m->kind == hf::Mapped::Kind::Expert) {
      if (t->ne.size() != 3) throw Error("compile: expert tensor '" + t->name + "' is not 3-D");
      const size_t part = static_cast<size_t>(t->ne[0] * t->ne[1]);
      for (int64_t e = 0; e < t->ne[2]; ++e)
        blobs.push_back({with_expert(hf, e), {t->ne[1], t->ne[0]}, to_dtype(v.data() + part * static_cast<size_t>(e), part, dt)});
    } else {
      auto shape = invert(m->xform, hp, t->ne, v, t->name);
      blobs.push_back({hf, shape, to_dtype(v.data(), v.size(), dt)});
    }
    ++res.tensors_written;
  }
  if (hp.arch == "gemma2" || hp.arch == "gemma3")
    res.notes.push_back("gemma norms stored as w = stored - 1: reloading adds 1 back (may differ by 1 ulp)");

  const std::string tmp = out_dir + ".tmp-" + std::to_string(::getpid());
  remove_path(tmp);
  try {
    fs::create_directories(tmp);
    std::vector<safetensors::TensorToWrite> tw;
    const char* dname = dt == GGMLType::F32 ? "F32" : dt == GGMLType::F16 ? "F16" : "BF16";
    for (const Blob& b : blobs) tw.push_back({b.name, dname, b.shape, b.bytes.data(), b.bytes.size()});
    safetensors::write_file((fs::path(tmp) / "model.safetensors").string(), tw, {{"format", "pt"}, {"source", "larql compile"}});
    write_hf_tokenizer(src, tmp, res);
    auto tok = src.tokenizer();
    auto cfg = hf_config(hp, dt, tok->bos_id(), tok->eos_id());
    cfg["larql_compiled"] = true;
    std::ofstream f(fs::path(tmp) / "config.json", std::ios::binary);
    f << cfg.dump(2) << "\n";
    f.close();
    if (!f) throw Error("compile: cannot write config.json in '" + tmp + "'");
    std::error_code ec;
    fs::rename(tmp, out_dir, ec);
    if (ec) throw Error("compile: cannot rename '" + tmp + "' to '" + out_dir + "': " + ec.message());
  } catch (...) {
    remove_path(tmp);
    throw;
  }
}

}  // namespace larql::compile::detail
