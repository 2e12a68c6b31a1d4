// A Hugging Face safetensors folder and the GGUF llama.cpp's converter makes
// from it give the same logits (the folder is built from each fixture GGUF by
// inverting the converter, see tests/unit/model/hf_folder_writer.h).
#include <gtest/gtest.h>

#include <filesystem>

#include "../model/hf_folder_writer.h"
#include "../test_paths.h"
#include "engine/session.h"
#include "model/model_source.h"

using namespace larql;
namespace fs = std::filesystem;

class HFParity : public ::testing::TestWithParam<std::string> {};

TEST_P(HFParity, SameLogitsAsGGUF) {
  LARQL_REQUIRE_FIXTURES();
  const std::string gguf = test::fixtures_dir() + GetParam();
  fs::path dir = fs::temp_directory_path() / ("larql_hfp_" + std::to_string(::getpid()) + "_" + fs::path(gguf).stem().string());
  fs::remove_all(dir);
  test::write_hf_folder_from_gguf(gguf, dir.string(), false);
  auto a = Model::from_source(open_gguf_model(gguf));
  auto b = Model::load(dir.string());
  std::vector<int32_t> toks = {1, 373, 459, 385, 443, 449, 397, 270, 353, 316, 337};
  SessionOptions so;
  so.n_ctx = 64;
  Session sa(*a, so), sb(*b, so);
  std::vector<float> la, lb;
  sa.eval(toks.data(), static_cast<int64_t>(toks.size()), true, la);
  sb.eval(toks.data(), static_cast<int64_t>(toks.size()), true, lb);
  ASSERT_EQ(la.size(), lb.size());
  double d = 0;
  for (size_t i = 0; i < la.size(); ++i) d = std::max(d, static_cast<double>(std::fabs(la[i] - lb[i])));
  EXPECT_LE(d, 1e-5) << GetParam();
  auto ta = a->tokenizer().encode("The little dog ran to the tree.", true, true);
  auto tb = b->tokenizer().encode("The little dog ran to the tree.", true, true);
  EXPECT_EQ(ta, tb);
  fs::remove_all(dir);
}

INSTANTIATE_TEST_SUITE_P(Dense, HFParity,
                         ::testing::Values("/models/synthetic/tiny-llama-gqa-F32.gguf", "/models/synthetic/tiny-qwen2-F32.gguf",
                                           "/models/synthetic/tiny-qwen3-F32.gguf", "/models/synthetic/tiny-gemma3-F32.gguf",
                                           "/models/synthetic/tiny-phi3-F32.gguf", "/models/synthetic/tiny-gpt2-F32.gguf",
                                           "/models/facts/facts-F32.gguf"),
                         [](const auto& i) {
                           std::string s = fs::path(i.param).stem().string();
                           for (char& c : s) if (c == '-') c = '_';
                           return s;
                         });
