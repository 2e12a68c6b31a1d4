// Dispatch and argument checks for row (de)quantization; the codecs are in
// quants_float.cpp, quants_legacy.cpp, quants_k*.cpp and quants_mxfp4.cpp.
#include "tensor/quants.h"

#include <string>

#include "tensor/quants_impl.h"
#include "util/error.h"

namespace larql {

namespace {

struct Codec {
  GGMLType type;
  quant::DequantFn dequant;
  quant::QuantFn quant;  // nullptr: decode only
};

constexpr Codec kCodecs[] = {
    {GGMLType::F32, quant::dequant_f32, quant::quant_f32},
    {GGMLType::F16, quant::dequant_f16, quant::quant_f16},
    {GGMLType::BF16, quant::dequant_bf16, quant::quant_bf16},
    {GGMLType::Q4_0, quant::dequant_q4_0, quant::quant_q4_0},
    {GGMLType::Q4_1, quant::dequant_q4_1, nullptr},
    {GGMLType::Q5_0, quant::dequant_q5_0, quant::quant_q5_0},
    {GGMLType::Q5_1, quant::dequant_q5_1, quant::quant_q5_1},
    {GGMLType::Q8_0, quant::dequant_q8_0, quant::quant_q8_0},
    {GGMLType::Q2_K, quant::dequant_q2_k, nullptr},
    {GGMLType::Q3_K, quant::dequant_q3_k, nullptr},
    {GGMLType::Q4_K, quant::dequant_q4_k, quant::quant_q4_k},
    {GGMLType::Q5_K, quant::dequant_q5_k, quant::quant_q5_k},
    {GGMLType::Q6_K, quant::dequant_q6_k, quant::quant_q6_k},
    {GGMLType::Q8_K, quant::dequant_q8_k, quant::quant_q8_k},
    {GGMLType::MXFP4, quant::dequant_mxfp4, quant::quant_mxfp4},
};

const Codec* find_codec(GGMLType t) {
  for (const auto& c : kCodecs)
    if (c.type == t) return &c;
  return nullptr;
}

std::string type_name(GGMLType t) { return ggml_type_name(static_cast<uint32_t>(t)); }

// Validates n against the type's block size; returns the number of blocks.
int64_t block_count(GGMLType t, int64_t n, const char* what) {
  const auto traits = ggml_type_traits(static_cast<uint32_t>(t));
  if (!traits) throw Error(std::string(what) + ": unknown tensor type " + type_name(t));
  if (n < 0) throw Error(std::string(what) + ": negative element count " + std::to_string(n));
  if (n % traits->block_size != 0)
    throw Error(std::string(what) + ": element count " + std::to_string(n) +
                " is not a multiple of " + traits->name + "'s block size " +
                std::to_string(traits->block_size));
  return n / traits->block_size;
}

}  // namespace

bool can_dequantize(GGMLType t) { return find_codec(t) != nullptr; }

bool can_quantize(GGMLType t) {
  const Codec* c = find_codec(t);
  return c && c->quant;
}

void dequantize_row(GGMLType t, const void* src, float* dst, int64_t n) {
  const Codec* c = find_codec(t);
  if (!c) throw Error("dequantize_row: no decoder for tensor type " + type_name(t));
  const int64_t nb = block_count(t, n, "dequantize_row");
  if (nb == 0) return;
  if (!src || !dst) throw Error("dequantize_row: null src or dst");
  c->dequant(static_cast<const uint8_t*>(src), dst, nb);
}

void quantize_row(GGMLType t, const float* src, void* dst, int64_t n, const float* importance) {
  const Codec* c = find_codec(t);
  if (!c || !c->quant) throw Error("quantize_row: no encoder for tensor type " + type_name(t));
  const int64_t nb = block_count(t, n, "quantize_row");
  if (nb == 0) return;
  if (!src || !dst) throw Error("quantize_row: null src or dst");
  c->quant(src, static_cast<uint8_t*>(dst), nb, importance);
}

void quantize_row(GGMLType t, const float* src, void* dst, int64_t n) {
  quantize_row(t, src, dst, n, nullptr);
}

}  // namespace larql
