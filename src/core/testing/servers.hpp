#pragma once
// The first step of every fixture that runs against a real server: take its URL from the
// environment, or skip the test when it is not set — except under TIKETI_REQUIRE_SERVERS=1 (what
// scripts/test sets after starting PostgreSQL and Redis), where a missing server is a failure, so a
// suite that silently skipped its PostgreSQL half can never pass as green. Header-only; tests only.
#include <gtest/gtest.h>

#include <cstdlib>
#include <string_view>

namespace tiketi::test_support {

inline bool require_servers() {
  const char* v = std::getenv("TIKETI_REQUIRE_SERVERS");
  return v != nullptr && std::string_view(v) == "1";
}

// The variable's value, or nullptr when it is unset or empty.
inline const char* server_url(const char* env) {
  const char* v = std::getenv(env);
  return v != nullptr && *v != '\0' ? v : nullptr;
}

}  // namespace tiketi::test_support

// Declares `const char* var` holding the URL in the environment variable `env` (a string literal);
// skips (or fails, see above) the calling void function — SetUp or a test body — when it is unset.
#define TIKETI_SERVER_URL_OR_SKIP(var, env)                          \
  const char* var = ::tiketi::test_support::server_url(env);         \
  if (var == nullptr) {                                              \
    if (::tiketi::test_support::require_servers()) {                 \
      FAIL() << env " is not set but TIKETI_REQUIRE_SERVERS=1";      \
    }                                                                \
    GTEST_SKIP() << env " not set; skipping the tests that need it"; \
  }

#define TIKETI_POSTGRES_URL_OR_SKIP(var) TIKETI_SERVER_URL_OR_SKIP(var, "TIKETI_TEST_POSTGRES_URL")
#define TIKETI_REDIS_URL_OR_SKIP(var) TIKETI_SERVER_URL_OR_SKIP(var, "TIKETI_TEST_REDIS_URL")
