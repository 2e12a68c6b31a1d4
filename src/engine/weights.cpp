#include "engine/weights.h"

#include "tensor/quants.h"
#include "util/error.h"

namespace larql {

namespace {

std::string blk(int64_t i, const char* n) { return "blk." + std::to_string(i) + "." + n; }

class Binder {
 public:
  explicit Binder(const ModelSource& s) : s_(s) {}

  WeightView mat(const std::string& name, int64_t n_in, int64_t n_out, bool required = true) {
    const TensorRef* t = s_.find(name);
    if (!t) {
      if (required) throw Error("model lacks tensor '" + name + "'");
      return {};
    }
    if (t->ne.size() < 2 || t->ne[0] != n_in || t->rows() != n_out)
      throw Error("tensor '" + name + "' has shape " + shape(*t) + ", expected [" + std::to_string(n_in) + ", " +
                  std::to_string(n_out) + "]");
    if (!can_dequantize(t->type))
      throw Error("tensor '" + name + "' has type " + ggml_type_name(static_cast<uint32_t>(t->type)) +
                  ", which LARQL cannot compute with");
    WeightView w;
    w.type = t->type;
    w.data = t->data;
    w.n_in = n_in;
    w.n_out = n_out;
    w.row_bytes = ggml_row_size(t->type, static_cast<uint64_t>(n_in));
    return w;
  }

  Vec vec(const std::string& name, int64_t n, bool required = true) {
    const TensorRef* t = s_.find(name);
    Vec out;
    if (!t) {
      if (required) throw Error("model lacks tensor '" + name + "'");
      return out;
    }
    int64_t count = 1;
    for (int64_t d : t->ne) count *= d;
    if (count != n)
      throw Error("tensor '" + name + "' has shape " + shape(*t) + ", expected " + std::to_string(n) + " elements");
    out.v.resize(static_cast<size_t>(n));
    dequantize_row(t->type, t->data, out.v.data(), n);
    return out;
  }

 private:
  static std::string shape(const TensorRef& t) {
    std::string s = "[";
    for (size_t i = 0; i < t.ne.size(); ++i) s += (i ? ", " : "") + std::to_string(t.ne[i]);
    return s + "]";
  }
  const ModelSource& s_;
};

}  // namespace

ModelWeights bind_weights(const ModelSource& src, const HParams& hp, const Family& fam) {
  Binder b(src);
  ModelWeights m;
  const int64_t E = hp.n_embd, V = hp.n_vocab;
  const int64_t q_dim = hp.n_head * hp.head_dim_k, kv_dim = hp.n_head_kv * hp.head_dim_k;
  const int64_t v_dim = hp.n_head_kv * hp.head_dim_v;
  m.token_embd = b.mat("token_embd.weight", E, V);
  if (fam.learned_positions) m.position_embd = b.mat("position_embd.weight", E, hp.n_ctx);
  m.output_norm = b.vec("output_norm.weight", E);
  if (fam.biases) m.output_norm_b = b.vec("output_norm.bias", E);
  m.output = b.mat("output.weight", E, V, false);
  if (!m.output.valid()) m.output = m.token_embd;
  if (fam.rope) m.rope_freqs = b.vec("rope_freqs.weight", hp.rope_dim / 2, false);
  m.layers.resize(static_cast<size_t>(hp.n_layer));
  for (int64_t i = 0; i < hp.n_layer; ++i) {
    LayerWeights& L = m.layers[static_cast<size_t>(i)];
    L.attn_norm = b.vec(blk(i, "attn_norm.weight"), E);
    if (fam.biases) L.attn_norm_b = b.vec(blk(i, "attn_norm.bias"), E);
    if (fam.fused_qkv) {
      L.wqkv = b.mat(blk(i, "attn_qkv.weight"), E, q_dim + kv_dim + v_dim);
      if (fam.biases) L.bqkv = b.vec(blk(i, "attn_qkv.bias"), q_dim + kv_dim + v_dim);
    } else {
      L.wq = b.mat(blk(i, "attn_q.weight"), E, q_dim);
      L.wk = b.mat(blk(i, "attn_k.weight"), E, kv_dim);
      L.wv = b.mat(blk(i, "attn_v.weight"), E, v_dim);
      // Biases are optional in every family that may have them (qwen2 always does).
      L.bq = b.vec(blk(i, "attn_q.bias"), q_dim, fam.qkv_bias);
      L.bk = b.vec(blk(i, "attn_k.bias"), kv_dim, fam.qkv_bias);
      L.bv = b.vec(blk(i, "attn_v.bias"), v_dim, fam.qkv_bias);
    }
    if (fam.qk_norm) {
      L.q_norm = b.vec(blk(i, "attn_q_norm.weight"), hp.head_dim_k);
      L.k_norm = b.vec(blk(i, "attn_k_norm.weight"), hp.head_dim_k);
    }
    L.wo = b.mat(blk(i, "attn_output.weight"), hp.n_head * hp.head_dim_v, E);
    L.bo = b.vec(blk(i, "attn_output.bias"), E, fam.biases);
    if (fam.sandwich_norm) L.post_attn_norm = b.vec(blk(i, "post_attention_norm.weight"), E);
    L.ffn_norm = b.vec(blk(i, "ffn_norm.weight"), E);
    if (fam.biases) L.ffn_norm_b = b.vec(blk(i, "ffn_norm.bias"), E);
    if (fam.fused_gate_up) {
      L.ffn_up = b.mat(blk(i, "ffn_up.weight"), E, 2 * hp.n_ff);
    } else {
      if (fam.ffn != FFNKind::GELU) L.ffn_gate = b.mat(blk(i, "ffn_gate.weight"), E, hp.n_ff);
      L.ffn_up = b.mat(blk(i, "ffn_up.weight"), E, hp.n_ff);
    }
    L.ffn_down = b.mat(blk(i, "ffn_down.weight"), hp.n_ff, E);
    if (fam.biases) {
      L.ffn_up_b = b.vec(blk(i, "ffn_up.bias"), hp.n_ff);
      L.ffn_down_b = b.vec(blk(i, "ffn_down.bias"), E);
    }
    if (fam.sandwich_norm) L.post_ffw_norm = b.vec(blk(i, "post_ffw_norm.weight"), E);
  }
  return m;
}

}  // namespace larql
