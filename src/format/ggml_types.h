// On-disk tensor type ids and block layouts, exactly as GGML numbers them.
// This is layout metadata only; the arithmetic (quantize/dequantize) lives in src/tensor/.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace larql {

enum class GGMLType : uint32_t {
  F32 = 0, F16 = 1, Q4_0 = 2, Q4_1 = 3, Q5_0 = 6, Q5_1 = 7, Q8_0 = 8, Q8_1 = 9,
  Q2_K = 10, Q3_K = 11, Q4_K = 12, Q5_K = 13, Q6_K = 14, Q8_K = 15,
  IQ2_XXS = 16, IQ2_XS = 17, IQ3_XXS = 18, IQ1_S = 19, IQ4_NL = 20, IQ3_S = 21, IQ2_S = 22,
  IQ4_XS = 23, I8 = 24, I16 = 25, I32 = 26, I64 = 27, F64 = 28, IQ1_M = 29, BF16 = 30,
  TQ1_0 = 34, TQ2_0 = 35, MXFP4 = 39,
};

struct GGMLTypeTraits {
  const char* name;   // "Q4_K"
  uint32_t block_size;  // elements per block
  uint32_t type_size;   // bytes per block
};

// Layout of a known type id, or nullopt for ids GGML never assigned / removed.
std::optional<GGMLTypeTraits> ggml_type_traits(uint32_t type_id);
// Name of a type id ("Q4_K"), or "type<N>" for unknown ids.
std::string ggml_type_name(uint32_t type_id);
// Parses "q4_k" / "Q4_K" / "f32"; nullopt if unknown.
std::optional<GGMLType> ggml_type_from_name(std::string_view name);
// Bytes of one row of n elements; throws larql::Error if n is not a multiple of the block size.
uint64_t ggml_row_size(GGMLType t, uint64_t n);

}  // namespace larql
