// index.json <-> Manifest (internal to the vindex module).
#pragma once
#include <nlohmann/json.hpp>

#include "vindex/vindex.h"

namespace larql::vindex {

nlohmann::json hparams_to_json(const HParams& hp);
HParams hparams_from_json(const nlohmann::json& j);  // throws naming the field
nlohmann::json manifest_to_json(const Manifest& m);
// Validates types, version and every tensor's size against its type and shape.
Manifest manifest_from_json(const nlohmann::json& j);
std::string hex64(uint64_t v);

}  // namespace larql::vindex
