// Locations of the shared fixtures, and a visible skip when they are absent.
#pragma once
#include <cstdlib>
#include <filesystem>
#include <string>

namespace larql::test {

inline std::string shared_dir() {
  if (const char* e = std::getenv("LARQL_SHARED_DIR")) return e;
  return LARQL_SHARED_DIR;
}
inline std::string fixtures_dir() { return shared_dir() + "/fixtures"; }
inline bool have_fixtures() { return std::filesystem::is_directory(fixtures_dir()); }

}  // namespace larql::test

#define LARQL_REQUIRE_FIXTURES()                                                        \
  do {                                                                                  \
    if (!larql::test::have_fixtures())                                                  \
      GTEST_SKIP() << "SKIPPED: fixtures not found at " << larql::test::fixtures_dir() \
                   << " (../shared absent)";                                            \
  } while (0)
