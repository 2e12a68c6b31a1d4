// COMPILE to a vindex: extract options carried over, verify passes, and
// inference on it gives the source's logits; an override reaches the vindex.
#include <filesystem>

#include "compile_test_util.h"
#include "model/model_source.h"
#include "vindex/vindex.h"

namespace larql {
namespace {

using test::compile_tmp;

TEST(CompileVindex, FromGGUFAndFromVindex) {
  LARQL_REQUIRE_FIXTURES();
  const std::string sp = test::facts_model("F32");
  const std::string v1 = compile_tmp() + "/facts.vindex";
  vindex::ExtractOptions eo;
  eo.progress = false;
  eo.down_top_k = 3;
  eo.n_clusters = 4;
  vindex::extract(sp, v1, eo);

  // vindex -> (edited) vindex
  auto base = vindex::Vindex::open(v1);
  auto vsrc = base->model_source();
  compile::Overrides ov;
  ov["blk.2.ffn_up.weight"].data = compile::read_f32(*vsrc, "blk.2.ffn_up.weight");
  for (size_t i = 0; i < 64; ++i) ov["blk.2.ffn_up.weight"].data[i] *= -1.0f;
  compile::Options o;
  o.format = compile::Format::Vindex;
  const std::string v2 = compile_tmp() + "/facts-edited.vindex";
  auto res = compile::write_model(*vsrc, ov, v2, o);
  EXPECT_EQ(res.tensors_changed, 1);
  EXPECT_TRUE(vindex::verify(v2).ok());
  for (const auto& e : std::filesystem::directory_iterator(compile_tmp()))
    EXPECT_EQ(e.path().string().find(".compile-"), std::string::npos) << "temporary left: " << e.path();
  auto out = vindex::Vindex::open(v2, true);
  EXPECT_EQ(out->manifest().down_top_k, 3);
  EXPECT_EQ(out->manifest().n_clusters, 4);
  EXPECT_TRUE(test::bit_equal(compile::read_f32(*out->model_source(), "blk.2.ffn_up.weight"), ov["blk.2.ffn_up.weight"].data));

  auto live = Model::from_source(compile::with_overrides(base->model_source(), ov));
  auto m = out->load_model();
  auto src = Model::load(sp);
  const auto toks = src->tokenizer().encode("The capital of France is", true, false);
  const auto lv = test::logits_of(*m, toks);
  EXPECT_TRUE(test::bit_equal(lv, test::logits_of(*live, toks)));
  EXPECT_GT(test::max_abs_diff(lv, test::logits_of(*src, toks)), 1e-5f);

  // No overrides: the same model as the source.
  const std::string v3 = compile_tmp() + "/facts-copy.vindex";
  auto s3 = open_model(sp);
  compile::write_model(*s3, {}, v3, o);
  EXPECT_TRUE(vindex::verify(v3).ok());
  auto m3 = vindex::Vindex::open(v3)->load_model();
  EXPECT_TRUE(test::bit_equal(test::logits_of(*m3, toks), test::logits_of(*src, toks)));
}

}  // namespace
}  // namespace larql
