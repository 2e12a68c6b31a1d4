#include "chat/value.h"

#include <charconv>
#include <cmath>
#include <cstdio>

#include "chat/text.h"

namespace larql::chat {

void fail(std::string msg) { throw EvalError{std::move(msg), false}; }

Value Object::get_attr(const std::string&) const { return Value::undefined(); }
bool Object::set_attr(const std::string&, const Value&) { return false; }
std::string Object::repr() const { return "<" + type_name() + " object>"; }

Value Value::undefined(std::string hint) {
  Value v;
  if (!hint.empty()) v.s_ = std::make_shared<const std::string>(std::move(hint));
  return v;
}
Value Value::none() { Value v; v.kind_ = Kind::None; return v; }
Value Value::boolean(bool b) { Value v; v.kind_ = Kind::Bool; v.b_ = b; return v; }
Value Value::integer(int64_t i) { Value v; v.kind_ = Kind::Int; v.i_ = i; return v; }
Value Value::number(double d) { Value v; v.kind_ = Kind::Float; v.f_ = d; return v; }
Value Value::string(std::string s) {
  Value v;
  v.kind_ = Kind::String;
  v.s_ = std::make_shared<const std::string>(std::move(s));
  return v;
}

Value Value::markup(std::string s) {
  Value v = string(std::move(s));
  v.b_ = true;
  return v;
}

Value Value::list(std::vector<Value> items, bool tuple) {
  auto d = std::make_shared<ListData>();
  int depth = 0;
  for (const auto& x : items) depth = std::max(depth, x.depth());
  if (depth + 1 > kMaxValueDepth) fail("value nested too deeply (over " + std::to_string(kMaxValueDepth) + " levels)");
  d->depth = depth + 1;
  d->items = std::move(items);
  d->tuple = tuple;
  Value v;
  v.kind_ = Kind::List;
  v.list_ = std::move(d);
  return v;
}

static bool is_hashable(const Value& k) {
  switch (k.kind()) {
    case Value::Kind::None: case Value::Kind::Bool: case Value::Kind::Int:
    case Value::Kind::Float: case Value::Kind::String: return true;
    case Value::Kind::List: {
      if (!k.is_tuple()) return false;
      for (const auto& x : k.items())
        if (!is_hashable(x)) return false;
      return true;
    }
    default: return false;
  }
}

Value Value::dict(std::vector<std::pair<Value, Value>> items) {
  auto d = std::make_shared<DictData>();
  int depth = 0;
  d->items.reserve(items.size());
  for (auto& kv : items) {
    if (!is_hashable(kv.first)) fail("unhashable type: '" + kv.first.type_name() + "'");
    depth = std::max(depth, kv.second.depth());
    // A repeated key keeps its first position and takes the last value (Python).
    size_t found = SIZE_MAX;
    if (kv.first.is_string()) {
      auto it = d->by_string.find(kv.first.get_string());
      if (it != d->by_string.end()) found = it->second;
    } else {
      for (size_t i = 0; i < d->items.size(); ++i)
        if (equals(d->items[i].first, kv.first)) { found = i; break; }
    }
    if (found != SIZE_MAX) {
      d->items[found].second = std::move(kv.second);
      continue;
    }
    if (kv.first.is_string()) d->by_string.emplace(kv.first.get_string(), d->items.size());
    d->items.push_back(std::move(kv));
  }
  if (depth + 1 > kMaxValueDepth) fail("value nested too deeply (over " + std::to_string(kMaxValueDepth) + " levels)");
  d->depth = depth + 1;
  Value v;
  v.kind_ = Kind::Dict;
  v.dict_ = std::move(d);
  return v;
}

Value Value::object(std::shared_ptr<Object> o) {
  Value v;
  v.kind_ = Kind::Object;
  v.obj_ = std::move(o);
  return v;
}

Value Value::function(std::string name, std::function<Value(Evaluator&, CallArgs&)> fn) {
  Value v;
  v.kind_ = Kind::Function;
  v.fn_ = std::make_shared<const Function>(Function{std::move(name), std::move(fn)});
  return v;
}

bool Value::is_tuple() const { return kind_ == Kind::List && list_->tuple; }

const std::string& Value::undefined_hint() const {
  static const std::string empty;
  return (kind_ == Kind::Undefined && s_) ? *s_ : empty;
}

const std::vector<Value>& Value::items() const { return list_->items; }
const std::vector<std::pair<Value, Value>>& Value::entries() const { return dict_->items; }

const Value* Value::find(const std::string& key) const {
  if (kind_ != Kind::Dict) return nullptr;
  auto it = dict_->by_string.find(key);
  return it == dict_->by_string.end() ? nullptr : &dict_->items[it->second].second;
}

const Value* Value::find(const Value& key) const {
  if (kind_ != Kind::Dict) return nullptr;
  if (key.is_string()) return find(key.get_string());
  if (!is_hashable(key)) return nullptr;
  for (const auto& kv : dict_->items)
    if (!kv.first.is_string() && equals(kv.first, key)) return &kv.second;
  return nullptr;
}

int Value::depth() const {
  if (kind_ == Kind::List) return list_->depth;
  if (kind_ == Kind::Dict) return dict_->depth;
  if (kind_ == Kind::Object) return obj_->depth();
  return 0;
}

bool Value::truthy() const {
  switch (kind_) {
    case Kind::Undefined: case Kind::None: return false;
    case Kind::Bool: return b_;
    case Kind::Int: return i_ != 0;
    case Kind::Float: return f_ != 0.0;
    case Kind::String: return !s_->empty();
    case Kind::List: return !list_->items.empty();
    case Kind::Dict: return !dict_->items.empty();
    default: return true;
  }
}

std::string Value::type_name() const {
  switch (kind_) {
    case Kind::Undefined: return "Undefined";
    case Kind::None: return "NoneType";
    case Kind::Bool: return "bool";
    case Kind::Int: return "int";
    case Kind::Float: return "float";
    case Kind::String: return "str";
    case Kind::List: return list_->tuple ? "tuple" : "list";
    case Kind::Dict: return "dict";
    case Kind::Object: return obj_->type_name();
    case Kind::Function: return "function";
  }
  return "?";
}

// Python's float repr: the shortest string that round-trips, in positional
// notation when the decimal exponent is in [-4, 16), else scientific.
std::string format_float(double d) {
  if (std::isnan(d)) return "nan";
  if (std::isinf(d)) return d < 0 ? "-inf" : "inf";
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::scientific);
  std::string sci(buf, res.ptr);  // e.g. "-1.2345e+02"
  bool neg = false;
  size_t p = 0;
  if (sci[0] == '-') { neg = true; p = 1; }
  const size_t epos = sci.find('e');
  std::string digits;
  for (size_t i = p; i < epos; ++i)
    if (sci[i] != '.') digits.push_back(sci[i]);
  const int exp = std::stoi(sci.substr(epos + 1));
  while (digits.size() > 1 && digits.back() == '0') digits.pop_back();
  std::string out = neg ? "-" : "";
  if (exp >= -4 && exp < 16) {
    if (exp < 0) {
      out += "0." + std::string(static_cast<size_t>(-exp - 1), '0') + digits;
    } else if (static_cast<size_t>(exp) + 1 >= digits.size()) {
      out += digits + std::string(static_cast<size_t>(exp) + 1 - digits.size(), '0') + ".0";
    } else {
      out += digits.substr(0, static_cast<size_t>(exp) + 1) + "." + digits.substr(static_cast<size_t>(exp) + 1);
    }
  } else {
    out += digits.substr(0, 1);
    if (digits.size() > 1) out += "." + digits.substr(1);
    char e[16];
    std::snprintf(e, sizeof e, "e%c%02d", exp < 0 ? '-' : '+', exp < 0 ? -exp : exp);
    out += e;
  }
  return out;
}

// Code points Python's str.isprintable() rejects (approximation: controls,
// format characters and separators other than the ASCII space).
static bool py_unprintable(uint32_t c) {
  return c < 0x20 || (c >= 0x7F && c <= 0xA0) || c == 0xAD || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200F) || (c >= 0x2028 && c <= 0x202F) || (c >= 0x205F && c <= 0x2064) ||
         c == 0x3000 || c == 0xFEFF || (c >= 0xD800 && c <= 0xDFFF) || (c >= 0xE000 && c <= 0xF8FF);
}

std::string repr_string(const std::string& s) {
  const bool has_single = s.find('\'') != std::string::npos;
  const bool has_double = s.find('"') != std::string::npos;
  const char q = (has_single && !has_double) ? '"' : '\'';
  std::string out(1, q);
  for (size_t i = 0; i < s.size();) {
    const uint32_t c = text::decode_at(s, i);
    char buf[16];
    if (c == static_cast<uint32_t>(q) || c == '\\') { out.push_back('\\'); out.push_back(static_cast<char>(c)); }
    else if (c == '\n') out += "\\n";
    else if (c == '\r') out += "\\r";
    else if (c == '\t') out += "\\t";
    else if (py_unprintable(c)) {
      if (c < 0x100) std::snprintf(buf, sizeof buf, "\\x%02x", c);
      else std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      text::append_utf8(out, c);
    }
  }
  out.push_back(q);
  return out;
}

std::string Value::str() const {
  switch (kind_) {
    case Kind::Undefined: return "";
    case Kind::String: return *s_;
    default: return repr();
  }
}

namespace {
// Namespaces can hold themselves; past this depth repr() prints "..." (like Python's reprlib).
thread_local int repr_depth = 0;
struct ReprGuard {
  ReprGuard() { ++repr_depth; }
  ~ReprGuard() { --repr_depth; }
};
}  // namespace

std::string Value::repr() const {
  ReprGuard guard;
  if (repr_depth > kMaxValueDepth + 8) return "...";
  switch (kind_) {
    case Kind::Undefined: return "Undefined";
    case Kind::None: return "None";
    case Kind::Bool: return b_ ? "True" : "False";
    case Kind::Int: return std::to_string(i_);
    case Kind::Float: return format_float(f_);
    case Kind::String: return repr_string(*s_);
    case Kind::List: {
      std::string out = list_->tuple ? "(" : "[";
      for (size_t i = 0; i < list_->items.size(); ++i) {
        if (i) out += ", ";
        out += list_->items[i].repr();
      }
      if (list_->tuple && list_->items.size() == 1) out += ",";
      out += list_->tuple ? ")" : "]";
      return out;
    }
    case Kind::Dict: {
      std::string out = "{";
      for (size_t i = 0; i < dict_->items.size(); ++i) {
        if (i) out += ", ";
        out += dict_->items[i].first.repr() + ": " + dict_->items[i].second.repr();
      }
      return out + "}";
    }
    case Kind::Object: return obj_->repr();
    case Kind::Function: return "<function " + fn_->name + ">";
  }
  return "";
}

bool equals(const Value& a, const Value& b) {
  using K = Value::Kind;
  if (a.is_number() && b.is_number()) {
    if (a.is_float() || b.is_float()) return a.get_float() == b.get_float();
    return a.get_int() == b.get_int();
  }
  if (a.kind() != b.kind()) return false;
  switch (a.kind()) {
    case K::Undefined: case K::None: return true;
    case K::String: return a.get_string() == b.get_string();
    case K::List: {
      if (a.is_tuple() != b.is_tuple() || a.items().size() != b.items().size()) return false;
      for (size_t i = 0; i < a.items().size(); ++i)
        if (!equals(a.items()[i], b.items()[i])) return false;
      return true;
    }
    case K::Dict: {
      if (a.entries().size() != b.entries().size()) return false;
      for (const auto& kv : a.entries()) {
        const Value* o = b.find(kv.first);
        if (!o || !equals(kv.second, *o)) return false;
      }
      return true;
    }
    case K::Object: return a.get_object() == b.get_object();
    case K::Function: return &a.get_function() == &b.get_function();
    default: return false;
  }
}

bool less(const Value& a, const Value& b) {
  if (a.is_undefined() || b.is_undefined())
    fail(a.is_undefined() && !a.undefined_hint().empty() ? a.undefined_hint()
         : !b.undefined_hint().empty() ? b.undefined_hint() : "cannot compare an undefined value");
  if (a.is_number() && b.is_number()) {
    if (a.is_float() || b.is_float()) return a.get_float() < b.get_float();
    return a.get_int() < b.get_int();
  }
  if (a.is_string() && b.is_string()) return a.get_string() < b.get_string();  // UTF-8 order = code point order
  if (a.is_list() && b.is_list() && a.is_tuple() == b.is_tuple()) {
    const auto& x = a.items();
    const auto& y = b.items();
    for (size_t i = 0; i < x.size() && i < y.size(); ++i) {
      if (equals(x[i], y[i])) continue;
      return less(x[i], y[i]);
    }
    return x.size() < y.size();
  }
  fail("'<' not supported between instances of '" + a.type_name() + "' and '" + b.type_name() + "'");
}

}  // namespace larql::chat
