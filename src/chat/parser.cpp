#include "chat/parser.h"

#include <algorithm>

#include "chat/builtins.h"
#include "util/error.h"

namespace larql::chat {
namespace {

std::string describe(const Token& t) {
  switch (t.type) {
    case Tok::Data: return "template data";
    case Tok::VarBegin: return "'{{'";
    case Tok::VarEnd: return "'}}'";
    case Tok::BlockBegin: return "'{%'";
    case Tok::BlockEnd: return "'%}'";
    case Tok::Name: case Tok::Op: case Tok::Int: case Tok::Float: return "'" + t.text + "'";
    case Tok::String: return "a string";
    case Tok::Eof: return "end of template";
  }
  return "?";
}

class Parser {
 public:
  explicit Parser(const std::vector<Token>& t) : t_(t) {}

  Body parse_template() {
    std::string found;
    Body b = subparse({}, &found);
    if (cur().type != Tok::Eof) error(cur(), "unexpected " + describe(cur()));
    return b;
  }

 private:
  const std::vector<Token>& t_;
  size_t i_ = 0;
  int depth_ = 0;
  int loop_depth_ = 0;

  struct Deeper {
    Parser& p;
    explicit Deeper(Parser& parser) : p(parser) {
      if (++p.depth_ > kMaxParseDepth)
        p.error(p.cur(), "template nested too deeply (over " + std::to_string(kMaxParseDepth) + " levels)");
    }
    ~Deeper() { --p.depth_; }
  };

  const Token& cur() const { return t_[i_]; }
  const Token& peek(size_t k = 1) const { return t_[std::min(i_ + k, t_.size() - 1)]; }
  void next() {
    if (i_ + 1 < t_.size()) ++i_;
  }
  Pos pos() const { return {cur().line, cur().col}; }
  bool is_op(const char* s) const { return cur().type == Tok::Op && cur().text == s; }
  bool is_name(const char* s) const { return cur().type == Tok::Name && cur().text == s; }

  [[noreturn]] void error(const Token& t, const std::string& msg) const {
    throw Error("chat template: syntax error at line " + std::to_string(t.line) + ":" + std::to_string(t.col) + ": " + msg);
  }
  void expect_op(const char* s) {
    if (!is_op(s)) error(cur(), std::string("expected '") + s + "', got " + describe(cur()));
    next();
  }
  std::string expect_name() {
    if (cur().type != Tok::Name) error(cur(), "expected a name, got " + describe(cur()));
    std::string n = cur().text;
    next();
    return n;
  }
  void expect_name(const char* s) {
    if (!is_name(s)) error(cur(), std::string("expected '") + s + "', got " + describe(cur()));
    next();
  }
  void expect_block_end() {
    if (cur().type != Tok::BlockEnd) error(cur(), "expected end of statement block '%}', got " + describe(cur()));
    next();
  }

  // ---- statements ----

  // Parses nodes until a block tag named in `ends` (cursor left on that name) or the end.
  Body subparse(const std::vector<std::string>& ends, std::string* found) {
    Deeper guard(*this);
    Body body;
    const Token* opener = &cur();
    while (true) {
      const Token& t = cur();
      switch (t.type) {
        case Tok::Data: {
          auto n = std::make_unique<Node>(Node::K::Text, pos());
          n->text = t.text;
          body.push_back(std::move(n));
          next();
          break;
        }
        case Tok::VarBegin: {
          next();
          auto n = std::make_unique<Node>(Node::K::Output, pos());
          n->expr = parse_tuple(true, {});
          if (cur().type != Tok::VarEnd) error(cur(), "expected end of print statement '}}', got " + describe(cur()));
          next();
          body.push_back(std::move(n));
          break;
        }
        case Tok::BlockBegin: {
          next();
          if (cur().type == Tok::Name && std::find(ends.begin(), ends.end(), cur().text) != ends.end()) {
            *found = cur().text;
            return body;
          }
          body.push_back(parse_statement());
          break;
        }
        case Tok::Eof: {
          if (!ends.empty()) {
            std::string want;
            for (const auto& e : ends) want += (want.empty() ? "'" : " or '") + e + "'";
            error(t, "unexpected end of template; a block opened at line " + std::to_string(opener->line) +
                         " is missing " + want);
          }
          return body;
        }
        default:
          error(t, "unexpected " + describe(t));
      }
    }
  }

  // Consumes "name %}" of an end tag that subparse stopped at.
  void end_tag() {
    next();
    expect_block_end();
  }

  NodeP parse_statement() {
    if (cur().type != Tok::Name) error(cur(), "expected a tag name, got " + describe(cur()));
    const std::string tag = cur().text;
    if (tag == "if") return parse_if();
    if (tag == "for") return parse_for();
    if (tag == "set") return parse_set();
    if (tag == "macro") return parse_macro();
    if (tag == "call") return parse_call_block();
    if (tag == "filter") return parse_filter_block();
    if (tag == "with") return parse_with();
    if (tag == "generation") return parse_scope("endgeneration");
    if (tag == "break" || tag == "continue") {
      if (loop_depth_ == 0) error(cur(), "'" + tag + "' outside of a loop");
      auto n = std::make_unique<Node>(tag == "break" ? Node::K::Break : Node::K::Continue, pos());
      next();
      expect_block_end();
      return n;
    }
    error(cur(), "unknown or unsupported tag '" + tag + "'");
  }

  NodeP parse_if() {
    auto n = std::make_unique<Node>(Node::K::If, pos());
    next();
    while (true) {
      ExprP cond = parse_tuple(false, {});
      expect_block_end();
      std::string found;
      Body body = subparse({"elif", "else", "endif"}, &found);
      n->branches.emplace_back(std::move(cond), std::move(body));
      next();
      if (found == "elif") continue;
      if (found == "else") {
        expect_block_end();
        n->else_body = subparse({"endif"}, &found);
        end_tag();
      } else {
        expect_block_end();
      }
      return n;
    }
  }

  Target parse_target(bool allow_namespace) {
    Target t;
    const bool paren = is_op("(");
    if (paren) next();
    t.names.push_back(expect_name());
    if (allow_namespace && !paren && is_op(".")) {
      next();
      t.attr = expect_name();
      return t;
    }
    while (is_op(",")) {
      t.tuple = true;
      next();
      if (cur().type != Tok::Name) break;  // trailing comma
      t.names.push_back(expect_name());
    }
    if (paren) {
      expect_op(")");
      t.tuple = true;
    }
    for (const auto& name : t.names)
      if (name == "true" || name == "false" || name == "none" || name == "True" || name == "False" || name == "None")
        error(cur(), "cannot assign to '" + name + "'");
    return t;
  }

  NodeP parse_for() {
    auto n = std::make_unique<Node>(Node::K::For, pos());
    next();
    n->target = parse_target(false);
    expect_name("in");
    n->expr = parse_tuple(false, {"recursive"});
    if (is_name("if")) {
      next();
      n->cond = parse_expression(true);
    }
    if (is_name("recursive")) error(cur(), "recursive for loops are not supported");
    expect_block_end();
    std::string found;
    ++loop_depth_;
    n->body = subparse({"endfor", "else"}, &found);
    --loop_depth_;
    if (found == "else") {
      next();
      expect_block_end();
      n->else_body = subparse({"endfor"}, &found);
    }
    end_tag();
    return n;
  }

  NodeP parse_set() {
    const Pos p = pos();
    next();
    Target target = parse_target(true);
    if (is_op("=")) {
      next();
      auto n = std::make_unique<Node>(Node::K::Set, p);
      n->target = std::move(target);
      n->expr = parse_tuple(true, {});
      expect_block_end();
      return n;
    }
    if (target.tuple || !target.attr.empty()) error(cur(), "a block set needs a single plain name");
    auto n = std::make_unique<Node>(Node::K::SetBlock, p);
    n->target = std::move(target);
    if (is_op("|")) parse_filter_chain(n->filters, false);
    expect_block_end();
    std::string found;
    n->body = subparse({"endset"}, &found);
    end_tag();
    return n;
  }

  void parse_params(std::vector<MacroParam>& params) {
    expect_op("(");
    while (!is_op(")")) {
      if (!params.empty()) expect_op(",");
      if (is_op(")")) break;
      MacroParam mp;
      mp.name = expect_name();
      if (is_op("=")) {
        next();
        mp.def = parse_expression(true);
      } else if (!params.empty() && params.back().def) {
        error(cur(), "non-default argument follows default argument");
      }
      params.push_back(std::move(mp));
    }
    next();
  }

  NodeP parse_macro() {
    auto n = std::make_unique<Node>(Node::K::Macro, pos());
    next();
    n->text = expect_name();
    parse_params(n->params);
    expect_block_end();
    const int saved = loop_depth_;
    loop_depth_ = 0;
    std::string found;
    n->body = subparse({"endmacro"}, &found);
    loop_depth_ = saved;
    end_tag();
    return n;
  }

  NodeP parse_call_block() {
    auto n = std::make_unique<Node>(Node::K::CallBlock, pos());
    next();
    if (is_op("(")) parse_params(n->params);
    n->expr = parse_expression(true);
    if (n->expr->k != Expr::K::Call) error(cur(), "expected a call after 'call'");
    expect_block_end();
    const int saved = loop_depth_;
    loop_depth_ = 0;
    std::string found;
    n->body = subparse({"endcall"}, &found);
    loop_depth_ = saved;
    end_tag();
    return n;
  }

  NodeP parse_filter_block() {
    auto n = std::make_unique<Node>(Node::K::FilterBlock, pos());
    next();
    parse_filter_chain(n->filters, true);
    expect_block_end();
    std::string found;
    n->body = subparse({"endfilter"}, &found);
    end_tag();
    return n;
  }

  NodeP parse_with() {
    auto n = std::make_unique<Node>(Node::K::With, pos());
    next();
    while (cur().type != Tok::BlockEnd) {
      if (!n->assigns.empty()) expect_op(",");
      std::string name = expect_name();
      expect_op("=");
      n->assigns.emplace_back(std::move(name), parse_expression(true));
    }
    expect_block_end();
    std::string found;
    n->body = subparse({"endwith"}, &found);
    end_tag();
    return n;
  }

  NodeP parse_scope(const char* end) {
    auto n = std::make_unique<Node>(Node::K::Scope, pos());
    next();
    expect_block_end();
    std::string found;
    n->body = subparse({end}, &found);
    end_tag();
    return n;
  }

  // ---- expressions ----

  ExprP make(Expr::K k, Pos p) { return std::make_unique<Expr>(k, p); }

  bool is_tuple_end(const std::vector<std::string>& extra) const {
    const Token& t = cur();
    if (t.type == Tok::VarEnd || t.type == Tok::BlockEnd || t.type == Tok::Eof) return true;
    if (t.type == Tok::Op && t.text == ")") return true;
    if (t.type == Tok::Name && std::find(extra.begin(), extra.end(), t.text) != extra.end()) return true;
    return false;
  }

  // Expressions separated by commas form a tuple: `{{ a, b }}`, `for x in a, b`.
  ExprP parse_tuple(bool with_cond, const std::vector<std::string>& extra, bool explicit_parens = false) {
    const Pos p = pos();
    std::vector<ExprP> items;
    bool is_tuple = false;
    while (true) {
      if (!items.empty()) expect_op(",");
      if (is_tuple_end(extra)) break;
      items.push_back(parse_expression(with_cond));
      if (is_op(",")) is_tuple = true;
      else break;
    }
    if (!is_tuple) {
      if (!items.empty()) return std::move(items[0]);
      if (!explicit_parens) error(cur(), "expected an expression, got " + describe(cur()));
    }
    auto e = make(Expr::K::Tuple, p);
    e->args = std::move(items);
    return e;
  }

  ExprP parse_expression(bool with_cond) {
    Deeper guard(*this);
    return with_cond ? parse_condexpr() : parse_or();
  }

  ExprP parse_condexpr() {
    ExprP e = parse_or();
    while (is_name("if")) {
      const Pos p = pos();
      next();
      auto c = make(Expr::K::Cond, p);
      c->a = parse_or();  // condition
      c->b = std::move(e);  // then
      if (is_name("else")) {
        next();
        Deeper guard(*this);
        c->c = parse_condexpr();
      }
      e = std::move(c);
    }
    return e;
  }

  ExprP parse_or() {
    ExprP e = parse_and();
    while (is_name("or")) {
      auto n = make(Expr::K::Or, pos());
      next();
      n->a = std::move(e);
      n->b = parse_and();
      e = std::move(n);
    }
    return e;
  }

  ExprP parse_and() {
    ExprP e = parse_not();
    while (is_name("and")) {
      auto n = make(Expr::K::And, pos());
      next();
      n->a = std::move(e);
      n->b = parse_not();
      e = std::move(n);
    }
    return e;
  }

  ExprP parse_not() {
    if (is_name("not")) {
      Deeper guard(*this);
      auto n = make(Expr::K::Not, pos());
      next();
      n->a = parse_not();
      return n;
    }
    return parse_compare();
  }

  ExprP parse_compare() {
    const Pos p = pos();
    ExprP e = parse_math1();
    std::vector<std::pair<std::string, ExprP>> ops;
    while (true) {
      if (cur().type == Tok::Op && (cur().text == "==" || cur().text == "!=" || cur().text == "<" ||
                                    cur().text == ">" || cur().text == "<=" || cur().text == ">=")) {
        std::string op = cur().text;
        next();
        ops.emplace_back(std::move(op), parse_math1());
      } else if (is_name("in")) {
        next();
        ops.emplace_back("in", parse_math1());
      } else if (is_name("not") && peek().type == Tok::Name && peek().text == "in") {
        next();
        next();
        ops.emplace_back("notin", parse_math1());
      } else {
        break;
      }
    }
    if (ops.empty()) return e;
    auto n = make(Expr::K::Compare, p);
    n->a = std::move(e);
    n->ops = std::move(ops);
    return n;
  }

  ExprP binary(const std::string& op, ExprP l, ExprP r, Pos p) {
    auto n = make(Expr::K::Binary, p);
    n->name = op;
    n->a = std::move(l);
    n->b = std::move(r);
    return n;
  }

  ExprP parse_math1() {
    ExprP e = parse_concat();
    while (is_op("+") || is_op("-")) {
      const Pos p = pos();
      std::string op = cur().text;
      next();
      e = binary(op, std::move(e), parse_concat(), p);
    }
    return e;
  }

  ExprP parse_concat() {
    const Pos p = pos();
    ExprP e = parse_math2();
    if (!is_op("~")) return e;
    auto n = make(Expr::K::Concat, p);
    n->args.push_back(std::move(e));
    while (is_op("~")) {
      next();
      n->args.push_back(parse_math2());
    }
    return n;
  }

  ExprP parse_math2() {
    ExprP e = parse_pow();
    while (is_op("*") || is_op("/") || is_op("//") || is_op("%")) {
      const Pos p = pos();
      std::string op = cur().text;
      next();
      e = binary(op, std::move(e), parse_pow(), p);
    }
    return e;
  }

  ExprP parse_pow() {
    ExprP e = parse_unary(true);
    while (is_op("**")) {
      const Pos p = pos();
      next();
      e = binary("**", std::move(e), parse_unary(true), p);
    }
    return e;
  }

  ExprP parse_unary(bool with_filter) {
    Deeper guard(*this);
    ExprP e;
    if (is_op("-") || is_op("+")) {
      auto n = make(is_op("-") ? Expr::K::Neg : Expr::K::Pos, pos());
      next();
      n->a = parse_unary(false);
      e = std::move(n);
    } else {
      e = parse_primary();
    }
    e = parse_postfix(std::move(e));
    if (with_filter) e = parse_filter_expr(std::move(e));
    return e;
  }

  ExprP parse_primary() {
    const Token& t = cur();
    const Pos p = pos();
    switch (t.type) {
      case Tok::Name: {
        auto e = make(Expr::K::Const, p);
        if (t.text == "true" || t.text == "True") e->value = Value::boolean(true);
        else if (t.text == "false" || t.text == "False") e->value = Value::boolean(false);
        else if (t.text == "none" || t.text == "None") e->value = Value::none();
        else {
          e->k = Expr::K::Name;
          e->name = t.text;
        }
        next();
        return e;
      }
      case Tok::String: {
        std::string s = t.text;
        next();
        while (cur().type == Tok::String) {  // adjacent literals concatenate
          s += cur().text;
          next();
        }
        auto e = make(Expr::K::Const, p);
        e->value = Value::string(std::move(s));
        return e;
      }
      case Tok::Int: {
        auto e = make(Expr::K::Const, p);
        e->value = Value::integer(t.ival);
        next();
        return e;
      }
      case Tok::Float: {
        auto e = make(Expr::K::Const, p);
        e->value = Value::number(t.fval);
        next();
        return e;
      }
      case Tok::Op:
        if (t.text == "(") {
          next();
          ExprP e = parse_tuple(true, {}, true);
          expect_op(")");
          return e;
        }
        if (t.text == "[") return parse_list();
        if (t.text == "{") return parse_dict();
        break;
      default:
        break;
    }
    error(t, "unexpected " + describe(t));
  }

  ExprP parse_list() {
    auto e = make(Expr::K::List, pos());
    expect_op("[");
    while (!is_op("]")) {
      if (!e->args.empty()) expect_op(",");
      if (is_op("]")) break;
      e->args.push_back(parse_expression(true));
    }
    expect_op("]");
    return e;
  }

  ExprP parse_dict() {
    auto e = make(Expr::K::Dict, pos());
    expect_op("{");
    while (!is_op("}")) {
      if (!e->pairs.empty()) expect_op(",");
      if (is_op("}")) break;
      ExprP k = parse_expression(true);
      expect_op(":");
      e->pairs.emplace_back(std::move(k), parse_expression(true));
    }
    expect_op("}");
    return e;
  }

  ExprP parse_postfix(ExprP e) {
    while (true) {
      if (is_op(".")) {
        const Pos p = pos();
        next();
        if (cur().type == Tok::Name) {
          auto n = make(Expr::K::Attr, p);
          n->a = std::move(e);
          n->name = cur().text;
          next();
          e = std::move(n);
        } else if (cur().type == Tok::Int) {
          auto n = make(Expr::K::Item, p);
          n->a = std::move(e);
          n->b = make(Expr::K::Const, pos());
          n->b->value = Value::integer(cur().ival);
          next();
          e = std::move(n);
        } else {
          error(cur(), "expected a name after '.', got " + describe(cur()));
        }
      } else if (is_op("[")) {
        e = parse_subscript(std::move(e));
      } else if (is_op("(")) {
        e = parse_call(std::move(e));
      } else {
        return e;
      }
    }
  }

  ExprP parse_subscript(ExprP obj) {
    const Pos p = pos();
    next();
    std::vector<ExprP> parts;
    while (!is_op("]")) {
      if (!parts.empty()) expect_op(",");
      parts.push_back(parse_subscribed());
    }
    if (parts.empty()) error(cur(), "expected a subscript");
    if (parts.size() > 1)
      for (const auto& part : parts)
        if (part->k == Expr::K::Slice) error(cur(), "slices inside a subscript tuple are not supported");
    expect_op("]");
    auto n = make(parts.size() == 1 && parts[0]->k == Expr::K::Slice ? Expr::K::Slice : Expr::K::Item, p);
    n->a = std::move(obj);
    if (n->k == Expr::K::Slice) {
      ExprP s = std::move(parts[0]);
      n->b = std::move(s->b);
      n->d = std::move(s->d);
      n->c = std::move(s->c);
    } else if (parts.size() == 1) {
      n->b = std::move(parts[0]);
    } else {
      auto t = make(Expr::K::Tuple, p);
      t->args = std::move(parts);
      n->b = std::move(t);
    }
    return n;
  }

  // One subscript: an expression or a slice start:stop:step (all optional).
  ExprP parse_subscribed() {
    const Pos p = pos();
    ExprP start;
    if (!is_op(":")) {
      start = parse_expression(true);
      if (!is_op(":")) return start;
    }
    next();
    auto s = make(Expr::K::Slice, p);
    s->b = std::move(start);
    if (!is_op("]") && !is_op(",") && !is_op(":")) s->d = parse_expression(true);
    if (is_op(":")) {
      next();
      if (!is_op("]") && !is_op(",")) s->c = parse_expression(true);
    }
    return s;
  }

  void parse_call_args(Expr& n) {
    expect_op("(");
    while (!is_op(")")) {
      if (!n.args.empty() || !n.kwargs.empty()) expect_op(",");
      if (is_op(")")) break;
      if (is_op("*") || is_op("**")) error(cur(), "*args and **kwargs in calls are not supported");
      if (cur().type == Tok::Name && peek().type == Tok::Op && peek().text == "=") {
        std::string key = cur().text;
        next();
        next();
        n.kwargs.emplace_back(std::move(key), parse_expression(true));
      } else {
        if (!n.kwargs.empty()) error(cur(), "positional argument follows keyword argument");
        n.args.push_back(parse_expression(true));
      }
    }
    next();
  }

  ExprP parse_call(ExprP callee) {
    auto n = make(Expr::K::Call, pos());
    n->a = std::move(callee);
    parse_call_args(*n);
    return n;
  }

  ExprP parse_filter_expr(ExprP e) {
    while (true) {
      if (is_op("|")) {
        std::vector<ExprP> chain;
        parse_filter_chain(chain, false);
        for (auto& f : chain) {
          f->a = std::move(e);
          e = std::move(f);
        }
      } else if (is_name("is")) {
        e = parse_test(std::move(e));
      } else if (is_op("(")) {
        e = parse_call(std::move(e));
      } else {
        return e;
      }
    }
  }

  // `|f1(args)|f2`; with `inline_first`, the first filter has no leading '|'.
  void parse_filter_chain(std::vector<ExprP>& out, bool inline_first) {
    while (is_op("|") || inline_first) {
      if (!inline_first) next();
      inline_first = false;
      auto f = make(Expr::K::Filter, pos());
      f->name = expect_name();
      if (is_op("(")) parse_call_args(*f);
      out.push_back(std::move(f));
    }
  }

  ExprP parse_test(ExprP e) {
    const Pos p = pos();
    next();  // 'is'
    bool negated = false;
    if (is_name("not")) {
      negated = true;
      next();
    }
    auto n = make(Expr::K::Test, pos());
    n->name = expect_name();
    n->a = std::move(e);
    const Token& t = cur();
    if (is_op("(")) {
      parse_call_args(*n);
    } else if ((t.type == Tok::Name || t.type == Tok::String || t.type == Tok::Int || t.type == Tok::Float ||
                is_op("[") || is_op("{")) &&
               !is_name("else") && !is_name("or") && !is_name("and")) {
      if (is_name("is")) error(t, "you cannot chain multiple tests with 'is'");
      n->args.push_back(parse_postfix(parse_primary()));
    }
    if (!negated) return n;
    auto neg = make(Expr::K::Not, p);
    neg->a = std::move(n);
    return neg;
  }
};

// Jinja rejects unknown filters and tests when it compiles a template, except
// inside if-statements and conditional expressions ("soft" frames), where
// they only fail if evaluated. Loop, macro, filter and with bodies are hard again.
class Validator {
 public:
  void body(const Body& b, bool soft) {
    for (const auto& n : b) node(*n, soft);
  }

 private:
  [[noreturn]] void error(const Expr& e, const std::string& msg) {
    throw Error("chat template: syntax error at line " + std::to_string(e.pos.line) + ":" + std::to_string(e.pos.col) + ": " + msg);
  }

  void expr(const Expr* e, bool soft) {
    if (!e) return;
    if (e->k == Expr::K::Cond) soft = true;
    if (!soft && e->k == Expr::K::Filter && !filter_exists(e->name)) error(*e, "no filter named '" + e->name + "'");
    if (!soft && e->k == Expr::K::Test && !test_exists(e->name)) error(*e, "no test named '" + e->name + "'");
    for (const auto& a : e->args) expr(a.get(), soft);
    for (const auto& kv : e->kwargs) expr(kv.second.get(), soft);
    for (const auto& kv : e->pairs) {
      expr(kv.first.get(), soft);
      expr(kv.second.get(), soft);
    }
    for (const auto& op : e->ops) expr(op.second.get(), soft);
    expr(e->a.get(), soft);
    expr(e->b.get(), soft);
    expr(e->c.get(), soft);
    expr(e->d.get(), soft);
  }

  void node(const Node& n, bool soft) {
    switch (n.k) {
      case Node::K::If:
        for (const auto& br : n.branches) {
          expr(br.first.get(), true);
          body(br.second, true);
        }
        body(n.else_body, true);
        return;
      case Node::K::For:
        expr(n.expr.get(), soft);
        expr(n.cond.get(), false);
        body(n.body, false);
        body(n.else_body, false);
        return;
      case Node::K::Macro:
        for (const auto& p : n.params) expr(p.def.get(), soft);
        body(n.body, false);
        return;
      case Node::K::CallBlock:
        for (const auto& p : n.params) expr(p.def.get(), soft);
        expr(n.expr.get(), soft);
        body(n.body, false);
        return;
      case Node::K::SetBlock:
      case Node::K::FilterBlock:
        for (const auto& f : n.filters) expr(f.get(), false);
        body(n.body, false);
        return;
      case Node::K::With:
      case Node::K::Scope:
        for (const auto& a : n.assigns) expr(a.second.get(), soft);
        body(n.body, false);
        return;
      default:
        expr(n.expr.get(), soft);
        return;
    }
  }
};

}  // namespace

Body parse(const std::vector<Token>& tokens) {
  Body b = Parser(tokens).parse_template();
  Validator().body(b, false);
  return b;
}

}  // namespace larql::chat
