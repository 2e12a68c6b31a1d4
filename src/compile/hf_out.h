// Internals of the Hugging Face folder writer (hf_out.cpp, hf_config.cpp, hf_tokenizer.cpp).
#pragma once
#include <nlohmann/json.hpp>
#include <string>

#include "compile/compile_internal.h"
#include "model/hparams.h"

namespace larql::compile::detail {

// config.json for these hparams (dtype: torch_dtype; bos/eos: -1 when none).
nlohmann::json hf_config(const HParams& hp, GGMLType dtype, int32_t bos, int32_t eos);

// Writes tokenizer.json + tokenizer_config.json into dir: copies the source's
// when it has them, else builds them from its GGUF vocabulary.
void write_hf_tokenizer(const ModelSource& src, const std::string& dir, Result& res);

}  // namespace larql::compile::detail
