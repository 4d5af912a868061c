// MERIDIAN_ASSERT: the project's invariant check. A broken invariant is a bug, so
// the check stays on in release builds and stops the process with a message
// naming the file, line, condition and the values given after it.
//
//   MERIDIAN_ASSERT(match <= last, "match ", match, " past last index ", last);
//
// Expected failures (not leader, compacted, disk full) are never asserted; they
// are returned as values (see base/status.h).
#pragma once

#include <sstream>
#include <string>

namespace meridian::base {

[[noreturn]] void assert_fail(const char* file, int line, const char* cond, const std::string& msg);

template <class... Args>
std::string concat_for_assert(const Args&... args) {
  std::ostringstream os;
  (os << ... << args);
  return os.str();
}

}  // namespace meridian::base

#define MERIDIAN_ASSERT(cond, ...)                                                     \
  do {                                                                                 \
    if (!(cond)) [[unlikely]] {                                                        \
      ::meridian::base::assert_fail(__FILE__, __LINE__, #cond,                         \
                                    ::meridian::base::concat_for_assert(__VA_ARGS__)); \
    }                                                                                  \
  } while (0)
