// Syntax tree of a parsed template: expressions (Expr) and statements (Node).
#pragma once
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "chat/value.h"

namespace larql::chat {

struct Pos {
  int line = 0, col = 0;
};

struct Expr;
using ExprP = std::unique_ptr<Expr>;

struct Expr {
  enum class K : uint8_t {
    Const, Name, List, Tuple, Dict, Attr, Item, Slice, Call, Filter, Test,
    Not, Neg, Pos, Binary, Compare, And, Or, Cond, Concat,
  };
  K k;
  Pos pos;
  Value value;                 // Const
  std::string name;            // Name, Attr, Filter, Test; Binary operator
  std::vector<ExprP> args;     // List/Tuple items, Call/Filter/Test positional args, Concat parts
  std::vector<std::pair<std::string, ExprP>> kwargs;  // Call/Filter/Test keyword args
  std::vector<std::pair<ExprP, ExprP>> pairs;         // Dict items
  ExprP a, b, c;               // operands: object/callee/left/condition, index/right/then, else/step
  ExprP d;                     // Slice: stop (a = object, b = start, c = step)
  std::vector<std::pair<std::string, ExprP>> ops;     // Compare: chain of (operator, operand)
  Expr(K kind, Pos p) : k(kind), pos(p) {}
};

struct Node;
using NodeP = std::unique_ptr<Node>;
using Body = std::vector<NodeP>;

// Assignment target: a name, a namespace attribute (ns.x) or a tuple of names.
struct Target {
  std::vector<std::string> names;  // one, or several for tuple unpacking
  bool tuple = false;
  std::string attr;                // non-empty: names[0].attr
};

struct MacroParam {
  std::string name;
  ExprP def;  // may be null
};

struct Node {
  enum class K : uint8_t { Text, Output, If, For, Set, SetBlock, Macro, CallBlock, FilterBlock, With, Break, Continue, Scope };
  K k;
  Pos pos;
  std::string text;                             // Text; Macro name
  ExprP expr;                                   // Output; For iterable; Set value; CallBlock call
  ExprP cond;                                   // For filter
  std::vector<std::pair<ExprP, Body>> branches; // If/elif
  Body body, else_body;
  Target target;                                // For, Set, SetBlock
  std::vector<ExprP> filters;                   // SetBlock/FilterBlock: Filter exprs with a null input
  std::vector<MacroParam> params;               // Macro, CallBlock (caller's params)
  std::vector<std::pair<std::string, ExprP>> assigns;  // With
  bool recursive = false;
  Node(K kind, Pos p) : k(kind), pos(p) {}
};

}  // namespace larql::chat
