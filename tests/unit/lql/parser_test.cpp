// Lexer and parser: every statement of PRODUCT.md §4, canonical printing
// round trips, and errors that name line:column, the token and what was expected.
#include <gtest/gtest.h>

#include "lql/lexer.h"
#include "lql/parser.h"
#include "util/error.h"

using namespace larql::lql;

namespace {

std::string err(const std::string& src) {
  try {
    parse(src);
  } catch (const larql::Error& e) {
    return e.what();
  }
  return "";
}

Statement one(const std::string& src) {
  auto v = parse(src);
  EXPECT_EQ(v.size(), 1u) << src;
  return v.at(0);
}

}  // namespace

TEST(LqlLexer, TokensStringsCommentsAndPositions) {
  auto t = lex("select 'it''s' \"a\\\"b\" -- comment\n  3-5 0.25 <= != <>;");
  ASSERT_EQ(t.size(), 12u);
  EXPECT_EQ(t[0].kind, Tok::Ident);
  EXPECT_EQ(t[1].text, "it's");
  EXPECT_EQ(t[2].text, "a\"b");
  EXPECT_EQ(t[3].kind, Tok::Number);
  EXPECT_EQ(t[3].line, 2);
  EXPECT_EQ(t[3].col, 3);
  EXPECT_EQ(t[4].text, "-");
  EXPECT_EQ(t[5].text, "5");
  EXPECT_EQ(t[6].text, "0.25");
  EXPECT_EQ(t[7].text, "<=");
  EXPECT_EQ(t[8].text, "!=");
  EXPECT_EQ(t[9].text, "!=");  // <> is an alias
  EXPECT_EQ(t[11].kind, Tok::End);
}

TEST(LqlLexer, Errors) {
  EXPECT_EQ(err("DESCRIBE \"France;"), "1:10: unterminated string starting here");
  EXPECT_EQ(err("STATS;\n  @"), "2:3: unexpected character '@'");
  EXPECT_EQ(err("SHOW FEATURES 3abc;"), "1:16: malformed number '3a'");
  EXPECT_EQ(err(std::string("STATS \x01;")), "1:7: unexpected character byte 0x01");
}

TEST(LqlParser, EveryStatementRoundTrips) {
  const char* stmts[] = {
      "USE \"facts.vindex\";",
      "USE MODEL \"m.gguf\";",
      "EXTRACT MODEL \"m.gguf\" INTO \"m.vindex\" WITH BROWSE;",
      "EXTRACT MODEL \"m.gguf\" INTO \"m.vindex\";",
      "SHOW LAYERS;", "SHOW RELATIONS;", "SHOW RELATIONS AT LAYER 3;",
      "SHOW FEATURES 2 WHERE top_token LIKE \"P%\" AND down_norm > 1.5 LIMIT 10;",
      "SHOW PATCHES;", "SHOW MODELS;", "STATS;",
      "DESCRIBE \"France\";", "DESCRIBE \"France\" AT LAYER 3 BRIEF;", "DESCRIBE \"France\" LAYERS 1-3 VERBOSE;",
      "DESCRIBE \"France\" ALL LAYERS;",
      "WALK \"The capital of France is\" TOP 5 LAYERS 2-3;",
      "SELECT * FROM EDGES;",
      "SELECT layer, feature FROM FEATURES NEAREST TO \"Paris\" AT LAYER 2 WHERE layer IN (1, 2) AND label != \"x\" ORDER BY score DESC LIMIT 3;",
      "SELECT token FROM ENTITIES WHERE token_id >= 10 AND token_id < 20 AND token_id <= -1 ORDER BY token ASC;",
      "INFER \"hi\" TOP 3 COMPARE;", "INFER \"hi\";",
      "EXPLAIN INFER \"hi\" TOP 2 LAYERS 0-1;",
      "TRACE \"The capital of France is\" FOR \"Paris\" DECOMPOSE LAYERS 1-3 POSITIONS ALL SAVE \"t.json\";",
      "TRACE \"x\" POSITIONS LAST;",
      "INSERT INTO EDGES (entity, relation, target) VALUES (\"Atlantis\", \"capital\", \"Poseidonia\") AT LAYER 3 CONFIDENCE 0.9 ALPHA 0.25 MODE MEMIT;",
      "DELETE FROM EDGES WHERE entity = \"France\" AND relation = \"capital\";",
      "UPDATE EDGES SET target = \"Lyon\", weight = 2 WHERE entity = \"France\";",
      "BEGIN PATCH \"a.vlp\";", "SAVE PATCH;", "APPLY PATCH \"a.vlp\";", "REMOVE PATCH \"a.vlp\";",
      "DIFF \"a.vindex\" \"b.vindex\" INTO PATCH \"d.vlp\";", "DIFF \"a.vindex\" \"b.vindex\";",
      "COMPILE CURRENT INTO VINDEX \"o.vindex\";", "COMPILE CURRENT INTO MODEL \"o.gguf\" FORMAT SAFETENSORS;",
  };
  for (const char* s : stmts) {
    Statement st = one(s);
    EXPECT_EQ(st.to_string(), s);
    EXPECT_EQ(one(st.to_string()).to_string(), st.to_string());
  }
}

TEST(LqlParser, KeywordsCaseInsensitiveAndFields) {
  auto v = parse("use 'x.vindex'; -- pick one\n trace 'The capital of France is' for 'Paris' layers 1-3 positions all\n;describe \"France\"");
  ASSERT_EQ(v.size(), 3u);
  EXPECT_EQ(v[0].kind, Kind::Use);
  EXPECT_EQ(v[0].path, "x.vindex");
  EXPECT_EQ(v[1].kind, Kind::Trace);
  EXPECT_EQ(v[1].line, 2);
  EXPECT_EQ(v[1].for_token, "Paris");
  EXPECT_EQ(v[1].layers.lo, 1);
  EXPECT_EQ(v[1].layers.hi, 3);
  EXPECT_TRUE(v[1].positions_all);
  EXPECT_EQ(v[2].kind, Kind::Describe);  // the last statement may omit ';'
  Statement s = one("SELECT a, b FROM features WHERE x IN ('p', 2.5) LIMIT 7;");
  EXPECT_EQ(s.from, "FEATURES");
  ASSERT_EQ(s.where.size(), 1u);
  EXPECT_EQ(s.where[0].values.size(), 2u);
  EXPECT_TRUE(s.where[0].values[0].is_string);
  EXPECT_DOUBLE_EQ(s.where[0].values[1].n, 2.5);
  EXPECT_EQ(*s.limit, 7);
  EXPECT_TRUE(parse(" ;; -- nothing\n").empty());
}

TEST(LqlParser, ErrorsNameLineColumnTokenAndExpectation) {
  EXPECT_EQ(err("SELEC * FROM EDGES;"),
            "1:1: expected a statement (USE, EXTRACT, SHOW, STATS, DESCRIBE, WALK, SELECT, INFER, EXPLAIN, TRACE, INSERT, "
            "DELETE, UPDATE, BEGIN, SAVE, APPLY, REMOVE, DIFF, COMPILE), got 'SELEC'");
  EXPECT_EQ(err("STATS;\nDESCRIBE France;"), "2:10: expected the entity to describe (a quoted string), got 'France'");
  EXPECT_EQ(err("SELECT * FROM TABLES;"), "1:15: expected EDGES, FEATURES or ENTITIES, got 'TABLES'");
  EXPECT_EQ(err("WALK \"x\" LAYERS 5-2;"), "1:17: expected a range a-b with a <= b, got 5-2");
  EXPECT_EQ(err("WALK \"x\" TOP 5 TOP 6;"), "1:16: TOP given twice");
  EXPECT_EQ(err("INFER \"x\" LAYERS 1-2;"), "1:11: expected ';' after the statement, got 'LAYERS'");
  EXPECT_EQ(err("STATS STATS;"), "1:7: expected ';' after the statement, got 'STATS'");
  EXPECT_EQ(err("SHOW FEATURES;"), "1:14: expected a layer number after SHOW FEATURES (a whole number), got ';'");
  EXPECT_EQ(err("SHOW FEATURES 1.5;"), "1:15: expected a layer number after SHOW FEATURES (a whole number), got number 1.5");
  EXPECT_EQ(err("SELECT * FROM EDGES WHERE x ~ 3;"), "1:29: unexpected character '~'");
  EXPECT_EQ(err("SELECT * FROM EDGES WHERE x LIKE 3;"), "1:34: expected a quoted pattern after LIKE, got number 3");
  EXPECT_EQ(err("SELECT * FROM EDGES WHERE x IN (1, 2;"), "1:37: expected ',' or ')' in the IN list, got ';'");
  EXPECT_EQ(err("INSERT INTO EDGES (a, b) VALUES (\"x\");"), "1:1: INSERT has 2 columns but 1 values");
  EXPECT_EQ(err("TRACE \"x\" POSITIONS FIRST;"), "1:21: expected ALL or LAST after POSITIONS, got 'FIRST'");
  EXPECT_EQ(err("COMPILE CURRENT INTO SPACE \"x\";"), "1:22: expected VINDEX or MODEL after INTO, got 'SPACE'");
  EXPECT_EQ(err("DESCRIBE"), "1:9: expected the entity to describe (a quoted string), got end of input");
  EXPECT_EQ(err("SHOW FEATURES 99999999999999999999;"), "1:15: expected a layer number after SHOW FEATURES (a number up to 10^12), got number 99999999999999999999");
}

// Fuzz regression: doubles outside the integer range print with an exponent
// (7.777777777777778e+28); that canonical text must lex and parse back.
TEST(LqlParser, ExponentNumbersRoundTrip) {
  for (const char* src : {
           "INSERT INTO EDGES (entity, relation, target) VALUES (\"A\", \"r\", \"t\") CONFIDENCE 77777777777777777777777777777;",
           "SELECT * FROM FEATURES WHERE score > 0.000000000000000000001 AND score < -1.5e300;",
           "SELECT * FROM FEATURES WHERE score IN (2.5E-3, 1e+5, 3e2);",
       }) {
    const std::string canon = one(src).to_string();
    EXPECT_EQ(one(canon).to_string(), canon) << src;
  }
  EXPECT_EQ(one("SELECT * FROM EDGES WHERE w = 1e-3;").where.at(0).values.at(0).n, 1e-3);
  EXPECT_EQ(one("SELECT * FROM EDGES WHERE w = 77777777777777777777777777777;").to_string(),
            "SELECT * FROM EDGES WHERE w = 7.777777777777778e+28;");
  EXPECT_EQ(err("SELECT * FROM EDGES WHERE w = 1e999;"),
            "1:31: expected a value after = (a string or number) (a number within double range), got number 1e999");
  EXPECT_EQ(err("SHOW FEATURES 1e3;"), "1:15: expected a layer number after SHOW FEATURES (a whole number), got number 1e3");
  EXPECT_EQ(err("SHOW FEATURES 1e;"), "1:16: malformed number '1e'");
}

TEST(LqlParser, IsComplete) {
  EXPECT_FALSE(is_complete("DESCRIBE \"France\""));
  EXPECT_TRUE(is_complete("DESCRIBE \"France\";"));
  EXPECT_TRUE(is_complete("DESCRIBE \"France\"; -- done\n"));
  EXPECT_FALSE(is_complete("DESCRIBE \"Fra;"));  // inside a string
  EXPECT_FALSE(is_complete("STATS;\nWALK \"x\""));
  EXPECT_TRUE(is_complete("@;"));  // a lexing error is reported, not waited on
}
