#include "base/thread_priority.h"

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace meridian::base {

namespace {
constexpr int kBackgroundNice = 10;
}  // namespace

void lower_this_thread_priority() {
  // On Linux a nice value belongs to a thread: PRIO_PROCESS with the thread's id.
  const auto tid = static_cast<id_t>(syscall(SYS_gettid));
  (void)setpriority(PRIO_PROCESS, tid, kBackgroundNice);
}

}  // namespace meridian::base
