// Names the calling thread as `top -H`, perf and gdb show it, so a profile says
// which of a node's threads spends the time (the kernel keeps 15 characters).
#pragma once

namespace meridian::base {

void set_thread_name(const char* name);

}  // namespace meridian::base
