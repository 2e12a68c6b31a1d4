#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "format/safetensors.h"
#include "util/error.h"
#include "util/half.h"

using namespace larql;
namespace fs = std::filesystem;

namespace {
fs::path make_dir(const std::string& name) {
  fs::path d = fs::temp_directory_path() / ("larql_st_" + std::to_string(::getpid()) + "_" + name);
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}
std::vector<uint8_t> read_all(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  return std::vector<uint8_t>((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}
void write_bytes(const fs::path& p, const std::string& s) { std::ofstream(p, std::ios::binary) << s; }
}  // namespace

TEST(Safetensors, SingleFileF32F16BF16) {
  auto d = make_dir("single");
  std::vector<float> a = {1, 2, 3, 4, 5, 6};
  std::vector<uint16_t> h = {fp32_to_fp16(0.5f), fp32_to_fp16(-2.0f)};
  std::vector<uint16_t> b = {fp32_to_bf16(3.0f), fp32_to_bf16(-0.25f), fp32_to_bf16(1e10f)};
  safetensors::write_file((d / "model.safetensors").string(),
                          {{"a", "F32", {2, 3}, a.data(), 24}, {"h", "F16", {2}, h.data(), 4},
                           {"b", "BF16", {3}, b.data(), 6}},
                          {{"format", "pt"}});
  std::ofstream(d / "config.json") << R"({"model_type":"llama","hidden_size":6})";
  auto f = safetensors::Folder::open(d.string());
  EXPECT_EQ(f->config()["model_type"], "llama");
  EXPECT_EQ(f->shard_count(), 1u);
  const auto* ta = f->find_tensor("a");
  ASSERT_TRUE(ta);
  EXPECT_EQ(ta->shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(ta->type, GGMLType::F32);
  float v;
  std::memcpy(&v, ta->data + 20, 4);
  EXPECT_EQ(v, 6.0f);
  const auto* th = f->find_tensor("h");
  uint16_t hv;
  std::memcpy(&hv, th->data + 2, 2);
  EXPECT_EQ(fp16_to_fp32(hv), -2.0f);
  EXPECT_EQ(th->type, GGMLType::F16);
  const auto* tb = f->find_tensor("b");
  uint16_t bv;
  std::memcpy(&bv, tb->data + 2, 2);
  EXPECT_EQ(bf16_to_fp32(bv), -0.25f);
  EXPECT_EQ(tb->type, GGMLType::BF16);
  auto single = safetensors::File::open((d / "model.safetensors").string());
  EXPECT_EQ(single->metadata().at("format"), "pt");
  EXPECT_TRUE(safetensors::is_safetensors_path(d.string()));
  fs::remove_all(d);
}

TEST(Safetensors, ShardedIndex) {
  auto d = make_dir("sharded");
  std::vector<float> x = {1, 2}, y = {3, 4, 5};
  safetensors::write_file((d / "model-00001-of-00002.safetensors").string(), {{"x", "F32", {2}, x.data(), 8}});
  safetensors::write_file((d / "model-00002-of-00002.safetensors").string(), {{"y", "F32", {3}, y.data(), 12}});
  std::ofstream(d / "model.safetensors.index.json")
      << R"({"metadata":{},"weight_map":{"x":"model-00001-of-00002.safetensors","y":"model-00002-of-00002.safetensors"}})";
  std::ofstream(d / "config.json") << "{}";
  std::ofstream(d / "tokenizer.json") << "{}";
  auto f = safetensors::Folder::open(d.string());
  EXPECT_EQ(f->shard_count(), 2u);
  EXPECT_EQ(f->tensors().size(), 2u);
  ASSERT_TRUE(f->find_tensor("y"));
  EXPECT_EQ(f->find_tensor("y")->n_elements, 3u);
  EXPECT_FALSE(f->tokenizer_json_path().empty());
  // A shard name that escapes the folder is refused.
  std::ofstream(d / "model.safetensors.index.json") << R"({"weight_map":{"x":"../evil.safetensors"}})";
  EXPECT_THROW(safetensors::Folder::open(d.string()), Error);
  fs::remove_all(d);
}

TEST(Safetensors, RejectsMalformedHeaders) {
  auto d = make_dir("bad");
  auto make = [&](const std::string& header, size_t data_bytes) {
    std::string s(8, '\0');
    uint64_t n = header.size();
    std::memcpy(s.data(), &n, 8);
    return s + header + std::string(data_bytes, '\0');
  };
  auto expect_error = [&](const std::string& bytes, const std::string& needle) {
    write_bytes(d / "m.safetensors", bytes);
    try {
      safetensors::File::open((d / "m.safetensors").string());
      ADD_FAILURE() << "no error for: " << needle;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  expect_error("abc", "shorter");
  expect_error(std::string("\xff\xff\xff\xff\x00\x00\x00\x00", 8), "exceeds");
  expect_error(make("{not json", 0), "not valid JSON");
  expect_error(make("[1,2]", 0), "not a JSON object");
  expect_error(make(R"({"t":{"dtype":"Q9","shape":[1],"data_offsets":[0,4]}})", 4), "unknown dtype");
  expect_error(make(R"({"t":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}})", 4), "need");
  expect_error(make(R"({"t":{"dtype":"F32","shape":[1],"data_offsets":[0,400]}})", 4), "outside");
  expect_error(make(R"({"t":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", 4), "negative");
  expect_error(make(R"({"t":{"dtype":"F32","shape":[4294967296,4294967296,16],"data_offsets":[0,4]}})", 4),
               "overflow");
  expect_error(make(R"({"t":{"dtype":"F32","shape":[1]}})", 4), "data_offsets");
  expect_error(make(R"({"t":{"dtype":"F32","shape":[1],"data_offsets":[8,4]}})", 8), "outside");
  // Truncating a valid file at any point is an error, never a crash.
  std::vector<float> a(16, 1.0f);
  safetensors::write_file((d / "ok.safetensors").string(), {{"a", "F32", {16}, a.data(), 64}});
  auto good = read_all(d / "ok.safetensors");
  for (size_t n = 0; n < good.size(); ++n)
    EXPECT_THROW(safetensors::File::from_memory(good.data(), n), Error) << n;
  fs::remove_all(d);
}
