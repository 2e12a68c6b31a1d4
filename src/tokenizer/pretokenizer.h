// Normalizers and pre-tokenizers: the text pipeline that runs on each piece of
// raw text (between special tokens) before the subword model. The step set
// mirrors Hugging Face tokenizers' JSON schema; GGUF `tokenizer.ggml.pre` names
// are translated into the same steps (see preset_for_pre).
#pragma once
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/regex.h"

namespace larql::tok {

// How matches ("delimiters") of a split are kept (HF SplitDelimiterBehavior).
enum class SplitBehavior { Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous };

struct Normalizer {
  enum class Kind { Prepend, Replace, Lowercase, Strip, StripAccents, Nfd, Bert };
  Kind kind = Kind::Lowercase;
  std::string text;                // Prepend: prefix; Replace: replacement
  std::shared_ptr<Regex> pattern;  // Replace
  bool left = true, right = true;  // Strip
  // Bert: HF BertNormalizer flags.
  bool clean_text = true, chinese_chars = true, strip_accents = true, lowercase = true;
};

struct PreStep {
  enum class Kind {
    Split,            // regex/literal split with `behavior`, `invert`
    ByteLevel,        // optional prefix space, optional GPT-2 regex split, then byte mapping
    Metaspace,        // spaces -> replacement, optional prefix, optional split
    Bert,             // whitespace (removed) + punctuation (isolated)
    WhitespaceSplit,  // whitespace (removed)
    Digits,           // digits isolated (individual) or grouped
    Punctuation,      // punctuation with `behavior`
  };
  Kind kind = Kind::Split;
  std::shared_ptr<Regex> pattern;
  SplitBehavior behavior = SplitBehavior::Isolated;
  bool invert = false;
  bool add_prefix_space = false;  // ByteLevel
  std::string replacement;        // Metaspace
  enum class Prepend { Never, First, Always } prepend = Prepend::Always;
  bool split = false;             // Metaspace
  bool individual_digits = false; // Digits
};

// Applies the normalizers in order.
std::string normalize(const std::vector<Normalizer>& steps, std::string_view text);

// Runs the pre-tokenizer steps on one normalized segment and appends the
// resulting non-empty pieces. first_segment: the segment starts the input
// (Metaspace prepend_scheme "first").
void pre_tokenize(const std::vector<PreStep>& steps, std::string_view text, bool first_segment,
                  std::vector<std::string>& pieces);

// Well-known patterns.
extern const char* const kGpt2Pattern;
std::shared_ptr<Regex> compile_cached(const std::string& pattern, bool literal);

// Steps for a GGUF tokenizer.ggml.pre name (byte-level BPE). Unknown or empty
// names give the GPT-2 steps and *known = false. ignore_merges is set for the
// families whose Hugging Face model has "ignore_merges": true.
std::vector<PreStep> preset_for_pre(const std::string& pre, bool* known, bool* ignore_merges);

// BERT text handling (HF BertNormalizer / BertPreTokenizer semantics).
std::string bert_normalize(std::string_view text, bool clean_text, bool chinese_chars,
                           bool strip_accents, bool lowercase);
bool bert_is_punctuation(uint32_t cp);
bool is_cjk_ideograph(uint32_t cp);

}  // namespace larql::tok
