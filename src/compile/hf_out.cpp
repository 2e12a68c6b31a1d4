// Hugging Face folder output: config.json, model.safetensors under HF names
// (Q/K un-permuted, gemma norms back to w, gpt2 Conv1D transposed back,
// experts split; gpt-oss experts fused back, MXFP4 kept), tokenizer files.
// Written into <out>.tmp-<pid>, then renamed.
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "compile/hf_out.h"
#include "format/safetensors.h"
#include "model/hf_gpt_oss.h"
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
  std::string dtype;           // "" = the --dtype of the run; "U8" for MXFP4 blocks/scales
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
    case hf::Xform::OssBlocks:
    case hf::Xform::OssScales:
    case hf::Xform::OssDense:
    case hf::Xform::OssBias:
      break;  // gpt-oss experts: write_oss_experts()
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

bool ends_with(const std::string& s, const std::string& suf) {
  return s.size() >= suf.size() && s.compare(s.size() - suf.size(), suf.size(), suf) == 0;
}

// gpt-oss tensors written fused (down_proj_bias is an ordinary rename).
bool is_oss_fused(const std::string& n) {
  for (const char* s : {"ffn_gate_exps.weight", "ffn_up_exps.weight", "ffn_down_exps.weight", "ffn_gate_exps.bias",
                        "ffn_up_exps.bias"})
    if (ends_with(n, s)) return true;
  return false;
}

// A tensor's stored bytes and type (the override's encoding when there is one).
std::vector<uint8_t> raw(const TensorRef& t, const std::map<std::string, Resolved>& ov, GGMLType& type) {
  auto it = ov.find(t.name);
  if (it == ov.end()) {
    type = t.type;
    return {t.data, t.data + t.n_bytes};
  }
  type = it->second.type;
  return encode(it->second);
}

// One fused tensor from GGUF parts (one: down; two: gate, up interleaved by row).
// MXFP4 parts -> HF _blocks/_scales (re-packed, not re-quantized); else dense [E, in, rows] in dt.
void fuse(const ModelSource& src, const std::map<std::string, Resolved>& ov, const std::vector<const TensorRef*>& parts,
          const std::string& hf, GGMLType dt, std::vector<Blob>& blobs, bool& mxfp4) {
  const TensorRef& t0 = *parts[0];
  for (const TensorRef* t : parts)
    if (t->ne.size() != 3 || t->ne != t0.ne) throw Error("compile: gpt-oss expert tensor '" + t->name + "' is not [in, rows, experts] like '" + t0.name + "'");
  const int64_t in = t0.ne[0], rows = t0.ne[1], E = t0.ne[2], P = static_cast<int64_t>(parts.size());
  std::vector<std::vector<uint8_t>> bytes(parts.size());
  std::vector<GGMLType> types(parts.size());
  for (size_t k = 0; k < parts.size(); ++k) bytes[k] = raw(*parts[k], ov, types[k]);
  bool all_mx = true;
  for (GGMLType ty : types) all_mx = all_mx && ty == GGMLType::MXFP4;
  if (all_mx && in % 32 == 0) {
    const int64_t G = in / 32;
    Blob b{hf + "_blocks", {E, rows * P, G, 16}, std::vector<uint8_t>(static_cast<size_t>(E * rows * P * G) * 16), "U8"};
    Blob s{hf + "_scales", {E, rows * P, G}, std::vector<uint8_t>(static_cast<size_t>(E * rows * P * G)), "U8"};
    for (int64_t e = 0; e < E; ++e)
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t k = 0; k < P; ++k) {
          const size_t dst = static_cast<size_t>((e * rows * P + r * P + k) * G), srcb = static_cast<size_t>((e * rows + r) * G);
          for (int64_t g = 0; g < G; ++g)
            hf::mxfp4_block_ggml_to_hf(bytes[static_cast<size_t>(k)].data() + (srcb + static_cast<size_t>(g)) * 17,
                                       b.bytes.data() + (dst + static_cast<size_t>(g)) * 16, &s.bytes[dst + static_cast<size_t>(g)]);
        }
    blobs.push_back(std::move(b));
    blobs.push_back(std::move(s));
    mxfp4 = true;
    return;
  }
  std::vector<std::vector<float>> v;
  for (const TensorRef* t : parts) v.push_back(values(src, *t, ov));
  std::vector<float> w(static_cast<size_t>(E * in * rows * P));
  for (int64_t e = 0; e < E; ++e)
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t k = 0; k < P; ++k)
        for (int64_t i = 0; i < in; ++i)
          w[static_cast<size_t>((e * in + i) * rows * P + r * P + k)] = v[static_cast<size_t>(k)][static_cast<size_t>((e * rows + r) * in + i)];
  blobs.push_back({hf, {E, in, rows * P}, to_dtype(w.data(), w.size(), dt), ""});
}

// gpt-oss experts of every layer in transformers' GptOssExperts layout.
void write_oss_experts(const ModelSource& src, const std::map<std::string, Resolved>& ov, GGMLType dt,
                       std::vector<Blob>& blobs, bool& mxfp4) {
  const HParams& hp = src.hparams();
  for (int64_t i = 0; i < hp.n_layer; ++i) {
    const std::string g = "blk." + std::to_string(i) + ".", hf = "model.layers." + std::to_string(i) + ".mlp.experts.";
    fuse(src, ov, {&src.require(g + "ffn_gate_exps.weight"), &src.require(g + "ffn_up_exps.weight")}, hf + "gate_up_proj", dt, blobs, mxfp4);
    fuse(src, ov, {&src.require(g + "ffn_down_exps.weight")}, hf + "down_proj", dt, blobs, mxfp4);
    const TensorRef &gb = src.require(g + "ffn_gate_exps.bias"), &ub = src.require(g + "ffn_up_exps.bias");
    const std::vector<float> vg = values(src, gb, ov), vu = values(src, ub, ov);
    if (gb.ne.size() != 2 || gb.ne != ub.ne) throw Error("compile: gpt-oss expert biases '" + gb.name + "' and '" + ub.name + "' differ in shape");
    const int64_t F = gb.ne[0], E = gb.ne[1];
    std::vector<float> b(static_cast<size_t>(E * F * 2));
    for (int64_t e = 0; e < E; ++e)
      for (int64_t r = 0; r < F; ++r) {
        b[static_cast<size_t>(e * 2 * F + 2 * r)] = vg[static_cast<size_t>(e * F + r)];
        b[static_cast<size_t>(e * 2 * F + 2 * r + 1)] = vu[static_cast<size_t>(e * F + r)];
      }
    blobs.push_back({hf + "gate_up_proj_bias", {E, 2 * F}, to_dtype(b.data(), b.size(), dt), ""});
  }
}

}  // namespace

void write_hf(const ModelSource& src, const std::map<std::string, Resolved>& ov, const std::string& out_dir,
              const Options& opt, Result& res) {
  const HParams& hp = src.hparams();
  const GGMLType dt = opt.safetensors_dtype;
  std::vector<Blob> blobs;
  const bool oss = hp.arch == "gpt-oss";
  bool mxfp4 = false;
  for (const TensorRef* t : src.tensors()) {
    if (oss && is_oss_fused(t->name)) {
      ++res.tensors_written;
      continue;
    }
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
        blobs.push_back({with_expert(hf, e), {t->ne[1], t->ne[0]}, to_dtype(v.data() + part * static_cast<size_t>(e), part, dt), ""});
    } else {
      auto shape = invert(m->xform, hp, t->ne, v, t->name);
      blobs.push_back({hf, shape, to_dtype(v.data(), v.size(), dt), ""});
    }
    ++res.tensors_written;
  }
  if (oss) write_oss_experts(src, ov, dt, blobs, mxfp4);
  if (hp.arch == "gemma2" || hp.arch == "gemma3")
    res.notes.push_back("gemma norms stored as w = stored - 1: reloading adds 1 back (may differ by 1 ulp)");

  const std::string tmp = out_dir + ".tmp-" + std::to_string(::getpid());
  remove_path(tmp);
  try {
    fs::create_directories(tmp);
    std::vector<safetensors::TensorToWrite> tw;
    const char* dname = dt == GGMLType::F32 ? "F32" : dt == GGMLType::F16 ? "F16" : "BF16";
    for (const Blob& b : blobs) tw.push_back({b.name, b.dtype.empty() ? dname : b.dtype, b.shape, b.bytes.data(), b.bytes.size()});
    safetensors::write_file((fs::path(tmp) / "model.safetensors").string(), tw, {{"format", "pt"}, {"source", "larql compile"}});
    write_hf_tokenizer(src, tmp, res);
    auto tok = src.tokenizer();
    auto cfg = hf_config(hp, dt, tok->bos_id(), tok->eos_id());
    cfg["larql_compiled"] = true;
    if (mxfp4)  // as openai/gpt-oss ships: experts in MXFP4, everything else in the float dtype
      cfg["quantization_config"] = {{"quant_method", "mxfp4"},
                                    {"modules_to_not_convert",
                                     {"model.layers.*.self_attn", "model.layers.*.mlp.router", "model.embed_tokens", "lm_head"}}};
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
