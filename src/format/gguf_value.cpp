// gguf::Value accessors and constructors.
#include <cmath>
#include <sstream>

#include "format/gguf.h"
#include "util/error.h"

namespace larql::gguf {

const char* value_type_name(ValueType t) {
  switch (t) {
    case ValueType::UINT8: return "uint8";
    case ValueType::INT8: return "int8";
    case ValueType::UINT16: return "uint16";
    case ValueType::INT16: return "int16";
    case ValueType::UINT32: return "uint32";
    case ValueType::INT32: return "int32";
    case ValueType::FLOAT32: return "float32";
    case ValueType::BOOL: return "bool";
    case ValueType::STRING: return "string";
    case ValueType::ARRAY: return "array";
    case ValueType::UINT64: return "uint64";
    case ValueType::INT64: return "int64";
    case ValueType::FLOAT64: return "float64";
  }
  return "invalid";
}

namespace {
bool is_unsigned(ValueType t) {
  return t == ValueType::UINT8 || t == ValueType::UINT16 || t == ValueType::UINT32 ||
         t == ValueType::UINT64;
}
bool is_signed(ValueType t) {
  return t == ValueType::INT8 || t == ValueType::INT16 || t == ValueType::INT32 ||
         t == ValueType::INT64;
}
[[noreturn]] void type_error(const Value& v, const char* wanted) {
  throw Error(std::string("metadata value is ") + value_type_name(v.type) + ", expected " + wanted);
}
}  // namespace

bool Value::is_integer() const { return is_unsigned(type) || is_signed(type); }
bool Value::is_number() const {
  return is_integer() || type == ValueType::FLOAT32 || type == ValueType::FLOAT64;
}

int64_t Value::as_int() const {
  if (is_signed(type)) return i;
  if (is_unsigned(type)) {
    if (u > static_cast<uint64_t>(INT64_MAX)) throw Error("metadata integer out of range");
    return static_cast<int64_t>(u);
  }
  if (type == ValueType::BOOL) return static_cast<int64_t>(u);
  type_error(*this, "an integer");
}

uint64_t Value::as_uint() const {
  if (is_unsigned(type) || type == ValueType::BOOL) return u;
  if (is_signed(type)) {
    if (i < 0) throw Error("metadata integer is negative, expected unsigned");
    return static_cast<uint64_t>(i);
  }
  type_error(*this, "an unsigned integer");
}

double Value::as_float() const {
  if (type == ValueType::FLOAT32 || type == ValueType::FLOAT64) return f;
  if (is_signed(type)) return static_cast<double>(i);
  if (is_unsigned(type)) return static_cast<double>(u);
  type_error(*this, "a number");
}

bool Value::as_bool() const {
  if (type == ValueType::BOOL) return u != 0;
  if (is_integer()) return as_int() != 0;
  type_error(*this, "a bool");
}

const std::string& Value::as_string() const {
  if (type != ValueType::STRING) type_error(*this, "a string");
  return s;
}

const std::vector<Value>& Value::as_array() const {
  if (type != ValueType::ARRAY) type_error(*this, "an array");
  return arr;
}

std::vector<std::string> Value::as_string_array() const {
  std::vector<std::string> out;
  out.reserve(as_array().size());
  for (const auto& v : arr) out.push_back(v.as_string());
  return out;
}

std::vector<float> Value::as_float_array() const {
  std::vector<float> out;
  out.reserve(as_array().size());
  for (const auto& v : arr) out.push_back(static_cast<float>(v.as_float()));
  return out;
}

std::vector<int64_t> Value::as_int_array() const {
  std::vector<int64_t> out;
  out.reserve(as_array().size());
  for (const auto& v : arr) out.push_back(v.as_int());
  return out;
}

std::string Value::to_string(size_t max_items) const {
  std::ostringstream os;
  switch (type) {
    case ValueType::STRING: {
      std::string t = s.size() > 120 ? s.substr(0, 117) + "..." : s;
      os << '"';
      for (char c : t) {
        if (c == '\n') os << "\\n";
        else if (c == '"') os << "\\\"";
        else os << c;
      }
      os << '"';
      break;
    }
    case ValueType::BOOL: os << (u ? "true" : "false"); break;
    case ValueType::FLOAT32:
    case ValueType::FLOAT64: os << f; break;
    case ValueType::ARRAY: {
      os << '[';
      for (size_t k = 0; k < arr.size() && k < max_items; ++k) {
        if (k) os << ", ";
        os << arr[k].to_string(max_items);
      }
      if (arr.size() > max_items) os << ", ... (" << arr.size() << " items)";
      os << ']';
      break;
    }
    default:
      if (is_signed(type)) os << i;
      else os << u;
  }
  return os.str();
}

Value Value::from_u32(uint32_t v) { Value x; x.type = ValueType::UINT32; x.u = v; return x; }
Value Value::from_i32(int32_t v) { Value x; x.type = ValueType::INT32; x.i = v; return x; }
Value Value::from_u64(uint64_t v) { Value x; x.type = ValueType::UINT64; x.u = v; return x; }
Value Value::from_f32(float v) { Value x; x.type = ValueType::FLOAT32; x.f = v; return x; }
Value Value::from_bool(bool v) { Value x; x.type = ValueType::BOOL; x.u = v ? 1 : 0; return x; }
Value Value::from_string(std::string v) {
  Value x; x.type = ValueType::STRING; x.s = std::move(v); return x;
}
Value Value::from_strings(const std::vector<std::string>& v) {
  Value x; x.type = ValueType::ARRAY; x.elem_type = ValueType::STRING;
  x.arr.reserve(v.size());
  for (const auto& s : v) x.arr.push_back(from_string(s));
  return x;
}
Value Value::from_f32s(const std::vector<float>& v) {
  Value x; x.type = ValueType::ARRAY; x.elem_type = ValueType::FLOAT32;
  x.arr.reserve(v.size());
  for (float f : v) x.arr.push_back(from_f32(f));
  return x;
}
Value Value::from_i32s(const std::vector<int32_t>& v) {
  Value x; x.type = ValueType::ARRAY; x.elem_type = ValueType::INT32;
  x.arr.reserve(v.size());
  for (int32_t k : v) x.arr.push_back(from_i32(k));
  return x;
}

}  // namespace larql::gguf
