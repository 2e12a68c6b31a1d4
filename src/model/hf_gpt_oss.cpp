// gpt-oss fused experts -> GGUF tensors (see hf_gpt_oss.h). Written from the
// transformers GptOssExperts / MXFP4 integration conventions.
#include "model/hf_gpt_oss.h"

#include <cstring>

#include "util/error.h"

namespace larql::hf {

namespace {

using safetensors::TensorInfo;

std::string shape_str(const std::vector<int64_t>& v) {
  std::string s = "[";
  for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + std::to_string(v[i]);
  return s + "]";
}

size_t float_size(const TensorInfo& t) {
  if (t.type == GGMLType::F32) return 4;
  if (t.type == GGMLType::F16 || t.type == GGMLType::BF16) return 2;
  throw Error("tensor '" + t.name + "' has dtype " + t.dtype + "; expected F32, F16 or BF16");
}

void need_u8(const TensorInfo& t) {
  if (t.dtype != "U8") throw Error("MXFP4 tensor '" + t.name + "' has dtype " + t.dtype + ", expected U8");
}

void need_experts(const TensorInfo& t, int64_t n_expert) {
  if (t.shape.empty() || t.shape[0] != n_expert)
    throw Error("tensor '" + t.name + "' has shape " + shape_str(t.shape) + ": its first axis should be the " +
                std::to_string(n_expert) + " experts of config.json");
}

// Rows of output `part` (0 gate / 1 up of an interleaved pair, or -1: all rows).
int64_t src_row(int64_t r, int part) { return part < 0 ? r : 2 * r + part; }

OssTensor from_mxfp4(const std::string& gguf, const TensorInfo& b, const TensorInfo& s, int part) {
  const int64_t E = b.shape[0], R = b.shape[1], G = b.shape[2];
  const int64_t rows = part < 0 ? R : R / 2;
  OssTensor t{gguf, b.name, GGMLType::MXFP4, {G * 32, rows, E}, {}};
  t.bytes.resize(static_cast<size_t>(E * rows * G) * 17);
  uint8_t* out = t.bytes.data();
  for (int64_t e = 0; e < E; ++e)
    for (int64_t r = 0; r < rows; ++r) {
      const uint64_t src = static_cast<uint64_t>((e * R + src_row(r, part)) * G);
      for (int64_t g = 0; g < G; ++g, out += 17)
        mxfp4_block_hf_to_ggml(b.data + (src + static_cast<uint64_t>(g)) * 16, s.data[src + static_cast<uint64_t>(g)], out);
    }
  return t;
}

// Dense [E, in, R] (x @ W) -> GGML rows of `in` per output row.
OssTensor from_dense(const std::string& gguf, const TensorInfo& w, int part) {
  const int64_t E = w.shape[0], in = w.shape[1], R = w.shape[2];
  const int64_t rows = part < 0 ? R : R / 2;
  const size_t es = float_size(w);
  OssTensor t{gguf, w.name, *w.type, {in, rows, E}, {}};
  t.bytes.resize(static_cast<size_t>(E * rows * in) * es);
  uint8_t* out = t.bytes.data();
  for (int64_t e = 0; e < E; ++e)
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t i = 0; i < in; ++i, out += es)
        std::memcpy(out, w.data + static_cast<uint64_t>((e * in + i) * R + src_row(r, part)) * es, es);
  return t;
}

// gate_up_proj_bias [E, 2F] -> [F, E] for gate (part 0) or up (part 1).
OssTensor split_bias(const std::string& gguf, const TensorInfo& b, int part) {
  const int64_t E = b.shape[0], R = b.shape[1], rows = R / 2;
  const size_t es = float_size(b);
  OssTensor t{gguf, b.name, *b.type, {rows, E}, {}};
  t.bytes.resize(static_cast<size_t>(E * rows) * es);
  for (int64_t e = 0; e < E; ++e)
    for (int64_t r = 0; r < rows; ++r)
      std::memcpy(t.bytes.data() + static_cast<size_t>(e * rows + r) * es, b.data + static_cast<uint64_t>(e * R + 2 * r + part) * es, es);
  return t;
}

// "x_blocks" <-> "x_scales".
std::string partner(const std::string& name, const char* suffix) {
  const size_t u = name.rfind('_');
  return (u == std::string::npos ? name : name.substr(0, u)) + suffix;
}

}  // namespace

void mxfp4_block_hf_to_ggml(const uint8_t* hf16, uint8_t scale, uint8_t* ggml17) {
  auto code = [&](int i) { return static_cast<uint8_t>((hf16[i / 2] >> (4 * (i & 1))) & 0x0F); };
  ggml17[0] = scale;
  for (int j = 0; j < 16; ++j) ggml17[1 + j] = static_cast<uint8_t>(code(j) | (code(j + 16) << 4));
}

void mxfp4_block_ggml_to_hf(const uint8_t* ggml17, uint8_t* hf16, uint8_t* scale) {
  auto code = [&](int i) { return static_cast<uint8_t>(i < 16 ? ggml17[1 + i] & 0x0F : ggml17[1 + i - 16] >> 4); };
  *scale = ggml17[0];
  for (int k = 0; k < 16; ++k) hf16[k] = static_cast<uint8_t>(code(2 * k) | (code(2 * k + 1) << 4));
}

std::vector<OssTensor> build_oss_experts(const std::string& base, const OssParts& p, int64_t n_expert) {
  const std::string blk = base.substr(0, base.rfind('.') + 1);  // "blk.N."
  const bool gate_up = base.size() >= 16 && base.compare(base.size() - 16, 16, "ffn_gate_up_exps") == 0;
  std::vector<int> parts = gate_up ? std::vector<int>{0, 1} : std::vector<int>{-1};
  auto name = [&](int part, const char* suffix) {
    return blk + (part < 0 ? "ffn_down_exps" : part == 0 ? "ffn_gate_exps" : "ffn_up_exps") + suffix;
  };
  auto need_even = [&](const TensorInfo& t, int64_t n) {
    if (gate_up && n % 2 != 0)
      throw Error("tensor '" + t.name + "' has shape " + shape_str(t.shape) + ": the gate/up axis (" +
                  std::to_string(n) + ") must be even");
  };
  std::vector<OssTensor> out;
  if (p.blocks || p.scales) {
    if (!p.blocks) throw Error("MXFP4 scales '" + p.scales->name + "' have no '" + partner(p.scales->name, "_blocks") + "'");
    if (!p.scales) throw Error("MXFP4 tensor '" + p.blocks->name + "' has no '" + partner(p.blocks->name, "_scales") + "'");
    if (p.dense) throw Error("tensors '" + p.blocks->name + "' and '" + p.dense->name + "' both hold the same experts");
    const TensorInfo &b = *p.blocks, &s = *p.scales;
    need_u8(b);
    need_u8(s);
    if (b.shape.size() != 4 || b.shape[3] != 16)
      throw Error("MXFP4 tensor '" + b.name + "' has shape " + shape_str(b.shape) + ", expected [experts, rows, blocks, 16]");
    if (s.shape != std::vector<int64_t>(b.shape.begin(), b.shape.begin() + 3))
      throw Error("MXFP4 scales '" + s.name + "' have shape " + shape_str(s.shape) + ", expected " +
                  shape_str({b.shape[0], b.shape[1], b.shape[2]}) + " to match '" + b.name + "'");
    need_experts(b, n_expert);
    need_even(b, b.shape[1]);
    for (int part : parts) out.push_back(from_mxfp4(name(part, ".weight"), b, s, part));
  } else if (p.dense) {
    const TensorInfo& w = *p.dense;
    float_size(w);
    if (w.shape.size() != 3)
      throw Error("tensor '" + w.name + "' has shape " + shape_str(w.shape) + ", expected [experts, in, out]");
    need_experts(w, n_expert);
    need_even(w, w.shape[2]);
    for (int part : parts) out.push_back(from_dense(name(part, ".weight"), w, part));
  }
  if (p.bias) {
    const TensorInfo& b = *p.bias;
    float_size(b);
    if (b.shape.size() != 2) throw Error("tensor '" + b.name + "' has shape " + shape_str(b.shape) + ", expected [experts, 2 x ff]");
    need_experts(b, n_expert);
    need_even(b, b.shape[1]);
    for (int part : parts) out.push_back(split_bias(name(part, ".bias"), b, part));
  }
  return out;
}

}  // namespace larql::hf
