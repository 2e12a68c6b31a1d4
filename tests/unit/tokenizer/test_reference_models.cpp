// Token ids recorded from libllama for the model fixtures: the synthetic
// 512-token SPM vocabulary (reference/tok512-tokenizer-tests.json, no BOS) and
// the trained facts model (reference/facts-*/index.json, text prompts with BOS).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "tok_test_util.h"

namespace larql::test {
namespace {

using json = nlohmann::json;

TEST(Tok512, MatchesLlamaTokenize) {
  const std::string model = fixture("models/synthetic/tiny-llama-gqa-F32.gguf");
  const std::string ref = fixture("reference/tok512-tokenizer-tests.json");
  LARQL_REQUIRE_FIXTURE(model);
  LARQL_REQUIRE_FIXTURE(ref);
  auto tok = load_gguf_tokenizer(model);
  EXPECT_EQ(tok->n_vocab(), 512);
  EXPECT_EQ(tok->kind(), "spm");
  EXPECT_EQ(tok->bos_id(), 1);
  EXPECT_EQ(tok->eos_id(), 2);
  EXPECT_TRUE(tok->add_bos());
  EXPECT_FALSE(tok->add_eos());
  EXPECT_TRUE(tok->add_space_prefix());
  const json j = json::parse(read_all(ref));
  ASSERT_GE(j["tests"].size(), 10u);
  for (const auto& t : j["tests"]) {
    const std::string text = t["text"].get<std::string>();
    const auto want = t["ids_no_bos"].get<std::vector<int32_t>>();
    EXPECT_EQ(ids_str(tok->encode(text, false, false)), ids_str(want)) << show(text);
    // With BOS: exactly one BOS in front.
    auto with_bos = want;
    with_bos.insert(with_bos.begin(), 1);
    EXPECT_EQ(ids_str(tok->encode(text, true, false)), ids_str(with_bos)) << show(text);
    EXPECT_EQ(tok->decode(tok->encode(text, false, false)), text) << show(text);
    EXPECT_EQ(tok->decode(tok->encode(text, true, false), true), text) << show(text);
  }
}

TEST(Tok512, PromptsOfSyntheticReferences) {
  // prompt 2 of every synthetic reference = BOS + first 32 tokens of this text.
  const std::string model = fixture("models/synthetic/tiny-llama-gqa-F32.gguf");
  const std::string ref = fixture("reference/tiny-llama-gqa-F32/index.json");
  LARQL_REQUIRE_FIXTURE(model);
  LARQL_REQUIRE_FIXTURE(ref);
  auto tok = load_gguf_tokenizer(model);
  const json j = json::parse(read_all(ref));
  const auto want = j["prompts"][2]["tokens"].get<std::vector<int32_t>>();
  const std::string text =
      "One day, Zo\xC3\xAB saw a big red ball in the park and wanted to play with it. Once upon a time, "
      "there was a little girl named Lily.";
  auto got = tok->encode(text, true, false);
  ASSERT_GE(got.size(), want.size());
  got.resize(want.size());
  EXPECT_EQ(ids_str(got), ids_str(want));
}

class FactsModel : public ::testing::TestWithParam<const char*> {};

TEST_P(FactsModel, PromptIdsWithBos) {
  const std::string stem = GetParam();
  const std::string model = fixture("models/facts/" + stem + ".gguf");
  const std::string ref = fixture("reference/" + stem + "/index.json");
  LARQL_REQUIRE_FIXTURE(model);
  LARQL_REQUIRE_FIXTURE(ref);
  auto tok = load_gguf_tokenizer(model);
  EXPECT_EQ(tok->n_vocab(), 2048);
  const json j = json::parse(read_all(ref));
  ASSERT_EQ(j["prompts"].size(), 20u);
  size_t pass = 0;
  for (const auto& p : j["prompts"]) {
    const std::string text = p["text"].get<std::string>();
    const auto want = p["tokens"].get<std::vector<int32_t>>();
    const auto got = tok->encode(text, true, false);
    EXPECT_EQ(ids_str(got), ids_str(want)) << show(text);
    pass += got == want;
    EXPECT_EQ(tok->decode(got, true), text);
    // Pieces recorded by the reference (hex of the token text as rendered).
    const auto& hex = p["token_pieces_hex"];
    for (size_t i = 1; i < want.size() && i < hex.size(); ++i) {
      std::string bytes;
      const std::string h = hex[i].get<std::string>();
      for (size_t k = 0; k + 1 < h.size(); k += 2) bytes += static_cast<char>(std::stoi(h.substr(k, 2), nullptr, 16));
      EXPECT_EQ(tok->token_to_piece(want[i]), bytes) << "token " << want[i];
    }
  }
  std::printf("[ facts    ] %s: %zu/20 prompts match\n", stem.c_str(), pass);
}

INSTANTIATE_TEST_SUITE_P(Reference, FactsModel, ::testing::Values("facts-F32", "facts-Q8_0"),
                         [](const auto& info) {
                           std::string s = info.param;
                           for (char& c : s)
                             if (c == '-') c = '_';
                           return s;
                         });

// The facts corpus: SentencePiece and llama.cpp agree on it (README), so it
// must round-trip losslessly; it also exercises a realistic input size.
TEST(FactsModel, CorpusRoundTripAndSpeed) {
  const std::string model = fixture("models/facts/facts-F32.gguf");
  const std::string corpus = fixture("models/facts/corpus.txt");
  LARQL_REQUIRE_FIXTURE(model);
  LARQL_REQUIRE_FIXTURE(corpus);
  auto tok = load_gguf_tokenizer(model);
  std::string text = read_all(corpus);
  text.resize(std::min<size_t>(text.size(), 1 << 20));
  const auto t0 = std::chrono::steady_clock::now();
  const auto ids = tok->encode(text, false, false);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("[ facts    ] encoded %zu bytes -> %zu tokens in %.3f s\n", text.size(), ids.size(), s);
  EXPECT_EQ(tok->decode(ids), text);
}

}  // namespace
}  // namespace larql::test
