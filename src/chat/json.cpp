// JSON in and out: Python json.dumps output for tojson, and nlohmann::json
// (or ordered_json) converted to template values.
#include <algorithm>
#include <cmath>
#include <cstdio>

#include "chat/builtins.h"
#include "chat/json_value.h"
#include "chat/text.h"

namespace larql::chat {

namespace {

void escape_json(std::string& out, const std::string& s, bool ascii) {
  out.push_back('"');
  char buf[16];
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x80) {
      if (!ascii) {
        out.push_back(static_cast<char>(c));
        ++i;
        continue;
      }
      const uint32_t cp = text::decode_at(s, i);
      if (cp >= 0x10000) {
        const uint32_t v = cp - 0x10000;
        std::snprintf(buf, sizeof buf, "\\u%04x\\u%04x", 0xD800 + (v >> 10), 0xDC00 + (v & 0x3FF));
      } else {
        std::snprintf(buf, sizeof buf, "\\u%04x", cp);
      }
      out += buf;
      continue;
    }
    ++i;
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        if (c < 0x20) {
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out.push_back(static_cast<char>(c));
        }
    }
  }
  out.push_back('"');
}

std::string float_json(double d) {
  if (std::isnan(d)) return "NaN";
  if (std::isinf(d)) return d < 0 ? "-Infinity" : "Infinity";
  return format_float(d);
}

// Python converts these dict keys to strings; anything else is a TypeError.
std::string key_string(const Value& k) {
  switch (k.kind()) {
    case Value::Kind::String: return k.get_string();
    case Value::Kind::None: return "null";
    case Value::Kind::Bool: return k.get_bool() ? "true" : "false";
    case Value::Kind::Int: return std::to_string(k.get_int());
    case Value::Kind::Float: return float_json(k.get_float());
    default: fail("keys must be str, int, float, bool or None, not " + k.type_name());
  }
}

struct Dumper {
  bool indented;
  std::string indent, item_sep, key_sep;
  bool sort_keys, ascii;
  std::string out;

  void newline(int level) {
    out.push_back('\n');
    for (int i = 0; i < level; ++i) out += indent;
  }

  void dump(const Value& v, int level) {
    if (out.size() > (size_t{256} << 20)) fail("tojson output too large");
    switch (v.kind()) {
      case Value::Kind::None: out += "null"; return;
      case Value::Kind::Bool: out += v.get_bool() ? "true" : "false"; return;
      case Value::Kind::Int: out += std::to_string(v.get_int()); return;
      case Value::Kind::Float: out += float_json(v.get_float()); return;
      case Value::Kind::String: escape_json(out, v.get_string(), ascii); return;
      case Value::Kind::List: {
        const auto& items = v.items();
        if (items.empty()) { out += "[]"; return; }
        out.push_back('[');
        for (size_t i = 0; i < items.size(); ++i) {
          if (i) out += item_sep;
          if (indented) newline(level + 1);
          dump(items[i], level + 1);
        }
        if (indented) newline(level);
        out.push_back(']');
        return;
      }
      case Value::Kind::Dict: {
        std::vector<std::pair<std::string, const Value*>> entries;
        for (const auto& kv : v.entries()) entries.emplace_back(key_string(kv.first), &kv.second);
        if (entries.empty()) { out += "{}"; return; }
        if (sort_keys)
          std::stable_sort(entries.begin(), entries.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
        out.push_back('{');
        for (size_t i = 0; i < entries.size(); ++i) {
          if (i) out += item_sep;
          if (indented) newline(level + 1);
          escape_json(out, entries[i].first, ascii);
          out += key_sep;
          dump(*entries[i].second, level + 1);
        }
        if (indented) newline(level);
        out.push_back('}');
        return;
      }
      default: fail("Object of type " + v.type_name() + " is not JSON serializable");
    }
  }
};

}  // namespace

std::string to_json(const Value& v, const Value& indent, const std::string& item_sep, const std::string& key_sep,
                    bool sort_keys, bool ensure_ascii) {
  Dumper d{!indent.is_none() && !indent.is_undefined(), "", item_sep, key_sep, sort_keys, ensure_ascii, ""};
  if (indent.is_string()) {
    d.indent = indent.get_string();
  } else if (indent.is_int() || indent.is_bool()) {
    const int64_t n = indent.get_int();
    if (n > 1024) fail("tojson indent too large");
    d.indent = std::string(n > 0 ? static_cast<size_t>(n) : 0, ' ');
  } else if (d.indented) {
    fail("tojson indent must be an int or a string, not " + indent.type_name());
  }
  d.dump(v, 0);
  return std::move(d.out);
}

template <class J>
Value value_from_json(const J& j, int depth) {
  if (depth > kMaxValueDepth) fail("JSON input nested too deeply (over " + std::to_string(kMaxValueDepth) + " levels)");
  switch (j.type()) {
    case J::value_t::null: return Value::none();
    case J::value_t::boolean: return Value::boolean(j.template get<bool>());
    case J::value_t::number_integer: return Value::integer(j.template get<int64_t>());
    case J::value_t::number_unsigned: {
      const auto u = j.template get<uint64_t>();
      if (u > static_cast<uint64_t>(INT64_MAX)) return Value::number(static_cast<double>(u));
      return Value::integer(static_cast<int64_t>(u));
    }
    case J::value_t::number_float: return Value::number(j.template get<double>());
    case J::value_t::string: return Value::string(j.template get<std::string>());
    case J::value_t::array: {
      std::vector<Value> items;
      items.reserve(j.size());
      for (const auto& x : j) items.push_back(value_from_json(x, depth + 1));
      return Value::list(std::move(items));
    }
    case J::value_t::object: {
      std::vector<std::pair<Value, Value>> items;
      items.reserve(j.size());
      for (auto it = j.begin(); it != j.end(); ++it) items.emplace_back(Value::string(it.key()), value_from_json(it.value(), depth + 1));
      return Value::dict(std::move(items));
    }
    default: return Value::none();  // binary / discarded
  }
}

Value from_json(const nlohmann::json& j) { return value_from_json(j, 0); }
Value from_json(const nlohmann::ordered_json& j) { return value_from_json(j, 0); }

}  // namespace larql::chat
