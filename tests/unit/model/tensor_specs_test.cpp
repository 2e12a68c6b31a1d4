#include <gtest/gtest.h>

#include <filesystem>
#include <map>

#include "../test_paths.h"
#include "format/gguf.h"
#include "model/hparams.h"

using namespace larql;
namespace fs = std::filesystem;

// The family tables must describe exactly the tensors llama.cpp's converter
// wrote into every fixture model: same names, same shapes, nothing missing or extra.
TEST(TensorSpecs, MatchEveryFixtureModel) {
  LARQL_REQUIRE_FIXTURES();
  std::vector<std::string> files;
  for (auto& e : fs::directory_iterator(test::fixtures_dir() + "/models/synthetic"))
    if (e.path().extension() == ".gguf") files.push_back(e.path().string());
  files.push_back(test::fixtures_dir() + "/models/facts/facts-F32.gguf");
  ASSERT_EQ(files.size(), 28u);
  for (const auto& path : files) {
    auto f = gguf::File::open(path);
    HParams hp = hparams_from_gguf(*f);
    std::map<std::string, std::vector<int64_t>> expected;
    for (const auto& s : tensor_specs(hp)) expected[s.name] = s.ne;
    std::map<std::string, std::vector<int64_t>> actual;
    for (const auto& t : f->tensors()) actual[t.name] = std::vector<int64_t>(t.ne, t.ne + t.n_dims);
    EXPECT_EQ(expected, actual) << path;
  }
}

TEST(HParams, FactsModel) {
  LARQL_REQUIRE_FIXTURES();
  auto f = gguf::File::open(test::fixtures_dir() + "/models/facts/facts-F32.gguf");
  HParams hp = hparams_from_gguf(*f);
  EXPECT_EQ(hp.arch, "llama");
  EXPECT_EQ(hp.n_vocab, 2048);
  EXPECT_EQ(hp.n_embd, 256);
  EXPECT_EQ(hp.n_layer, 4);
  EXPECT_EQ(hp.n_head, 4);
  EXPECT_EQ(hp.n_head_kv, 2);
  EXPECT_EQ(hp.n_ff, 1024);
  EXPECT_EQ(hp.head_dim_k, 64);
  EXPECT_NEAR(hp.norm_eps, 1e-5, 1e-12);
  EXPECT_FALSE(hp.tied_output);
}
