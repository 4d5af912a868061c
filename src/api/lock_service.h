// LockService: v3lockpb.Lock on the client port, with the keys and behaviour
// of etcd's (its v3lock server runs clientv3/concurrency's Mutex; the steps
// below are etcd 3.5's, done in-process through api/concurrency.h).
//
//   Lock(name, lease)  A lock is the keys under name + "/", one per lease that
//                      wants it: name/<lease id in hex>, put with that lease.
//                      One transaction puts the key unless it exists (the same
//                      lease asking again keeps its place) and reads the key
//                      created first under the prefix. The key's create
//                      revision is its place in line: if no older key exists
//                      the lock is held at once; otherwise the request waits
//                      until every older key is deleted (Unlock, or its lease
//                      revoked or expired), watching the newest older one at a
//                      time, then checks that its own key is still there (its
//                      lease may have ended meanwhile: "mutex: session is
//                      expired"). The answer carries the key and the header of
//                      that acquisition. Lease 0: a lease of 60 s is granted
//                      for the request, as etcd's session does, and never kept
//                      alive (the caller learns its id from the key).
//   Unlock(key)        deletes the key; not an error if it is gone.
//
// Fencing: the create revision of the key Lock returns increases strictly
// from one holder of a lock to the next (a holder's key is created before the
// next holder's key, which waits for it), so it is a fencing token
// (docs/locks.md).
//
// A Lock whose answer nobody will receive (the client cancelled or went away,
// its deadline passed, the server stopped) deletes the key it made or waited
// with, as etcd does when the request's context ends, so a gone client does
// not hold the lock until its lease ends.
//
// Errors as etcd's: UNKNOWN with etcd's message for what the request got wrong
// ("etcdserver: requested lease not found", "etcdserver: key is not
// provided", "mutex: session is expired"); the KV service's codes for the
// cluster's conditions (UNAVAILABLE "etcdserver: no leader", ...).
//
// Threads: handlers run on the server's I/O thread; the steps continue on the
// threads StoreClient calls back on.
#pragma once

#include <memory>

#include "api/concurrency.h"
#include "rpc/server.h"

namespace meridian::api {

// etcd's session TTL when a Lock or Campaign names lease 0 (concurrency's
// defaultSessionTTL).
inline constexpr int64_t kSessionTtlSeconds = 60;

// Adds /v3lockpb.Lock/Lock and /v3lockpb.Lock/Unlock to `server`.
void register_lock(rpc::Server& server, std::shared_ptr<StoreClient> client);

}  // namespace meridian::api
