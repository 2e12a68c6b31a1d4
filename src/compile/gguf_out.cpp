// GGUF output: the source's metadata (or llama.cpp-style keys synthesized for
// an HF source), then every tensor in source order, copied byte for byte or
// replaced by its encoded override.
#include <cstring>
#include <map>

#include "compile/compile_internal.h"
#include "format/gguf.h"
#include "util/error.h"

namespace larql::compile::detail {
namespace {

// llama.cpp's general.file_type for a "mostly <type>" file; -1 if none fits.
int64_t ftype_for(GGMLType t) {
  switch (t) {
    case GGMLType::F32: return 0;
    case GGMLType::F16: return 1;
    case GGMLType::Q4_0: return 2;
    case GGMLType::Q4_1: return 3;
    case GGMLType::Q8_0: return 7;
    case GGMLType::Q5_0: return 8;
    case GGMLType::Q5_1: return 9;
    case GGMLType::Q2_K: return 10;
    case GGMLType::Q3_K: return 12;
    case GGMLType::Q4_K: return 15;
    case GGMLType::Q5_K: return 17;
    case GGMLType::Q6_K: return 18;
    case GGMLType::BF16: return 32;
    default: return -1;
  }
}

bool is_quantized(GGMLType t) {
  return t != GGMLType::F32 && t != GGMLType::F16 && t != GGMLType::BF16 && t != GGMLType::I8 && t != GGMLType::I16 &&
         t != GGMLType::I32 && t != GGMLType::I64 && t != GGMLType::F64;
}

}  // namespace

void write_gguf(const ModelSource& src, const std::map<std::string, Resolved>& ov, const std::string& out,
                const Options& opt, Result& res) {
  auto meta = source_metadata(src);
  gguf::Writer w(meta ? static_cast<uint32_t>(meta->alignment()) : 32u);
  if (meta) {
    for (const auto& [k, v] : meta->metadata())
      if (k != "general.alignment") w.set(k, v);  // the Writer emits it from its own alignment
  } else {
    synthesize_metadata(src, w, res);
  }

  // Tensors: the source's bytes, or the override's encoding.
  std::map<GGMLType, uint64_t> bytes_by_type;  // 2-D+ weights, for general.file_type
  bool any_quant = false;
  for (const TensorRef* t : src.tensors()) {
    auto it = ov.find(t->name);
    GGMLType type = t->type;
    if (it != ov.end()) {
      type = it->second.type;
      auto bytes = encode(it->second);
      w.add_tensor_data(t->name, type, t->ne, std::move(bytes));
    } else {
      const TensorRef* ref = t;
      w.add_tensor(t->name, t->type, t->ne, [ref](uint8_t* dst, size_t n) {
        if (n != ref->n_bytes)
          throw Error("compile: tensor '" + ref->name + "' has " + std::to_string(ref->n_bytes) + " bytes, its shape needs " +
                      std::to_string(n));
        std::memcpy(dst, ref->data, n);
      });
    }
    if (t->ne.size() >= 2) bytes_by_type[type] += n_elements(t->ne);
    any_quant = any_quant || is_quantized(type);
    ++res.tensors_written;
  }

  // general.file_type: kept when the source states one (the bulk of the
  // weights keeps its type); otherwise the most common weight type.
  if (!meta || !meta->find("general.file_type")) {
    GGMLType best = GGMLType::F32;
    uint64_t most = 0;
    for (const auto& [t, n] : bytes_by_type)
      if (n > most) most = n, best = t;
    const int64_t ft = ftype_for(best);
    if (ft >= 0) {
      w.set("general.file_type", gguf::Value::from_u32(static_cast<uint32_t>(ft)));
      res.notes.push_back("general.file_type set to " + std::to_string(ft));
    }
  }
  if (any_quant && (!meta || !meta->find("general.quantization_version")))
    w.set("general.quantization_version", gguf::Value::from_u32(2));

  std::string stamp = "compiled by larql";
  if (!ov.empty()) {
    stamp += "; replaced tensors:";
    for (const auto& [name, r] : ov) stamp += " " + name;
  }
  w.set("general.source.larql", gguf::Value::from_string(stamp));
  if (!opt.note.empty()) w.set("general.source.larql.note", gguf::Value::from_string(opt.note));
  w.write(out);
}

}  // namespace larql::compile::detail
