// LeaseService: etcdserverpb.Lease on the client port, as etcd serves it.
//
//   LeaseGrant       a Raft command. An ID of 0 gets one made here as etcd
//                    makes them (this member's id in the top 16 bits, the time
//                    in ms and a counter below), so ids from different members
//                    never collide; a TTL below the minimum (etcd's: 1.5
//                    election timeouts, rounded up to whole seconds) is raised
//                    to it; above 9e9 s: OUT_OF_RANGE "too large lease TTL"; an
//                    ID in use: FAILED_PRECONDITION "lease already exists".
//   LeaseRevoke      a Raft command: the lease and, in one revision, its keys
//                    go; NOT_FOUND "requested lease not found" if there is none.
//   LeaseKeepAlive   a stream: each request renews its lease through the
//                    LeaseKeeper (api/lease_keeper.h) and is answered, in the
//                    order the renewals apply, with the granted TTL, or TTL 0
//                    for a lease that does not exist (the stream goes on, as
//                    etcd's). A failed proposal (no leader) ends the stream
//                    with that error; clients open another.
//   LeaseTimeToLive  after a ReadIndex round: the seconds left by this
//                    member's clock (truncated), the granted TTL and, if asked,
//                    the attached keys in key order (read on the read pool);
//                    TTL -1 and no error for a lease that does not exist.
//   LeaseLeases      after a ReadIndex round: every lease id, soonest expiry
//                    first.
//
// Threads: handlers run on the server's I/O thread; proposals complete on the
// raft thread, where answers are sent from (cheap: a serialize and a queue).
#pragma once

#include <cstdint>

#include "api/etcd_server.h"
#include "api/lease_keeper.h"
#include "api/read_pool.h"
#include "kv/validate.h"
#include "rpc/server.h"

namespace meridian::api {

// What the methods use besides the node and store; each must outlive the
// server's stop().
struct LeaseParts {
  LeaseKeeper* keeper = nullptr;
  ReadPool* pool = nullptr;
  int64_t min_ttl = 2;  // seconds
  kv::Limits limits;    // the storage quota (api/quota.h) applies to grants
};

// etcd's minimum lease TTL for an election timeout: 1.5 of it, rounded up to
// whole seconds.
int64_t min_lease_ttl(uint32_t election_timeout_ms);

// Adds the methods above to `server`.
void register_lease(rpc::Server& server, const EtcdBackend& backend, LeaseParts parts);

}  // namespace meridian::api
