// CPU priority of background threads. Work that can wait (the store's
// compactor, RocksDB's compactions) runs at nice 10 so that, when the cores are
// busy, the threads that serve requests get them first (CFS gives a nice-10
// thread about a tenth of a nice-0 one's share), while idle cores still get the
// background work done at full speed.
#pragma once

namespace meridian::base {

// Lowers the calling thread's priority to background (nice 10). A failure
// (a sandbox that forbids it) leaves the priority as it was: it is only a hint.
void lower_this_thread_priority();

}  // namespace meridian::base
