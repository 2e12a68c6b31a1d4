// Overrides land in the output exactly, change the logits exactly as the
// in-memory overlay does, and bad input fails with a clear larql::Error.
#include <filesystem>
#include <fstream>
#include <sstream>

#include "compile_test_util.h"
#include "format/gguf.h"
#include "model/model_source.h"
#include "util/error.h"
#include "vindex/vindex.h"

namespace larql {
namespace {

using test::compile_tmp;
const char* kDown = "blk.1.ffn_down.weight";

uint64_t file_hash(const std::string& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  const std::string s = ss.str();
  return vindex::xxh64(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}

// Adds 0.5 to one element and scales one row (GGML row = one output's weights).
compile::Overrides edit(const ModelSource& src) {
  compile::Overrides ov;
  auto& o = ov[kDown];
  o.data = compile::read_f32(src, kDown);
  const int64_t n0 = src.require(kDown).ne[0];
  o.data[static_cast<size_t>(3 * n0 + 7)] += 0.5f;
  for (int64_t i = 0; i < n0; ++i) o.data[static_cast<size_t>(5 * n0 + i)] *= 3.0f;
  return ov;
}

void check_edit(const std::string& src_path, GGMLType expect_type) {
  const uint64_t before = file_hash(src_path);
  auto src = open_model(src_path);
  const auto ov = edit(*src);
  const std::string out = compile_tmp() + "/edit-" + std::filesystem::path(src_path).filename().string();
  auto res = compile::write_model(*src, ov, out);
  EXPECT_EQ(res.tensors_changed, 1);
  ASSERT_FALSE(res.notes.empty());

  auto back = open_model(out);
  EXPECT_EQ(back->require(kDown).type, expect_type);
  const auto got = compile::read_f32(*back, kDown);
  ASSERT_EQ(got.size(), ov.at(kDown).data.size());
  if (expect_type == GGMLType::F32) {
    EXPECT_TRUE(test::bit_equal(got, ov.at(kDown).data)) << "override not stored exactly";
  }
  // Every other tensor is the source's bytes.
  for (const TensorRef* t : src->tensors()) {
    if (t->name == kDown) continue;
    const TensorRef& b = back->require(t->name);
    ASSERT_EQ(t->n_bytes, b.n_bytes) << t->name;
    EXPECT_EQ(0, std::memcmp(t->data, b.data, t->n_bytes)) << t->name;
  }
  // Logits: compiled file == in-memory overlay, and != the unedited model.
  auto m_src = Model::load(src_path);
  auto m_out = Model::load(out);
  auto m_live = Model::from_source(compile::with_overrides(open_model(src_path), ov));
  const auto toks = test::probe_tokens(*m_src);
  const auto l_out = test::logits_of(*m_out, toks);
  EXPECT_TRUE(test::bit_equal(l_out, test::logits_of(*m_live, toks)));
  EXPECT_GT(test::max_abs_diff(l_out, test::logits_of(*m_src, toks)), 1e-4f) << "the edit changed nothing";
  EXPECT_EQ(before, file_hash(src_path)) << "source modified";
}

TEST(CompileOverride, F32SourceStoresEditExactly) {
  LARQL_REQUIRE_FIXTURES();
  check_edit(test::facts_model("F32"), GGMLType::F32);
}

TEST(CompileOverride, QuantizedSourceEditWrittenAsF32) {
  LARQL_REQUIRE_FIXTURES();
  check_edit(test::facts_model("Q8_0"), GGMLType::F32);
  check_edit(test::facts_model("Q4_K_M"), GGMLType::F32);
}

TEST(CompileOverride, RequestedTypeIsUsed) {
  LARQL_REQUIRE_FIXTURES();
  auto src = open_model(test::facts_model("F32"));
  auto ov = edit(*src);
  ov[kDown].type = GGMLType::Q8_0;
  const std::string out = compile_tmp() + "/edit-q8.gguf";
  compile::write_model(*src, ov, out);
  auto back = gguf::File::open(out);
  EXPECT_EQ(back->tensor(kDown).type, GGMLType::Q8_0);
  EXPECT_EQ(back->get_int("general.file_type", -1), 0);  // the bulk stays F32
  // Q8_0 error bound: d/2 per element (d = max|x|/127), plus 127 x the fp16 rounding of d (<= d/2048).
  auto m = open_model(out);
  const auto got = compile::read_f32(*m, kDown);
  const auto& want = ov[kDown].data;
  for (size_t b = 0; b < want.size(); b += 32) {
    float amax = 0;
    for (size_t i = b; i < b + 32; ++i) amax = std::max(amax, std::abs(want[i]));
    for (size_t i = b; i < b + 32; ++i) ASSERT_LE(std::abs(got[i] - want[i]), amax / 127.0f * 0.5f + amax / 1024.0f) << i;  // + fp16 rounding of the scale
  }
}

TEST(CompileOverride, BadInputThrows) {
  LARQL_REQUIRE_FIXTURES();
  const std::string sp = test::facts_model("F32");
  const uint64_t before = file_hash(sp);
  auto src = open_model(sp);
  auto throws_with = [&](const compile::Overrides& ov, const std::string& out, const compile::Options& o, const char* needle) {
    try {
      compile::write_model(*src, ov, out, o);
      ADD_FAILURE() << "no error; expected one mentioning '" << needle << "'";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
    if (out.ends_with("/bad.gguf")) {
      EXPECT_FALSE(std::filesystem::exists(out)) << "partial output left behind";
    }
  };
  const std::string out = compile_tmp() + "/bad.gguf";
  compile::Overrides unknown;
  unknown["blk.99.ffn_down.weight"].data = {1.0f};
  throws_with(unknown, out, {}, "blk.99.ffn_down.weight");
  compile::Overrides short_ov;
  short_ov[kDown].data.assign(10, 0.0f);
  throws_with(short_ov, out, {}, "10 values");
  compile::Overrides nan_ov = edit(*src);
  nan_ov[kDown].data[42] = NAN;
  throws_with(nan_ov, out, {}, "index 42");
  compile::Overrides q8k = edit(*src);
  q8k[kDown].type = GGMLType::Q8_K;
  throws_with(q8k, out, {}, "Q8_K");
  compile::Options st;
  st.format = compile::Format::Safetensors;
  st.safetensors_dtype = GGMLType::Q8_0;
  throws_with({}, out, st, "dtype");
  EXPECT_THROW(compile::read_f32(*src, "nope.weight"), Error);
  // Output exists: refused unless overwrite; the source itself never.
  const std::string exists = compile_tmp() + "/exists.gguf";
  std::ofstream(exists) << "x";
  throws_with({}, exists, {}, "already exists");
  compile::Options ow;
  ow.overwrite = true;
  compile::write_model(*src, {}, exists, ow);
  EXPECT_NO_THROW(gguf::File::open(exists));
  throws_with({}, sp, ow, "source itself");
  EXPECT_THROW(compile::format_from_name("onnx"), Error);
  EXPECT_EQ(before, file_hash(sp));
}

}  // namespace
}  // namespace larql
