// ClusterService: etcdserverpb.Cluster on the client port. MemberList is
// served: the coordination group's members as its Raft configuration says
// after a linearizable read (a change made through any member is seen) (voters and learners; both
// sides of a joint configuration), sorted by id as etcd sorts them, each with the record it
// published (api/member_publisher.h): name, peer and client URLs. A member that has not published
// yet is listed as etcd lists an unstarted one: no name, no client URLs, the peer URL it was
// configured with.
//
// MemberAdd, MemberRemove, MemberUpdate and MemberPromote: api/member_changes.h.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "api/etcd_server.h"
#include "rpc/server.h"

namespace meridian::api {

// The MemberList answer from a Raft configuration and the published records
// (pure: tested without a server).
etcdserverpb::MemberListResponse make_member_list(
    const raft::ConfState& conf, const std::vector<etcdserverpb::Member>& records,
    const std::map<uint64_t, std::string>& initial_peer_urls);

void register_cluster(rpc::Server& server, const EtcdBackend& backend,
                      std::map<uint64_t, std::string> initial_peer_urls);

}  // namespace meridian::api
