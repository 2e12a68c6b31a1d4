// Template values: Python's None/bool/int/float/str/list/tuple/dict as Jinja
// sees them, plus Jinja's Undefined, objects (namespace(), the loop variable)
// and callables (macros, globals, bound methods).
//
// Lists, tuples and dicts are immutable once built (HF renders templates in
// Jinja's ImmutableSandboxedEnvironment) and shared by pointer, so copying a
// Value is cheap. Only namespace() objects mutate, and they are shared on
// purpose: `{% set ns.x = 1 %}` inside a loop is visible after it.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace larql::chat {

class Value;
class Evaluator;

// Error raised while evaluating (type errors, undefined access, limits).
// Template::render turns it into larql::Error with the template position.
struct EvalError {
  std::string msg;
  bool raised = false;  // from raise_exception(): msg is the template's text
  int line = 0, col = 0;  // innermost template position, filled in on the way out
};
[[noreturn]] void fail(std::string msg);

struct CallArgs {
  std::vector<Value> pos;
  std::vector<std::pair<std::string, Value>> kw;
};

struct Object {
  virtual ~Object() = default;
  virtual std::string type_name() const = 0;
  virtual Value get_attr(const std::string& name) const;
  virtual bool set_attr(const std::string& name, const Value& v);  // false: read-only
  virtual std::string repr() const;
  virtual int depth() const { return 0; }  // nesting depth of what it holds
};

struct Function {
  std::string name;
  std::function<Value(Evaluator&, CallArgs&)> fn;
};

struct ListData;
struct DictData;

class Value {
 public:
  enum class Kind : uint8_t { Undefined, None, Bool, Int, Float, String, List, Dict, Object, Function };

  Value() = default;  // Undefined
  static Value undefined(std::string hint = "");
  static Value none();
  static Value boolean(bool b);
  static Value integer(int64_t i);
  static Value number(double d);
  static Value string(std::string s);
  // A string marked safe (Jinja's Markup, from |safe or |escape): `+` with a
  // plain string HTML-escapes the plain side, as markupsafe does.
  static Value markup(std::string s);
  static Value list(std::vector<Value> items, bool tuple = false);
  static Value dict(std::vector<std::pair<Value, Value>> items);  // later keys win
  static Value object(std::shared_ptr<Object> o);
  static Value function(std::string name, std::function<Value(Evaluator&, CallArgs&)> fn);

  Kind kind() const { return kind_; }
  bool is_undefined() const { return kind_ == Kind::Undefined; }
  bool is_none() const { return kind_ == Kind::None; }
  bool is_bool() const { return kind_ == Kind::Bool; }
  bool is_int() const { return kind_ == Kind::Int; }  // not bool
  bool is_float() const { return kind_ == Kind::Float; }
  bool is_number() const { return kind_ == Kind::Bool || kind_ == Kind::Int || kind_ == Kind::Float; }
  bool is_string() const { return kind_ == Kind::String; }
  bool is_markup() const { return kind_ == Kind::String && b_; }
  bool is_list() const { return kind_ == Kind::List; }  // list or tuple
  bool is_tuple() const;
  bool is_dict() const { return kind_ == Kind::Dict; }
  bool is_object() const { return kind_ == Kind::Object; }
  bool is_function() const { return kind_ == Kind::Function; }

  bool get_bool() const { return b_; }
  int64_t get_int() const { return kind_ == Kind::Bool ? (b_ ? 1 : 0) : i_; }  // bool or int
  double get_float() const { return kind_ == Kind::Float ? f_ : static_cast<double>(get_int()); }
  const std::string& get_string() const { return *s_; }
  const std::string& undefined_hint() const;
  const std::vector<Value>& items() const;                       // list/tuple
  const std::vector<std::pair<Value, Value>>& entries() const;  // dict
  const Value* find(const Value& key) const;                      // dict lookup
  const Value* find(const std::string& key) const;
  Object* get_object() const { return obj_.get(); }
  const Function& get_function() const { return *fn_; }
  int depth() const;  // nesting depth of lists/dicts (scalars: 0)

  bool truthy() const;
  std::string str() const;   // Python str()
  std::string repr() const;  // Python repr()
  std::string type_name() const;  // Python type name, for error messages

 private:
  Kind kind_ = Kind::Undefined;
  bool b_ = false;
  int64_t i_ = 0;
  double f_ = 0;
  std::shared_ptr<const std::string> s_;  // string, or Undefined's hint
  std::shared_ptr<const ListData> list_;
  std::shared_ptr<const DictData> dict_;
  std::shared_ptr<Object> obj_;
  std::shared_ptr<const Function> fn_;
};

struct ListData {
  std::vector<Value> items;
  bool tuple = false;
  int depth = 1;
};

struct DictData {
  std::vector<std::pair<Value, Value>> items;
  std::unordered_map<std::string, size_t> by_string;  // index of string keys
  int depth = 1;
};

// Python semantics: 1 == 1.0 == True; lists/tuples element-wise; dicts by keys.
bool equals(const Value& a, const Value& b);
// Python's <; throws EvalError for unorderable types.
bool less(const Value& a, const Value& b);

// Values nested deeper than this are rejected when built, so recursive
// printing, comparing and freeing stay within the stack.
constexpr int kMaxValueDepth = 256;

std::string format_float(double d);  // Python repr(float)
std::string repr_string(const std::string& s);

}  // namespace larql::chat
