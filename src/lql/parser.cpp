#include "lql/parser.h"

#include <charconv>
#include <cmath>
#include <cstdlib>
#include <string>

#include "lql/lexer.h"
#include "util/error.h"

namespace larql::lql {

namespace {

bool ieq(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'a' && x <= 'z') x = static_cast<char>(x - 32);
    if (y >= 'a' && y <= 'z') y = static_cast<char>(y - 32);
    if (x != y) return false;
  }
  return true;
}

std::string upper(std::string s) {
  for (char& c : s)
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 32);
  return s;
}

class Parser {
 public:
  explicit Parser(std::vector<Token> toks) : t_(std::move(toks)) {}

  std::vector<Statement> script() {
    std::vector<Statement> out;
    while (!at_end()) {
      if (sym(";")) { ++p_; continue; }
      out.push_back(statement());
      if (at_end()) break;  // the last statement may omit ';'
      expect_sym(";", "';' after the statement");
    }
    return out;
  }

 private:
  std::vector<Token> t_;
  size_t p_ = 0;

  const Token& cur() const { return t_[p_]; }
  bool at_end() const { return cur().kind == Tok::End; }
  bool kw(std::string_view k) const { return cur().kind == Tok::Ident && ieq(cur().text, k); }
  bool sym(std::string_view s) const { return cur().kind == Tok::Symbol && cur().text == s; }
  bool accept_kw(std::string_view k) {
    if (!kw(k)) return false;
    ++p_;
    return true;
  }
  [[noreturn]] void fail(const std::string& expected) const {
    throw Error(std::to_string(cur().line) + ":" + std::to_string(cur().col) + ": expected " + expected +
                ", got " + describe(cur()));
  }
  void expect_kw(std::string_view k) {
    if (!accept_kw(k)) fail(std::string(k));
  }
  void expect_sym(std::string_view s, const std::string& what) {
    if (!sym(s)) fail(what);
    ++p_;
  }
  std::string string_lit(const std::string& what) {
    if (cur().kind != Tok::String) fail(what + " (a quoted string)");
    return t_[p_++].text;
  }
  std::string ident(const std::string& what) {
    if (cur().kind != Tok::Ident) fail(what);
    return t_[p_++].text;
  }
  int64_t integer(const std::string& what) {
    if (cur().kind != Tok::Number || cur().text.find_first_of(".eE") != std::string::npos) fail(what + " (a whole number)");
    int64_t v = 0;
    const std::string& s = cur().text;
    auto r = std::from_chars(s.data(), s.data() + s.size(), v);
    if (r.ec != std::errc() || v > 1000000000000LL) fail(what + " (a number up to 10^12)");
    ++p_;
    return v;
  }
  double number(const std::string& what) {
    bool neg = false;
    if (sym("-")) { neg = true; ++p_; }
    if (cur().kind != Tok::Number) fail(what + " (a number)");
    double v = std::strtod(cur().text.c_str(), nullptr);
    if (!std::isfinite(v)) fail(what + " (a number within double range)");
    ++p_;
    return neg ? -v : v;
  }
  Value value(const std::string& what) {
    Value v;
    if (cur().kind == Tok::String) {
      v.is_string = true;
      v.s = t_[p_++].text;
    } else {
      v.n = number(what + " (a string or number)");
    }
    return v;
  }
  // n | a-b
  LayerRange range() {
    LayerRange r;
    const Token start = cur();
    r.lo = r.hi = integer("a layer");
    if (sym("-")) {
      ++p_;
      r.hi = integer("the last layer of the range");
      if (r.hi < r.lo)
        throw Error(std::to_string(start.line) + ":" + std::to_string(start.col) + ": expected a range a-b with a <= b, got " +
                    std::to_string(r.lo) + "-" + std::to_string(r.hi));
    }
    return r;
  }
  // Optional clauses may come in any order, each at most once.
  void once(bool& seen, const char* what) {
    const Token& k = t_[p_ > 0 ? p_ - 1 : 0];  // the clause's keyword, just consumed
    if (seen) throw Error(std::to_string(k.line) + ":" + std::to_string(k.col) + ": " + what + " given twice");
    seen = true;
  }

  Statement statement();
  void use(Statement& s);
  void show(Statement& s);
  void describe_(Statement& s);
  void select(Statement& s);
  void trace(Statement& s);
  void insert(Statement& s);
  void edit(Statement& s);
  Condition condition();
  std::vector<Condition> conditions();
  void limit(Statement& s, bool& seen) {
    once(seen, "LIMIT");
    s.limit = integer("a row count after LIMIT");
  }
};

Statement Parser::statement() {
  Statement s;
  s.line = cur().line;
  s.col = cur().col;
  if (accept_kw("USE")) { use(s); return s; }
  if (accept_kw("EXTRACT")) {
    s.kind = Kind::Extract;
    expect_kw("MODEL");
    s.path = string_lit("the source model path");
    expect_kw("INTO");
    s.path2 = string_lit("the output vindex path");
    if (accept_kw("WITH")) {
      if (!kw("BROWSE") && !kw("INFERENCE") && !kw("ALL")) fail("BROWSE, INFERENCE or ALL");
      s.option = upper(t_[p_++].text);
    }
    return s;
  }
  if (accept_kw("SHOW")) { show(s); return s; }
  if (accept_kw("STATS")) { s.kind = Kind::Stats; return s; }
  if (accept_kw("DESCRIBE")) { describe_(s); return s; }
  if (accept_kw("SELECT")) { select(s); return s; }
  if (kw("WALK") || kw("INFER") || kw("EXPLAIN") || kw("TRACE")) { trace(s); return s; }
  if (accept_kw("INSERT")) { insert(s); return s; }
  edit(s);
  return s;
}

void Parser::use(Statement& s) {
  if (accept_kw("MODEL")) {
    s.kind = Kind::UseModel;
    s.path = string_lit("a model file path");
  } else {
    s.kind = Kind::Use;
    s.path = string_lit("a vindex path or MODEL");
  }
}

void Parser::show(Statement& s) {
  if (accept_kw("LAYERS")) { s.kind = Kind::ShowLayers; return; }
  if (accept_kw("PATCHES")) { s.kind = Kind::ShowPatches; return; }
  if (accept_kw("MODELS")) { s.kind = Kind::ShowModels; return; }
  if (accept_kw("RELATIONS")) {
    s.kind = Kind::ShowRelations;
    if (accept_kw("AT")) {
      expect_kw("LAYER");
      s.layers.lo = s.layers.hi = integer("a layer number");
      s.at_layer = true;
    }
    return;
  }
  if (accept_kw("FEATURES")) {
    s.kind = Kind::ShowFeatures;
    s.feature_layer = integer("a layer number after SHOW FEATURES");
    bool w = false, l = false;
    for (;;) {
      if (accept_kw("WHERE")) { once(w, "WHERE"); s.where = conditions(); }
      else if (accept_kw("LIMIT")) limit(s, l);
      else break;
    }
    return;
  }
  fail("LAYERS, RELATIONS, FEATURES, PATCHES or MODELS after SHOW");
}

void Parser::describe_(Statement& s) {
  s.kind = Kind::Describe;
  s.text = string_lit("the entity to describe");
  bool l = false, o = false;
  for (;;) {
    if (accept_kw("AT")) {
      once(l, "the layer clause");
      expect_kw("LAYER");
      s.layers.lo = s.layers.hi = integer("a layer number");
      s.at_layer = true;
    } else if (accept_kw("LAYERS")) {
      once(l, "the layer clause");
      s.layers = range();
    } else if (accept_kw("ALL")) {
      once(l, "the layer clause");
      expect_kw("LAYERS");
      s.layers.all = true;
    } else if (kw("BRIEF") || kw("VERBOSE")) {
      once(o, "BRIEF/VERBOSE");
      s.option = upper(t_[p_++].text);
    } else {
      break;
    }
  }
}

Condition Parser::condition() {
  Condition c;
  c.line = cur().line;
  c.col = cur().col;
  c.column = ident("a column name");
  if (accept_kw("LIKE")) {
    c.op = "LIKE";
    if (cur().kind != Tok::String) fail("a quoted pattern after LIKE");
    c.values.push_back(value("a pattern after LIKE"));
  } else if (accept_kw("IN")) {
    c.op = "IN";
    expect_sym("(", "'(' after IN");
    c.values.push_back(value("a value in the IN list"));
    while (sym(",")) {
      ++p_;
      c.values.push_back(value("a value in the IN list"));
    }
    expect_sym(")", "',' or ')' in the IN list");
  } else {
    static const char* ops[] = {"=", "!=", "<", ">", "<=", ">="};
    for (const char* op : ops)
      if (sym(op)) c.op = op;
    if (c.op.empty()) fail("a comparison (=, !=, <, >, <=, >=, LIKE, IN)");
    ++p_;
    c.values.push_back(value("a value after " + c.op));
  }
  return c;
}

std::vector<Condition> Parser::conditions() {
  std::vector<Condition> out{condition()};
  while (accept_kw("AND")) out.push_back(condition());
  return out;
}

void Parser::select(Statement& s) {
  s.kind = Kind::Select;
  if (sym("*")) {
    ++p_;
  } else {
    s.columns.push_back(ident("'*' or a column name"));
    while (sym(",")) {
      ++p_;
      s.columns.push_back(ident("a column name"));
    }
  }
  expect_kw("FROM");
  if (!kw("EDGES") && !kw("FEATURES") && !kw("ENTITIES")) fail("EDGES, FEATURES or ENTITIES");
  s.from = upper(t_[p_++].text);
  bool n = false, w = false, o = false, l = false;
  for (;;) {
    if (accept_kw("NEAREST")) {
      once(n, "NEAREST TO");
      expect_kw("TO");
      s.nearest = string_lit("the text to search near");
      if (accept_kw("AT")) {
        expect_kw("LAYER");
        s.nearest_layer = integer("a layer number");
      }
    } else if (accept_kw("WHERE")) {
      once(w, "WHERE");
      s.where = conditions();
    } else if (accept_kw("ORDER")) {
      once(o, "ORDER BY");
      expect_kw("BY");
      s.order_by = ident("a column name after ORDER BY");
      if (accept_kw("DESC")) s.order_desc = true;
      else accept_kw("ASC");
    } else if (accept_kw("LIMIT")) {
      limit(s, l);
    } else {
      break;
    }
  }
}

// WALK / INFER / EXPLAIN INFER / TRACE share their optional clauses.
void Parser::trace(Statement& s) {
  if (accept_kw("WALK")) s.kind = Kind::Walk;
  else if (accept_kw("INFER")) s.kind = Kind::Infer;
  else if (accept_kw("TRACE")) s.kind = Kind::Trace;
  else { ++p_; expect_kw("INFER"); s.kind = Kind::ExplainInfer; }
  s.text = string_lit("the prompt");
  const bool top_ok = s.kind != Kind::Trace, layers_ok = s.kind != Kind::Infer;
  bool top = false, lay = false, cmp = false, fr = false, dec = false, pos = false, sv = false;
  for (;;) {
    if (top_ok && accept_kw("TOP")) { once(top, "TOP"); s.top = integer("a count after TOP"); }
    else if (layers_ok && accept_kw("LAYERS")) { once(lay, "LAYERS"); s.layers = range(); }
    else if (s.kind == Kind::Infer && accept_kw("COMPARE")) { once(cmp, "COMPARE"); s.compare = true; }
    else if (s.kind == Kind::Trace && accept_kw("FOR")) { once(fr, "FOR"); s.for_token = string_lit("the token to follow"); }
    else if (s.kind == Kind::Trace && accept_kw("DECOMPOSE")) { once(dec, "DECOMPOSE"); s.decompose = true; }
    else if (s.kind == Kind::Trace && accept_kw("POSITIONS")) {
      once(pos, "POSITIONS");
      s.positions_set = true;
      if (accept_kw("ALL")) s.positions_all = true;
      else if (!accept_kw("LAST")) fail("ALL or LAST after POSITIONS");
    } else if (s.kind == Kind::Trace && accept_kw("SAVE")) { once(sv, "SAVE"); s.save = string_lit("the file to save to"); }
    else break;
  }
}

void Parser::insert(Statement& s) {
  s.kind = Kind::Insert;
  expect_kw("INTO");
  expect_kw("EDGES");
  expect_sym("(", "'(' and the column list");
  s.insert_columns.push_back(ident("a column name"));
  while (sym(",")) { ++p_; s.insert_columns.push_back(ident("a column name")); }
  expect_sym(")", "',' or ')' after the column list");
  expect_kw("VALUES");
  expect_sym("(", "'(' and the values");
  s.insert_values.push_back(value("a value"));
  while (sym(",")) { ++p_; s.insert_values.push_back(value("a value")); }
  expect_sym(")", "',' or ')' after the values");
  if (s.insert_values.size() != s.insert_columns.size())
    throw Error(std::to_string(s.line) + ":" + std::to_string(s.col) + ": INSERT has " +
                std::to_string(s.insert_columns.size()) + " columns but " + std::to_string(s.insert_values.size()) + " values");
  bool l = false, c = false, a = false, m = false;
  for (;;) {
    if (accept_kw("AT")) { once(l, "AT LAYER"); expect_kw("LAYER"); s.layers.lo = s.layers.hi = integer("a layer number"); s.at_layer = true; }
    else if (accept_kw("CONFIDENCE")) { once(c, "CONFIDENCE"); s.confidence = number("a confidence"); }
    else if (accept_kw("ALPHA")) { once(a, "ALPHA"); s.alpha = number("an alpha"); }
    else if (accept_kw("MODE")) {
      once(m, "MODE");
      if (!kw("KNN") && !kw("FEATURE") && !kw("MEMIT")) fail("KNN, FEATURE or MEMIT after MODE");
      s.option = upper(t_[p_++].text);
    } else if (accept_kw("COVARIANCE")) {  // MEMIT's activation covariance text (issue 8)
      if (!s.path.empty()) fail("COVARIANCE given twice");
      s.path = string_lit("the covariance text file");
    } else break;
  }
}

void Parser::edit(Statement& s) {
  if (accept_kw("DELETE")) {
    s.kind = Kind::Delete;
    expect_kw("FROM");
    expect_kw("EDGES");
    expect_kw("WHERE");
    s.where = conditions();
  } else if (accept_kw("UPDATE")) {
    s.kind = Kind::Update;
    expect_kw("EDGES");
    expect_kw("SET");
    do {
      std::string col = ident("a column name");
      expect_sym("=", "'=' after the column name");
      s.sets.emplace_back(col, value("a value"));
    } while (sym(",") && (++p_, true));
    expect_kw("WHERE");
    s.where = conditions();
  } else if (accept_kw("BEGIN")) {
    s.kind = Kind::BeginPatch;
    expect_kw("PATCH");
    s.path = string_lit("the patch file");
  } else if (accept_kw("SAVE")) {
    s.kind = Kind::SavePatch;
    expect_kw("PATCH");
  } else if (accept_kw("APPLY")) {
    s.kind = Kind::ApplyPatch;
    expect_kw("PATCH");
    s.path = string_lit("the patch file");
  } else if (accept_kw("REMOVE")) {
    s.kind = Kind::RemovePatch;
    expect_kw("PATCH");
    s.path = string_lit("the patch file");
  } else if (accept_kw("DIFF")) {
    s.kind = Kind::Diff;
    s.path = string_lit("the first vindex");
    s.path2 = string_lit("the second vindex");
    if (accept_kw("INTO")) { expect_kw("PATCH"); s.save = string_lit("the patch file"); }
  } else if (accept_kw("COMPILE")) {
    expect_kw("CURRENT");
    expect_kw("INTO");
    if (accept_kw("VINDEX")) {
      s.kind = Kind::CompileVindex;
      s.path = string_lit("the output vindex");
    } else if (accept_kw("MODEL")) {
      s.kind = Kind::CompileModel;
      s.path = string_lit("the output model file");
      if (accept_kw("FORMAT")) {
        if (!kw("GGUF") && !kw("SAFETENSORS")) fail("GGUF or SAFETENSORS after FORMAT");
        s.option = upper(t_[p_++].text);
      }
    } else {
      fail("VINDEX or MODEL after INTO");
    }
  } else {
    fail("a statement (USE, EXTRACT, SHOW, STATS, DESCRIBE, WALK, SELECT, INFER, EXPLAIN, TRACE, INSERT, DELETE, UPDATE, BEGIN, SAVE, APPLY, REMOVE, DIFF, COMPILE)");
  }
}

}  // namespace

std::vector<Statement> parse(std::string_view script, int line, int col) { return Parser(lex(script, line, col)).script(); }

}  // namespace larql::lql
