// Node: one Meridian process's share of the cluster. Hosts a replica of every Raft
// group the cluster runs, on one thread (the "raft thread": all Raft state and
// state machines are owned by it; other threads reach them by posting work),
// persists through the storage layer's group committer (one write and one fsync
// per round for all groups), and talks to peers through the net transport
// (running on its own io thread).
//
// The loop per group (raft/replica.h has the contract):
//   tick timer / peer messages / proposals -> Replica -> Ready:
//     send `messages` at once; snapshot file written, entries and hard state
//     handed to the group committer; when durable (posted back): send
//     `messages_after_persist`, install a received snapshot into the state
//     machine, apply committed entries, answer proposals and reads, advance().
//   Every snapshot_entries applied entries a group snapshots its state machine
//   and compacts its log.
//
// Requests (any thread): propose() completes with the state machine's result once
// applied here, whichever member leads (followers forward to the leader); it
// fails with kNotLeader naming the leader when it cannot be appended (no leader,
// transfer in progress), or kUnavailable on timeout. read() runs a query against
// the state machine, after a ReadIndex round when linearizable.
//
// Shutdown: stop() first hands leadership of every group this node leads to the
// most caught-up voter (waiting up to shutdown_transfer_timeout_ms), so that
// stopping a leader costs no election timeout; then stops the network and storage.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "base/ids.h"
#include "base/status.h"
#include "node/membership.h"
#include "node/node_options.h"
#include "node/state_machine.h"
#include "observe/metrics.h"
#include "raft/replica.h"
#include "raft/types.h"

namespace meridian::node {

struct GroupStatus {
  GroupId group;
  raft::Term term;
  raft::NodeId leader;
  raft::Role role = raft::Role::kFollower;
  raft::Index commit;
  raft::Index applied;
  raft::Index last_index;
  raft::Index first_index;
  raft::Index snapshot_index;
  raft::ConfState conf_state;
  uint64_t leader_changes = 0;
  uint64_t proposals_committed = 0;  // proposed through this node and applied
  uint64_t proposals_failed = 0;     // proposed through this node and failed
  uint64_t pending_proposals = 0;
  uint64_t pending_reads = 0;
  uint64_t read_rounds = 0;  // ReadIndex rounds asked (each serves every read waiting)
  uint64_t snapshots_sent = 0, snapshots_received = 0, snapshots_taken = 0;
  std::map<raft::NodeId, raft::Index> match;  // leader only: each member's match index
  // Leader only: the members heard from within the last election timeout.
  std::set<raft::NodeId> recently_active;
};

struct NodeStatus {
  raft::NodeId id;
  uint64_t cluster_id = 0;
  std::string cluster_token;
  std::vector<GroupStatus> groups;
  uint64_t journal_bytes = 0;
  uint64_t journal_syncs = 0;
  uint64_t raft_queue_depth = 0;    // tasks posted to the raft thread, not yet run
  uint64_t commit_queue_depth = 0;  // batches handed to the group committer, not yet durable
  // Peers this node's transport is connected to now (its outgoing connections).
  std::set<raft::NodeId> connected_peers;
  bool storage_failed = false;
  bool no_space = false;  // the disk is full: writes stall until space returns
  bool stopping = false;
};

struct ProposeResult {
  raft::Index index;   // where the command was applied
  std::string result;  // what the state machine returned
};

class Node {
 public:
  // Opens (or, when the data dir is empty, bootstraps) the node: recovers the
  // journal and snapshots, restores every group's state machine from its latest
  // snapshot (the log replays the rest as it commits again), binds the peer
  // port and starts the threads. Fails with a clear status if the data dir
  // belongs to another cluster or node id, or a port cannot be bound.
  static base::Result<std::unique_ptr<Node>> start(NodeOptions options, observe::Registry* metrics);
  ~Node();  // stop() if not yet stopped
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  using ProposeDone = std::function<void(base::Result<ProposeResult>)>;
  // `done` runs on the raft thread; keep it quick.
  void propose(GroupId group, std::string command, ProposeDone done);

  // `query` runs on the raft thread against the group's state machine, after a
  // ReadIndex round (linearizable) or at once (serializable: may be stale).
  using Query = std::function<std::string(const StateMachine&)>;
  using ReadDone = std::function<void(base::Result<std::string>)>;
  void read(GroupId group, bool linearizable, Query query, ReadDone done);

  // Proposes a membership change of one group (node/membership.h); `done` (on
  // the raft thread) once it is applied here, or with why it was refused: a
  // change that does not fit the group's membership (kFailedPrecondition),
  // another change still in progress (kFailedPrecondition), no leader
  // (kNotLeader), or a timeout (kUnavailable; it may still be applied).
  // A member removed from every group leaves the transport's peers; this node's
  // own removal sets removed().
  void propose_membership(GroupId group, MembershipChange change, ProposeDone done);
  // The group's membership as of a linearizable read: every change committed
  // before the call is in it. `done` runs on the raft thread.
  using MembershipDone = std::function<void(base::Result<raft::ConfState>)>;
  void read_membership(GroupId group, MembershipDone done);
  // Where peer `id`'s peer port is ("host:port"): for members added after the
  // start, whose addresses the application replicates (kv member records).
  // Any thread.
  void set_peer(raft::NodeId id, std::string address);
  // This node was removed from every group it hosted (it should stop: no
  // member will talk to it again).
  bool removed() const;

  // Asks the group's leader to hand leadership to `target` (tests, operators).
  void transfer_leader(GroupId group, raft::NodeId target);

  // Graceful stop (see above). Idempotent; safe from any thread but the raft one.
  void stop();
  // Stops at once, without handing leadership over (as a crash would, but what
  // was synced stays synced): for tests of failover.
  void halt();
  // Blocks until stop() has finished (from a signal handler's thread, say).
  void wait_stopped();
  bool stopped() const;

  // Thread-safe; refreshed every tick (at most one tick old).
  NodeStatus status() const;
  // True if the node is a member of every group with a known leader and its
  // applied index is within `max_lag` entries of the commit index it knows.
  bool ready(uint64_t max_lag = 1000) const;
  raft::NodeId id() const;
  uint16_t peer_port() const;
  // The group's current term and leader as of the last tick (0 if unknown).
  raft::Term term(GroupId group) const;
  raft::NodeId leader(GroupId group) const;

  struct Impl;

 private:
  explicit Node(std::unique_ptr<Impl> impl);
  void stop_impl(bool hand_over);
  std::unique_ptr<Impl> impl_;
};

}  // namespace meridian::node
