// Shared helpers for the chat template tests.
#pragma once
#include <ctime>
#include <fstream>
#include <sstream>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "chat/template.h"

namespace larql::test {

inline std::string chat_data_dir() { return std::string(LARQL_SOURCE_DIR) + "/tests/unit/chat/data"; }

inline std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

inline nlohmann::ordered_json read_json(const std::string& path) {
  return nlohmann::ordered_json::parse(read_file(path));
}

// The clock gen_expected.py gives strftime_now(): 2024-07-26 13:05:09, a Friday.
inline chat::RenderOptions fixed_clock() {
  std::tm tm{};
  tm.tm_year = 2024 - 1900;
  tm.tm_mon = 6;
  tm.tm_mday = 26;
  tm.tm_hour = 13;
  tm.tm_min = 5;
  tm.tm_sec = 9;
  tm.tm_wday = 5;
  tm.tm_yday = 207;
  chat::RenderOptions opt;
  opt.now = tm;
  return opt;
}

// Outcome of one render, comparable with the "expected" objects in data/*.json:
// {"out": text} or {"error": message, "raised": bool}.
struct Outcome {
  bool ok = false;
  std::string out;
  bool raised = false;
  std::string error;
};

template <class F>
Outcome run_render(F&& f) {
  Outcome o;
  try {
    o.out = f();
    o.ok = true;
  } catch (const chat::TemplateRaised& e) {
    o.raised = true;
    o.error = e.message();
  } catch (const Error& e) {
    o.error = e.what();
  }
  return o;
}

// Jinja2 and LARQL agree when both render the same text, or both fail; a
// raise_exception() failure must carry the same message.
inline ::testing::AssertionResult matches(const nlohmann::ordered_json& expected, const Outcome& got) {
  if (expected.contains("out")) {
    if (got.ok && got.out == expected["out"].get<std::string>()) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << "expected output:\n[" << expected["out"].get<std::string>() << "]\ngot "
                                         << (got.ok ? "output:\n[" + got.out + "]" : "error: " + got.error);
  }
  const bool raised = expected.value("raised", false);
  if (got.ok)
    return ::testing::AssertionFailure() << "expected an error (" << expected["error"].get<std::string>()
                                         << "), got output:\n[" << got.out << "]";
  if (raised && (!got.raised || got.error != expected["error"].get<std::string>()))
    return ::testing::AssertionFailure() << "expected raise_exception('" << expected["error"].get<std::string>()
                                         << "'), got " << (got.raised ? "raise_exception('" : "error '") << got.error << "'";
  return ::testing::AssertionSuccess();
}

}  // namespace larql::test
