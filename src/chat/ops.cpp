// Arithmetic and "%" formatting with Python's rules (int/float promotion,
// floor division and modulo toward negative infinity, str/list repetition).
#include <cmath>
#include <cstdio>

#include "chat/builtins.h"
#include "chat/eval.h"
#include "chat/text.h"

namespace larql::chat {

namespace {

[[noreturn]] void unsupported(const std::string& op, const Value& a, const Value& b) {
  fail("unsupported operand type(s) for " + op + ": '" + a.type_name() + "' and '" + b.type_name() + "'");
}

void check_overflow(bool overflow) {
  if (overflow) fail("integer overflow (values are limited to 64 bits)");
}

Value repeat(Evaluator& ev, const Value& seq, int64_t n) {
  if (n < 0) n = 0;
  if (seq.is_string()) {
    const std::string& s = seq.get_string();
    if (!s.empty() && static_cast<uint64_t>(n) > ev.options().limits.max_output / s.size()) ev.check_size(SIZE_MAX);
    ev.charge(s.size() * static_cast<uint64_t>(n) / 64);
    std::string out;
    out.reserve(s.size() * static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) out += s;
    return seq.is_markup() ? Value::markup(std::move(out)) : Value::string(std::move(out));
  }
  const auto& items = seq.items();
  if (!items.empty() && static_cast<uint64_t>(n) > ev.options().limits.max_output / (items.size() * 16)) ev.check_size(SIZE_MAX);
  ev.charge(items.size() * static_cast<uint64_t>(n) / 16);
  std::vector<Value> out;
  for (int64_t i = 0; i < n; ++i) out.insert(out.end(), items.begin(), items.end());
  return Value::list(std::move(out), seq.is_tuple());
}

double py_fmod(double a, double b) {
  double m = std::fmod(a, b);
  if (m != 0 && ((m < 0) != (b < 0))) m += b;
  return m;
}

}  // namespace

Value arith(Evaluator& ev, const std::string& op, const Value& a, const Value& b) {
  if (a.is_undefined() || b.is_undefined()) {
    const Value& u = a.is_undefined() ? a : b;
    fail(!u.undefined_hint().empty() ? u.undefined_hint() : "undefined value used with '" + op + "'");
  }
  const bool nums = a.is_number() && b.is_number();
  const bool ints = nums && !a.is_float() && !b.is_float();
  if (op == "+") {
    if (ints) {
      int64_t r = 0;
      check_overflow(__builtin_add_overflow(a.get_int(), b.get_int(), &r));
      return Value::integer(r);
    }
    if (nums) return Value::number(a.get_float() + b.get_float());
    if (a.is_string() && b.is_string()) {
      ev.check_size(a.get_string().size() + b.get_string().size());
      ev.charge((a.get_string().size() + b.get_string().size()) / 64);
      if (a.is_markup() || b.is_markup()) {
        // markupsafe: the plain operand is escaped, the result stays Markup.
        std::string l = a.is_markup() ? a.get_string() : html_escape(a.get_string());
        std::string r = b.is_markup() ? b.get_string() : html_escape(b.get_string());
        ev.check_size(l.size() + r.size());
        return Value::markup(l + r);
      }
      return Value::string(a.get_string() + b.get_string());
    }
    if (a.is_list() && b.is_list() && a.is_tuple() == b.is_tuple()) {
      ev.check_size((a.items().size() + b.items().size()) * 16);
      ev.charge((a.items().size() + b.items().size()) / 16);
      std::vector<Value> out = a.items();
      out.insert(out.end(), b.items().begin(), b.items().end());
      return Value::list(std::move(out), a.is_tuple());
    }
    unsupported(op, a, b);
  }
  if (op == "-") {
    if (ints) {
      int64_t r = 0;
      check_overflow(__builtin_sub_overflow(a.get_int(), b.get_int(), &r));
      return Value::integer(r);
    }
    if (nums) return Value::number(a.get_float() - b.get_float());
    unsupported(op, a, b);
  }
  if (op == "*") {
    if (ints) {
      int64_t r = 0;
      check_overflow(__builtin_mul_overflow(a.get_int(), b.get_int(), &r));
      return Value::integer(r);
    }
    if (nums) return Value::number(a.get_float() * b.get_float());
    if ((a.is_string() || a.is_list()) && (b.is_int() || b.is_bool())) return repeat(ev, a, b.get_int());
    if ((b.is_string() || b.is_list()) && (a.is_int() || a.is_bool())) return repeat(ev, b, a.get_int());
    unsupported(op, a, b);
  }
  if (op == "/") {
    if (!nums) unsupported(op, a, b);
    if (b.get_float() == 0) fail("division by zero");
    return Value::number(a.get_float() / b.get_float());
  }
  if (op == "//" || op == "%") {
    if (op == "%" && a.is_string()) {
      if (!a.is_markup()) return Value::string(percent_format(ev, a.get_string(), b));
      // Markup % args escapes the arguments.
      auto esc = [](const Value& v) { return v.is_markup() || !v.is_string() ? v : Value::markup(html_escape(v.get_string())); };
      Value args = b;
      if (b.is_tuple()) {
        std::vector<Value> items;
        for (const auto& x : b.items()) items.push_back(esc(x));
        args = Value::list(std::move(items), true);
      } else {
        args = esc(b);
      }
      return Value::markup(percent_format(ev, a.get_string(), args));
    }
    if (!nums) unsupported(op, a, b);
    if (b.get_float() == 0) fail(op == "//" ? "integer division or modulo by zero" : "modulo by zero");
    if (ints) {
      const int64_t x = a.get_int(), y = b.get_int();
      if (x == INT64_MIN && y == -1) {
        if (op == "%") return Value::integer(0);
        fail("integer overflow (values are limited to 64 bits)");
      }
      int64_t q = x / y, r = x % y;
      if (r != 0 && ((r < 0) != (y < 0))) {
        --q;
        r += y;
      }
      return Value::integer(op == "//" ? q : r);
    }
    const double x = a.get_float(), y = b.get_float();
    if (op == "%") return Value::number(py_fmod(x, y));
    return Value::number(std::floor(x / y));
  }
  if (op == "**") {
    if (!nums) unsupported(op, a, b);
    if (ints && b.get_int() >= 0) {
      int64_t base = a.get_int(), e = b.get_int(), r = 1;
      while (e > 0) {
        if (e & 1) check_overflow(__builtin_mul_overflow(r, base, &r));
        e >>= 1;
        if (e > 0) check_overflow(__builtin_mul_overflow(base, base, &base));
      }
      return Value::integer(r);
    }
    if (a.get_float() == 0 && b.get_float() < 0) fail("0.0 cannot be raised to a negative power");
    return Value::number(std::pow(a.get_float(), b.get_float()));
  }
  fail("unknown operator '" + op + "'");
}

// printf-style formatting as Python's str % args: %s %r %d %i %f %e %g %x %o %c %%,
// with flags, width and precision; args is a tuple, a dict (for %(name)s) or one value.
std::string percent_format(Evaluator& ev, const std::string& fmt, const Value& args) {
  std::vector<Value> list;
  if (args.is_tuple()) list = args.items();
  else list.push_back(args);
  size_t next = 0;
  bool used_dict = false;
  std::string out;
  for (size_t i = 0; i < fmt.size(); ++i) {
    if (fmt[i] != '%') {
      out.push_back(fmt[i]);
      continue;
    }
    if (++i >= fmt.size()) fail("incomplete format");
    if (fmt[i] == '%') {
      out.push_back('%');
      continue;
    }
    Value arg;
    bool have = false;
    if (fmt[i] == '(') {
      const size_t close = fmt.find(')', i);
      if (close == std::string::npos) fail("incomplete format key");
      if (!args.is_dict()) fail("format requires a mapping");
      const Value* v = args.find(fmt.substr(i + 1, close - i - 1));
      if (!v) fail("format key " + repr_string(fmt.substr(i + 1, close - i - 1)) + " not found");
      arg = *v;
      have = used_dict = true;
      i = close + 1;
    }
    std::string spec = "%";
    while (i < fmt.size() && std::string("-+ #0").find(fmt[i]) != std::string::npos) spec.push_back(fmt[i++]);
    while (i < fmt.size() && ((fmt[i] >= '0' && fmt[i] <= '9') || fmt[i] == '.')) spec.push_back(fmt[i++]);
    if (spec.size() > 12) fail("format specifier too long");
    if (i >= fmt.size()) fail("incomplete format");
    const char conv = fmt[i];
    if (!have) {
      if (next >= list.size()) fail("not enough arguments for format string");
      arg = list[next++];
    }
    char buf[512];
    switch (conv) {
      case 's': case 'r': {
        const std::string s = conv == 's' ? arg.str() : arg.repr();
        // Width and precision count code points, so apply them by hand.
        std::string body = s;
        const size_t dot = spec.find('.');
        if (dot != std::string::npos) {
          const size_t prec = static_cast<size_t>(std::atoi(spec.c_str() + dot + 1));
          const auto cps = text::decode(body);
          if (cps.size() > prec) body = text::encode(std::vector<uint32_t>(cps.begin(), cps.begin() + static_cast<std::ptrdiff_t>(prec)));
        }
        size_t width = 0;
        size_t k = 1;
        while (k < spec.size() && std::string("-+ #0").find(spec[k]) != std::string::npos) ++k;
        width = static_cast<size_t>(std::atoi(spec.c_str() + k));
        if (width > 4096) fail("format width too large");
        const size_t len = text::length(body);
        if (len < width) {
          if (spec.find('-') != std::string::npos) body += std::string(width - len, ' ');
          else body = std::string(width - len, ' ') + body;
        }
        out += body;
        break;
      }
      case 'd': case 'i': case 'x': case 'X': case 'o': case 'c': {
        if (!arg.is_number()) fail("%" + std::string(1, conv) + " format: a real number is required, not " + arg.type_name());
        const long long v = arg.is_float() ? static_cast<long long>(arg.get_float()) : static_cast<long long>(arg.get_int());
        if (conv == 'c') {
          text::append_utf8(out, static_cast<uint32_t>(v));
          break;
        }
        std::snprintf(buf, sizeof buf, (spec + "ll" + std::string(1, conv == 'i' ? 'd' : conv)).c_str(), v);
        out += buf;
        break;
      }
      case 'f': case 'F': case 'e': case 'E': case 'g': case 'G': {
        if (!arg.is_number()) fail("must be real number, not " + arg.type_name());
        std::snprintf(buf, sizeof buf, (spec + std::string(1, conv)).c_str(), arg.get_float());
        out += buf;
        break;
      }
      default: fail(std::string("unsupported format character '") + conv + "'");
    }
    ev.check_size(out.size());
  }
  if (!used_dict && next < list.size() && !args.is_dict()) fail("not all arguments converted during string formatting");
  return out;
}

}  // namespace larql::chat
