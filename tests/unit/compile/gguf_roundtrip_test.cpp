// COMPILE to GGUF with no overrides reproduces the source: same metadata
// (plus the larql stamp), byte-identical tensors, bit-identical logits.
#include <filesystem>

#include "compile_test_util.h"
#include "format/gguf.h"
#include "model/model_source.h"

namespace larql {
namespace {

using test::compile_tmp;

void expect_same_file(const std::string& a_path, const std::string& b_path) {
  auto a = gguf::File::open(a_path), b = gguf::File::open(b_path);
  ASSERT_EQ(a->tensors().size(), b->tensors().size());
  for (size_t i = 0; i < a->tensors().size(); ++i) {
    const auto& ta = a->tensors()[i];
    const auto* tb = b->find_tensor(ta.name);
    ASSERT_NE(tb, nullptr) << ta.name;
    EXPECT_EQ(ta.type, tb->type) << ta.name;
    EXPECT_EQ(ta.shape_string(), tb->shape_string()) << ta.name;
    ASSERT_EQ(ta.n_bytes, tb->n_bytes) << ta.name;
    EXPECT_EQ(0, std::memcmp(ta.data, tb->data, ta.n_bytes)) << ta.name << " bytes differ";
  }
  for (const auto& [k, v] : a->metadata()) {
    const gguf::Value* w = b->find(k);
    ASSERT_NE(w, nullptr) << "key lost: " << k;
    EXPECT_EQ(v.to_string(1u << 30), w->to_string(1u << 30)) << k;
  }
  EXPECT_EQ(b->metadata().size(), a->metadata().size() + 1);  // + general.source.larql
  ASSERT_NE(b->find("general.source.larql"), nullptr);
  EXPECT_EQ(b->get_string("general.source.larql"), "compiled by larql");
}

class GGUFRoundTrip : public ::testing::TestWithParam<std::string> {};

TEST_P(GGUFRoundTrip, BytesAndLogitsIdentical) {
  LARQL_REQUIRE_FIXTURES();
  const std::string src_path = GetParam();
  const std::string out = compile_tmp() + "/" + std::filesystem::path(src_path).filename().string();
  {
    auto src = open_model(src_path);
    auto res = compile::write_model(*src, {}, out);
    EXPECT_EQ(res.tensors_changed, 0);
    EXPECT_EQ(res.tensors_written, static_cast<int64_t>(src->tensors().size()));
    EXPECT_EQ(res.bytes, std::filesystem::file_size(out));
  }
  expect_same_file(src_path, out);
  auto a = Model::load(src_path), b = Model::load(out);
  const auto toks = test::probe_tokens(*a);
  EXPECT_TRUE(test::bit_equal(test::logits_of(*a, toks), test::logits_of(*b, toks)));
}

std::vector<std::string> all_fixtures() {
  std::vector<std::string> v;
  for (const char* s : {"tiny-llama-gqa", "tiny-qwen2", "tiny-qwen3", "tiny-gemma3", "tiny-mixtral-8x2",
                        "tiny-qwen2moe-4x2", "tiny-deepseek2-mla", "tiny-phi3", "tiny-gpt2"})
    for (const char* q : {"F32", "Q8_0", "Q4_K_M"}) v.push_back(test::synth_model(std::string(s) + "-" + q));
  for (const char* q : {"F32", "Q8_0", "Q4_K_M"}) v.push_back(test::facts_model(q));
  return v;
}

INSTANTIATE_TEST_SUITE_P(Fixtures, GGUFRoundTrip, ::testing::ValuesIn(all_fixtures()),
                         [](const auto& info) {
                           std::string n = std::filesystem::path(info.param).stem().string();
                           for (auto& c : n)
                             if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                           return n;
                         });

}  // namespace
}  // namespace larql
