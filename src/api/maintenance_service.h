// MaintenanceService: etcdserverpb.Maintenance on the client port.
//
//   Status   what `etcdctl endpoint status` and clients' status() ask: this
//            member's view of the coordination group from the node's
//            published status, and the store's size (fields below);
//   HashKV   the store's hash of the history readable at a revision
//            (kv/store_hash.h): equal on members that applied the same
//            writes, whatever their physical compaction has reached; computed
//            on the read pool, since it reads the whole store;
//   Hash     etcd's "whole backend" hash (for tests only, says etcd): here the
//            HashKV of the current revision, since the store holds nothing
//            else that members must agree on;
//   Defragment  the store rewritten on the Defragmenter's thread (api/
//            defragmenter.h), online: reads and writes go on (etcd blocks
//            them); answered when done;
//   MoveLeader  on the leader only (else FAILED_PRECONDITION "etcdserver: not
//            leader", as etcd; etcdctl finds the leader itself): hands the
//            group's leadership to a voter and answers once this member sees
//            it lead, polling the node's status every tick on the I/O thread,
//            up to the call's deadline (at most kMoveLeaderWaitMax).
//
//   Alarm    list, raise and disarm alarms (api/alarm.h); NOSPACE is raised
//            by the storage quota (api/quota.h);
//   Snapshot a consistent image of the store, streamed in pieces from the read
//            pool (api/snapshot_stream.h).
//
// StatusResponse fields, as etcd fills them:
//   version            "3.5.0+meridian.<Meridian's version>": the etcd API
//                      level the services answer as (clients such as clientv3
//                      with RejectOldCluster parse it as a semantic version,
//                      where build metadata after '+' is ignored), then ours;
//   dbSize, dbSizeInUse the store's live table files plus memtables (RocksDB
//                      frees a compacted file's space when it deletes the
//                      file, so there is no allocated-but-unused part to
//                      report apart, unlike etcd's bbolt file);
//   leader             the group's leader's member id (0: none known);
//   raftIndex, raftAppliedIndex, raftTerm  the group's commit index, applied
//                      index and term on this member;
//   isLearner          this member is a learner of the group;
//   errors             one per alarm raised, as etcd words them
//                      ("memberID:<id> alarm:NOSPACE ").
//
// Threads: handlers run on the server's I/O thread (HashKV's scan on the read
// pool); Node::status() and the store's size are safe from any thread and
// cost no wait.
#pragma once

#include <chrono>
#include <string>

#include <boost/asio/io_context.hpp>

#include "api/defragmenter.h"
#include "api/etcd_server.h"
#include "api/read_pool.h"
#include "etcd/etcdserver/etcdserverpb/rpc.pb.h"
#include "node/node.h"
#include "rpc/server.h"

namespace meridian::api {

// The etcd API level of the services, as StatusResponse.version reports it.
inline constexpr const char* kEtcdApiVersion = "3.5.0";

// The Status answer for `backend` from a published node status (pure: tested
// without a server).
etcdserverpb::StatusResponse make_status(const EtcdBackend& backend,
                                         const node::NodeStatus& node_status,
                                         const std::string& server_version, int64_t revision,
                                         uint64_t db_bytes);

inline constexpr std::chrono::seconds kMoveLeaderWaitMax{30};

// What the methods use besides the node and store; each must outlive the
// server's stop().
struct MaintenanceParts {
  boost::asio::io_context* io = nullptr;  // the server's I/O thread runs it
  ReadPool* pool = nullptr;
  Defragmenter* defragmenter = nullptr;
  std::string server_version;
};

// Adds the methods above to `server`.
void register_maintenance(rpc::Server& server, const EtcdBackend& backend, MaintenanceParts parts);

}  // namespace meridian::api
