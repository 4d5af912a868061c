// SimNode: one simulated server. It owns a raft::Replica, the node's storage (the
// real journal and snapshot store over a fault-injecting file system, see
// node_storage.h) and its copy of the KV state machine, and runs the Replica host
// loop of raft/replica.h against virtual time:
//
//   take a Ready (whenever none is in flight)
//     -> send ready.messages at once
//     -> write the snapshot (to the snapshot store, synced), then entries and hard
//        state (one journal write, not yet durable)
//     -> if ready.must_sync: wait a random disk latency for the fsync
//   at sync completion (or at once when nothing needs a sync; a commit-only
//   write is then synced at once, at no cost in virtual time, so that no second
//   journal write ever starts before the previous one is synced)
//     -> sync the journal, send ready.messages_after_persist, install the snapshot
//        into the state machine, apply committed entries (taking an application
//        snapshot every so often, written and synced on the spot, with
//        compaction), serve read states whose index is applied, advance(), look
//        for the next Ready.
//
// A crash drops the Replica, the state machine, the storage objects and every
// in-flight Ready and read; a power loss also loses part of what was not synced
// (NodeStorage::crash). A write may also fail because the power went out in the
// middle of it (a torn write armed by the Cluster): the node crashes on the spot
// and tells its host. A restart runs the storage's recovery, restores the state
// machine from the latest snapshot and builds a fresh Replica over the journal
// with Config.applied = the snapshot index; committed entries after it are
// re-applied as the Replica hands them out. Any storage error other than a torn
// write is a failure of the run, never ignored.
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
#include "sim/node_storage.h"

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
  // The node's power failed in the middle of a disk write; it is down already.
  // Called from inside the node's input: the host must not act on it synchronously.
  virtual void node_power_failed(SimNode& n) = 0;
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
  uint64_t file_system_seed = 0;  // the node's disk's own random choices
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

  const NodeStorage& storage() const { return storage_; }
  // The log as the replica reads it (the journal); the node must be up.
  const raft::LogStorage& log() const { return storage_.log(); }
  const KvStateMachine& kv() const { return kv_; }
  raft::Index applied() const { return applied_; }
  const raft::ConfState& conf_state() const { return conf_; }
  // The live replica; up() must hold.
  raft::Replica& replica();
  const raft::Replica& replica() const;
  raft::Role role() const { return last_role_; }
  raft::Term term() const { return last_term_; }

  // Lifecycle. bootstrap() writes an initial member's state, before its first start.
  void bootstrap(const raft::Snapshot& snap, const raft::HardState& hs);
  void start();
  // keep_unsynced_ppm set: a power loss (see NodeStorage::crash); nullopt: the
  // process dies and the page cache survives.
  void crash(std::optional<uint32_t> keep_unsynced_ppm);
  // See NodeStorage::arm_torn_write; n = 0 disarms.
  void arm_torn_write(uint64_t n, uint32_t keep_unsynced_ppm) {
    storage_.arm_torn_write(n, keep_unsynced_ppm);
  }

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
  bool maybe_snapshot(const raft::Entry& last_applied);
  // A storage call failed: a torn write crashes the node, anything else fails the
  // run. Returns false (the caller stops).
  bool storage_failed(const char* invariant, const raft::Status& s);
  void serve_reads();

  NodeParams params_;
  NodeHost* host_;
  NodeStorage storage_;
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
