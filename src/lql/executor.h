// Runs bound statements against a Context and returns their results.
#pragma once
#include "lql/binder.h"
#include "lql/result.h"

namespace larql::lql {

struct Context;

Result execute(const Bound& b, Context& ctx);

}  // namespace larql::lql
