// A minimal test harness for the C++ unit tests (one executable per test file, run by ctest):
// TEST(name) { CHECK(cond); CHECK_NEAR(a, b, tol); CHECK_THROWS(expr, Type); } and main() from
// MUSICEDGE_TEST_MAIN. A failed check prints its file, line and expression; the exit status is the
// number of failed tests (capped at 1).
#pragma once

#include <cmath>
#include <cstdio>
#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace check {

struct Registry {
  std::vector<std::pair<std::string, std::function<void()>>> tests;
  int failures_in_test = 0;
  static Registry& get() {
    static Registry r;
    return r;
  }
};

struct Register {
  Register(const char* name, std::function<void()> fn) { Registry::get().tests.emplace_back(name, std::move(fn)); }
};

inline void fail(const char* file, int line, const std::string& what) {
  std::fprintf(stderr, "  %s:%d: %s\n", file, line, what.c_str());
  ++Registry::get().failures_in_test;
}

inline int run_all() {
  int failed = 0;
  for (auto& [name, fn] : Registry::get().tests) {
    Registry::get().failures_in_test = 0;
    try {
      fn();
    } catch (const std::exception& e) {
      fail(__FILE__, __LINE__, std::string("unexpected exception: ") + e.what());
    }
    const bool ok = Registry::get().failures_in_test == 0;
    std::printf("[%s] %s\n", ok ? "  OK  " : "FAILED", name.c_str());
    failed += ok ? 0 : 1;
  }
  std::printf("%zu tests, %d failed\n", Registry::get().tests.size(), failed);
  return failed ? 1 : 0;
}

}  // namespace check

#define TEST(name)                                                 \
  static void test_##name();                                       \
  static check::Register register_##name(#name, test_##name);      \
  static void test_##name()

#define CHECK(cond) \
  do {              \
    if (!(cond)) check::fail(__FILE__, __LINE__, "CHECK(" #cond ")"); \
  } while (0)

#define CHECK_NEAR(a, b, tol)                                                                              \
  do {                                                                                                     \
    const double va_ = (a), vb_ = (b);                                                                     \
    if (!(std::fabs(va_ - vb_) <= (tol)))                                                                  \
      check::fail(__FILE__, __LINE__,                                                                      \
                  "CHECK_NEAR(" #a ", " #b "): " + std::to_string(va_) + " vs " + std::to_string(vb_));   \
  } while (0)

#define CHECK_THROWS(expr, type)                                                          \
  do {                                                                                    \
    bool thrown_ = false;                                                                 \
    try {                                                                                 \
      expr;                                                                               \
    } catch (const type&) {                                                               \
      thrown_ = true;                                                                     \
    }                                                                                     \
    if (!thrown_) check::fail(__FILE__, __LINE__, "CHECK_THROWS(" #expr ", " #type ")"); \
  } while (0)

#define MUSICEDGE_TEST_MAIN \
  int main() { return check::run_all(); }
