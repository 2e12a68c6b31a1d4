// Synthetic tokenizers for synth models: a SentencePiece-style vocabulary
// (llama SPM, byte fallback) for small models and a byte-level BPE vocabulary
// with merges and the family's special tokens for the large presets.
#pragma once
#include <cstdint>
#include <string>

namespace larql {
namespace gguf { class Writer; }
namespace synth {

// Writes tokenizer.ggml.* (and a chat template where the family has one) for
// a vocabulary of exactly n_vocab tokens. `family` picks the special tokens
// and pre-tokenizer: "spm", "llama3", "qwen2", "deepseek".
void write_vocab(gguf::Writer& w, const std::string& family, int64_t n_vocab, uint64_t seed);

}  // namespace synth
}  // namespace larql
