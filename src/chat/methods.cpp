// Methods of str/dict/list values that templates call (message.content.strip(),
// messages[0].get('x'), ...) and the globals: range, namespace, dict,
// raise_exception, strftime_now.
#include <algorithm>
#include <ctime>
#include <unordered_set>

#include "chat/builtins.h"
#include "chat/eval.h"
#include "chat/text.h"

namespace larql::chat {

namespace {

const Value& need(const CallArgs& a, size_t i, const char* what) {
  if (i >= a.pos.size()) fail(std::string(what) + "() missing a required argument");
  return a.pos[i];
}
const Value* opt(const CallArgs& a, size_t i, const char* name) {
  if (i < a.pos.size()) return &a.pos[i];
  for (const auto& kv : a.kw)
    if (kv.first == name) return &kv.second;
  return nullptr;
}
const std::string& need_str(const Value& v, const char* what) {
  if (!v.is_string()) fail(std::string(what) + "() argument must be str, not " + v.type_name());
  return v.get_string();
}

// startswith/endswith: a string or a tuple of strings.
bool affix_match(const std::string& s, const Value& p, bool prefix) {
  auto one = [&](const Value& x) {
    const std::string& t = need_str(x, prefix ? "startswith" : "endswith");
    if (t.size() > s.size()) return false;
    return prefix ? s.compare(0, t.size(), t) == 0 : s.compare(s.size() - t.size(), t.size(), t) == 0;
  };
  if (p.is_tuple()) return std::any_of(p.items().begin(), p.items().end(), one);
  return one(p);
}

int64_t cp_index(const std::string& s, size_t byte_pos) { return static_cast<int64_t>(text::length(s.substr(0, byte_pos))); }

Value list_of_strings(std::vector<std::string> parts) {
  std::vector<Value> out;
  out.reserve(parts.size());
  for (auto& p : parts) out.push_back(Value::string(std::move(p)));
  return Value::list(std::move(out));
}

// str.format: {} / {0} / {name}, optional !r / !s, and a format spec
// [[fill]align][width][.precision][type] for s, d, f, e, g, %.
std::string apply_spec(const Value& v, const std::string& spec) {
  if (spec.empty()) return v.str();
  size_t i = 0;
  uint32_t fill = ' ';
  char align = 0;
  const auto cps = text::decode(spec);
  auto is_align = [](uint32_t c) { return c == '<' || c == '>' || c == '^' || c == '='; };
  if (cps.size() >= 2 && is_align(cps[1])) {
    fill = cps[0];
    align = static_cast<char>(cps[1]);
    i = 2;
  } else if (!cps.empty() && is_align(cps[0])) {
    align = static_cast<char>(cps[0]);
    i = 1;
  }
  std::string rest = text::encode(std::vector<uint32_t>(cps.begin() + static_cast<std::ptrdiff_t>(i), cps.end()));
  size_t k = 0;
  int width = 0, prec = -1;
  while (k < rest.size() && rest[k] >= '0' && rest[k] <= '9' && width < 100000) width = width * 10 + (rest[k++] - '0');
  if (k < rest.size() && rest[k] == '.') {
    prec = 0;
    ++k;
    while (k < rest.size() && rest[k] >= '0' && rest[k] <= '9' && prec < 1000) prec = prec * 10 + (rest[k++] - '0');
  }
  const char type = k < rest.size() ? rest[k++] : 0;
  if (k != rest.size() || width > 4096) fail("unsupported format spec '" + spec + "'");
  std::string body;
  char buf[1200];
  if (type == 0 || type == 's') {
    body = v.str();
    if (prec >= 0) {
      auto b = text::decode(body);
      if (b.size() > static_cast<size_t>(prec)) b.resize(static_cast<size_t>(prec));
      body = text::encode(b);
    }
    if (!align) align = v.is_number() && type == 0 ? '>' : '<';
  } else if (type == 'd') {
    if (!v.is_int() && !v.is_bool()) fail("format code 'd' needs an integer");
    body = std::to_string(v.get_int());
    if (!align) align = '>';
  } else if (type == 'f' || type == 'e' || type == 'g' || type == '%') {
    if (!v.is_number()) fail(std::string("format code '") + type + "' needs a number");
    const double x = type == '%' ? v.get_float() * 100 : v.get_float();
    std::string f = "%.*";
    f.push_back(type == '%' ? 'f' : type);
    std::snprintf(buf, sizeof buf, f.c_str(), prec < 0 ? 6 : prec, x);
    body = buf;
    if (type == '%') body += "%";
    if (!align) align = '>';
  } else {
    fail(std::string("unsupported format code '") + type + "'");
  }
  const auto len = static_cast<int>(text::length(body));
  if (len >= width) return body;
  std::string pad_l, pad_r;
  const int pad = width - len;
  const int left = align == '<' ? 0 : align == '^' ? pad / 2 : pad;
  for (int j = 0; j < left; ++j) text::append_utf8(pad_l, fill);
  for (int j = 0; j < pad - left; ++j) text::append_utf8(pad_r, fill);
  return pad_l + body + pad_r;
}

std::string str_format(Evaluator& ev, const std::string& fmt, const CallArgs& a) {
  std::string out;
  size_t auto_idx = 0;
  for (size_t i = 0; i < fmt.size(); ++i) {
    const char c = fmt[i];
    if (c == '}') {
      if (i + 1 < fmt.size() && fmt[i + 1] == '}') ++i;
      else fail("Single '}' encountered in format string");
      out.push_back('}');
      continue;
    }
    if (c != '{') {
      out.push_back(c);
      continue;
    }
    if (i + 1 < fmt.size() && fmt[i + 1] == '{') {
      out.push_back('{');
      ++i;
      continue;
    }
    const size_t close = fmt.find('}', i);
    if (close == std::string::npos) fail("Single '{' encountered in format string");
    std::string field = fmt.substr(i + 1, close - i - 1);
    i = close;
    std::string spec, conv;
    if (auto colon = field.find(':'); colon != std::string::npos) {
      spec = field.substr(colon + 1);
      field.resize(colon);
    }
    if (auto bang = field.find('!'); bang != std::string::npos) {
      conv = field.substr(bang + 1);
      field.resize(bang);
    }
    Value v;
    if (field.empty()) {
      if (auto_idx >= a.pos.size()) fail("Replacement index " + std::to_string(auto_idx) + " out of range for positional args tuple");
      v = a.pos[auto_idx++];
    } else if (std::all_of(field.begin(), field.end(), [](char d) { return d >= '0' && d <= '9'; })) {
      const size_t idx = field.size() > 6 ? SIZE_MAX : std::stoul(field);
      if (idx >= a.pos.size()) fail("Replacement index " + field + " out of range for positional args tuple");
      v = a.pos[idx];
    } else {
      const Value* kv = nullptr;
      for (const auto& p : a.kw)
        if (p.first == field) kv = &p.second;
      if (!kv) fail("format key '" + field + "' not found");
      v = *kv;
    }
    if (conv == "r") v = Value::string(v.repr());
    else if (conv == "s") v = Value::string(v.str());
    else if (!conv.empty()) fail("unknown conversion specifier " + conv);
    out += apply_spec(v, spec);
    ev.check_size(out.size());
  }
  return out;
}

bool all_cps(const std::string& s, bool (*pred)(uint32_t)) {
  if (s.empty()) return false;
  for (size_t i = 0; i < s.size();)
    if (!pred(text::decode_at(s, i))) return false;
  return true;
}

Value string_method(const Value& self, const std::string& name) {
  using Fn = std::function<Value(Evaluator&, CallArgs&)>;
  const std::string s = self.get_string();
  Fn fn;
  if (name == "strip" || name == "lstrip" || name == "rstrip") {
    const bool l = name != "rstrip", r = name != "lstrip";
    fn = [s, l, r](Evaluator&, CallArgs& a) {
      const Value* chars = opt(a, 0, "chars");
      if (chars && !chars->is_none()) {
        const std::string c = need_str(*chars, "strip");
        return Value::string(text::strip(s, &c, l, r));
      }
      return Value::string(text::strip(s, nullptr, l, r));
    };
  } else if (name == "split" || name == "rsplit") {
    const bool right = name == "rsplit";
    fn = [s, right](Evaluator& ev, CallArgs& a) {
      const Value* sep = opt(a, 0, "sep");
      const Value* max = opt(a, 1, "maxsplit");
      const int64_t maxsplit = max && !max->is_none() ? max->get_int() : -1;
      ev.charge(s.size() / 64);
      if (sep && !sep->is_none()) {
        const std::string d = need_str(*sep, "split");
        if (d.empty()) fail("empty separator");
        return list_of_strings(text::split(s, &d, maxsplit, right));
      }
      return list_of_strings(text::split(s, nullptr, maxsplit, right));
    };
  } else if (name == "startswith" || name == "endswith") {
    const bool prefix = name == "startswith";
    fn = [s, prefix](Evaluator&, CallArgs& a) {
      return Value::boolean(affix_match(s, need(a, 0, prefix ? "startswith" : "endswith"), prefix));
    };
  } else if (name == "upper") {
    fn = [s](Evaluator&, CallArgs&) { return Value::string(text::upper(s)); };
  } else if (name == "lower") {
    fn = [s](Evaluator&, CallArgs&) { return Value::string(text::lower(s)); };
  } else if (name == "title") {
    fn = [s](Evaluator&, CallArgs&) { return Value::string(text::py_title(s)); };
  } else if (name == "capitalize") {
    fn = [s](Evaluator&, CallArgs&) { return Value::string(text::capitalize(s)); };
  } else if (name == "replace") {
    fn = [s](Evaluator& ev, CallArgs& a) {
      const std::string& o = need_str(need(a, 0, "replace"), "replace");
      const std::string& r = need_str(need(a, 1, "replace"), "replace");
      const Value* c = opt(a, 2, "count");
      std::string out = text::replace(s, o, r, c && !c->is_none() ? c->get_int() : -1);
      ev.check_size(out.size());
      return Value::string(std::move(out));
    };
  } else if (name == "find" || name == "rfind" || name == "index" || name == "rindex") {
    const bool rev = name[0] == 'r';
    const bool raise = name.find("index") != std::string::npos;
    fn = [s, rev, raise](Evaluator&, CallArgs& a) {
      const std::string& sub = need_str(need(a, 0, "find"), "find");
      const size_t p = rev ? s.rfind(sub) : s.find(sub);
      if (p == std::string::npos) {
        if (raise) fail("substring not found");
        return Value::integer(-1);
      }
      return Value::integer(cp_index(s, p));
    };
  } else if (name == "count") {
    fn = [s](Evaluator&, CallArgs& a) {
      const std::string& sub = need_str(need(a, 0, "count"), "count");
      if (sub.empty()) return Value::integer(static_cast<int64_t>(text::length(s)) + 1);
      int64_t n = 0;
      for (size_t p = s.find(sub); p != std::string::npos; p = s.find(sub, p + sub.size())) ++n;
      return Value::integer(n);
    };
  } else if (name == "join") {
    fn = [s](Evaluator& ev, CallArgs& a) {
      std::string out;
      bool first = true;
      for (const auto& item : ev.iterate(need(a, 0, "join"))) {
        if (!item.is_string()) fail("sequence item: expected str instance, " + item.type_name() + " found");
        if (!first) out += s;
        first = false;
        out += item.get_string();
        ev.check_size(out.size());
      }
      return Value::string(std::move(out));
    };
  } else if (name == "format") {
    fn = [s](Evaluator& ev, CallArgs& a) { return Value::string(str_format(ev, s, a)); };
  } else if (name == "splitlines") {
    fn = [s](Evaluator&, CallArgs& a) {
      const Value* keep = opt(a, 0, "keepends");
      return list_of_strings(text::splitlines(s, keep && keep->truthy()));
    };
  } else if (name == "isdigit") {
    fn = [s](Evaluator&, CallArgs&) { return Value::boolean(all_cps(s, text::is_digit)); };
  } else if (name == "isalpha") {
    fn = [s](Evaluator&, CallArgs&) { return Value::boolean(all_cps(s, text::is_alpha)); };
  } else if (name == "isalnum") {
    fn = [s](Evaluator&, CallArgs&) {
      return Value::boolean(all_cps(s, [](uint32_t c) { return text::is_alpha(c) || text::is_digit(c); }));
    };
  } else if (name == "isspace") {
    fn = [s](Evaluator&, CallArgs&) { return Value::boolean(all_cps(s, text::is_space)); };
  } else if (name == "islower" || name == "isupper") {
    const bool want_lower = name == "islower";
    fn = [s, want_lower](Evaluator&, CallArgs&) {
      bool any = false;
      for (size_t i = 0; i < s.size();) {
        const uint32_t c = text::decode_at(s, i);
        if (text::is_cased_upper(c)) { if (want_lower) return Value::boolean(false); any = true; }
        else if (text::is_cased_lower(c)) { if (!want_lower) return Value::boolean(false); any = true; }
      }
      return Value::boolean(any);
    };
  } else {
    return Value::undefined("'str object' has no attribute '" + name + "'");
  }
  return Value::function("str." + name, std::move(fn));
}

Value dict_method(const Value& self, const std::string& name) {
  if (name == "items") {
    return Value::function("dict.items", [self](Evaluator& ev, CallArgs&) {
      ev.charge(self.entries().size() / 16);
      std::vector<Value> out;
      for (const auto& kv : self.entries()) out.push_back(Value::list({kv.first, kv.second}, true));
      return Value::list(std::move(out));
    });
  }
  if (name == "keys" || name == "values") {
    const bool keys = name == "keys";
    return Value::function("dict." + name, [self, keys](Evaluator& ev, CallArgs&) {
      ev.charge(self.entries().size() / 16);
      std::vector<Value> out;
      for (const auto& kv : self.entries()) out.push_back(keys ? kv.first : kv.second);
      return Value::list(std::move(out));
    });
  }
  if (name == "get") {
    return Value::function("dict.get", [self](Evaluator&, CallArgs& a) {
      const Value* v = self.find(need(a, 0, "get"));
      if (v) return *v;
      const Value* d = opt(a, 1, "default");
      return d ? *d : Value::none();
    });
  }
  if (name == "copy") {
    return Value::function("dict.copy", [self](Evaluator&, CallArgs&) { return self; });
  }
  static const std::unordered_set<std::string> unsafe = {"pop", "popitem", "update", "setdefault", "clear"};
  if (unsafe.count(name)) fail("access to attribute '" + name + "' of 'dict' object is unsafe");
  return Value::undefined();
}

Value list_method(const Value& self, const std::string& name) {
  if (name == "index") {
    return Value::function("list.index", [self](Evaluator&, CallArgs& a) {
      const Value& x = need(a, 0, "index");
      for (size_t i = 0; i < self.items().size(); ++i)
        if (equals(self.items()[i], x)) return Value::integer(static_cast<int64_t>(i));
      fail(x.repr() + " is not in list");
    });
  }
  if (name == "count") {
    return Value::function("list.count", [self](Evaluator&, CallArgs& a) {
      const Value& x = need(a, 0, "count");
      int64_t n = 0;
      for (const auto& it : self.items()) n += equals(it, x) ? 1 : 0;
      return Value::integer(n);
    });
  }
  static const std::unordered_set<std::string> unsafe = {"append", "extend", "insert", "pop", "remove", "clear", "sort", "reverse"};
  if (unsafe.count(name)) fail("access to attribute '" + name + "' of '" + self.type_name() + "' object is unsafe");
  return Value::undefined();
}

// ---- globals ----

Value g_range(Evaluator& ev, CallArgs& a) {
  auto as_int = [](const Value& v) {
    if (!v.is_int() && !v.is_bool()) fail("'" + v.type_name() + "' object cannot be interpreted as an integer");
    return v.get_int();
  };
  if (a.pos.empty() || a.pos.size() > 3) fail("range expected 1 to 3 arguments");
  int64_t start = 0, stop, step = 1;
  if (a.pos.size() == 1) stop = as_int(a.pos[0]);
  else {
    start = as_int(a.pos[0]);
    stop = as_int(a.pos[1]);
    if (a.pos.size() == 3) step = as_int(a.pos[2]);
  }
  if (step == 0) fail("range() arg 3 must not be zero");
  // Jinja's sandbox refuses ranges over 100000 items.
  const double len = step > 0 ? (static_cast<double>(stop) - static_cast<double>(start)) / static_cast<double>(step)
                              : (static_cast<double>(start) - static_cast<double>(stop)) / static_cast<double>(-step);
  if (len > 100000) fail("Range too big. The sandbox blocks ranges larger than MAX_RANGE (100000).");
  std::vector<Value> out;
  for (int64_t i = start; step > 0 ? i < stop : i > stop;) {
    out.push_back(Value::integer(i));
    if (__builtin_add_overflow(i, step, &i)) break;  // the next value is past any int64 stop
  }
  ev.charge(out.size() / 16);
  return Value::list(std::move(out));
}

Value g_namespace(Evaluator& ev, CallArgs& a) {
  auto ns = ev.make_namespace();
  for (const auto& p : a.pos) {
    if (!p.is_dict()) fail("namespace() positional arguments must be mappings");
    for (const auto& kv : p.entries()) ns->set_attr(kv.first.str(), kv.second);
  }
  for (const auto& kv : a.kw) ns->set_attr(kv.first, kv.second);
  return Value::object(ns);
}

Value g_dict(Evaluator&, CallArgs& a) {
  std::vector<std::pair<Value, Value>> items;
  for (const auto& p : a.pos) {
    if (!p.is_dict()) fail("dict() positional arguments must be mappings");
    for (const auto& kv : p.entries()) items.push_back(kv);
  }
  for (const auto& kv : a.kw) items.emplace_back(Value::string(kv.first), kv.second);
  return Value::dict(std::move(items));
}

Value g_raise(Evaluator&, CallArgs& a) {
  throw EvalError{a.pos.empty() ? std::string() : a.pos[0].str(), true};
}

Value g_strftime_now(Evaluator& ev, CallArgs& a) {
  const std::string fmt = need_str(need(a, 0, "strftime_now"), "strftime_now");
  if (fmt.size() > 1024) fail("strftime_now format too long");
  std::tm tm{};
  if (ev.options().now) {
    tm = *ev.options().now;
  } else {
    const std::time_t t = std::time(nullptr);
    localtime_r(&t, &tm);
  }
  if (fmt.empty()) return Value::string("");
  std::string buf(256, '\0');
  for (int tries = 0; tries < 6; ++tries) {
    const size_t n = std::strftime(buf.data(), buf.size(), fmt.c_str(), &tm);
    if (n > 0) {
      buf.resize(n);
      return Value::string(buf);
    }
    buf.assign(buf.size() * 4, '\0');
  }
  return Value::string("");
}

}  // namespace

Value method(const Value& obj, const std::string& name) {
  if (obj.is_string()) {
    Value m = string_method(obj, name);
    return m.is_function() ? m : Value::undefined();
  }
  if (obj.is_dict()) return dict_method(obj, name);
  if (obj.is_list()) return list_method(obj, name);
  return Value::undefined();
}

Value global(const std::string& name) {
  if (name == "range") return Value::function("range", g_range);
  if (name == "namespace") return Value::function("namespace", g_namespace);
  if (name == "dict") return Value::function("dict", g_dict);
  if (name == "raise_exception") return Value::function("raise_exception", g_raise);
  if (name == "strftime_now") return Value::function("strftime_now", g_strftime_now);
  return Value::undefined();
}

}  // namespace larql::chat
