// ElectionService: v3electionpb.Election on the client port, with the keys and
// behaviour of etcd's (its v3election server runs clientv3/concurrency's
// Election; the same steps here, in-process through api/concurrency.h).
//
// An election is the keys under name + "/", one per candidate lease:
// name/<lease id in hex>, holding the candidate's value, put with its lease.
// The leader is the candidate whose key was created first.
//
//   Campaign(name, lease, value)  puts the key unless it exists (a candidate
//       campaigning again keeps its place, and proclaims the new value if it
//       differs), then waits until every key created before it is deleted:
//       the campaigner is then leader. Answer: the header of the first
//       transaction and LeaderKey{name, key, rev (the key's create revision),
//       lease}. Lease 0: a 60 s lease is granted for it, never kept alive. A
//       campaign whose answer nobody will receive (cancelled, deadline, server
//       stopped) resigns, as etcd's does when its context ends.
//   Proclaim(leader, value)  puts the value if the leader key still has the
//       create revision leader.rev; otherwise "election: not leader".
//   Resign(leader)  deletes the leader key if it still has that create
//       revision; not an error otherwise.
//   Leader(name)  the first-created key's key-value, or "election: no leader".
//   Observe(name)  a stream of LeaderResponse: the current leader's key-value
//       (waiting for the first candidate if there is none), then every later
//       put of that key; once it is deleted, the next leader, and so on. Its
//       watches start where the last read or event left off, so no leader's
//       value is skipped; when the client reads slower than the values
//       change, waiting values are replaced by newer ones (etcd promises the
//       latest value, not every value).
//
// Errors as etcd's: UNKNOWN with etcd's message for the request's own faults
// ("election: not leader", "election: no leader", "\"leader\" field must be
// provided", store errors such as "etcdserver: requested lease not found");
// the KV service's codes for the cluster's conditions. An Observe stream ends
// with such an error (etcd ends it with OK).
//
// Threads: handlers and stream callbacks run on the server's I/O thread; the
// steps continue on the threads StoreClient calls back on.
#pragma once

#include <memory>

#include "api/concurrency.h"
#include "rpc/server.h"

namespace meridian::api {

// Adds /v3electionpb.Election/{Campaign,Proclaim,Leader,Resign} (unary) and
// /v3electionpb.Election/Observe (a server stream) to `server`.
void register_election(rpc::Server& server, std::shared_ptr<StoreClient> client);

}  // namespace meridian::api
