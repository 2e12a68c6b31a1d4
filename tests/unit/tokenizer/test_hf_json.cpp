// The tokenizer.json loader, checked on tokenizer.json files converted from
// the fixture GGUF vocabularies (hf_convert.h): same .inp/.out vectors.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "hf_convert.h"
#include "tok_test_util.h"
#include "util/error.h"

namespace larql::test {
namespace {

// The Sequence of Split pre-tokenizers from DeepSeek LLM's tokenizer.json.
ojson deepseek_llm_pre() {
  const std::string letters =
      R"(\s?[A-Za-z\x{B5}\x{C0}-\x{D6}\x{D8}-\x{F6}\x{F8}-\x{1BA}\x{1BC}-\x{1BF}\x{1C4}-\x{293}\x{295}-\x{2AF})"
      R"(\x{370}-\x{373}\x{376}\x{377}\x{37B}-\x{37D}\x{37F}\x{386}\x{388}-\x{38A}\x{38C}\x{38E}-\x{3A1})"
      R"(\x{3A3}-\x{3F5}\x{3F7}-\x{481}\x{48A}-\x{52F}\x{531}-\x{556}\x{10A0}-\x{10C5}\x{13A0}-\x{13F5})"
      R"(\x{13F8}-\x{13FD}\x{1C90}-\x{1CBA}\x{1CBD}-\x{1CBF}\x{1D00}-\x{1D2B}\x{1D6B}-\x{1D77}\x{1D79}-\x{1D9A})"
      R"(\x{1E00}-\x{1F15}\x{1F18}-\x{1F1D}\x{1F20}-\x{1F45}\x{1F48}-\x{1F4D}\x{1F50}-\x{1F57}\x{1F59}\x{1F5B})"
      R"(\x{1F5D}\x{1F5F}-\x{1F7D}\x{1F80}-\x{1FB4}\x{1FB6}-\x{1FBC}\x{1FBE}\x{1FC2}-\x{1FC4}\x{1FC6}-\x{1FCC})"
      R"(\x{1FD0}-\x{1FD3}\x{1FD6}-\x{1FDB}\x{1FE0}-\x{1FEC}\x{1FF2}-\x{1FF4}\x{1FF6}-\x{1FFC}\x{2102}\x{2107})"
      R"(\x{210A}-\x{2113}\x{2115}\x{2119}-\x{211D}\x{2124}\x{2126}\x{2128}\x{212A}-\x{212D}\x{212F}-\x{2134})"
      R"(\x{2139}\x{213C}-\x{213F}\x{2145}-\x{2149}\x{214E}\x{2183}\x{2184}\x{2C00}-\x{2C7B}\x{2C7E}-\x{2CE4})"
      R"(\x{2CEB}-\x{2CEE}\x{2CF2}\x{2CF3}\x{A640}-\x{A66D}\x{A680}-\x{A69B}\x{A722}-\x{A76F}\x{A771}-\x{A787})"
      R"(\x{A78B}-\x{A78E}\x{AB70}-\x{ABBF}\x{FB00}-\x{FB06}\x{FB13}-\x{FB17}\x{FF21}-\x{FF3A}\x{FF41}-\x{FF5A})"
      R"(\x{10400}-\x{1044F}\x{104B0}-\x{104D3}\x{104D8}-\x{104FB}\x{10C80}-\x{10CB2}\x{10CC0}-\x{10CF2})"
      R"(\x{118A0}-\x{118DF}\x{1E900}-\x{1E943}]+)";
  return ojson{{"type", "Sequence"},
               {"pretokenizers",
                ojson::array({split(R"([\r\n])"), split(letters),
                              split(R"(\s?[!-/:-~\x{FF01}-\x{FF0F}\x{FF1A}-\x{FF5E}\x{2018}-\x{201F}\x{3000}-\x{3002}]+)"),
                              split(R"(\s+$)"), split(R"([\x{4E00}-\x{9FA5}\x{800}-\x{4E00}\x{AC00}-\x{D7FF}]+)"),
                              split(R"(\p{N}+)"), byte_level(false)})}};
}

ojson deepseek_coder_pre() {
  return ojson{{"type", "Sequence"},
               {"pretokenizers", ojson::array({split(R"([\r\n])"), split(R"(\s?\p{L}+)"), split(R"(\s?\p{P}+)"),
                                               split(R"([\x{4E00}-\x{9FA5}\x{800}-\x{4E00}\x{AC00}-\x{D7FF}]+)"),
                                               split(R"(\p{N})"), byte_level(false)})}};
}

ojson starcoder_pre() {
  return ojson{{"type", "Sequence"},
               {"pretokenizers", ojson::array({ojson{{"type", "Digits"}, {"individual_digits", true}}, byte_level(true)})}};
}

ojson falcon_pre() {
  return ojson{{"type", "Sequence"},
               {"pretokenizers", ojson::array({ojson{{"type", "Punctuation"}, {"behavior", "Contiguous"}}, byte_level(true),
                                               ojson{{"type", "Digits"}, {"individual_digits", false}},
                                               split("[0-9][0-9][0-9]")})}};
}

enum class Layout { ByteLevel, ByteLevelPairs, DeepseekLlm, DeepseekCoder, Starcoder, Falcon, SpmNormalizer, SpmMetaspace, WordPiece };

struct HfParam {
  const char* vocab;
  Layout layout;
  const char* label;
};

ojson convert(const GgufVocab& v, Layout l) {
  switch (l) {
    case Layout::ByteLevel: return hf_byte_level_bpe(v, byte_level(true), false);
    case Layout::ByteLevelPairs: return hf_byte_level_bpe(v, byte_level(true), true);
    case Layout::DeepseekLlm: return hf_byte_level_bpe(v, deepseek_llm_pre(), true);
    case Layout::DeepseekCoder: return hf_byte_level_bpe(v, deepseek_coder_pre(), false);
    case Layout::Starcoder: return hf_byte_level_bpe(v, starcoder_pre(), false);
    case Layout::Falcon: return hf_byte_level_bpe(v, falcon_pre(), false);
    case Layout::SpmNormalizer: return hf_spm_bpe(v, false);
    case Layout::SpmMetaspace: return hf_spm_bpe(v, true);
    case Layout::WordPiece: return hf_wordpiece(v);
  }
  return {};
}

class HfJson : public ::testing::TestWithParam<HfParam> {};

TEST_P(HfJson, MatchesReferenceIds) {
  const std::string path = fixture(std::string("vocab/ggml-vocab-") + GetParam().vocab + ".gguf");
  LARQL_REQUIRE_FIXTURE(path);
  auto f = gguf::File::open(path);
  const std::string text = convert(read_gguf_vocab(*f), GetParam().layout).dump();
  auto tok = Tokenizer::from_hf_json_text(text);
  EXPECT_EQ(tok->pre(), "hf");
  const auto cases = load_vocab_cases(path);
  ASSERT_FALSE(cases.empty());
  size_t pass = 0, rt_pass = 0, rt_n = 0, n = 0;
  std::string report;
  for (size_t i = 0; i < cases.size(); ++i) {
    // HF's Metaspace pre-tokenizer does not add "▁" to text that already starts
    // with a space (unlike the legacy normalizer layout the vectors come from).
    if (GetParam().layout == Layout::SpmMetaspace && cases[i].text.rfind(' ', 0) == 0) continue;
    ++n;
    const auto got = tok->encode(cases[i].text, false, false);
    if (got == cases[i].ids) ++pass;
    else if (report.size() < 3000)
      report += "  case " + std::to_string(i) + " " + show(cases[i].text) + "\n    expected " + ids_str(cases[i].ids) +
                "\n    got      " + ids_str(got) + "\n";
    if (tok->kind() != "wpm") {
      ++rt_n;
      rt_pass += tok->decode(got) == cases[i].text;
    }
  }
  std::printf("[ hf-json  ] %s: %zu/%zu cases pass\n", GetParam().label, pass, n);
  EXPECT_GE(n, 30u);
  EXPECT_EQ(pass, n) << report;
  EXPECT_EQ(rt_pass, rt_n) << "round trip";
}

INSTANTIATE_TEST_SUITE_P(
    Converted, HfJson,
    ::testing::Values(HfParam{"gpt-2", Layout::ByteLevel, "gpt2_bytelevel"},
                      HfParam{"mpt", Layout::ByteLevelPairs, "mpt_pair_merges"},
                      HfParam{"deepseek-llm", Layout::DeepseekLlm, "deepseek_llm_splits"},
                      HfParam{"deepseek-coder", Layout::DeepseekCoder, "deepseek_coder_splits"},
                      HfParam{"starcoder", Layout::Starcoder, "starcoder_digits"},
                      HfParam{"falcon", Layout::Falcon, "falcon_punct_digits"},
                      HfParam{"llama-spm", Layout::SpmNormalizer, "llama_spm_normalizer"},
                      HfParam{"llama-spm", Layout::SpmMetaspace, "llama_spm_metaspace"},
                      HfParam{"phi-3", Layout::SpmNormalizer, "phi3_normalizer"},
                      HfParam{"bert-bge", Layout::WordPiece, "bert_wordpiece"}),
    [](const auto& info) { return std::string(info.param.label); });

class TempDir {
 public:
  TempDir() {
    path_ = std::filesystem::temp_directory_path() /
            ("larql-tok-" + std::to_string(::getpid()) + "-" + std::to_string(counter_++));
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::string file(const std::string& name, const std::string& content) const {
    const auto p = path_ / name;
    std::ofstream(p, std::ios::binary) << content;
    return p.string();
  }

 private:
  static inline int counter_ = 0;
  std::filesystem::path path_;
};

TEST(HfJsonFiles, SpmSpecialsAndConfig) {
  const std::string path = fixture("vocab/ggml-vocab-llama-spm.gguf");
  LARQL_REQUIRE_FIXTURE(path);
  auto f = gguf::File::open(path);
  TempDir dir;
  const std::string tj = dir.file("tokenizer.json", hf_spm_bpe(read_gguf_vocab(*f), false).dump());
  {
    auto tok = Tokenizer::from_hf_json(tj);
    EXPECT_EQ(tok->kind(), "spm");
    EXPECT_EQ(tok->bos_id(), 1);
    EXPECT_EQ(tok->eos_id(), 2);
    EXPECT_EQ(tok->unk_id(), 0);
    EXPECT_TRUE(tok->add_bos());  // from the TemplateProcessing post-processor
    EXPECT_FALSE(tok->add_eos());
    EXPECT_TRUE(tok->is_eog(2));
    EXPECT_EQ(tok->token_type(1), TokenType::Control);
    EXPECT_EQ(tok->token_type(3), TokenType::Byte);
    const auto ids = tok->encode("Hello world", true, false);
    ASSERT_FALSE(ids.empty());
    EXPECT_EQ(ids.front(), 1);
    EXPECT_EQ(tok->decode(ids, true), "Hello world");
    EXPECT_EQ(tok->decode(ids, false), "<s>Hello world");
    // parse_special: "</s>" is the EOS token only when asked.
    const auto with = tok->encode("Hi</s>", false, true);
    ASSERT_FALSE(with.empty());
    EXPECT_EQ(with.back(), 2);
    const auto without = tok->encode("Hi</s>", false, false);
    EXPECT_EQ(std::count(without.begin(), without.end(), 2), 0);
  }
  // tokenizer_config.json overrides add_bos/add_eos.
  dir.file("tokenizer_config.json",
           R"({"add_bos_token": false, "add_eos_token": true, "bos_token": {"content": "<s>"}, "eos_token": "</s>"})");
  auto tok = Tokenizer::from_hf_json(tj);
  EXPECT_FALSE(tok->add_bos());
  EXPECT_TRUE(tok->add_eos());
  const auto ids = tok->encode("Hello", true, false);
  ASSERT_FALSE(ids.empty());
  EXPECT_NE(ids.front(), 1);
  EXPECT_EQ(ids.back(), 2);
}

TEST(HfJsonFiles, WordPieceAddsClsSep) {
  const std::string path = fixture("vocab/ggml-vocab-bert-bge.gguf");
  LARQL_REQUIRE_FIXTURE(path);
  auto f = gguf::File::open(path);
  auto tok = Tokenizer::from_hf_json_text(hf_wordpiece(read_gguf_vocab(*f)).dump());
  EXPECT_EQ(tok->kind(), "wpm");
  const auto ids = tok->encode("Hello world", true, false);
  EXPECT_EQ(ids_str(ids), "[101 7592 2088 102]");
  EXPECT_EQ(tok->decode(ids, true), "hello world");
  EXPECT_EQ(tok->decode(tok->encode("unaffable", false, false)), "unaffable");
}

// Small hand-written tokenizer.json files: schema features and validation.
TEST(HfJsonSynthetic, AddedTokensStripAndErrors) {
  const char* good = R"({
    "added_tokens": [
      {"id": 5, "content": "<|im_start|>", "special": true, "lstrip": false, "rstrip": true, "normalized": false, "single_word": false},
      {"id": 6, "content": "<mask>", "special": true, "lstrip": true, "rstrip": false, "normalized": false, "single_word": false}
    ],
    "normalizer": null,
    "pre_tokenizer": {"type": "WhitespaceSplit"},
    "model": {"type": "BPE", "unk_token": "<unk>", "fuse_unk": true, "byte_fallback": false,
              "vocab": {"<unk>": 0, "a": 1, "b": 2, "ab": 3, "c": 4},
              "merges": [["a", "b"]]}
  })";
  auto tok = Tokenizer::from_hf_json_text(good);
  EXPECT_EQ(tok->n_vocab(), 7);
  EXPECT_EQ(ids_str(tok->encode("ab c", false, false)), "[3 4]");
  EXPECT_EQ(ids_str(tok->encode("abzzc", false, false)), "[3 0 4]");  // fused unknowns
  EXPECT_EQ(ids_str(tok->encode("<|im_start|>  ab", false, true)), "[5 3]");  // rstrip
  EXPECT_EQ(ids_str(tok->encode("ab  <mask>", false, true)), "[3 6]");          // lstrip
  EXPECT_EQ(tok->decode({5, 3}, true), "ab");

  // Validation: each of these must be rejected with larql::Error.
  const char* bad[] = {
      "not json",
      "[]",
      R"({"model": {"type": "Unigram", "vocab": []}})",
      R"({"model": {"type": "BPE", "vocab": {"a": -1}, "merges": []}})",
      R"({"model": {"type": "BPE", "vocab": {"a": "x"}, "merges": []}})",
      R"({"model": {"type": "BPE", "vocab": {}, "merges": []}})",
      R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": ["a"]}})",
      R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": 5}})",
      R"({"model": {"type": "BPE", "vocab": {"a": 0, "b": 0}, "merges": []}})",
      R"({"model": {"type": "BPE", "unk_token": "<unk>", "vocab": {"a": 0}, "merges": []}})",
      R"({"pre_tokenizer": {"type": "Split", "pattern": {"Regex": "(["}, "behavior": "Isolated"},
          "model": {"type": "BPE", "vocab": {"a": 0}, "merges": []}})",
      R"({"pre_tokenizer": {"type": "Nonsense"}, "model": {"type": "BPE", "vocab": {"a": 0}, "merges": []}})",
      R"({"added_tokens": [{"id": 99999999, "content": "x"}], "model": {"type": "BPE", "vocab": {"a": 0}, "merges": []}})",
      R"({"model": {"type": "WordPiece", "vocab": {"a": 0}, "max_input_chars_per_word": 0}})",
  };
  for (const char* b : bad) EXPECT_THROW(Tokenizer::from_hf_json_text(b), Error) << b;
  EXPECT_THROW(Tokenizer::from_hf_json("/nonexistent/tokenizer.json"), Error);
}

}  // namespace
}  // namespace larql::test
