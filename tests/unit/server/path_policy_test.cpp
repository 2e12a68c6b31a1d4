// The /v1/lql path policy: paths stay inside --model-dir; writes need --allow-writes.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <unistd.h>

#include "server/path_policy.h"
#include "util/error.h"

namespace fs = std::filesystem;
using namespace larql::server;

class PathPolicy : public ::testing::Test {
 protected:
  void SetUp() override {
    base = fs::temp_directory_path() / ("larql_pp_" + std::to_string(::getpid()));
    fs::remove_all(base);
    root = base / "models";
    fs::create_directories(root / "sub");
    fs::create_directories(base / "outside");
    std::ofstream(root / "sub" / "a.gguf") << "x";
    std::ofstream(base / "outside" / "secret") << "x";
    fs::create_directory_symlink(base / "outside", root / "escape");
    fs::create_symlink(base / "outside" / "secret", root / "secret_link");
    fs::create_directory_symlink(root / "sub", root / "inner_link");
  }
  void TearDown() override { fs::remove_all(base); }
  fs::path base, root;
};

TEST_F(PathPolicy, AcceptsPathsInside) {
  const fs::path croot = fs::canonical(root);
  EXPECT_EQ(resolve_inside(root.string(), "sub/a.gguf"), (croot / "sub" / "a.gguf").string());
  EXPECT_EQ(resolve_inside(root.string(), "./sub/a.gguf"), (croot / "sub" / "a.gguf").string());
  EXPECT_EQ(resolve_inside(root.string(), "new/out.vindex"), (croot / "new" / "out.vindex").string());  // need not exist
  EXPECT_EQ(resolve_inside(root.string(), "inner_link/a.gguf"), (croot / "sub" / "a.gguf").string());
  EXPECT_EQ(resolve_inside(root.string() + "/", "sub"), (croot / "sub").string());
}

TEST_F(PathPolicy, RejectsEscapes) {
  const std::string r = root.string();
  for (const char* p : {"../outside/secret", "sub/../../outside/secret", "sub/..", "..", "/etc/passwd",
                        "escape/secret", "escape", "secret_link", "escape/new_file", "~/x", ""})
    EXPECT_THROW(resolve_inside(r, p), larql::Error) << p;
  EXPECT_THROW(resolve_inside(r, std::string("sub/a\0b", 7)), larql::Error);
  // A sibling folder sharing the root's name as a prefix is outside too.
  fs::create_directories(base / "models2");
  fs::create_directory_symlink(base / "models2", root / "sib");
  EXPECT_THROW(resolve_inside(r, "sib/x"), larql::Error);
}

TEST_F(PathPolicy, NeedsARootFolder) {
  EXPECT_THROW(resolve_inside("", "sub"), larql::Error);
  EXPECT_THROW(resolve_inside((root / "sub" / "a.gguf").string(), "x"), larql::Error);
  EXPECT_THROW(resolve_inside((base / "missing").string(), "x"), larql::Error);
}

TEST(LqlPolicy, SplitsStatementsOutsideQuotes) {
  EXPECT_EQ(split_statements("USE \"a;b\"; DESCRIBE 'x;y' ;;  STATS"),
            (std::vector<std::string>{"USE \"a;b\"", "DESCRIBE 'x;y'", "STATS"}));
  EXPECT_TRUE(split_statements("  ;\n; ").empty());
  EXPECT_EQ(split_statements("SAVE \"a\\\";b\"").size(), 1u);
}

TEST(LqlPolicy, WritingStatements) {
  EXPECT_TRUE(statement_writes("EXTRACT \"m.gguf\" INTO \"x.vindex\""));
  EXPECT_TRUE(statement_writes("  save \"p\""));
  EXPECT_TRUE(statement_writes("Compile INTO \"o\""));
  EXPECT_FALSE(statement_writes("USE \"x.vindex\""));
  EXPECT_FALSE(statement_writes("DESCRIBE \"SAVE\""));
  EXPECT_FALSE(statement_writes("SAVED"));
  EXPECT_FALSE(statement_writes(""));
}
