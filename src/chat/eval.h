// Tree-walking evaluator. Every hostile-input hazard is bounded: output size,
// total evaluation steps, macro recursion and evaluation nesting (see Limits).
#pragma once
#include <cstdint>
#include <ctime>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "chat/ast.h"
#include "chat/value.h"

namespace larql::chat {

struct Limits {
  size_t max_output = size_t{64} << 20;  // bytes written, and the largest string or list built
  uint64_t max_steps = 10'000'000;        // expression evaluations + statements + bulk work
  int max_call_depth = 64;                // macro / caller() recursion
  int max_nesting = 400;                  // evaluator recursion (expressions within statements within calls)
};

struct RenderOptions {
  Limits limits;
  std::optional<std::tm> now;  // the clock strftime_now() reads; default: local time
};

struct Frame {
  std::unordered_map<std::string, Value> vars;
  std::shared_ptr<Frame> parent;
};

class Namespace;

class Evaluator {
 public:
  explicit Evaluator(const RenderOptions& opt) : opt_(opt) {}
  ~Evaluator();
  Evaluator(const Evaluator&) = delete;
  Evaluator& operator=(const Evaluator&) = delete;

  // Renders `body` with the entries of `context` (a dict) as top-level variables.
  std::string render(const Body& body, const Value& context);

  // Services for filters, methods and globals.
  Value call(const Value& fn, CallArgs& args);
  Value get_attr(const Value& obj, const std::string& name);
  Value get_item(const Value& obj, const Value& key);
  std::vector<Value> iterate(const Value& v);
  bool contains(const Value& container, const Value& item);
  void charge(uint64_t steps);
  void check_size(size_t bytes) const;  // a string or list about to be built
  const RenderOptions& options() const { return opt_; }
  std::shared_ptr<Namespace> make_namespace();

 private:
  enum class Flow { Normal, Break, Continue };
  struct Nest;  // recursion guard

  const RenderOptions& opt_;
  std::string* out_ = nullptr;
  std::shared_ptr<Frame> frame_;
  uint64_t steps_ = 0;
  uint64_t written_ = 0;
  int call_depth_ = 0;
  int nesting_ = 0;
  std::shared_ptr<Frame> root_;
  // Namespaces are the only mutable containers, so every reference cycle runs
  // through one; they are emptied when the render ends to free such cycles.
  std::vector<std::weak_ptr<Namespace>> namespaces_;
  size_t namespaces_pruned_at_ = 64;

  void write(const std::string& s);
  Flow exec(const Body& body);
  Flow exec_node(const Node& n);
  Flow exec_for(const Node& n);
  void exec_set(const Node& n);
  void exec_macro(const Node& n);
  void exec_call_block(const Node& n);
  std::string capture(const Body& body, const std::shared_ptr<Frame>& frame);
  void bind(const Target& t, const Value& v, Frame& f);
  Value lookup(const std::string& name) const;

  Value eval(const Expr& e);
  Value eval_inner(const Expr& e);
  Value eval_call(const Expr& e);
  Value eval_filter(const Expr& e, const Value& input);
  Value eval_test(const Expr& e);
  Value eval_slice(const Expr& e);
  Value eval_compare(const Expr& e);
  void eval_args(const Expr& e, CallArgs& out);
  // Macros hold their defining frame weakly (no frame -> macro -> frame cycle);
  // one called after that frame is gone sees the top-level variables.
  Value make_macro(const std::string& name, const std::vector<MacroParam>* params, const Body* body,
                   const std::shared_ptr<Frame>& closure);
};

// Binary operators with Python semantics ("+", "-", "*", "/", "//", "%", "**").
Value arith(Evaluator& ev, const std::string& op, const Value& a, const Value& b);
// Python's "%" string formatting (also the |format filter).
std::string percent_format(Evaluator& ev, const std::string& fmt, const Value& args);

class Namespace : public Object {
 public:
  std::string type_name() const override { return "Namespace"; }
  Value get_attr(const std::string& name) const override;
  bool set_attr(const std::string& name, const Value& v) override;
  std::string repr() const override;
  int depth() const override { return depth_; }
  void clear() { attrs_.clear(); }

 private:
  std::vector<std::pair<std::string, Value>> attrs_;
  int depth_ = 1;
};

}  // namespace larql::chat
