#include "engine/weights.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include "kernels/qdot.h"
#include "kernels/repack.h"
#include "tensor/quants.h"
#include "util/error.h"
#include "util/thread_pool.h"

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
    return view(*t, n_in, n_out);
  }

  // An expert tensor [n_in, n_out, n_exp]; expert e is rows e*n_out .. (e+1)*n_out-1.
  ExpertWeights experts(const std::string& name, int64_t n_in, int64_t n_out, int64_t n_exp) {
    const TensorRef* t = s_.find(name);
    if (!t) throw Error("model lacks tensor '" + name + "'");
    if (t->ne.size() != 3 || t->ne[0] != n_in || t->ne[1] != n_out || t->ne[2] != n_exp)
      throw Error("tensor '" + name + "' has shape " + shape(*t) + ", expected [" + std::to_string(n_in) + ", " +
                  std::to_string(n_out) + ", " + std::to_string(n_exp) + "]");
    ExpertWeights e;
    e.w = view(*t, n_in, n_out);
    e.n_expert = n_exp;
    e.expert_bytes = e.w.row_bytes * static_cast<uint64_t>(n_out);
    return e;
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
  static WeightView view(const TensorRef& tr, int64_t n_in, int64_t n_out) {
    const TensorRef* t = &tr;
    const std::string& name = t->name;
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
  static std::string shape(const TensorRef& t) {
    std::string s = "[";
    for (size_t i = 0; i < t.ne.size(); ++i) s += (i ? ", " : "") + std::to_string(t.ne[i]);
    return s + "]";
  }
  const ModelSource& s_;
};

// DeepSeek MLA: optional query compression (V2-Lite has a plain attn_q), the
// KV latent plus shared rope key, and attn_kv_b expanding the latent per head.
void bind_mla(Binder& b, const HParams& hp, int64_t i, LayerWeights& L) {
  const int64_t E = hp.n_embd, H = hp.n_head, dk = hp.head_dim_k, nope = hp.head_dim_k - hp.rope_dim;
  if (hp.q_lora_rank > 0) {
    L.wq_a = b.mat(blk(i, "attn_q_a.weight"), E, hp.q_lora_rank);
    L.q_a_norm = b.vec(blk(i, "attn_q_a_norm.weight"), hp.q_lora_rank);
    L.wq_b = b.mat(blk(i, "attn_q_b.weight"), hp.q_lora_rank, H * dk);
  } else {
    L.wq = b.mat(blk(i, "attn_q.weight"), E, H * dk);
  }
  L.wkv_a = b.mat(blk(i, "attn_kv_a_mqa.weight"), E, hp.kv_lora_rank + hp.rope_dim);
  L.kv_a_norm = b.vec(blk(i, "attn_kv_a_norm.weight"), hp.kv_lora_rank);
  L.wkv_b = b.mat(blk(i, "attn_kv_b.weight"), hp.kv_lora_rank, H * (nope + hp.head_dim_v));
  // Decoded once here instead of H * nope rows per layer per decode step (DeepSeek-V2-Lite: 4 MiB per layer).
  const int64_t R = hp.kv_lora_rank;
  L.wkb.v.resize(static_cast<size_t>(H * nope * R));
  for (int64_t h = 0; h < H; ++h)
    for (int64_t r = 0; r < nope; ++r) weight_row(L.wkv_b, h * (nope + hp.head_dim_v) + r, L.wkb.v.data() + (h * nope + r) * R);
}

void bind_moe(Binder& b, const HParams& hp, const Family& fam, int64_t i, LayerWeights& L) {
  const int64_t E = hp.n_embd, X = hp.n_expert, F = hp.n_ff_exp;
  L.ffn_gate_inp = b.mat(blk(i, "ffn_gate_inp.weight"), E, X);
  if (fam.moe_selection_bias) L.exp_probs_b = b.vec(blk(i, "exp_probs_b.bias"), X);
  L.gate_exps = b.experts(blk(i, "ffn_gate_exps.weight"), E, F, X);
  L.up_exps = b.experts(blk(i, "ffn_up_exps.weight"), E, F, X);
  L.down_exps = b.experts(blk(i, "ffn_down_exps.weight"), F, E, X);
  if (fam.router_bias) L.ffn_gate_inp_b = b.vec(blk(i, "ffn_gate_inp.bias"), X);
  if (fam.expert_biases) {
    L.gate_exps_b = b.vec(blk(i, "ffn_gate_exps.bias"), F * X);
    L.up_exps_b = b.vec(blk(i, "ffn_up_exps.bias"), F * X);
    L.down_exps_b = b.vec(blk(i, "ffn_down_exps.bias"), E * X);
  }
  if (fam.shared_expert != SharedExpert::None) {
    const int64_t SF = fam.shared_expert == SharedExpert::SigmoidGated ? hp.n_ff_shexp : F * hp.n_expert_shared;
    if (fam.shared_expert == SharedExpert::SigmoidGated) L.ffn_gate_inp_shexp = b.vec(blk(i, "ffn_gate_inp_shexp.weight"), E);
    L.ffn_gate_shexp = b.mat(blk(i, "ffn_gate_shexp.weight"), E, SF);
    L.ffn_up_shexp = b.mat(blk(i, "ffn_up_shexp.weight"), E, SF);
    L.ffn_down_shexp = b.mat(blk(i, "ffn_down_shexp.weight"), SF, E);
  }
}

// Read-only file mappings of this process ([start, end) from /proc/self/maps):
// only their pages may be dropped, since they come back from the file.
std::vector<std::pair<uintptr_t, uintptr_t>> readonly_file_maps() {
  std::vector<std::pair<uintptr_t, uintptr_t>> out;
  std::ifstream f("/proc/self/maps");
  std::string line;
  while (std::getline(f, line)) {
    std::istringstream is(line);
    std::string range, perms, off, dev;
    unsigned long inode = 0;
    if (!(is >> range >> perms >> off >> dev >> inode) || inode == 0 || perms.size() < 2 || perms[1] != '-') continue;
    const size_t dash = range.find('-');
    if (dash == std::string::npos) continue;
    out.emplace_back(std::stoull(range.substr(0, dash), nullptr, 16), std::stoull(range.substr(dash + 1), nullptr, 16));
  }
  return out;
}

// Repacks every plain quantized matrix that takes the sequential order
// (docs/numerics.md) into the row-interleaved layout, then drops the source's
// mapped pages so the copy replaces them in memory (they return from the file
// if something reads the row-major data again: a slice, weight_row, embeddings).
// Drops the mapped pages under v's rows when they belong to a read-only file mapping.
void drop_source_pages(const WeightView& v, const std::vector<std::pair<uintptr_t, uintptr_t>>& maps) {
  const uintptr_t page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  const uintptr_t b = reinterpret_cast<uintptr_t>(v.data), e = b + v.row_bytes * static_cast<uint64_t>(v.n_out);
  const uintptr_t b2 = (b + page - 1) / page * page, e2 = e / page * page;
  const bool file = std::any_of(maps.begin(), maps.end(), [&](auto& r) { return r.first <= b && e <= r.second; });
  if (file && b2 < e2) madvise(reinterpret_cast<void*>(b2), e2 - b2, MADV_DONTNEED);
}

bool expert_repack_enabled() {
  const char* e = std::getenv("LARQL_EXPERT_REPACK");
  return repack::enabled() && !(e && std::strcmp(e, "0") == 0);
}

bool expert_packable(const ExpertWeights& x) {
  return x.valid() && x.n_expert > 0 && repack::packable(x.w.type, x.w.n_in, x.w.n_out) && repack::enabled(x.w.type);
}

void repack_plain(ModelWeights& m) {
  if (!repack::enabled()) return;
  std::vector<WeightView*> views = {&m.output};
  for (LayerWeights& L : m.layers)
    for (WeightView* v : {&L.wq, &L.wk, &L.wv, &L.wqkv, &L.wo, &L.ffn_gate, &L.ffn_up, &L.ffn_down, &L.ffn_gate_shexp,
                          &L.ffn_up_shexp, &L.ffn_down_shexp, &L.wq_a, &L.wq_b, &L.wkv_a, &L.wkv_b})
      views.push_back(v);
  const auto maps = readonly_file_maps();
  ThreadPool pool(static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
  // Distinct matrices to pack (tied / shared tensors once), in order.
  std::vector<WeightView*> todo;
  std::map<const uint8_t*, WeightView*> first;
  for (WeightView* v : views) {
    if (!v->valid() || !qdot::seq_order(v->type, v->n_out) || !repack::packable(v->type, v->n_in, v->n_out) ||
        !repack::enabled(v->type))  // plain AVX2: no packed Q8_0 kernel
      continue;
    if (first.emplace(v->data, v).second) todo.push_back(v);
  }
  // Matrices below a few 2 MiB pages (k/v projections of GQA models) are packed
  // straight into one shared arena, so they stream from huge pages too and no
  // copy of them is ever held twice (peak RSS stays at the file's size).
  constexpr size_t kSmallPacked = size_t{4} << 20;
  auto padded = [](size_t b) { return (b + 63) / 64 * 64; };
  size_t small_total = 0;
  for (const WeightView* v : todo)
    if (const size_t b = repack::packed_bytes(*v); b < kSmallPacked) small_total += padded(b);
  std::shared_ptr<uint8_t> arena = small_total ? repack::alloc_arena(small_total) : nullptr;
  size_t off = 0;
  for (WeightView* v : todo) {
    const size_t b = repack::packed_bytes(*v);
    std::unique_ptr<repack::Packed> p =
        b < kSmallPacked ? repack::pack_into(*v, arena.get() + off, &pool) : repack::pack(*v, &pool);
    if (b < kSmallPacked) off += padded(b);
    v->packed = p.get();
    m.packed.push_back(std::move(p));
    drop_source_pages(*v, maps);
  }
  for (WeightView* v : views)  // the other views of a packed tensor
    if (!v->packed && v->valid())
      if (auto it = first.find(v->data); it != first.end() && repack::matches(it->second->packed, *v))
        v->packed = it->second->packed;
  if (arena) m.packed_arenas.push_back(std::move(arena));
}

}  // namespace

uint64_t packable_expert_bytes(const ModelWeights& m) {
  if (!expert_repack_enabled()) return 0;
  uint64_t total = 0;
  for (const LayerWeights& L : m.layers)
    for (const ExpertWeights* x : {&L.gate_exps, &L.up_exps, &L.down_exps})
      if (expert_packable(*x) && x->packed.empty()) total += x->expert_bytes * static_cast<uint64_t>(x->n_expert);
  return total;
}

uint64_t repack_experts(ModelWeights& m) {
  if (!expert_repack_enabled()) return 0;
  const auto maps = readonly_file_maps();
  ThreadPool pool(static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
  uint64_t total = 0;
  for (LayerWeights& L : m.layers)
    for (ExpertWeights* x : {&L.gate_exps, &L.up_exps, &L.down_exps}) {
      if (!expert_packable(*x) || !x->packed.empty()) continue;
      // One buffer per tensor, packed in place: each expert is smaller than a
      // 2 MiB page, and no expert is ever held twice.
      const size_t each = (repack::packed_bytes(x->at(0)) + 63) / 64 * 64;
      std::shared_ptr<uint8_t> arena = repack::alloc_arena(each * static_cast<size_t>(x->n_expert));
      std::vector<const repack::Packed*> ps;
      for (int64_t e = 0; e < x->n_expert; ++e) {
        const WeightView v = x->at(e);
        std::unique_ptr<repack::Packed> p = repack::pack_into(v, arena.get() + each * static_cast<size_t>(e), &pool);
        ps.push_back(p.get());
        total += p->bytes;
        m.packed.push_back(std::move(p));
        drop_source_pages(v, maps);
      }
      m.packed_arenas.push_back(std::move(arena));
      x->packed = std::move(ps);
    }
  return total;
}

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
    if (fam.mla) {
      bind_mla(b, hp, i, L);
    } else if (fam.fused_qkv) {
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
    if (!fam.mla) L.bo = b.vec(blk(i, "attn_output.bias"), E, fam.biases || fam.attn_sinks);
    if (fam.attn_sinks) L.attn_sinks = b.vec(blk(i, "attn_sinks.weight"), hp.n_head);
    if (fam.sandwich_norm) L.post_attn_norm = b.vec(blk(i, "post_attention_norm.weight"), E);
    L.ffn_norm = b.vec(blk(i, fam.ffn_norm_is_post_attention ? "post_attention_norm.weight" : "ffn_norm.weight"), E);
    if (fam.biases) L.ffn_norm_b = b.vec(blk(i, "ffn_norm.bias"), E);
    if (fam.layer_is_moe(i)) {
      bind_moe(b, hp, fam, i, L);
    } else if (fam.fused_gate_up) {
      L.ffn_up = b.mat(blk(i, "ffn_up.weight"), E, 2 * hp.n_ff);
    } else {
      if (fam.ffn != FFNKind::GELU) L.ffn_gate = b.mat(blk(i, "ffn_gate.weight"), E, hp.n_ff);
      L.ffn_up = b.mat(blk(i, "ffn_up.weight"), E, hp.n_ff);
    }
    if (!fam.layer_is_moe(i)) L.ffn_down = b.mat(blk(i, "ffn_down.weight"), hp.n_ff, E);
    if (fam.biases) {
      L.ffn_up_b = b.vec(blk(i, "ffn_up.bias"), hp.n_ff);
      L.ffn_down_b = b.vec(blk(i, "ffn_down.bias"), E);
    }
    if (fam.sandwich_norm) L.post_ffw_norm = b.vec(blk(i, "post_ffw_norm.weight"), E);
  }
  repack_plain(m);
  return m;
}

}  // namespace larql
