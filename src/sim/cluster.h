// Cluster: the simulated world of one run. It owns the event queue (virtual
// time), the run's single Rng, the network model, the nodes, the trace and the
// safety checker, and it is every node's NodeHost: it carries messages through
// the network, schedules ticks and disk syncs, crashes and restarts nodes, and
// forwards every observation to the SafetyChecker (and client-facing ones to a
// ClusterListener, the client workload).
//
// Single-threaded; owned by run_simulation. The first violation found is kept
// and stops run_until(); nothing after it runs.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "raft/config.h"
#include "sim/event_queue.h"
#include "sim/invariants.h"
#include "sim/network.h"
#include "sim/random.h"
#include "sim/sim_node.h"
#include "sim/trace.h"

namespace meridian::sim {

struct ClusterParams {
  int pool_size = 5;       // nodes 1..pool_size all run; members or not
  int initial_voters = 3;  // nodes 1..initial_voters start as the voters
  raft::Config raft;       // template for every node (id and seed set per node)
  uint64_t tick_us = 10 * kMicrosPerMilli;
  uint64_t snapshot_every_entries = 0;
  uint64_t snapshot_keep_entries = 0;
  // Time from a Ready's writes to its fsync completing.
  uint64_t disk_latency_min_us = 0;
  uint64_t disk_latency_max_us = 0;
  uint32_t disk_stall_ppm = 0;  // chance of a stall on top (a slow fsync)
  uint64_t disk_stall_max_us = 0;
  // A crash is a power loss, which loses part of what was not synced (else the
  // process dies and the page cache survives).
  bool lose_unsynced = false;
  // Torn writes: at each start, a node's power is set to fail in the middle of one
  // of its next 1..N disk appends (0: never); it comes back after a down time in
  // [torn_write_down_min_us, torn_write_down_max_us].
  uint64_t torn_write_appends_max = 0;
  uint64_t torn_write_down_min_us = 0;
  uint64_t torn_write_down_max_us = 0;
  LinkFaults links = kCalmLinks;
  bool check_protocol_rules = true;  // invariants 5 and 6 (see invariants.h)
  // A correct run handles some 10-40 thousand events; millions mean a message
  // storm, itself a failure (every queue and window is supposed to be bounded).
  uint64_t events_max = 2'000'000;
  size_t trace_capacity = Trace::kCapacityDefault;
  bool trace_live = false;
};

// The client side's view of what nodes do. Callbacks run inside node events and
// must not call node inputs synchronously (schedule an event instead).
class ClusterListener {
 public:
  virtual ~ClusterListener() = default;
  virtual void on_command_applied(SimNode& n, const Command& c, const ApplyResult& r) = 0;
  virtual void on_read_ready(SimNode& n, const std::string& context) = 0;
  virtual void on_crash(raft::NodeId node) = 0;
};

class Cluster final : public NodeHost {
 public:
  Cluster(const ClusterParams& params, Rng rng);
  Cluster(const Cluster&) = delete;
  Cluster& operator=(const Cluster&) = delete;

  void set_listener(ClusterListener* l) { listener_ = l; }
  // Called whenever a node becomes leader (from inside that node's event: the
  // hook must only schedule, never act on a node synchronously).
  void set_leader_hook(std::function<void(raft::NodeId, raft::Term)> hook) {
    leader_hook_ = std::move(hook);
  }
  // Bootstraps the initial voters' disks and starts every node.
  void start();
  // Runs events until virtual time `until` (inclusive) or the first violation.
  void run_until(SimTime until);

  SimTime now() const { return events_.now(); }
  EventQueue& events() { return events_; }
  Rng& rng() { return rng_; }
  Network& network() { return network_; }
  const ClusterParams& params() const { return params_; }
  void trace(std::string line) { trace_.add(events_.now(), line); }
  const Trace& trace_log() const { return trace_; }
  const SafetyChecker& safety() const { return safety_; }
  uint64_t events_run() const { return events_run_; }

  std::vector<raft::NodeId> pool() const;
  SimNode& node(raft::NodeId id);
  // The running leader with the highest term, or nullptr.
  SimNode* leader();
  size_t nodes_down() const;

  void crash(raft::NodeId id);
  void restart(raft::NodeId id);
  // No more power losses or torn writes (healing): crashes from now on are
  // process crashes, and every armed torn write is disarmed.
  void calm_disks();
  // Storage counters summed over every node.
  NodeStorageStats storage_stats() const;
  void set_disk_latency(uint64_t min_us, uint64_t max_us, uint32_t stall_ppm);

  void fail(std::string invariant, std::string detail);
  bool failed() const { return failure_.has_value(); }
  const std::optional<Violation>& failure() const { return failure_; }

  // NodeHost.
  void node_send(const SimNode& from, raft::Message m) override;
  void node_schedule(uint64_t delay_us, std::function<void()> fn) override;
  uint64_t node_disk_latency_us() override;
  void node_trace(std::string line) override { trace(std::move(line)); }
  void node_failure(std::string invariant, std::string detail) override;
  void node_power_failed(SimNode& n) override;
  void node_role_changed(SimNode& n) override;
  void node_ready_written(SimNode& n, const raft::Ready& rd, raft::Index old_commit) override;
  void node_snapshot_installed(SimNode& n, const raft::SnapshotMeta& meta) override;
  void node_entry_applied(SimNode& n, const raft::Entry& e) override;
  void node_command_applied(SimNode& n, const Command& c, const ApplyResult& r) override;
  void node_read_ready(SimNode& n, const std::string& context) override;

 private:
  void schedule_ticks(raft::NodeId id, uint64_t first_delay_us);
  void maybe_arm_torn_write(SimNode& n);
  void tick(raft::NodeId id, uint64_t incarnation);
  void deliver(raft::Message m, uint64_t from_incarnation, bool report_snapshot);
  void report_snapshot(raft::NodeId from, uint64_t from_incarnation, raft::NodeId to, bool ok);
  void check(MaybeViolation v);

  ClusterParams params_;
  Rng rng_;
  EventQueue events_;
  Network network_;
  Trace trace_;
  SafetyChecker safety_;
  std::vector<std::unique_ptr<SimNode>> nodes_;   // [k] is node k + 1
  std::vector<raft::Index> commit_when_elected_;  // [k] for node k + 1
  ClusterListener* listener_ = nullptr;
  std::function<void(raft::NodeId, raft::Term)> leader_hook_;
  std::optional<Violation> failure_;
  uint64_t events_run_ = 0;
};

// "n2 -> n3 kAppend term=4 index=17 entries=2 commit=15": one message for the trace.
std::string describe_message(const raft::Message& m);

}  // namespace meridian::sim
