// cat(a, b, ...): the parts streamed into one string (numbers, ids and anything
// with an operator<<), for error messages and logs. Any thread.
#pragma once

#include <sstream>
#include <string>

namespace meridian::base {

template <class... Args>
std::string cat(const Args&... args) {
  std::ostringstream os;
  (os << ... << args);
  return os.str();
}

}  // namespace meridian::base
