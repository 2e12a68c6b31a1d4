#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <map>

#include "../test_paths.h"
#include "format/gguf.h"
#include "model/hparams.h"
#include "synth/synth.h"
#include "tensor/quants.h"
#include "util/error.h"

using namespace larql;
namespace fs = std::filesystem;

namespace {
std::string tmp(const std::string& n) {
  return (fs::temp_directory_path() / ("larql_synth_" + std::to_string(::getpid()) + "_" + n)).string();
}
}  // namespace

// synth's per-tensor type choice must reproduce what llama-quantize chose for
// every quantized fixture (Q8_0 and Q4_K_M, nine families).
TEST(Synth, TypeMixMatchesLlamaQuantizeOnFixtures) {
  LARQL_REQUIRE_FIXTURES();
  int files = 0;
  for (auto& e : fs::directory_iterator(test::fixtures_dir() + "/models/synthetic")) {
    std::string fn = e.path().filename().string();
    synth::FileType ft;
    if (fn.find("Q4_K_M") != std::string::npos) ft = synth::FileType::Q4_K_M;
    else if (fn.find("Q8_0") != std::string::npos) ft = synth::FileType::Q8_0;
    else continue;
    auto f = gguf::File::open(e.path().string());
    HParams hp = hparams_from_gguf(*f);
    for (const auto& spec : tensor_specs(hp)) {
      const auto& t = f->tensor(spec.name);
      EXPECT_EQ(ggml_type_name(static_cast<uint32_t>(synth::tensor_type_for(hp, ft, spec))),
                ggml_type_name(static_cast<uint32_t>(t.type)))
          << fn << " " << spec.name;
    }
    ++files;
  }
  EXPECT_EQ(files, 18);
}

TEST(Synth, EveryArchTinyRoundTrips) {
  for (const char* arch : {"llama", "qwen2", "qwen3", "gemma2", "gemma3", "phi3", "gpt2", "mixtral", "qwen3moe", "deepseek2"}) {
    for (auto ft : {synth::FileType::F32, synth::FileType::Q4_K_M}) {
      synth::Options o;
      o.arch = arch;
      o.type = ft;
      o.out = tmp(std::string(arch) + ".gguf");
      o.seed = 7;
      auto r = synth::synthesize(o);
      auto f = gguf::File::open(o.out);
      HParams hp = hparams_from_gguf(*f);
      EXPECT_EQ(hp.arch, std::string(arch) == "mixtral" ? "llama" : arch);
      uint64_t params = 0;
      for (const auto& t : f->tensors()) params += t.n_elements;
      EXPECT_EQ(params, r.n_params);
      EXPECT_EQ(f->tensors().size(), tensor_specs(hp).size());
      EXPECT_EQ(f->get("tokenizer.ggml.tokens").as_array().size(), static_cast<size_t>(hp.n_vocab));
      // Weights are finite and have the intended spread.
      const auto& emb = f->tensor("token_embd.weight");
      std::vector<float> row(static_cast<size_t>(emb.ne[0]));
      dequantize_row(emb.type, emb.data, row.data(), emb.ne[0]);
      double ss = 0;
      for (float v : row) { ASSERT_TRUE(std::isfinite(v)); ss += v * v; }
      EXPECT_GT(ss, 0.0) << arch;
      fs::remove(o.out);
    }
  }
}

TEST(Synth, DeterministicForSeedAndThreads) {
  synth::Options a;
  a.arch = "llama";
  a.type = synth::FileType::Q8_0;
  a.out = tmp("a.gguf");
  a.threads = 1;
  synth::synthesize(a);
  synth::Options b = a;
  b.out = tmp("b.gguf");
  b.threads = 2;
  synth::synthesize(b);
  auto fa = gguf::File::open(a.out), fb = gguf::File::open(b.out);
  ASSERT_EQ(fa->file_size(), fb->file_size());
  for (size_t i = 0; i < fa->tensors().size(); ++i)
    EXPECT_EQ(0, std::memcmp(fa->tensors()[i].data, fb->tensors()[i].data, fa->tensors()[i].n_bytes));
  fs::remove(a.out);
  fs::remove(b.out);
}

TEST(Synth, BadArgumentsAreClearErrors) {
  synth::Options o;
  o.out = tmp("x.gguf");
  o.arch = "bogus";
  EXPECT_THROW(synth::synthesize(o), Error);
  o.arch = "llama";
  o.preset = "llama-70b";
  try {
    synth::synthesize(o);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("llama-8b"), std::string::npos) << e.what();
  }
  EXPECT_THROW(synth::parse_file_type("q3_k"), Error);
  EXPECT_FALSE(fs::exists(o.out));
}
