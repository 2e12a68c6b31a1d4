// Filters, tests, methods and globals available to templates.
#pragma once
#include <string>

#include "chat/value.h"

namespace larql::chat {

bool filter_exists(const std::string& name);
bool test_exists(const std::string& name);

// `input|name(args)`.
Value apply_filter(Evaluator& ev, const std::string& name, const Value& input, CallArgs& args);
// `value is name(args)`.
bool apply_test(Evaluator& ev, const std::string& name, const Value& value, CallArgs& args);
// obj.name for str/dict/list methods: a bound function, or Undefined if none.
Value method(const Value& obj, const std::string& name);
// range, namespace, dict, raise_exception, strftime_now; Undefined if unknown.
Value global(const std::string& name);

// markupsafe.escape: & < > " ' as HTML entities.
std::string html_escape(const std::string& s);

// Python's json.dumps(v, ensure_ascii=..., indent=..., separators=(item_sep, key_sep),
// sort_keys=...), which Hugging Face's tojson filter calls. indent: None, int or str.
std::string to_json(const Value& v, const Value& indent, const std::string& item_sep,
                    const std::string& key_sep, bool sort_keys, bool ensure_ascii = false);

}  // namespace larql::chat
