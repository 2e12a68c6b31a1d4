#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "../test_paths.h"
#include "format/gguf.h"
#include "util/error.h"

using namespace larql;
namespace fs = std::filesystem;

namespace {

std::vector<uint8_t> read_all(const std::string& p) {
  std::ifstream f(p, std::ios::binary);
  return std::vector<uint8_t>((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

std::string tmp_path(const std::string& name) {
  return (fs::temp_directory_path() / ("larql_test_" + std::to_string(::getpid()) + "_" + name)).string();
}

// A small valid file with every metadata type, nested arrays and two tensors.
std::string write_sample(const std::string& path, uint32_t alignment = 32) {
  gguf::Writer w(alignment);
  w.set("general.architecture", gguf::Value::from_string("llama"));
  gguf::Value u8; u8.type = gguf::ValueType::UINT8; u8.u = 200; w.set("t.u8", u8);
  gguf::Value i8; i8.type = gguf::ValueType::INT8; i8.i = -5; w.set("t.i8", i8);
  gguf::Value u16; u16.type = gguf::ValueType::UINT16; u16.u = 65535; w.set("t.u16", u16);
  gguf::Value i16; i16.type = gguf::ValueType::INT16; i16.i = -300; w.set("t.i16", i16);
  w.set("t.u32", gguf::Value::from_u32(4000000000u));
  w.set("t.i32", gguf::Value::from_i32(-7));
  w.set("t.u64", gguf::Value::from_u64(1ull << 40));
  gguf::Value i64; i64.type = gguf::ValueType::INT64; i64.i = -(1ll << 40); w.set("t.i64", i64);
  w.set("t.f32", gguf::Value::from_f32(1.5f));
  gguf::Value f64; f64.type = gguf::ValueType::FLOAT64; f64.f = 2.25; w.set("t.f64", f64);
  w.set("t.bool", gguf::Value::from_bool(true));
  w.set("t.strs", gguf::Value::from_strings({"a", "", "héllo"}));
  gguf::Value nested; nested.type = gguf::ValueType::ARRAY; nested.elem_type = gguf::ValueType::ARRAY;
  nested.arr = {gguf::Value::from_i32s({1, 2}), gguf::Value::from_i32s({3})};
  w.set("t.nested", nested);
  std::vector<float> a(8 * 3);
  for (size_t i = 0; i < a.size(); ++i) a[i] = static_cast<float>(i);
  std::vector<uint8_t> bytes(a.size() * 4);
  std::memcpy(bytes.data(), a.data(), bytes.size());
  w.add_tensor_data("a", GGMLType::F32, {8, 3}, bytes);
  w.add_tensor("b", GGMLType::Q8_0, {32, 2}, [](uint8_t* out, size_t n) {
    for (size_t i = 0; i < n; ++i) out[i] = static_cast<uint8_t>(i);
  });
  w.write(path);
  return path;
}

}  // namespace

TEST(GGUF, WriteReadRoundTripAllValueTypes) {
  for (uint32_t al : {32u, 64u}) {
    std::string p = write_sample(tmp_path("rt.gguf"), al);
    auto f = gguf::File::open(p);
    EXPECT_EQ(f->version(), 3u);
    EXPECT_EQ(f->alignment(), al);
    EXPECT_EQ(f->architecture(), "llama");
    EXPECT_EQ(f->get("t.u8").as_uint(), 200u);
    EXPECT_EQ(f->get("t.i8").as_int(), -5);
    EXPECT_EQ(f->get("t.u16").as_uint(), 65535u);
    EXPECT_EQ(f->get("t.i16").as_int(), -300);
    EXPECT_EQ(f->get("t.u32").as_uint(), 4000000000u);
    EXPECT_EQ(f->get("t.i32").as_int(), -7);
    EXPECT_EQ(f->get("t.u64").as_uint(), 1ull << 40);
    EXPECT_EQ(f->get("t.i64").as_int(), -(1ll << 40));
    EXPECT_FLOAT_EQ(f->get("t.f32").as_float(), 1.5f);
    EXPECT_DOUBLE_EQ(f->get("t.f64").as_float(), 2.25);
    EXPECT_TRUE(f->get("t.bool").as_bool());
    EXPECT_EQ(f->get("t.strs").as_string_array(), (std::vector<std::string>{"a", "", "héllo"}));
    const auto& nested = f->get("t.nested").as_array();
    ASSERT_EQ(nested.size(), 2u);
    EXPECT_EQ(nested[0].as_int_array(), (std::vector<int64_t>{1, 2}));
    EXPECT_EQ(nested[1].as_int_array(), (std::vector<int64_t>{3}));
    EXPECT_THROW(f->get("t.strs").as_int(), Error);
    EXPECT_THROW(f->get("missing"), Error);
    ASSERT_EQ(f->tensors().size(), 2u);
    const auto& a = f->tensor("a");
    EXPECT_EQ(a.ne[0], 8);
    EXPECT_EQ(a.ne[1], 3);
    EXPECT_EQ(a.n_bytes, 96u);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(a.data) % al, 0u);
    float v;
    std::memcpy(&v, a.data + 4 * 23, 4);
    EXPECT_EQ(v, 23.0f);
    const auto& b = f->tensor("b");
    EXPECT_EQ(b.type, GGMLType::Q8_0);
    EXPECT_EQ(b.n_bytes, 68u);
    EXPECT_EQ(b.data[67], 67);
    EXPECT_EQ(b.offset % al, 0u);
    fs::remove(p);
  }
}

TEST(GGUF, RejectsCorruptHeaders) {
  std::string p = write_sample(tmp_path("c.gguf"));
  auto good = read_all(p);
  fs::remove(p);
  auto expect_error = [&](std::vector<uint8_t> buf, const std::string& needle) {
    try {
      gguf::File::from_memory(buf.data(), buf.size());
      ADD_FAILURE() << "no error; expected one mentioning '" << needle << "'";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  {  // bad magic
    auto b = good; b[0] = 'X'; expect_error(b, "magic");
  }
  {  // version
    auto b = good; b[4] = 7; expect_error(b, "version");
    b[4] = 1; expect_error(b, "version 1");
  }
  {  // huge tensor count
    auto b = good; b[15] = 0x7f; expect_error(b, "tensor count");
  }
  {  // huge kv count
    auto b = good; b[23] = 0x7f; expect_error(b, "metadata count");
  }
  {  // first key length too long
    auto b = good; b[24 + 7] = 0x10; expect_error(b, "length");
  }
  // every truncation before the end of the last tensor's data is an error, never a crash
  auto full = gguf::File::from_memory(good.data(), good.size());
  const auto& last = full->tensors().back();
  size_t data_end = static_cast<size_t>(last.data + last.n_bytes - good.data());
  ASSERT_LT(data_end, good.size());  // the trailing padding is optional
  for (size_t n = 0; n < data_end; n += 3) {
    std::vector<uint8_t> b(good.begin(), good.begin() + static_cast<long>(n));
    EXPECT_THROW(gguf::File::from_memory(b.data(), b.size()), Error) << "truncated at " << n;
  }
}

TEST(GGUF, RejectsBadTensorInfo) {
  // Hand-build a header with one tensor so each field can be corrupted in place.
  auto build = [](uint32_t ndims, uint64_t ne0, uint32_t type, uint64_t offset) {
    std::vector<uint8_t> b;
    auto put = [&](const void* p, size_t n) { b.insert(b.end(), (const uint8_t*)p, (const uint8_t*)p + n); };
    uint32_t u32; uint64_t u64;
    put("GGUF", 4); u32 = 3; put(&u32, 4); u64 = 1; put(&u64, 8); u64 = 0; put(&u64, 8);
    u64 = 1; put(&u64, 8); put("t", 1);
    put(&ndims, 4);
    for (uint32_t d = 0; d < ndims && d < 8; ++d) put(&ne0, 8);
    put(&type, 4); put(&offset, 8);
    while (b.size() % 32) b.push_back(0);
    b.resize(b.size() + 64, 0);
    return b;
  };
  auto ok = build(1, 16, 0, 0);
  EXPECT_NO_THROW(gguf::File::from_memory(ok.data(), ok.size()));
  auto try_it = [](std::vector<uint8_t> b, const std::string& needle) {
    try { gguf::File::from_memory(b.data(), b.size()); ADD_FAILURE() << "expected " << needle; }
    catch (const Error& e) { EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what(); }
  };
  try_it(build(5, 16, 0, 0), "dimensions");
  try_it(build(0, 16, 0, 0), "dimensions");
  try_it(build(1, 16, 4, 0), "unknown type");
  try_it(build(1, 16, 99, 0), "unknown type");
  try_it(build(1, 17, 8, 0), "block size");
  try_it(build(1, 16, 0, 3), "aligned");
  try_it(build(1, 64, 0, 0), "beyond the end");
  try_it(build(4, 1ull << 62, 0, 0), "overflow");
}

// Every fixture model parses and its parameter count (sum of element counts)
// equals the one recorded in the fixtures manifest.
TEST(GGUF, FixtureModelsParseWithManifestParamCounts) {
  LARQL_REQUIRE_FIXTURES();
  std::string dir = test::fixtures_dir() + "/models/synthetic";
  std::ifstream mf(dir + "/manifest.json");
  auto manifest = nlohmann::json::parse(mf);
  int checked = 0;
  for (auto& [name, info] : manifest["files"].items()) {
    auto f = gguf::File::open(dir + "/" + name);
    uint64_t params = 0;
    for (const auto& t : f->tensors()) params += t.n_elements;
    EXPECT_EQ(params, info["n_params"].get<uint64_t>()) << name;
    EXPECT_EQ(f->tensors().size(), info["n_tensors"].get<size_t>()) << name;
    EXPECT_EQ(f->architecture(), info["arch"].get<std::string>()) << name;
    ++checked;
  }
  EXPECT_EQ(checked, 27);
  auto facts = gguf::File::open(test::fixtures_dir() + "/models/facts/facts-F32.gguf");
  uint64_t params = 0;
  for (const auto& t : facts->tensors()) params += t.n_elements;
  EXPECT_EQ(params, 4983040u);
  EXPECT_EQ(facts->tensors().size(), 39u);
}

TEST(GGUF, VocabFilesParse) {
  LARQL_REQUIRE_FIXTURES();
  int n = 0;
  for (auto& e : fs::directory_iterator(test::fixtures_dir() + "/vocab")) {
    if (e.path().extension() != ".gguf") continue;
    auto f = gguf::File::open(e.path().string());
    EXPECT_FALSE(f->get_string("tokenizer.ggml.model").empty()) << e.path();
    EXPECT_GT(f->get("tokenizer.ggml.tokens").as_array().size(), 1000u);
    ++n;
  }
  EXPECT_EQ(n, 12);
}

TEST(GGUF, CopyThroughWriterPreservesEverything) {
  LARQL_REQUIRE_FIXTURES();
  auto src = gguf::File::open(test::fixtures_dir() + "/models/synthetic/tiny-qwen2-Q4_K_M.gguf");
  gguf::Writer w(static_cast<uint32_t>(src->alignment()));
  for (const auto& [k, v] : src->metadata())
    if (k != "general.alignment") w.set(k, v);
  for (const auto& t : src->tensors()) {
    const uint8_t* p = t.data;
    w.add_tensor(t.name, t.type, std::vector<int64_t>(t.ne, t.ne + t.n_dims),
                 [p](uint8_t* out, size_t n) { std::memcpy(out, p, n); });
  }
  std::string out = tmp_path("copy.gguf");
  w.write(out);
  auto dst = gguf::File::open(out);
  ASSERT_EQ(dst->tensors().size(), src->tensors().size());
  ASSERT_EQ(dst->metadata().size(), src->metadata().size());
  for (size_t i = 0; i < src->tensors().size(); ++i) {
    const auto& a = src->tensors()[i];
    const auto& b = dst->tensors()[i];
    EXPECT_EQ(a.name, b.name);
    EXPECT_EQ(a.type, b.type);
    ASSERT_EQ(a.n_bytes, b.n_bytes);
    EXPECT_EQ(0, std::memcmp(a.data, b.data, a.n_bytes)) << a.name;
  }
  for (size_t i = 0; i < src->metadata().size(); ++i)
    EXPECT_EQ(src->metadata()[i].second.to_string(1000000), dst->metadata()[i].second.to_string(1000000));
  EXPECT_EQ(fs::file_size(out), fs::file_size(src->path()));
  fs::remove(out);
}

TEST(GGUF, MissingFileIsAClearError) {
  try {
    gguf::File::open("/nonexistent/model.gguf");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/model.gguf"), std::string::npos);
  }
}
