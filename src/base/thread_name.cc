#include "base/thread_name.h"

#include <pthread.h>

#include <algorithm>
#include <cstring>
#include <string>

namespace meridian::base {

void set_thread_name(const char* name) {
  // pthread_setname_np refuses names past 15 characters; cut rather than fail.
  const std::string cut(name, std::min<size_t>(std::strlen(name), 15));
  (void)pthread_setname_np(pthread_self(), cut.c_str());
}

}  // namespace meridian::base
