// nlohmann::json (or ordered_json, which keeps key order as Python dicts do)
// to template values.
#pragma once
#include <nlohmann/json.hpp>

#include "chat/value.h"

namespace larql::chat {

// Throws EvalError past kMaxValueDepth levels of nesting.
Value from_json(const nlohmann::json& j);
Value from_json(const nlohmann::ordered_json& j);

}  // namespace larql::chat
