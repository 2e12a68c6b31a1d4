// StopChecker: stop strings across push boundaries (hold-back, truncation,
// independence from chunking), EOG ids, and the TextStream -> StopChecker pipeline.
#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "../test_paths.h"
#include "engine/stop.h"
#include "engine/text_stream.h"
#include "format/gguf.h"
#include "tokenizer/tokenizer.h"
#include "util/error.h"

namespace larql {
namespace {

namespace fs = std::filesystem;

// Reference written from the definition: read the text one byte at a time and
// stop at the first byte that completes a stop string (the longest one if
// several end there); the output is everything before that stop string.
std::string naive_cut(const std::string& text, const std::vector<std::string>& stops, std::string* matched = nullptr) {
  for (size_t e = 1; e <= text.size(); ++e) {
    const std::string* best = nullptr;
    for (const auto& s : stops)
      if (s.size() <= e && text.compare(e - s.size(), s.size(), s) == 0 && (!best || s.size() > best->size()))
        best = &s;
    if (best) {
      if (matched) *matched = *best;
      return text.substr(0, e - best->size());
    }
  }
  return text;
}

// Longest suffix of text that is a proper prefix of some stop string.
size_t naive_hold(const std::string& text, const std::vector<std::string>& stops) {
  size_t best = 0;
  for (const auto& s : stops)
    for (size_t k = 1; k < s.size() && k <= text.size(); ++k)
      if (text.compare(text.size() - k, k, s, 0, k) == 0) best = std::max(best, k);
  return best;
}

TEST(StopChecker, MatchesAcrossPushesAndHoldsPrefixes) {
  StopChecker sc({"</s>", "\n\nUser:"});
  EXPECT_EQ(sc.push("Hello <"), "Hello ");
  EXPECT_EQ(sc.pending(), 1u);
  EXPECT_EQ(sc.push("/s"), "");
  EXPECT_FALSE(sc.stopped());
  EXPECT_EQ(sc.push("> world"), "");
  EXPECT_TRUE(sc.stopped());
  EXPECT_EQ(sc.reason(), StopReason::StopString);
  EXPECT_EQ(sc.matched(), "</s>");
  EXPECT_EQ(sc.push("more"), "");
  EXPECT_EQ(sc.finish(), "");
  EXPECT_TRUE(sc.check_token(5));

  // A held prefix that turns out not to be a stop string is released.
  sc.reset();
  EXPECT_EQ(sc.push("abc\n"), "abc");
  EXPECT_EQ(sc.push("\nUse"), "");
  EXPECT_EQ(sc.pending(), 5u);
  EXPECT_EQ(sc.push("d to"), "\n\nUsed to");
  EXPECT_EQ(sc.push("\n\nUser: hi"), "");
  EXPECT_EQ(sc.matched(), "\n\nUser:");

  // End of generation without a match: the held text is shown.
  sc.reset();
  EXPECT_EQ(sc.push("ok </"), "ok ");
  EXPECT_EQ(sc.finish(), "</");
  EXPECT_FALSE(sc.stopped());

  // The match is cut even inside one push, text after it is dropped.
  sc.reset();
  EXPECT_EQ(sc.push("a</s>b</s>"), "a");
  // No stop strings: nothing is held.
  StopChecker none;
  EXPECT_EQ(none.push("</s"), "</s");
  EXPECT_EQ(none.pending(), 0u);
}

TEST(StopChecker, EarliestCompletingStopWins) {
  // "y" completes before "xyz": streaming "x", "y" would have stopped at "y".
  StopChecker a({"xyz", "y"});
  EXPECT_EQ(a.push("wxyz"), "wx");
  EXPECT_EQ(a.matched(), "y");
  // Same end: the longer one (it starts earlier).
  StopChecker b({"c", "abc"});
  EXPECT_EQ(b.push("zabcd"), "z");
  EXPECT_EQ(b.matched(), "abc");
}

TEST(StopChecker, IndependentOfChunkingAgainstReference) {
  const std::vector<std::vector<std::string>> stop_sets = {
      {"abc"}, {"abc", "bca", "cc"}, {"a\nb", "aaa"}, {"ab", "b"}, {"abab", "ba"}, {"\n"}};
  std::mt19937 g(99);
  const std::string alpha = "abc\n";
  size_t matches = 0, holds = 0;
  for (int rep = 0; rep < 3000; ++rep) {
    const auto& stops = stop_sets[rep % stop_sets.size()];
    std::string text;
    for (size_t n = g() % 30; n > 0; --n) text += alpha[g() % alpha.size()];
    std::string want_match;
    const std::string want = naive_cut(text, stops, &want_match);
    StopChecker sc(stops);
    std::string got, fed;
    for (size_t i = 0; i < text.size() && !sc.stopped();) {
      const size_t len = 1 + g() % 5;
      const std::string piece = text.substr(i, len);
      i += piece.size();
      fed += piece;
      got += sc.push(piece);
      if (!sc.stopped()) {
        // Holds back exactly the text that could still start a stop string.
        ASSERT_EQ(sc.pending(), naive_hold(fed, stops)) << testing::PrintToString(fed);
        ASSERT_EQ(fed.compare(0, got.size(), got), 0);
        ASSERT_EQ(got.size() + sc.pending(), fed.size());
        holds += sc.pending() > 0;
      }
    }
    got += sc.finish();
    ASSERT_EQ(got, want) << "text " << testing::PrintToString(text);
    ASSERT_EQ(sc.stopped(), !want_match.empty());
    if (sc.stopped()) {
      ++matches;
      EXPECT_EQ(sc.matched(), want_match);
    }
  }
  EXPECT_GT(matches, 1000u);
  EXPECT_GT(holds, 1000u);
}

TEST(StopChecker, EogIdsAndErrors) {
  StopChecker sc({"END"}, {2, 32000});
  EXPECT_FALSE(sc.check_token(1));
  EXPECT_EQ(sc.push("done EN"), "done ");
  EXPECT_TRUE(sc.check_token(32000));
  EXPECT_EQ(sc.reason(), StopReason::EogToken);
  EXPECT_EQ(sc.matched(), "32000");
  // Text flushed after EOG still goes through the stop strings.
  EXPECT_EQ(sc.push("D"), "");
  EXPECT_EQ(sc.finish(), "");
  EXPECT_EQ(sc.reason(), StopReason::StopString);

  EXPECT_THROW(StopChecker({"a", ""}), Error);
  EXPECT_THROW(StopChecker({}, {-1, 3}), Error);
}

struct Loaded {
  std::unique_ptr<gguf::File> file;
  std::unique_ptr<Tokenizer> tok;
};

Loaded load(const std::string& rel) {
  Loaded l;
  const std::string p = test::fixtures_dir() + "/" + rel;
  if (!fs::exists(p)) return l;
  l.file = gguf::File::open(p);
  l.tok = Tokenizer::from_gguf(*l.file);
  return l;
}

// Generation loop as docs/sampling.md describes it; returns the shown text.
std::string run_pipeline(const Tokenizer& tok, const std::vector<int32_t>& ids, StopChecker& sc) {
  TextStream ts(tok);
  std::string shown;
  for (int32_t id : ids) {
    if (sc.check_token(id)) break;
    shown += sc.push(ts.push(id));
    if (sc.stopped()) break;
  }
  shown += sc.push(ts.flush());
  shown += sc.finish();
  return shown;
}

TEST(StopChecker, PipelineWithTokenizer) {
  LARQL_REQUIRE_FIXTURES();
  for (const char* rel : {"vocab/ggml-vocab-llama-spm.gguf", "vocab/ggml-vocab-gpt-2.gguf", "models/facts/facts-F32.gguf"}) {
    SCOPED_TRACE(rel);
    Loaded l = load(rel);
    if (!l.tok) GTEST_SKIP() << "SKIPPED: fixture missing: " << rel;
    const Tokenizer& tok = *l.tok;
    EXPECT_EQ(StopChecker::for_tokenizer(tok).eog_ids(), tok.eog_ids());
    ASSERT_GE(tok.eos_id(), 0);
    ASSERT_TRUE(tok.is_eog(tok.eos_id()));

    const std::string text = "Hello 🦙 world, \xC3\xA9t\xC3\xA9 ends here. Бъл\nUser: next";
    const auto ids = tok.encode(text, false, false);
    const std::string full = tok.decode(ids);
    // A stop string inside a multi-byte character run and one across pieces.
    for (const std::vector<std::string>& stops : std::vector<std::vector<std::string>>{
             {"🦙"}, {"\xC3\xA9t\xC3\xA9"}, {"\nUser:"}, {"ends here", "world"}, {"not present"}, {"ъ"}}) {
      SCOPED_TRACE(stops[0]);
      StopChecker sc = StopChecker::for_tokenizer(tok, stops);
      std::string matched;
      const std::string want = naive_cut(full, stops, &matched);
      EXPECT_EQ(run_pipeline(tok, ids, sc), want);
      EXPECT_EQ(sc.matched(), matched);
    }
    // EOG token: generation ends, the token's text is not shown, held text is.
    std::vector<int32_t> with_eog = tok.encode("abc </", false, false);
    with_eog.push_back(tok.eos_id());
    for (int32_t id : tok.encode(" more", false, false)) with_eog.push_back(id);
    StopChecker sc = StopChecker::for_tokenizer(tok, {"</s>"});
    std::vector<int32_t> before(with_eog.begin(), with_eog.end() - static_cast<std::ptrdiff_t>(tok.encode(" more", false, false).size()) - 1);
    EXPECT_EQ(run_pipeline(tok, with_eog, sc), tok.decode(before));
    EXPECT_EQ(sc.reason(), StopReason::EogToken);
  }
}

}  // namespace
}  // namespace larql
