// Election Observe (api/election_service.h): one server stream that follows
// an election's leader, as etcd's concurrency.Election.Observe does:
//
//   look:    read the first-created key under the election's prefix. None:
//            watch the prefix from the read's revision until a key is put,
//            and take that key (with the put's revision as the header's). One:
//            take it with the read's header.
//   follow:  send it, then watch that key from the next revision: every put
//            is sent; its deletion goes back to look.
//
// A watch whose start was compacted goes back to look (etcd ends the stream).
// Responses wait in a queue of at most kObserveQueuedMax while the client is
// slow to read; beyond that the newest waiting one is replaced (etcd promises
// the latest leader value, not every value), so a stalled client costs a
// bounded amount of memory and the watch never stalls.
//
// Threads: the reactor's callbacks on the server's I/O thread, reads' answers
// on a ReadPool thread, watch events on the hub's delivery thread; one mutex
// guards the state, and is never held while calling the StoreClient. The
// reactor deletes itself at on_done; the state it shares with pending
// callbacks lives until the last of them.
#pragma once

#include <cstddef>
#include <memory>

#include "api/concurrency.h"
#include "rpc/server.h"

namespace meridian::api {

inline constexpr size_t kObserveQueuedMax = 64;

// The reactor of a new Observe stream (the server owns it until on_done).
rpc::StreamReactor* new_observe(std::shared_ptr<StoreClient> client, rpc::ServerStream* stream);

}  // namespace meridian::api
