// Jinja's built-in filters and tests (jinja2/filters.py, jinja2/tests.py
// semantics), with Hugging Face's tojson.
#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <unordered_map>

#include "chat/builtins.h"
#include "chat/eval.h"
#include "chat/text.h"

namespace larql::chat {

namespace {

using FilterFn = Value (*)(Evaluator&, const Value&, CallArgs&);
using TestFn = bool (*)(Evaluator&, const Value&, CallArgs&);

const Value* arg(const CallArgs& a, size_t i, const char* name) {
  if (i < a.pos.size()) return &a.pos[i];
  for (const auto& kv : a.kw)
    if (kv.first == name) return &kv.second;
  return nullptr;
}
Value arg_or(const CallArgs& a, size_t i, const char* name, Value def) {
  const Value* v = arg(a, i, name);
  return v ? *v : def;
}
int64_t int_arg(const CallArgs& a, size_t i, const char* name, int64_t def) {
  const Value* v = arg(a, i, name);
  if (!v || v->is_none()) return def;
  if (!v->is_int() && !v->is_bool()) fail(std::string("argument '") + name + "' must be an integer, not " + v->type_name());
  return v->get_int();
}
bool bool_arg(const CallArgs& a, size_t i, const char* name, bool def) {
  const Value* v = arg(a, i, name);
  return v ? v->truthy() : def;
}

[[noreturn]] void fail_undefined(const Value& v) {
  fail(!v.undefined_hint().empty() ? v.undefined_hint() : "undefined value used in a filter");
}

// Jinja's make_attrgetter: "a.b.0" looks up a, then b, then index 0.
Value attr_path(Evaluator& ev, Value item, const std::string& path) {
  size_t b = 0;
  while (true) {
    const size_t dot = path.find('.', b);
    const std::string part = path.substr(b, dot == std::string::npos ? std::string::npos : dot - b);
    const bool digits = !part.empty() && std::all_of(part.begin(), part.end(), [](char c) { return c >= '0' && c <= '9'; });
    int64_t idx = 0;
    if (digits && std::from_chars(part.data(), part.data() + part.size(), idx).ec == std::errc())
      item = ev.get_item(item, Value::integer(idx));
    else
      item = ev.get_item(item, Value::string(part));
    if (dot == std::string::npos) return item;
    b = dot + 1;
  }
}

// Key function shared by sort/unique/min/max/dictsort: optional attribute,
// and strings lower-cased unless case_sensitive.
Value sort_key(Evaluator& ev, const Value& item, const Value* attribute, bool case_sensitive) {
  Value k = item;
  if (attribute && !attribute->is_none()) {
    if (attribute->is_int()) k = ev.get_item(item, *attribute);
    else k = attr_path(ev, item, attribute->str());
  }
  if (!case_sensitive && k.is_string()) k = Value::string(text::lower(k.get_string()));
  return k;
}

}  // namespace

std::string html_escape(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&#34;"; break;
      case '\'': out += "&#39;"; break;
      default: out.push_back(c);
    }
  }
  return out;
}

namespace {

// Python int(str, base): optional sign, underscores between digits, surrounding whitespace.
bool parse_py_int(const std::string& raw, int base, int64_t* out) {
  std::string s = text::strip(raw, nullptr, true, true);
  bool neg = false;
  size_t i = 0;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) neg = s[i++] == '-';
  if (base == 16 && s.compare(i, 2, "0x") == 0) i += 2;
  else if (base == 8 && s.compare(i, 2, "0o") == 0) i += 2;
  else if (base == 2 && s.compare(i, 2, "0b") == 0) i += 2;
  std::string digits;
  for (; i < s.size(); ++i) {
    if (s[i] == '_' && !digits.empty() && i + 1 < s.size() && s[i + 1] != '_') continue;
    digits.push_back(s[i]);
  }
  if (digits.empty()) return false;
  int64_t v = 0;
  auto r = std::from_chars(digits.data(), digits.data() + digits.size(), v, base);
  if (r.ec != std::errc() || r.ptr != digits.data() + digits.size()) return false;
  *out = neg ? -v : v;
  return true;
}

// Python float(str).
bool parse_py_float(const std::string& raw, double* out) {
  std::string s = text::strip(raw, nullptr, true, true);
  std::string t;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '_' && i > 0 && i + 1 < s.size() && std::isdigit(static_cast<unsigned char>(s[i - 1])) &&
        std::isdigit(static_cast<unsigned char>(s[i + 1])))
      continue;
    t.push_back(s[i]);
  }
  std::string low = text::lower(t);
  const bool neg = !low.empty() && low[0] == '-';
  const std::string body = (!low.empty() && (low[0] == '-' || low[0] == '+')) ? low.substr(1) : low;
  if (body == "inf" || body == "infinity") { *out = neg ? -HUGE_VAL : HUGE_VAL; return true; }
  if (body == "nan") { *out = std::nan(""); return true; }
  if (t.empty()) return false;
  const char* b = t.data();
  if (*b == '+') ++b;
  auto r = std::from_chars(b, t.data() + t.size(), *out);
  return r.ec == std::errc() && r.ptr == t.data() + t.size();
}

// ---- filters ----

Value same_kind(const Value& in, std::string s);

Value f_trim(Evaluator&, const Value& v, CallArgs& a) {
  const Value* chars = arg(a, 0, "chars");
  std::string c = chars && !chars->is_none() ? chars->str() : "";
  return same_kind(v, text::strip(v.str(), chars && !chars->is_none() ? &c : nullptr, true, true));
}

Value f_length(Evaluator&, const Value& v, CallArgs&) {
  switch (v.kind()) {
    case Value::Kind::Undefined: return Value::integer(0);
    case Value::Kind::String: return Value::integer(static_cast<int64_t>(text::length(v.get_string())));
    case Value::Kind::List: return Value::integer(static_cast<int64_t>(v.items().size()));
    case Value::Kind::Dict: return Value::integer(static_cast<int64_t>(v.entries().size()));
    default: fail("object of type '" + v.type_name() + "' has no len()");
  }
}

// Markup stays Markup through the str methods these filters call.
Value same_kind(const Value& in, std::string s) { return in.is_markup() ? Value::markup(std::move(s)) : Value::string(std::move(s)); }
Value f_lower(Evaluator&, const Value& v, CallArgs&) { return same_kind(v, text::lower(v.str())); }
Value f_upper(Evaluator&, const Value& v, CallArgs&) { return same_kind(v, text::upper(v.str())); }
Value f_title(Evaluator&, const Value& v, CallArgs&) { return Value::string(text::jinja_title(v.str())); }
Value f_capitalize(Evaluator&, const Value& v, CallArgs&) { return Value::string(text::capitalize(v.str())); }

Value f_replace(Evaluator& ev, const Value& v, CallArgs& a) {
  const Value* old = arg(a, 0, "old");
  const Value* rep = arg(a, 1, "new");
  if (!old || !rep) fail("replace() needs 'old' and 'new'");
  std::string r = text::replace(v.str(), old->str(), rep->str(), int_arg(a, 2, "count", -1));
  ev.check_size(r.size());
  return Value::string(std::move(r));
}

// Hugging Face's override: tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False).
Value f_tojson(Evaluator& ev, const Value& v, CallArgs& a) {
  const bool ascii = bool_arg(a, 0, "ensure_ascii", false);
  const Value indent = arg_or(a, 1, "indent", Value::none());
  std::string item_sep = indent.is_none() ? ", " : ",", key_sep = ": ";
  if (const Value* sep = arg(a, 2, "separators"); sep && !sep->is_none()) {
    if (!sep->is_list() || sep->items().size() != 2) fail("tojson: separators must be a pair of strings");
    item_sep = sep->items()[0].str();
    key_sep = sep->items()[1].str();
  }
  std::string out = to_json(v, indent, item_sep, key_sep, bool_arg(a, 3, "sort_keys", false), ascii);
  ev.check_size(out.size());
  ev.charge(out.size() / 64);
  return Value::string(std::move(out));
}

Value f_string(Evaluator&, const Value& v, CallArgs&) { return v.is_string() ? v : Value::string(v.str()); }

Value f_int(Evaluator&, const Value& v, CallArgs& a) {
  const Value def = arg_or(a, 0, "default", Value::integer(0));
  const int64_t base = int_arg(a, 1, "base", 10);
  if (v.is_undefined()) fail_undefined(v);
  if (v.is_int() || v.is_bool()) return Value::integer(v.get_int());
  if (v.is_float()) {
    const double d = v.get_float();
    if (!std::isfinite(d) || std::fabs(d) >= 9.2e18) return def;
    return Value::integer(static_cast<int64_t>(d));
  }
  if (v.is_string()) {
    int64_t i;
    if ((base == 2 || base == 8 || base == 10 || base == 16) && parse_py_int(v.get_string(), static_cast<int>(base), &i))
      return Value::integer(i);
    double d;
    if (parse_py_float(v.get_string(), &d) && std::isfinite(d) && std::fabs(d) < 9.2e18)
      return Value::integer(static_cast<int64_t>(d));
  }
  return def;
}

Value f_float(Evaluator&, const Value& v, CallArgs& a) {
  const Value def = arg_or(a, 0, "default", Value::number(0.0));
  if (v.is_undefined()) fail_undefined(v);
  if (v.is_number()) return Value::number(v.get_float());
  double d;
  if (v.is_string() && parse_py_float(v.get_string(), &d)) return Value::number(d);
  return def;
}

Value f_join(Evaluator& ev, const Value& v, CallArgs& a) {
  const std::string sep = arg_or(a, 0, "d", Value::string("")).str();
  const Value* attribute = arg(a, 1, "attribute");
  std::string out;
  bool first = true;
  for (const auto& item : ev.iterate(v)) {
    if (!first) out += sep;
    first = false;
    out += (attribute && !attribute->is_none()) ? sort_key(ev, item, attribute, true).str() : item.str();
    ev.check_size(out.size());
  }
  ev.charge(out.size() / 64);
  return Value::string(std::move(out));
}

Value f_default(Evaluator&, const Value& v, CallArgs& a) {
  const Value def = arg_or(a, 0, "default_value", Value::string(""));
  const bool boolean = bool_arg(a, 1, "boolean", false);
  if (v.is_undefined() || (boolean && !v.truthy())) return def;
  return v;
}

Value f_first(Evaluator& ev, const Value& v, CallArgs&) {
  if (v.is_list()) return v.items().empty() ? Value::undefined("No first item, sequence was empty.") : v.items().front();
  auto items = ev.iterate(v);
  return items.empty() ? Value::undefined("No first item, sequence was empty.") : items.front();
}

Value f_last(Evaluator& ev, const Value& v, CallArgs&) {
  if (v.is_list()) return v.items().empty() ? Value::undefined("No last item, sequence was empty.") : v.items().back();
  auto items = ev.iterate(v);
  return items.empty() ? Value::undefined("No last item, sequence was empty.") : items.back();
}

Value f_list(Evaluator& ev, const Value& v, CallArgs&) { return Value::list(ev.iterate(v)); }

Value f_items(Evaluator&, const Value& v, CallArgs&) {
  if (v.is_undefined()) return Value::list({});
  if (!v.is_dict()) fail("Can only get item pairs from a mapping.");
  std::vector<Value> out;
  for (const auto& kv : v.entries()) out.push_back(Value::list({kv.first, kv.second}, true));
  return Value::list(std::move(out));
}

// select/reject/selectattr/rejectattr: keep items whose (attribute) passes the test.
Value select_impl(Evaluator& ev, const Value& v, CallArgs& a, bool by_attr, bool keep) {
  if (!v.truthy()) return Value::list({});  // Jinja: `if value:` before anything else
  size_t i = 0;
  std::string attribute;
  if (by_attr) {
    if (a.pos.empty()) fail("selectattr/rejectattr need an attribute name");
    attribute = a.pos[0].str();
    i = 1;
  }
  std::string test;
  CallArgs test_args;
  if (i < a.pos.size()) {
    test = a.pos[i].str();
    if (!test_exists(test)) fail("no test named '" + test + "'");
    test_args.pos.assign(a.pos.begin() + static_cast<std::ptrdiff_t>(i + 1), a.pos.end());
    test_args.kw = a.kw;
  }
  std::vector<Value> out;
  for (const auto& item : ev.iterate(v)) {
    ev.charge(1);
    const Value x = by_attr ? attr_path(ev, item, attribute) : item;
    CallArgs ta = test_args;
    const bool pass = test.empty() ? x.truthy() : apply_test(ev, test, x, ta);
    if (pass == keep) out.push_back(item);
  }
  return Value::list(std::move(out));
}
Value f_select(Evaluator& ev, const Value& v, CallArgs& a) { return select_impl(ev, v, a, false, true); }
Value f_reject(Evaluator& ev, const Value& v, CallArgs& a) { return select_impl(ev, v, a, false, false); }
Value f_selectattr(Evaluator& ev, const Value& v, CallArgs& a) { return select_impl(ev, v, a, true, true); }
Value f_rejectattr(Evaluator& ev, const Value& v, CallArgs& a) { return select_impl(ev, v, a, true, false); }

Value f_map(Evaluator& ev, const Value& v, CallArgs& a) {
  if (!v.truthy()) return Value::list({});  // Jinja: `if value:` before anything else
  std::vector<Value> out;
  const Value* attribute = nullptr;
  const Value* def = nullptr;
  for (const auto& kv : a.kw) {
    if (kv.first == "attribute") attribute = &kv.second;
    if (kv.first == "default") def = &kv.second;
  }
  if (attribute) {
    for (const auto& item : ev.iterate(v)) {
      ev.charge(1);
      Value x = attr_path(ev, item, attribute->str());
      if (x.is_undefined() && def) x = *def;
      out.push_back(std::move(x));
    }
    return Value::list(std::move(out));
  }
  if (a.pos.empty()) fail("map() needs a filter name or attribute=");
  const std::string name = a.pos[0].str();
  if (!filter_exists(name)) fail("no filter named '" + name + "'");
  CallArgs fa;
  fa.pos.assign(a.pos.begin() + 1, a.pos.end());
  fa.kw = a.kw;
  for (const auto& item : ev.iterate(v)) {
    ev.charge(1);
    CallArgs each = fa;
    out.push_back(apply_filter(ev, name, item, each));
  }
  return Value::list(std::move(out));
}

Value f_reverse(Evaluator& ev, const Value& v, CallArgs&) {
  if (v.is_string()) {
    auto cps = text::decode(v.get_string());
    std::reverse(cps.begin(), cps.end());
    return Value::string(text::encode(cps));
  }
  auto items = ev.iterate(v);
  std::reverse(items.begin(), items.end());
  return Value::list(std::move(items));
}

Value f_safe(Evaluator&, const Value& v, CallArgs&) { return v.is_markup() ? v : Value::markup(v.str()); }
Value f_escape(Evaluator&, const Value& v, CallArgs&) { return v.is_markup() ? v : Value::markup(html_escape(v.str())); }
Value f_forceescape(Evaluator&, const Value& v, CallArgs&) { return Value::markup(html_escape(v.str())); }

Value f_abs(Evaluator&, const Value& v, CallArgs&) {
  if (v.is_float()) return Value::number(std::fabs(v.get_float()));
  if (v.is_int() || v.is_bool()) {
    if (v.get_int() == INT64_MIN) fail("integer overflow");
    return Value::integer(v.get_int() < 0 ? -v.get_int() : v.get_int());
  }
  fail("bad operand type for abs(): '" + v.type_name() + "'");
}

Value f_round(Evaluator&, const Value& v, CallArgs& a) {
  const int64_t precision = int_arg(a, 0, "precision", 0);
  const std::string method = arg_or(a, 1, "method", Value::string("common")).str();
  if (!v.is_number()) fail("round: a number is required, not " + v.type_name());
  if (precision < -30 || precision > 30) fail("round: precision out of range");
  if (method == "common") {
    if (!v.is_float()) return Value::integer(v.get_int());  // round(int, n) stays an int
    const double x = v.get_float();
    if (!std::isfinite(x)) return v;
    if (precision >= 0) {
      // printf rounds the exact binary value half-to-even, as Python's round() does.
      char buf[512];
      std::snprintf(buf, sizeof buf, "%.*f", static_cast<int>(precision), x);
      double r = 0;
      std::from_chars(buf, buf + std::char_traits<char>::length(buf), r);
      return Value::number(r);
    }
    const double scale = std::pow(10.0, static_cast<double>(-precision));
    return Value::number(std::nearbyint(x / scale) * scale);
  }
  if (method != "ceil" && method != "floor") fail("method must be common, ceil or floor");
  const double scale = std::pow(10.0, static_cast<double>(precision));
  const double x = v.get_float() * scale;
  return Value::number((method == "ceil" ? std::ceil(x) : std::floor(x)) / scale);
}

Value f_sum(Evaluator& ev, const Value& v, CallArgs& a) {
  const Value* attribute = arg(a, 0, "attribute");
  Value total = arg_or(a, 1, "start", Value::integer(0));
  for (const auto& item : ev.iterate(v)) {
    ev.charge(1);
    total = arith(ev, "+", total, (attribute && !attribute->is_none()) ? sort_key(ev, item, attribute, true) : item);
  }
  return total;
}

Value minmax(Evaluator& ev, const Value& v, CallArgs& a, bool want_max) {
  const bool cs = bool_arg(a, 0, "case_sensitive", false);
  const Value* attribute = arg(a, 1, "attribute");
  const auto items = ev.iterate(v);
  if (items.empty()) return Value::undefined("No aggregated item, sequence was empty.");
  size_t best = 0;
  Value best_key = sort_key(ev, items[0], attribute, cs);
  for (size_t i = 1; i < items.size(); ++i) {
    Value k = sort_key(ev, items[i], attribute, cs);
    if (want_max ? less(best_key, k) : less(k, best_key)) {
      best = i;
      best_key = std::move(k);
    }
  }
  return items[best];
}
Value f_min(Evaluator& ev, const Value& v, CallArgs& a) { return minmax(ev, v, a, false); }
Value f_max(Evaluator& ev, const Value& v, CallArgs& a) { return minmax(ev, v, a, true); }

Value f_unique(Evaluator& ev, const Value& v, CallArgs& a) {
  const bool cs = bool_arg(a, 0, "case_sensitive", false);
  const Value* attribute = arg(a, 1, "attribute");
  std::vector<Value> out, seen;
  for (const auto& item : ev.iterate(v)) {
    Value k = sort_key(ev, item, attribute, cs);
    ev.charge(seen.size() / 16 + 1);
    if (std::none_of(seen.begin(), seen.end(), [&](const Value& s) { return equals(s, k); })) {
      seen.push_back(std::move(k));
      out.push_back(item);
    }
  }
  return Value::list(std::move(out));
}

Value f_sort(Evaluator& ev, const Value& v, CallArgs& a) {
  const bool rev = bool_arg(a, 0, "reverse", false);
  const bool cs = bool_arg(a, 1, "case_sensitive", false);
  const Value* attribute = arg(a, 2, "attribute");
  auto items = ev.iterate(v);
  std::vector<std::pair<Value, Value>> keyed;
  for (auto& it : items) keyed.emplace_back(sort_key(ev, it, attribute, cs), std::move(it));
  ev.charge(keyed.size() * 4);
  std::stable_sort(keyed.begin(), keyed.end(), [&](const auto& x, const auto& y) {
    return rev ? less(y.first, x.first) : less(x.first, y.first);
  });
  std::vector<Value> out;
  for (auto& kv : keyed) out.push_back(std::move(kv.second));
  return Value::list(std::move(out));
}

Value f_dictsort(Evaluator& ev, const Value& v, CallArgs& a) {
  const bool cs = bool_arg(a, 0, "case_sensitive", false);
  const std::string by = arg_or(a, 1, "by", Value::string("key")).str();
  const bool rev = bool_arg(a, 2, "reverse", false);
  if (!v.is_dict()) fail("dictsort: a mapping is required");
  if (by != "key" && by != "value") fail("You can only sort by either 'key' or 'value'");
  std::vector<Value> pairs;
  for (const auto& kv : v.entries()) pairs.push_back(Value::list({kv.first, kv.second}, true));
  const size_t pos = by == "key" ? 0 : 1;
  ev.charge(pairs.size() * 4);
  std::stable_sort(pairs.begin(), pairs.end(), [&](const Value& x, const Value& y) {
    const Value kx = sort_key(ev, x.items()[pos], nullptr, cs), ky = sort_key(ev, y.items()[pos], nullptr, cs);
    return rev ? less(ky, kx) : less(kx, ky);
  });
  return Value::list(std::move(pairs));
}

Value f_indent(Evaluator& ev, const Value& v, CallArgs& a) {
  const Value w = arg_or(a, 0, "width", Value::integer(4));
  std::string ind;
  if (w.is_string()) ind = w.get_string();
  else {
    const int64_t n = w.get_int();
    if (n > 4096) fail("indent width too large");
    ind = std::string(n > 0 ? static_cast<size_t>(n) : 0, ' ');
  }
  const bool first = bool_arg(a, 1, "first", false);
  const bool blank = bool_arg(a, 2, "blank", false);
  auto lines = text::splitlines(v.str() + "\n", false);
  std::string out;
  for (size_t i = 0; i < lines.size(); ++i) {
    if (i > 0) {
      out += "\n";
      if (blank || !lines[i].empty()) out += ind;
    }
    out += lines[i];
    ev.check_size(out.size());
  }
  if (first) out = ind + out;
  return Value::string(std::move(out));
}

Value f_center(Evaluator&, const Value& v, CallArgs& a) {
  const int64_t width = int_arg(a, 0, "width", 80);
  if (width > 1 << 20) fail("center width too large");
  const std::string s = v.str();
  const auto len = static_cast<int64_t>(text::length(s));
  if (width <= len) return Value::string(s);
  const int64_t pad = width - len;
  const int64_t left = pad / 2 + (pad & width & 1);  // CPython's rounding
  return Value::string(std::string(static_cast<size_t>(left), ' ') + s + std::string(static_cast<size_t>(pad - left), ' '));
}

Value f_wordcount(Evaluator&, const Value& v, CallArgs&) {
  const std::string s = v.str();
  int64_t n = 0;
  bool in_word = false;
  for (size_t i = 0; i < s.size();) {
    const uint32_t c = text::decode_at(s, i);
    const bool w = c == '_' || text::is_digit(c) || text::is_alpha(c);
    if (w && !in_word) ++n;
    in_word = w;
  }
  return Value::integer(n);
}

Value f_format(Evaluator& ev, const Value& v, CallArgs& a) {
  if (!a.pos.empty() && !a.kw.empty()) fail("can't handle positional and keyword arguments at the same time");
  if (!a.kw.empty()) {
    std::vector<std::pair<Value, Value>> d;
    for (const auto& kv : a.kw) d.emplace_back(Value::string(kv.first), kv.second);
    return Value::string(percent_format(ev, v.str(), Value::dict(std::move(d))));
  }
  return Value::string(percent_format(ev, v.str(), Value::list(a.pos, true)));
}

// Python getattr() only: unlike obj.name, dict keys are not looked up.
Value f_attr(Evaluator& ev, const Value& v, CallArgs& a) {
  if (a.pos.empty()) fail("attr() needs a name");
  const std::string name = a.pos[0].str();
  if (v.is_object()) return v.get_object()->get_attr(name);
  if (v.is_undefined()) return ev.get_attr(v, name);
  Value m = method(v, name);
  return m.is_undefined() ? Value::undefined("'" + v.type_name() + " object' has no attribute '" + name + "'") : m;
}

const std::unordered_map<std::string, FilterFn>& filters() {
  static const std::unordered_map<std::string, FilterFn> table = {
      {"trim", f_trim}, {"length", f_length}, {"count", f_length}, {"lower", f_lower}, {"upper", f_upper},
      {"title", f_title}, {"capitalize", f_capitalize}, {"replace", f_replace}, {"tojson", f_tojson},
      {"string", f_string}, {"int", f_int}, {"float", f_float}, {"join", f_join}, {"default", f_default},
      {"d", f_default}, {"first", f_first}, {"last", f_last}, {"list", f_list}, {"items", f_items},
      {"select", f_select}, {"reject", f_reject}, {"selectattr", f_selectattr}, {"rejectattr", f_rejectattr},
      {"map", f_map}, {"reverse", f_reverse}, {"safe", f_safe}, {"escape", f_escape}, {"e", f_escape},
      {"forceescape", f_forceescape}, {"abs", f_abs}, {"round", f_round}, {"sum", f_sum}, {"min", f_min},
      {"max", f_max}, {"unique", f_unique}, {"sort", f_sort}, {"dictsort", f_dictsort}, {"indent", f_indent},
      {"center", f_center}, {"wordcount", f_wordcount}, {"format", f_format}, {"attr", f_attr},
  };
  return table;
}

// ---- tests ----

const Value& test_arg(const CallArgs& a, const char* test) {
  if (a.pos.empty()) fail(std::string("test '") + test + "' needs an argument");
  return a.pos[0];
}

bool is_sequence_like(const Value& v) { return v.is_undefined() || v.is_string() || v.is_list() || v.is_dict(); }

bool t_defined(Evaluator&, const Value& v, CallArgs&) { return !v.is_undefined(); }
bool t_undefined(Evaluator&, const Value& v, CallArgs&) { return v.is_undefined(); }
bool t_none(Evaluator&, const Value& v, CallArgs&) { return v.is_none(); }
bool t_boolean(Evaluator&, const Value& v, CallArgs&) { return v.is_bool(); }
bool t_false(Evaluator&, const Value& v, CallArgs&) { return v.is_bool() && !v.get_bool(); }
bool t_true(Evaluator&, const Value& v, CallArgs&) { return v.is_bool() && v.get_bool(); }
bool t_integer(Evaluator&, const Value& v, CallArgs&) { return v.is_int(); }
bool t_float(Evaluator&, const Value& v, CallArgs&) { return v.is_float(); }
bool t_number(Evaluator&, const Value& v, CallArgs&) { return v.is_number(); }
bool t_string(Evaluator&, const Value& v, CallArgs&) { return v.is_string(); }
bool t_mapping(Evaluator&, const Value& v, CallArgs&) { return v.is_dict(); }
bool t_iterable(Evaluator&, const Value& v, CallArgs&) { return is_sequence_like(v); }
bool t_sequence(Evaluator&, const Value& v, CallArgs&) { return is_sequence_like(v); }
bool t_callable(Evaluator&, const Value& v, CallArgs&) { return v.is_function() || v.is_undefined(); }
bool t_eq(Evaluator&, const Value& v, CallArgs& a) { return equals(v, test_arg(a, "eq")); }
bool t_ne(Evaluator&, const Value& v, CallArgs& a) { return !equals(v, test_arg(a, "ne")); }
bool t_lt(Evaluator&, const Value& v, CallArgs& a) { return less(v, test_arg(a, "lt")); }
bool t_le(Evaluator&, const Value& v, CallArgs& a) { return less(v, test_arg(a, "le")) || equals(v, a.pos[0]); }
bool t_gt(Evaluator&, const Value& v, CallArgs& a) { return less(test_arg(a, "gt"), v); }
bool t_ge(Evaluator&, const Value& v, CallArgs& a) { return less(test_arg(a, "ge"), v) || equals(v, a.pos[0]); }
bool t_in(Evaluator& ev, const Value& v, CallArgs& a) { return ev.contains(test_arg(a, "in"), v); }
bool t_sameas(Evaluator&, const Value& v, CallArgs& a) {
  const Value& o = test_arg(a, "sameas");
  if (v.kind() != o.kind()) return false;
  if (v.is_list()) return &v.items() == &o.items();
  if (v.is_dict()) return &v.entries() == &o.entries();
  return equals(v, o);
}
int64_t int_operand(const Value& v, const char* test) {
  if (!v.is_int() && !v.is_bool()) fail(std::string("test '") + test + "' needs an integer, got " + v.type_name());
  return v.get_int();
}
bool t_odd(Evaluator&, const Value& v, CallArgs&) { return int_operand(v, "odd") % 2 != 0; }
bool t_even(Evaluator&, const Value& v, CallArgs&) { return int_operand(v, "even") % 2 == 0; }
bool t_divisibleby(Evaluator&, const Value& v, CallArgs& a) {
  const int64_t d = int_operand(test_arg(a, "divisibleby"), "divisibleby");
  if (d == 0) fail("integer division or modulo by zero");
  if (d == -1) return true;
  return int_operand(v, "divisibleby") % d == 0;
}
bool cased_check(const Value& v, bool want_lower) {
  const std::string s = v.str();
  bool any = false;
  for (size_t i = 0; i < s.size();) {
    const uint32_t c = text::decode_at(s, i);
    if (text::is_cased_upper(c)) { if (want_lower) return false; any = true; }
    else if (text::is_cased_lower(c)) { if (!want_lower) return false; any = true; }
  }
  return any;
}
bool t_lower(Evaluator&, const Value& v, CallArgs&) { return cased_check(v, true); }
bool t_upper(Evaluator&, const Value& v, CallArgs&) { return cased_check(v, false); }
bool t_escaped(Evaluator&, const Value&, CallArgs&) { return false; }
bool t_filter(Evaluator&, const Value& v, CallArgs&) { return v.is_string() && filter_exists(v.get_string()); }
bool t_test(Evaluator&, const Value& v, CallArgs&) { return v.is_string() && test_exists(v.get_string()); }

const std::unordered_map<std::string, TestFn>& tests() {
  static const std::unordered_map<std::string, TestFn> table = {
      {"defined", t_defined}, {"undefined", t_undefined}, {"none", t_none}, {"boolean", t_boolean},
      {"false", t_false}, {"true", t_true}, {"integer", t_integer}, {"float", t_float}, {"number", t_number},
      {"string", t_string}, {"mapping", t_mapping}, {"iterable", t_iterable}, {"sequence", t_sequence},
      {"callable", t_callable}, {"sameas", t_sameas}, {"equalto", t_eq}, {"eq", t_eq}, {"==", t_eq},
      {"ne", t_ne}, {"!=", t_ne}, {"lt", t_lt}, {"lessthan", t_lt}, {"<", t_lt}, {"le", t_le}, {"<=", t_le},
      {"gt", t_gt}, {"greaterthan", t_gt}, {">", t_gt}, {"ge", t_ge}, {">=", t_ge}, {"in", t_in},
      {"odd", t_odd}, {"even", t_even}, {"divisibleby", t_divisibleby}, {"lower", t_lower}, {"upper", t_upper},
      {"escaped", t_escaped}, {"filter", t_filter}, {"test", t_test},
  };
  return table;
}

}  // namespace

bool filter_exists(const std::string& name) { return filters().count(name) != 0; }
bool test_exists(const std::string& name) { return tests().count(name) != 0; }

Value apply_filter(Evaluator& ev, const std::string& name, const Value& input, CallArgs& args) {
  auto it = filters().find(name);
  if (it == filters().end()) fail("no filter named '" + name + "'");
  return it->second(ev, input, args);
}

bool apply_test(Evaluator& ev, const std::string& name, const Value& value, CallArgs& args) {
  auto it = tests().find(name);
  if (it == tests().end()) fail("no test named '" + name + "'");
  return it->second(ev, value, args);
}

}  // namespace larql::chat
