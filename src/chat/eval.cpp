#include "chat/eval.h"

#include "chat/builtins.h"
#include "chat/text.h"

namespace larql::chat {

// ---- namespace() objects ----

Value Namespace::get_attr(const std::string& name) const {
  for (const auto& kv : attrs_)
    if (kv.first == name) return kv.second;
  return Value::undefined("'Namespace' object has no attribute '" + name + "'");
}

bool Namespace::set_attr(const std::string& name, const Value& v) {
  if (v.depth() + 1 > kMaxValueDepth) fail("value nested too deeply (over " + std::to_string(kMaxValueDepth) + " levels)");
  depth_ = std::max(depth_, v.depth() + 1);
  for (auto& kv : attrs_) {
    if (kv.first == name) {
      kv.second = v;
      return true;
    }
  }
  attrs_.emplace_back(name, v);
  return true;
}

std::string Namespace::repr() const {
  std::string out = "<Namespace {";
  for (size_t i = 0; i < attrs_.size(); ++i) {
    if (i) out += ", ";
    out += repr_string(attrs_[i].first) + ": " + attrs_[i].second.repr();
  }
  return out + "}>";
}

// ---- the loop variable ----

namespace {

class LoopObject : public Object, public std::enable_shared_from_this<LoopObject> {
 public:
  explicit LoopObject(std::shared_ptr<const std::vector<Value>> items) : items_(std::move(items)) {}
  size_t index = 0;

  std::string type_name() const override { return "LoopContext"; }
  std::string repr() const override {
    return "<LoopContext " + std::to_string(index + 1) + "/" + std::to_string(items_->size()) + ">";
  }

  // Drops what loop.changed() remembered: it may refer back to the loop.
  void forget() { last_ = Value(); }

  Value get_attr(const std::string& name) const override {
    const auto n = static_cast<int64_t>(items_->size());
    const auto i = static_cast<int64_t>(index);
    if (name == "index") return Value::integer(i + 1);
    if (name == "index0") return Value::integer(i);
    if (name == "revindex") return Value::integer(n - i);
    if (name == "revindex0") return Value::integer(n - i - 1);
    if (name == "first") return Value::boolean(i == 0);
    if (name == "last") return Value::boolean(i == n - 1);
    if (name == "length") return Value::integer(n);
    // Without recursive loops (unsupported) every loop has depth 1, as in Jinja.
    if (name == "depth") return Value::integer(1);
    if (name == "depth0") return Value::integer(0);
    if (name == "previtem")
      return i > 0 ? (*items_)[index - 1] : Value::undefined("there is no previous item");
    if (name == "nextitem")
      return i + 1 < n ? (*items_)[index + 1] : Value::undefined("there is no next item");
    auto self = std::const_pointer_cast<LoopObject>(shared_from_this());
    if (name == "cycle") {
      return Value::function("cycle", [self](Evaluator&, CallArgs& a) -> Value {
        if (a.pos.empty()) fail("no items for cycling given");
        return a.pos[self->index % a.pos.size()];
      });
    }
    if (name == "changed") {
      return Value::function("changed", [self](Evaluator&, CallArgs& a) -> Value {
        Value v = Value::list(a.pos);
        if (self->has_last_ && equals(self->last_, v)) return Value::boolean(false);
        self->last_ = v;
        self->has_last_ = true;
        return Value::boolean(true);
      });
    }
    return Value::undefined("'LoopContext' object has no attribute '" + name + "'");
  }

 private:
  std::shared_ptr<const std::vector<Value>> items_;
  Value last_;
  bool has_last_ = false;
};

}  // namespace

// ---- evaluator plumbing ----

struct Evaluator::Nest {
  Evaluator& ev;
  explicit Nest(Evaluator& e) : ev(e) {
    if (++ev.nesting_ > ev.opt_.limits.max_nesting) {
      --ev.nesting_;
      fail("template evaluation nested too deeply (over " + std::to_string(ev.opt_.limits.max_nesting) + " levels)");
    }
  }
  ~Nest() { --ev.nesting_; }
};

Evaluator::~Evaluator() {
  for (auto& w : namespaces_)
    if (auto ns = w.lock()) ns->clear();
}

std::shared_ptr<Namespace> Evaluator::make_namespace() {
  charge(16);
  // Not make_shared: a dead namespace's memory is freed even while the
  // registry still holds its weak_ptr.
  std::shared_ptr<Namespace> ns(new Namespace());
  if (namespaces_.size() >= namespaces_pruned_at_) {
    std::erase_if(namespaces_, [](const std::weak_ptr<Namespace>& w) { return w.expired(); });
    namespaces_pruned_at_ = std::max<size_t>(64, namespaces_.size() * 2);
  }
  namespaces_.push_back(ns);
  return ns;
}

void Evaluator::charge(uint64_t steps) {
  steps_ += steps;
  if (steps_ > opt_.limits.max_steps)
    fail("template exceeded " + std::to_string(opt_.limits.max_steps) + " evaluation steps");
}

void Evaluator::check_size(size_t bytes) const {
  if (bytes > opt_.limits.max_output)
    fail("template built a value of " + std::to_string(bytes) + " bytes (limit " + std::to_string(opt_.limits.max_output) + ")");
}

void Evaluator::write(const std::string& s) {
  written_ += s.size();
  if (written_ > opt_.limits.max_output)
    fail("template output exceeds " + std::to_string(opt_.limits.max_output) + " bytes");
  out_->append(s);
}

std::string Evaluator::render(const Body& body, const Value& context) {
  auto root = std::make_shared<Frame>();
  if (context.is_dict())
    for (const auto& kv : context.entries())
      if (kv.first.is_string()) root->vars[kv.first.get_string()] = kv.second;
  root_ = root;
  frame_ = root;
  std::string out;
  out_ = &out;
  exec(body);
  return out;
}

Value Evaluator::lookup(const std::string& name) const {
  for (const Frame* f = frame_.get(); f; f = f->parent.get()) {
    auto it = f->vars.find(name);
    if (it != f->vars.end()) return it->second;
  }
  Value g = global(name);
  if (!g.is_undefined()) return g;
  return Value::undefined("'" + name + "' is undefined");
}

std::string Evaluator::capture(const Body& body, const std::shared_ptr<Frame>& frame) {
  std::string buf;
  std::string* saved_out = out_;
  auto saved_frame = frame_;
  out_ = &buf;
  frame_ = frame;
  exec(body);
  out_ = saved_out;
  frame_ = std::move(saved_frame);
  return buf;
}

// ---- statements ----

Evaluator::Flow Evaluator::exec(const Body& body) {
  for (const auto& n : body) {
    const Flow f = exec_node(*n);
    if (f != Flow::Normal) return f;
  }
  return Flow::Normal;
}

static std::shared_ptr<Frame> child_of(const std::shared_ptr<Frame>& parent) {
  auto f = std::make_shared<Frame>();
  f->parent = parent;
  return f;
}

Evaluator::Flow Evaluator::exec_node(const Node& n) {
  Nest guard(*this);
  charge(1);
  try {
    switch (n.k) {
      case Node::K::Text: write(n.text); return Flow::Normal;
      case Node::K::Output: write(eval(*n.expr).str()); return Flow::Normal;
      case Node::K::If:
        for (const auto& br : n.branches)
          if (eval(*br.first).truthy()) return exec(br.second);
        return exec(n.else_body);
      case Node::K::For: return exec_for(n);
      case Node::K::Set: exec_set(n); return Flow::Normal;
      case Node::K::SetBlock: {
        Value v = Value::string(capture(n.body, child_of(frame_)));
        for (const auto& f : n.filters) v = eval_filter(*f, v);
        bind(n.target, v, *frame_);
        return Flow::Normal;
      }
      case Node::K::Macro:
        frame_->vars[n.text] = make_macro(n.text, &n.params, &n.body, frame_);
        return Flow::Normal;
      case Node::K::CallBlock: exec_call_block(n); return Flow::Normal;
      case Node::K::FilterBlock: {
        Value v = Value::string(capture(n.body, child_of(frame_)));
        for (const auto& f : n.filters) v = eval_filter(*f, v);
        write(v.str());
        return Flow::Normal;
      }
      case Node::K::With:
      case Node::K::Scope: {
        auto f = child_of(frame_);
        for (const auto& a : n.assigns) f->vars[a.first] = eval(*a.second);
        auto saved = frame_;
        frame_ = f;
        const Flow fl = exec(n.body);
        frame_ = std::move(saved);
        return fl;
      }
      case Node::K::Break: return Flow::Break;
      case Node::K::Continue: return Flow::Continue;
    }
  } catch (EvalError& e) {
    if (!e.line) {
      e.line = n.pos.line;
      e.col = n.pos.col;
    }
    throw;
  }
  return Flow::Normal;
}

void Evaluator::bind(const Target& t, const Value& v, Frame& f) {
  if (!t.tuple) {
    f.vars[t.names[0]] = v;
    return;
  }
  if (!(v.is_list() || v.is_dict() || v.is_string()))
    fail("cannot unpack non-iterable " + v.type_name() + " object");
  std::vector<Value> items = iterate(v);
  if (items.size() != t.names.size())
    fail(items.size() > t.names.size() ? "too many values to unpack (expected " + std::to_string(t.names.size()) + ")"
                                       : "not enough values to unpack (expected " + std::to_string(t.names.size()) +
                                             ", got " + std::to_string(items.size()) + ")");
  for (size_t i = 0; i < items.size(); ++i) f.vars[t.names[i]] = items[i];
}

Evaluator::Flow Evaluator::exec_for(const Node& n) {
  std::vector<Value> items = iterate(eval(*n.expr));
  const auto outer = frame_;
  if (n.cond) {
    std::vector<Value> kept;
    for (auto& it : items) {
      charge(1);
      auto f = child_of(outer);
      bind(n.target, it, *f);
      frame_ = f;
      const bool keep = eval(*n.cond).truthy();
      frame_ = outer;
      if (keep) kept.push_back(std::move(it));
    }
    items = std::move(kept);
  }
  if (items.empty()) {
    auto f = child_of(outer);
    frame_ = f;
    const Flow fl = exec(n.else_body);
    frame_ = outer;
    return fl;
  }
  auto shared = std::make_shared<const std::vector<Value>>(std::move(items));
  auto loop = std::make_shared<LoopObject>(shared);
  const Value loop_value = Value::object(loop);
  struct Forget {
    LoopObject& l;
    ~Forget() { l.forget(); }
  } forget{*loop};
  for (size_t i = 0; i < shared->size(); ++i) {
    charge(1);
    loop->index = i;
    auto f = child_of(outer);
    bind(n.target, (*shared)[i], *f);
    f->vars["loop"] = loop_value;
    frame_ = f;
    const Flow fl = exec(n.body);
    frame_ = outer;
    if (fl == Flow::Break) break;
  }
  return Flow::Normal;
}

void Evaluator::exec_set(const Node& n) {
  Value v = eval(*n.expr);
  if (!n.target.attr.empty()) {
    Value obj = lookup(n.target.names[0]);
    if (!obj.is_object() || !obj.get_object()->set_attr(n.target.attr, v))
      fail("cannot assign attribute '" + n.target.attr + "' on '" + n.target.names[0] +
           "': only namespace() objects can be assigned to");
    return;
  }
  bind(n.target, v, *frame_);
}

Value Evaluator::make_macro(const std::string& name, const std::vector<MacroParam>* params, const Body* body,
                            const std::shared_ptr<Frame>& closure) {
  std::weak_ptr<Frame> weak = closure;
  return Value::function(name, [name, params, body, weak](Evaluator& ev, CallArgs& args) -> Value {
    if (ev.call_depth_ >= ev.opt_.limits.max_call_depth)
      fail("macro '" + name + "' recursion deeper than " + std::to_string(ev.opt_.limits.max_call_depth));
    ++ev.call_depth_;
    auto parent = weak.lock();
    auto f = child_of(parent ? parent : ev.root_);
    size_t next_pos = 0;
    std::vector<bool> used_kw(args.kw.size(), false);
    auto saved = ev.frame_;
    ev.frame_ = f;  // defaults may refer to earlier parameters
    for (const auto& p : *params) {
      Value v;
      bool have = false;
      if (next_pos < args.pos.size()) {
        v = args.pos[next_pos++];
        have = true;
      } else {
        for (size_t k = 0; k < args.kw.size(); ++k)
          if (!used_kw[k] && args.kw[k].first == p.name) {
            v = args.kw[k].second;
            used_kw[k] = have = true;
            break;
          }
      }
      if (!have) v = p.def ? ev.eval(*p.def) : Value::undefined("parameter '" + p.name + "' was not provided");
      f->vars[p.name] = v;
    }
    std::vector<Value> varargs(args.pos.begin() + static_cast<std::ptrdiff_t>(next_pos), args.pos.end());
    std::vector<std::pair<Value, Value>> kwargs;
    for (size_t k = 0; k < args.kw.size(); ++k) {
      if (used_kw[k]) continue;
      if (args.kw[k].first == "caller") f->vars["caller"] = args.kw[k].second;
      else kwargs.emplace_back(Value::string(args.kw[k].first), args.kw[k].second);
    }
    f->vars["varargs"] = Value::list(std::move(varargs), true);
    f->vars["kwargs"] = Value::dict(std::move(kwargs));
    ev.frame_ = std::move(saved);
    std::string s = ev.capture(*body, f);
    --ev.call_depth_;
    return Value::string(std::move(s));
  });
}

void Evaluator::exec_call_block(const Node& n) {
  Value caller = make_macro("caller", &n.params, &n.body, frame_);
  const Expr& call = *n.expr;
  Value fn = eval(*call.a);
  if (!fn.is_function()) fail("'call' needs a macro, got " + fn.type_name());
  CallArgs args;
  eval_args(call, args);
  args.kw.emplace_back("caller", caller);
  write(this->call(fn, args).str());
}

// ---- expressions ----

Value Evaluator::eval(const Expr& e) {
  Nest guard(*this);
  charge(1);
  try {
    return eval_inner(e);
  } catch (EvalError& err) {
    if (!err.line) {
      err.line = e.pos.line;
      err.col = e.pos.col;
    }
    throw;
  }
}

[[noreturn]] static void fail_undefined(const Value& v, const std::string& what) {
  fail(!v.undefined_hint().empty() ? v.undefined_hint() : what);
}

Value Evaluator::eval_inner(const Expr& e) {
  switch (e.k) {
    case Expr::K::Const: return e.value;
    case Expr::K::Name: return lookup(e.name);
    case Expr::K::List:
    case Expr::K::Tuple: {
      std::vector<Value> items;
      items.reserve(e.args.size());
      for (const auto& a : e.args) items.push_back(eval(*a));
      return Value::list(std::move(items), e.k == Expr::K::Tuple);
    }
    case Expr::K::Dict: {
      std::vector<std::pair<Value, Value>> items;
      for (const auto& kv : e.pairs) {
        Value k = eval(*kv.first);
        items.emplace_back(std::move(k), eval(*kv.second));
      }
      return Value::dict(std::move(items));
    }
    case Expr::K::Attr: return get_attr(eval(*e.a), e.name);
    case Expr::K::Item: {
      Value obj = eval(*e.a);
      return get_item(obj, eval(*e.b));
    }
    case Expr::K::Slice: return eval_slice(e);
    case Expr::K::Call: return eval_call(e);
    case Expr::K::Filter: return eval_filter(e, eval(*e.a));
    case Expr::K::Test: return eval_test(e);
    case Expr::K::Not: return Value::boolean(!eval(*e.a).truthy());
    case Expr::K::Neg:
    case Expr::K::Pos: {
      Value v = eval(*e.a);
      if (v.is_undefined()) fail_undefined(v, "undefined value in unary operator");
      if (!v.is_number()) fail(std::string("bad operand type for unary ") + (e.k == Expr::K::Neg ? "-" : "+") + ": '" + v.type_name() + "'");
      if (e.k == Expr::K::Pos) return v.is_bool() ? Value::integer(v.get_int()) : v;
      if (v.is_float()) return Value::number(-v.get_float());
      if (v.get_int() == INT64_MIN) fail("integer overflow");
      return Value::integer(-v.get_int());
    }
    case Expr::K::Binary: {
      Value l = eval(*e.a);
      return arith(*this, e.name, l, eval(*e.b));
    }
    case Expr::K::Compare: return eval_compare(e);
    case Expr::K::And: {
      Value l = eval(*e.a);
      return l.truthy() ? eval(*e.b) : l;
    }
    case Expr::K::Or: {
      Value l = eval(*e.a);
      return l.truthy() ? l : eval(*e.b);
    }
    case Expr::K::Cond:
      if (eval(*e.a).truthy()) return eval(*e.b);
      return e.c ? eval(*e.c) : Value::undefined("the inline if-expression evaluated to false and no else section was defined");
    case Expr::K::Concat: {
      std::string s;
      for (const auto& a : e.args) {
        s += eval(*a).str();
        check_size(s.size());
      }
      return Value::string(std::move(s));
    }
  }
  return Value();
}

void Evaluator::eval_args(const Expr& e, CallArgs& out) {
  for (const auto& a : e.args) out.pos.push_back(eval(*a));
  for (const auto& kv : e.kwargs) out.kw.emplace_back(kv.first, eval(*kv.second));
}

Value Evaluator::call(const Value& fn, CallArgs& args) {
  if (fn.is_undefined()) fail_undefined(fn, "undefined value is not callable");
  if (!fn.is_function()) fail("'" + fn.type_name() + "' object is not callable");
  return fn.get_function().fn(*this, args);
}

Value Evaluator::eval_call(const Expr& e) {
  Value fn = eval(*e.a);
  if (fn.is_undefined()) fail_undefined(fn, "undefined value is not callable");
  if (!fn.is_function()) fail("'" + fn.type_name() + "' object is not callable");
  CallArgs args;
  eval_args(e, args);
  return call(fn, args);
}

Value Evaluator::eval_filter(const Expr& e, const Value& input) {
  CallArgs args;
  eval_args(e, args);
  return apply_filter(*this, e.name, input, args);
}

Value Evaluator::eval_test(const Expr& e) {
  Value v = eval(*e.a);
  CallArgs args;
  eval_args(e, args);
  return Value::boolean(apply_test(*this, e.name, v, args));
}

Value Evaluator::eval_compare(const Expr& e) {
  Value left = eval(*e.a);
  for (const auto& op : e.ops) {
    Value right = eval(*op.second);
    bool r = false;
    const std::string& o = op.first;
    if (o == "==") r = equals(left, right);
    else if (o == "!=") r = !equals(left, right);
    else if (o == "<") r = less(left, right);
    else if (o == ">") r = less(right, left);
    else if (o == "<=") r = less(left, right) || equals(left, right);
    else if (o == ">=") r = less(right, left) || equals(left, right);
    else if (o == "in") r = contains(right, left);
    else if (o == "notin") r = !contains(right, left);
    if (!r) return Value::boolean(false);
    left = std::move(right);
  }
  return Value::boolean(true);
}

// Python slice bounds (PySlice_AdjustIndices).
static std::vector<size_t> slice_indices(int64_t len, const Value& start, const Value& stop, const Value& step_v) {
  const int64_t step = step_v.is_none() ? 1 : step_v.get_int();
  if (step == 0) fail("slice step cannot be zero");
  const int64_t lower = step > 0 ? 0 : -1, upper = step > 0 ? len : len - 1;
  auto adjust = [&](const Value& v, int64_t def) {
    if (v.is_none()) return def;
    int64_t x = v.get_int();
    if (x < 0) {
      x += len;
      if (x < lower) x = lower;
    } else if (x > upper) {
      x = upper;
    }
    return x;
  };
  const int64_t b = adjust(start, step > 0 ? lower : upper);
  const int64_t e = adjust(stop, step > 0 ? upper : lower);
  std::vector<size_t> out;
  for (int64_t i = b; step > 0 ? i < e : i > e;) {
    out.push_back(static_cast<size_t>(i));
    if (__builtin_add_overflow(i, step, &i)) break;
  }
  return out;
}

Value Evaluator::eval_slice(const Expr& e) {
  Value obj = eval(*e.a);
  Value parts[3] = {e.b ? eval(*e.b) : Value::none(), e.d ? eval(*e.d) : Value::none(), e.c ? eval(*e.c) : Value::none()};
  if (obj.is_undefined()) fail_undefined(obj, "undefined value is not subscriptable");
  for (const auto& p : parts)
    if (!p.is_none() && !(p.is_int() || p.is_bool())) return Value::undefined("slice indices must be integers or None");
  if (obj.is_list()) {
    const auto& items = obj.items();
    charge(items.size() / 16);
    std::vector<Value> out;
    for (size_t i : slice_indices(static_cast<int64_t>(items.size()), parts[0], parts[1], parts[2])) out.push_back(items[i]);
    return Value::list(std::move(out), obj.is_tuple());
  }
  if (obj.is_string()) {
    const std::string& s = obj.get_string();
    charge(s.size() / 64);
    if (text::is_ascii(s)) {
      std::string out;
      for (size_t i : slice_indices(static_cast<int64_t>(s.size()), parts[0], parts[1], parts[2])) out.push_back(s[i]);
      return Value::string(std::move(out));
    }
    const auto cps = text::decode(s);
    std::string out;
    for (size_t i : slice_indices(static_cast<int64_t>(cps.size()), parts[0], parts[1], parts[2]))
      text::append_utf8(out, cps[i]);
    return Value::string(std::move(out));
  }
  return Value::undefined("'" + obj.type_name() + "' object is not subscriptable");
}

// ---- attribute and item access (Jinja's environment.getattr / getitem) ----

Value Evaluator::get_attr(const Value& obj, const std::string& name) {
  switch (obj.kind()) {
    case Value::Kind::Undefined: fail_undefined(obj, "undefined value has no attribute '" + name + "'");
    case Value::Kind::Object: return obj.get_object()->get_attr(name);
    case Value::Kind::Dict: {
      Value m = method(obj, name);
      if (!m.is_undefined()) return m;
      if (const Value* v = obj.find(name)) return *v;
      return Value::undefined("'dict object' has no attribute '" + name + "'");
    }
    case Value::Kind::String:
    case Value::Kind::List: {
      Value m = method(obj, name);
      if (!m.is_undefined()) return m;
      break;
    }
    default: break;
  }
  return Value::undefined("'" + obj.type_name() + " object' has no attribute '" + name + "'");
}

Value Evaluator::get_item(const Value& obj, const Value& key) {
  switch (obj.kind()) {
    case Value::Kind::Undefined: fail_undefined(obj, "undefined value is not subscriptable");
    case Value::Kind::Dict:
      if (const Value* v = obj.find(key)) return *v;
      break;
    case Value::Kind::List:
      if (key.is_int() || key.is_bool()) {
        const auto n = static_cast<int64_t>(obj.items().size());
        int64_t i = key.get_int();
        if (i < 0) i += n;
        if (i >= 0 && i < n) return obj.items()[static_cast<size_t>(i)];
        return Value::undefined(std::string(obj.is_tuple() ? "tuple" : "list") + " index out of range");
      }
      break;
    case Value::Kind::String:
      if (key.is_int() || key.is_bool()) {
        const std::string& s = obj.get_string();
        int64_t i = key.get_int();
        if (text::is_ascii(s)) {
          const auto n = static_cast<int64_t>(s.size());
          if (i < 0) i += n;
          if (i >= 0 && i < n) return Value::string(std::string(1, s[static_cast<size_t>(i)]));
        } else {
          const auto cps = text::decode(s);
          const auto n = static_cast<int64_t>(cps.size());
          if (i < 0) i += n;
          if (i >= 0 && i < n) {
            std::string out;
            text::append_utf8(out, cps[static_cast<size_t>(i)]);
            return Value::string(std::move(out));
          }
        }
        return Value::undefined("string index out of range");
      }
      break;
    default: break;
  }
  // Jinja falls back to attribute lookup for string subscripts.
  if (key.is_string() && !obj.is_dict()) return get_attr(obj, key.get_string());
  if (key.is_string()) {
    Value m = method(obj, key.get_string());
    if (!m.is_undefined()) return m;
  }
  return Value::undefined("'" + obj.type_name() + " object' has no attribute " + key.repr());
}

std::vector<Value> Evaluator::iterate(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::Undefined: return {};
    case Value::Kind::List: charge(v.items().size() / 16); return v.items();
    case Value::Kind::Dict: {
      charge(v.entries().size() / 16);
      std::vector<Value> keys;
      keys.reserve(v.entries().size());
      for (const auto& kv : v.entries()) keys.push_back(kv.first);
      return keys;
    }
    case Value::Kind::String: {
      const std::string& s = v.get_string();
      charge(s.size() / 16);
      std::vector<Value> out;
      out.reserve(s.size());
      for (size_t i = 0; i < s.size();) {
        const size_t b = i;
        text::decode_at(s, i);
        out.push_back(Value::string(s.substr(b, i - b)));
      }
      return out;
    }
    default: fail("'" + v.type_name() + "' object is not iterable");
  }
}

bool Evaluator::contains(const Value& c, const Value& item) {
  switch (c.kind()) {
    case Value::Kind::Undefined: return false;
    case Value::Kind::String:
      if (!item.is_string()) fail("'in <string>' requires string as left operand, not " + item.type_name());
      return c.get_string().find(item.get_string()) != std::string::npos;
    case Value::Kind::List:
      charge(c.items().size() / 16);
      for (const auto& x : c.items())
        if (equals(x, item)) return true;
      return false;
    case Value::Kind::Dict:
      if (item.is_list() && !item.is_tuple()) fail("unhashable type: 'list'");
      if (item.is_dict()) fail("unhashable type: 'dict'");
      return c.find(item) != nullptr;
    default: fail("argument of type '" + c.type_name() + "' is not iterable");
  }
}

}  // namespace larql::chat
