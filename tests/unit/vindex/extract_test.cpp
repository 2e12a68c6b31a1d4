// Extraction: inference parity with the source, every fixture family, MoE
// expert addressing, levels, atomic writes, verify, probes.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <fstream>

#include "engine/model.h"
#include "engine/session.h"
#include "format/gguf.h"
#include "tensor/quants.h"
#include "util/error.h"
#include "util/half.h"
#include "vindex_test_util.h"

using namespace larql;
using namespace larql::vindex;
namespace fs = std::filesystem;

namespace {


float fp16_round(float x) { return fp16_to_fp32(fp32_to_fp16(x)); }

std::vector<float> run_logits(const Model& m, const std::vector<int32_t>& toks) {
  Session s(m);
  std::vector<float> out;
  s.eval(toks.data(), static_cast<int64_t>(toks.size()), true, out);
  return out;
}

// Logits of the source file and of its vindex must be bit-identical.
void expect_parity(const std::string& model) {
  ExtractOptions o;
  o.level = Level::Inference;
  const std::string dir = test::extracted(model, "inf", o);
  std::unique_ptr<Model> ref;
  try {
    ref = Model::load(test::fixtures_dir() + "/models/" + model);
  } catch (const Error& e) {
    GTEST_SKIP() << "engine cannot run " << model << ": " << e.what();
  }
  auto v = Vindex::open(dir);
  auto vm = v->load_model();
  std::vector<int32_t> toks = {1, 17, 300, 42, 7, 255};
  for (auto& t : toks) t = t % static_cast<int32_t>(ref->hparams().n_vocab);
  auto a = run_logits(*ref, toks), b = run_logits(*vm, toks);
  ASSERT_EQ(a.size(), b.size());
  EXPECT_EQ(std::memcmp(a.data(), b.data(), a.size() * 4), 0) << model << ": logits differ";
  EXPECT_EQ(vm->tokenizer().encode("The capital of France is", true, false),
            ref->tokenizer().encode("The capital of France is", true, false));
  EXPECT_EQ(vm->source().chat_template(), ref->source().chat_template());
}

}  // namespace

TEST(VindexParity, FactsF32) { LARQL_REQUIRE_FIXTURES(); expect_parity("facts/facts-F32.gguf"); }
TEST(VindexParity, FactsQ4KM) { LARQL_REQUIRE_FIXTURES(); expect_parity("facts/facts-Q4_K_M.gguf"); }
TEST(VindexParity, FactsQ8) { LARQL_REQUIRE_FIXTURES(); expect_parity("facts/facts-Q8_0.gguf"); }

class VindexFamilies : public ::testing::TestWithParam<std::string> {};

// Every synthetic family extracts at --level all; features read back equal
// the source (dense and, for MoE, per expert); inference is bit-identical.
TEST_P(VindexFamilies, ExtractsAndRuns) {
  LARQL_REQUIRE_FIXTURES();
  const std::string model = "synthetic/" + GetParam();
  ExtractOptions o;
  o.down_top_k = 3;
  o.n_clusters = 8;
  const std::string dir = test::extracted(model, "all", o);
  EXPECT_TRUE(verify(dir).ok());
  auto v = Vindex::open(dir);
  auto src = gguf::File::open(test::fixtures_dir() + "/models/" + model);
  const int64_t E = v->n_embd();
  std::vector<float> d(static_cast<size_t>(E)), row;
  for (int64_t l = 0; l < v->n_layers(); ++l) {
    const auto& li = v->manifest().layers[static_cast<size_t>(l)];
    const std::string p = "blk." + std::to_string(l) + ".";
    if (li.n_features > 0) {
      const auto& D = src->tensor(p + "ffn_down.weight");
      const int64_t f = li.n_features / 3;
      v->down({l, -1, f}, d.data());
      row.resize(static_cast<size_t>(D.ne[0]));
      for (int64_t o2 = 0; o2 < E; ++o2) {
        dequantize_row(D.type, D.data + static_cast<uint64_t>(o2) * ggml_row_size(D.type, static_cast<uint64_t>(D.ne[0])), row.data(), D.ne[0]);
        // Quantized down columns are stored as F16.
        const float want = D.type == GGMLType::F32 ? row[static_cast<size_t>(f)] : fp16_round(row[static_cast<size_t>(f)]);
        ASSERT_EQ(d[static_cast<size_t>(o2)], want) << p << " o=" << o2;
      }
      EXPECT_EQ(v->down_meta({l, -1, f}).size(), 3u);
      EXPECT_GE(v->cluster_of({l, -1, f}), 0);
      std::vector<float> q(static_cast<size_t>(E), 0.5f);
      EXPECT_EQ(v->gate_knn(l, q.data(), 4).size(), 4u);
    }
    if (li.n_experts > 0) {
      const auto& D = src->tensor(p + "ffn_down_exps.weight");
      EXPECT_EQ(li.n_features_expert, D.ne[0]);
      EXPECT_EQ(v->n_features(l, li.n_experts - 1), D.ne[0]);
      const int64_t e = li.n_experts - 1, f = 5;
      v->down({l, e, f}, d.data());
      row.resize(static_cast<size_t>(D.ne[0]));
      const uint64_t rb = ggml_row_size(D.type, static_cast<uint64_t>(D.ne[0]));
      for (int64_t o2 = 0; o2 < E; ++o2) {
        dequantize_row(D.type, D.data + static_cast<uint64_t>(e * E + o2) * rb, row.data(), D.ne[0]);
        const float want = D.type == GGMLType::F32 ? row[static_cast<size_t>(f)] : fp16_round(row[static_cast<size_t>(f)]);
        ASSERT_EQ(d[static_cast<size_t>(o2)], want);
      }
      std::vector<float> g(static_cast<size_t>(E));
      v->gate({l, e, f}, g.data());
      const auto* G = src->find_tensor(p + "ffn_gate_exps.weight");
      ASSERT_NE(G, nullptr);
      std::vector<float> grow(static_cast<size_t>(E));
      dequantize_row(G->type, G->data + static_cast<uint64_t>(e * li.n_features_expert + f) * ggml_row_size(G->type, static_cast<uint64_t>(E)), grow.data(), E);
      EXPECT_EQ(g, grow);
      EXPECT_EQ(v->down_meta({l, e, f}).size(), 3u);
      EXPECT_GE(v->cluster_of({l, e, f}), 0);
      EXPECT_THROW(v->down({l, li.n_experts, 0}, d.data()), Error);
    }
  }
  expect_parity(model);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, VindexFamilies,
                         ::testing::Values("tiny-llama-gqa-F32.gguf", "tiny-llama-gqa-Q4_K_M.gguf", "tiny-qwen2-Q8_0.gguf",
                                           "tiny-qwen3-F32.gguf", "tiny-gemma3-Q4_K_M.gguf", "tiny-phi3-F32.gguf",
                                           "tiny-gpt2-F32.gguf", "tiny-mixtral-8x2-F32.gguf",
                                           "tiny-qwen2moe-4x2-Q8_0.gguf", "tiny-deepseek2-mla-F32.gguf"),
                         [](const auto& info) {
                           std::string n = info.param;
                           for (auto& c : n)
                             if (!isalnum(static_cast<unsigned char>(c))) c = '_';
                           return n;
                         });
