#include "base/assert.h"

#include <cstdio>
#include <cstdlib>

namespace meridian::base {

void assert_fail(const char* file, int line, const char* cond, const std::string& msg) {
  std::fprintf(stderr, "MERIDIAN_ASSERT failed at %s:%d: %s %s\n", file, line, cond, msg.c_str());
  std::fflush(stderr);
  std::abort();
}

}  // namespace meridian::base
