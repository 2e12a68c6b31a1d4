// Shared assertions for the AMX run-time self-checks (amx_gemm_test.cpp,
// amx_bf16_test.cpp): the good backend passes silently, the faulty one is
// rejected with exactly one stderr line that contains `message`.
#pragma once
#include <gtest/gtest.h>

#include <algorithm>
#include <string>

namespace larql::test {

template <class Fn>
void expect_self_check(bool (*self_check)(Fn, const char*), Fn good, Fn faulty, const std::string& message) {
  ::testing::internal::CaptureStderr();
  EXPECT_TRUE(self_check(good, "model"));
  EXPECT_EQ(::testing::internal::GetCapturedStderr(), "");
  ::testing::internal::CaptureStderr();
  EXPECT_FALSE(self_check(faulty, "faulty model"));
  const std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_NE(err.find(message), std::string::npos) << err;
  EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;
}

}  // namespace larql::test
