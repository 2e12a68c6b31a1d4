// Extraction from a Hugging Face safetensors folder (made from a fixture GGUF
// by the model tests' independent converter inverse): tokenizer files copied,
// logits bit-identical to running the folder itself.
#include <gtest/gtest.h>

#include <cstring>

#include "../model/hf_folder_writer.h"
#include "engine/model.h"
#include "engine/session.h"
#include "tokenizer/tokenizer.h"
#include "vindex_test_util.h"

using namespace larql;
using namespace larql::vindex;

namespace {

void check_hf(const std::string& fixture, const std::string& dtype) {
  test::TempDir dir("vindex-hf");
  test::HfFolderOptions ho;
  ho.dtype = dtype;
  const std::string hf = dir / "hf";
  test::write_hf_folder_from_gguf(test::fixtures_dir() + "/models/" + fixture, hf, ho);
  const std::string out = dir / "m.vindex";
  ExtractOptions o;
  o.progress = false;
  o.down_top_k = 2;
  o.n_clusters = 4;
  extract(hf, out, o);
  EXPECT_TRUE(verify(out).ok());
  auto v = Vindex::open(out);
  EXPECT_EQ(v->manifest().tokenizer_kind, "hf");
  EXPECT_EQ(v->manifest().provenance.source_format, "safetensors");
  EXPECT_TRUE(std::filesystem::exists(std::filesystem::path(out) / "tokenizer.json"));
  auto ref = Model::load(hf);
  auto vm = v->load_model();
  EXPECT_EQ(vm->source().chat_template(), ref->source().chat_template());
  std::vector<int32_t> toks = {1, 20, 300, 77, 5};
  Session a(*ref), b(*vm);
  std::vector<float> la, lb;
  a.eval(toks.data(), 5, true, la);
  b.eval(toks.data(), 5, true, lb);
  ASSERT_EQ(la.size(), lb.size());
  EXPECT_EQ(std::memcmp(la.data(), lb.data(), la.size() * 4), 0);
  EXPECT_EQ(vm->tokenizer().encode("hello world", true, false), ref->tokenizer().encode("hello world", true, false));
  // BF16 down columns are stored exactly as F32.
  const TensorEntry* feat = v->manifest().find("blk.0.ffn_down_feat");
  ASSERT_NE(feat, nullptr);
  EXPECT_EQ(feat->type, dtype == "F16" ? GGMLType::F16 : GGMLType::F32);
}

}  // namespace

TEST(VindexSafetensors, LlamaF32) { LARQL_REQUIRE_FIXTURES(); check_hf("synthetic/tiny-llama-gqa-F32.gguf", "F32"); }
TEST(VindexSafetensors, Qwen2BF16) { LARQL_REQUIRE_FIXTURES(); check_hf("synthetic/tiny-qwen2-F32.gguf", "BF16"); }
TEST(VindexSafetensors, Gemma3F16) { LARQL_REQUIRE_FIXTURES(); check_hf("synthetic/tiny-gemma3-F32.gguf", "F16"); }
