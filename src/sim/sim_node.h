// SimNode: one simulated server. It owns a raft::Replica, the node's SimDisk and
// its copy of the KV state machine, and runs the Replica host loop of
// raft/replica.h against virtual time:
//
//   take a Ready (whenever none is in flight)
//     -> send ready.messages at once
//     -> write snapshot, entries, hard state to the disk's page cache
//     -> if ready.must_sync: wait a random disk latency for the fsync
//   at sync completion (or at once when nothing needs a sync)
//     -> the durable copy catches up, send ready.messages_after_persist,
//        install the snapshot into the state machine, apply committed entries,
//        serve read states whose index is applied, advance(), look for the next Ready.
//
// A crash drops the Replica, the state machine and every in-flight Ready and read;
// the disk keeps what was synced plus a prefix of what was not. A restart builds a
// fresh Replica over the page cache rebuilt from the durable copy, with
// Config.applied = the snapshot index, and restores the state machine from the
// snapshot; committed entries after it are re-applied as the Replica hands them out.
//
// Owned by the Cluster; single-threaded. Calls back into a NodeHost for everything
// outside the node (network, time, invariant checks, clients). Callbacks never
// re-enter the node synchronously except through the documented entry points.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "raft/replica.h"
#include "sim/kv_state_machine.h"
#include "sim/sim_disk.h"

namespace meridian::sim {

class SimNode;

// What a node needs from the world around it. Implemented by the Cluster.
class NodeHost {
 public:
  virtual ~NodeHost() = default;
  virtual void node_send(const SimNode& from, raft::Message m) = 0;
  virtual void node_schedule(uint64_t delay_us, std::function<void()> fn) = 0;
  virtual uint64_t node_disk_latency_us() = 0;
  virtual void node_trace(std::string line) = 0;
  // A safety violation or an impossible host-level state, found by the node.
  virtual void node_failure(std::string invariant, std::string detail) = 0;
  // Observations (for invariants and clients), in the order they happen.
  virtual void node_role_changed(SimNode& n) = 0;
  // A Ready was taken and its writes are in the page cache (before any sync).
  virtual void node_ready_written(SimNode& n, const raft::Ready& rd, raft::Index old_commit) = 0;
  virtual void node_snapshot_installed(SimNode& n, const raft::SnapshotMeta& meta) = 0;
  virtual void node_entry_applied(SimNode& n, const raft::Entry& e) = 0;
  virtual void node_command_applied(SimNode& n, const Command& c, const ApplyResult& r) = 0;
  // A ReadState with this context is served: applied >= its index.
  virtual void node_read_ready(SimNode& n, const std::string& context) = 0;
};

struct NodeParams {
  raft::NodeId id;
  raft::Config config;  // id, seed and planted bug set by the Cluster; applied set per start
  // Application snapshot every this many applied entries (0: never).
  uint64_t snapshot_every_entries = 0;
  // Entries kept below an application snapshot when compacting, so that slightly
  // lagging followers still catch up from the log.
  uint64_t snapshot_keep_entries = 0;
};

class SimNode {
 public:
  SimNode(const NodeParams& params, NodeHost* host);

  raft::NodeId id() const { return params_.id; }
  bool up() const { return replica_ != nullptr; }
  // Bumped at every crash; events scheduled for an earlier incarnation are void.
  uint64_t incarnation() const { return incarnation_; }

  SimDisk& disk() { return disk_; }
  const SimDisk& disk() const { return disk_; }
  const KvStateMachine& kv() const { return kv_; }
  raft::Index applied() const { return applied_; }
  const raft::ConfState& conf_state() const { return conf_; }
  // The live replica; up() must hold.
  raft::Replica& replica();
  const raft::Replica& replica() const;
  raft::Role role() const { return last_role_; }
  raft::Term term() const { return last_term_; }

  // Lifecycle.
  void start();
  // Power loss; `kept` unsynced disk writes survive (see SimDisk::crash).
  void crash(size_t kept);

  // Inputs (the node must be up). Each drives the host loop afterwards.
  void tick();
  void deliver(raft::Message m);
  raft::Status propose(std::string data);
  raft::Status propose_conf_change(const raft::ConfChange& cc);
  void read_index(std::string context);
  void report_snapshot(raft::NodeId to, bool ok);

 private:
  void after_input();
  void observe_role();
  void pump();
  void take_ready();
  bool write_ready(const raft::Ready& rd);
  void finish_ready(uint64_t incarnation);
  void install_snapshot(const raft::Snapshot& snap);
  bool apply_entry(const raft::Entry& e);
  void maybe_snapshot();
  void serve_reads();

  NodeParams params_;
  NodeHost* host_;
  SimDisk disk_;
  std::unique_ptr<raft::Replica> replica_;
  KvStateMachine kv_;
  raft::ConfState conf_;
  raft::Index applied_;
  raft::Index commit_seen_;  // commit of the last hard state written
  uint64_t incarnation_ = 0;
  std::optional<raft::Ready> ready_;  // taken, not yet advanced
  std::vector<raft::ReadState> pending_reads_;
  raft::Role last_role_ = raft::Role::kFollower;
  raft::Term last_term_;
  raft::NodeId last_leader_ = raft::kNoNode;
  bool in_pump_ = false;
};

}  // namespace meridian::sim
