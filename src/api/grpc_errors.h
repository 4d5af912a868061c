// The gRPC status of every error the etcd API answers with: etcd's own code and
// message for each (etcdserver/api/v3rpc/rpctypes in etcd's source), because
// clients match on both. clientv3 turns a message it knows into a typed error
// (ErrCompacted, ErrNoLeader, ...), and its retry rules look at the code: a read
// is retried on another endpoint on UNAVAILABLE and on nothing else, a write is
// never retried once it reached a server (its outcome may be unknown). So every
// transient condition of the cluster (no leader, leader changed, timeout,
// stopping) is UNAVAILABLE, and everything the client must fix is not.
// Free functions; any thread.
#pragma once

#include <string_view>

#include "base/status.h"
#include "kv/errors.h"
#include "rpc/server.h"

namespace meridian::api {

// etcd's messages for conditions of the cluster rather than of the request.
inline constexpr std::string_view kNoLeaderMessage = "etcdserver: no leader";
inline constexpr std::string_view kLeaderChangedMessage = "etcdserver: leader changed";
inline constexpr std::string_view kTimeoutMessage = "etcdserver: request timed out";
inline constexpr std::string_view kStoppedMessage = "etcdserver: server stopped";
inline constexpr std::string_view kTooManyRequestsMessage = "etcdserver: too many requests";
// MoveLeader's (etcd answers the last with code UNKNOWN: it maps no code to it).
inline constexpr std::string_view kNotLeaderMessage = "etcdserver: not leader";
inline constexpr std::string_view kBadLeaderTransfereeMessage = "etcdserver: bad leader transferee";
inline constexpr std::string_view kLeaderTransferTimeoutMessage =
    "etcdserver: request timed out, leader transfer took too long";

// A store or validation error (kv::Errc::kOk gives OK).
rpc::Status kv_status(kv::Errc errc);

// A failed Node::propose or Node::read. The node's codes are coarser than
// etcd's errors, so its message (node/group.cc) tells them apart: a message this
// does not know keeps its text, under UNAVAILABLE if the node said kUnavailable.
rpc::Status node_status(const base::Status& status);

// "etcdserver: server stopped": the answer to a request the server will not finish.
rpc::Status stopped_status();

}  // namespace meridian::api
