#include "synth/synth.h"

#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <thread>

#include "format/gguf.h"
#include "synth/vocab.h"
#include "tensor/quants.h"
#include "util/error.h"
#include "util/half.h"

namespace larql::synth {

namespace {

uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

uint64_t hash_name(const std::string& s, uint64_t seed) {
  uint64_t h = seed ^ 0xcbf29ce484222325ull;
  for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ull;
  return mix64(h);
}

// Approximately standard-normal samples (Irwin-Hall sum of four 16-bit
// uniforms, rescaled): cheap enough to fill billions of weights in seconds.
void fill_normal(float* out, int64_t n, uint64_t seed, float mean, float stddev) {
  uint64_t s = mix64(seed);
  const float k = stddev * 1.7320508f / 65536.0f;  // sqrt(3) / 2^16
  for (int64_t i = 0; i < n; ++i) {
    s += 0x9E3779B97F4A7C15ull;
    uint64_t r = mix64(s);
    float sum = static_cast<float>((r & 0xFFFF) + ((r >> 16) & 0xFFFF) + ((r >> 32) & 0xFFFF) + (r >> 48));
    out[i] = mean + (sum - 131070.0f) * k;
  }
}

bool ends_with(const std::string& s, const char* suf) {
  size_t n = std::strlen(suf);
  return s.size() >= n && s.compare(s.size() - n, n, suf) == 0;
}

struct Init {
  float mean, stddev;
};

// Scales chosen so each layer adds O(1/sqrt(2L)) to an O(1) residual stream.
Init init_for(const HParams& hp, const TensorSpec& t) {
  const std::string& n = t.name;
  if (n == "exp_probs_b.bias" || ends_with(n, "exp_probs_b.bias")) return {0, 0};
  if (ends_with(n, "norm.weight")) return {1.0f, 0.1f};
  if (ends_with(n, "attn_sinks.weight")) return {0, 1.0f};  // O(1) logits, so the sink visibly takes mass
  if (ends_with(n, ".bias")) return {0, 0.02f};
  if (n == "position_embd.weight") return {0, 0.1f};
  if (n == "token_embd.weight") return {0, hp.tied_output ? 1.0f / std::sqrt(static_cast<float>(hp.n_embd)) : 1.0f};
  float s = 1.0f / std::sqrt(static_cast<float>(t.ne[0]));
  if (n.find("attn_output") != std::string::npos || n.find("ffn_down") != std::string::npos)
    s /= std::sqrt(2.0f * static_cast<float>(hp.n_layer));
  // gpt-oss: gate/up wide enough that the SwiGLU clamps at +-7 actually bite.
  if (hp.arch == "gpt-oss" && (ends_with(n, "ffn_gate_exps.weight") || ends_with(n, "ffn_up_exps.weight"))) s *= 3.0f;
  return {0, s};
}

std::string vocab_family(const Options& o, const HParams& hp) {
  if (o.preset == "llama-1b" || o.preset == "llama-8b") return "llama3";
  if (o.preset == "qwen3moe-30b-a3b") return "qwen2";
  if (o.preset == "deepseek2-lite") return "deepseek";
  return hp.arch == "phi3" ? "spm-phi3" : "spm";
}

}  // namespace

Result synthesize(const Options& opt, const Progress& progress) {
  auto t0 = std::chrono::steady_clock::now();
  if (opt.out.empty()) throw Error("synth: an output path (-o) is required");
  HParams hp = preset_hparams(opt.arch, opt.preset);
  if (opt.layers < 0 || opt.layers > 1000) throw Error("synth: --layers must be between 1 and 1000");
  if (opt.layers > 0) {
    hp.n_layer = opt.layers;
    if (hp.n_layer_dense_lead > hp.n_layer) hp.n_layer_dense_lead = hp.n_layer;
  }
  const int threads = opt.threads > 0 ? opt.threads : std::max(1u, std::thread::hardware_concurrency());

  gguf::Writer w;
  hparams_to_gguf(hp, w);
  w.set("general.file_type", gguf::Value::from_u32(static_cast<uint32_t>(opt.type)));
  if (opt.type != FileType::F32 && opt.type != FileType::F16 && opt.type != FileType::BF16)
    w.set("general.quantization_version", gguf::Value::from_u32(2));
  w.set("general.description",
        gguf::Value::from_string("larql synth: random weights (seed " + std::to_string(opt.seed) +
                                 "), not a trained model"));
  write_vocab(w, vocab_family(opt, hp), hp.n_vocab, opt.seed);

  auto specs = tensor_specs(hp);
  Result res;
  size_t done = 0;
  const size_t total = specs.size();
  for (const auto& spec : specs) {
    GGMLType type = tensor_type_for(hp, opt.type, spec, opt.preset == "tiny-f32-experts");
    if (!can_quantize(type))
      throw Error("synth: tensor '" + spec.name + "' needs type " + ggml_type_name(static_cast<uint32_t>(type)) +
                  ", which LARQL cannot quantize to yet");
    uint64_t n = 1;
    for (int64_t d : spec.ne) n *= static_cast<uint64_t>(d);
    res.n_params += n;
    Init init = init_for(hp, spec);
    const uint64_t tseed = hash_name(spec.name, opt.seed);
    const int64_t row_len = spec.ne[0];
    const int64_t rows = static_cast<int64_t>(n) / row_len;
    const uint64_t row_bytes = ggml_row_size(type, static_cast<uint64_t>(row_len));
    std::string name = spec.name;
    w.add_tensor(spec.name, type, spec.ne, [=, &done, &progress](uint8_t* out, size_t n_bytes) {
      if (n_bytes != row_bytes * static_cast<uint64_t>(rows)) throw Error("synth: size mismatch for " + name);
      // Rows are independent (seeded by index), so the result does not depend on the thread count.
      auto work = [&](int64_t r0, int64_t r1) {
        std::vector<float> buf(static_cast<size_t>(row_len));
        for (int64_t r = r0; r < r1; ++r) {
          fill_normal(buf.data(), row_len, tseed + static_cast<uint64_t>(r) * 0x9E3779B97F4A7C15ull,
                      init.mean, init.stddev);
          quantize_row(type, buf.data(), out + static_cast<uint64_t>(r) * row_bytes, row_len);
        }
      };
      int nt = static_cast<int>(std::min<int64_t>(threads, std::max<int64_t>(1, rows / 16)));
      if (nt <= 1) {
        work(0, rows);
      } else {
        std::vector<std::thread> pool;
        std::exception_ptr err;
        for (int k = 0; k < nt; ++k)
          pool.emplace_back([&, k] {
            try { work(rows * k / nt, rows * (k + 1) / nt); } catch (...) { err = std::current_exception(); }
          });
        for (auto& th : pool) th.join();
        if (err) std::rethrow_exception(err);
      }
      ++done;
      if (progress) progress(done, total, name);
    });
  }
  w.write(opt.out);
  res.file_bytes = std::filesystem::file_size(opt.out);
  res.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return res;
}

}  // namespace larql::synth
