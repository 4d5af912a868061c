// Handing memory that the process freed back to the kernel.
//
// glibc keeps freed memory in its arenas for reuse. After a burst of many small
// allocations (a Range answer of 250,000 keys is a string per key and value,
// ~100 MiB) the freed space stays, split among per-thread arenas, and the node
// stays that much larger: measured, +388 MiB after three 71 MB answers, until
// this is called. Bounding the number of arenas instead (M_ARENA_MAX) also kept
// it down but cost ~15% of write throughput in lock waits.
#pragma once

namespace meridian::base {

// malloc_trim: walks every arena's heap, holding that arena's lock, and gives
// its free pages back. Milliseconds for a large heap: call it after the rare
// large bursts, off the threads that serve requests, never per request.
void release_free_memory();

}  // namespace meridian::base
