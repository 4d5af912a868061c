// MemberChanges: etcdserverpb.Cluster's MemberAdd, MemberRemove, MemberUpdate
// and MemberPromote, driven by Raft membership changes (node/membership.h).
//
// - MemberAdd gives the new member the next id (above every id the cluster
//   ever had, removed members included: their records stay as tombstones) and
//   proposes it to every group the node hosts, the coordination group first,
//   as a learner or a voter; the change carries the member's record (its peer
//   URLs), which every member stores when it applies the change and dials from
//   then on (api/peer_directory.h). The new member is then started with
//   `--initial-cluster-state existing` and catches up from the leader.
// - MemberRemove removes a voter or learner from every group; the removed
//   member learns it and stops serving.
// - MemberPromote makes a learner a voter once it has caught up: the leader
//   refuses while the learner's log is below 90% of its own, as etcd's does; a
//   follower cannot see the learner's progress and proposes it as asked.
// - MemberUpdate replaces a member's peer URLs (a command through the log).
//
// Errors are etcd's codes and messages: unknown member NOT_FOUND, peer URLs
// in use or a change that does not fit FAILED_PRECONDITION, bad URLs
// INVALID_ARGUMENT; no leader and timeouts UNAVAILABLE.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <google/protobuf/message.h>

#include "api/etcd_server.h"
#include "node/membership.h"
#include "rpc/server.h"

namespace meridian::api {

inline constexpr std::string_view kMemberNotFoundMessage = "etcdserver: member not found";
inline constexpr std::string_view kMemberExistsMessage = "etcdserver: member ID already exist";
inline constexpr std::string_view kPeerUrlExistsMessage = "etcdserver: Peer URLs already exists";
inline constexpr std::string_view kBadUrlsMessage = "etcdserver: given member URLs are invalid";
inline constexpr std::string_view kNotLearnerMessage =
    "etcdserver: can only promote a learner member";
inline constexpr std::string_view kUnhealthyMessage = "etcdserver: unhealthy cluster";
inline constexpr std::string_view kLearnerNotReadyMessage =
    "etcdserver: can only promote a learner member which is in sync with leader";

// Meridian's own field of MemberAddRequest and of the member record, beyond
// etcd (its clients neither send nor see it: protobuf keeps it as an unknown
// field): promote this learner by itself once it has caught up
// (api/learner_promoter.h). `meridian member add --auto-promote` sets it.
inline constexpr int kAutoPromoteField = 1000;
bool wants_auto_promote(const google::protobuf::Message& m);
void set_auto_promote(google::protobuf::Message* m);

// The id MemberAdd gives: one above every id in the configuration, the member
// records (tombstones included) and the initial members.
uint64_t next_member_id(const raft::ConfState& conf,
                        const std::vector<etcdserverpb::Member>& records,
                        const std::map<uint64_t, std::string>& initial_peer_urls);

// etcd's strict reconfiguration check: after `type` of `node`, the voters that
// are recently active (`active`, as the leader `self` sees them; itself
// included) are still a quorum of the voters. Adding a voter while a member is
// down could otherwise leave the cluster without a quorum until the new member
// starts. Learners do not count, and adding one always passes.
bool keeps_quorum(const raft::ConfState& conf, const std::set<raft::NodeId>& active,
                  raft::NodeId self, raft::ConfChangeType type, raft::NodeId node);

// A learner whose log reaches `match` is caught up with a leader whose log ends
// at `leader_last`: at least 90% of it, etcd's rule.
bool learner_caught_up(uint64_t match, uint64_t leader_last);

// Proposes `change` to every group the node hosts, `first` first, one after
// the other; `done` (on the raft thread) with the first failure, naming its
// group, or OK after the last.
void change_every_group(node::Node* node, GroupId first, node::MembershipChange change,
                        std::function<void(base::Status)> done);

void register_member_changes(rpc::Server& server, const EtcdBackend& backend,
                             std::map<uint64_t, std::string> initial_peer_urls);

}  // namespace meridian::api
