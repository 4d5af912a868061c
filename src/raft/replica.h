// Replica: one node's member of one Raft group, as a pure deterministic state
// machine. No I/O, no clock, no threads, no global state: the host drives it.
//
// Owned by exactly one thread (the host's); every method must be called there.
// Many replicas can share a thread; an idle replica holds no timer and little
// memory, and does nothing until ticked or stepped.
//
// The host loop:
//   - tick() at a fixed interval (the tick is the unit of all timeouts);
//   - step() every message received from a peer;
//   - propose(), propose_conf_change(), read_index(), transfer_leader() on request;
//   - when has_ready(): take ready(), then, IN THIS ORDER,
//       1. send ready.messages (may be done at once, even before persisting);
//       2. persist ready.snapshot, then ready.entries, then ready.hard_state, durably;
//       3. send ready.messages_after_persist;
//       4. apply ready.committed_entries in order (calling apply_conf_change for
//          kConfChange entries) and serve ready.read_states once applied reaches them;
//       5. call advance().
//     No new Ready is produced until advance(); step/tick/propose may still be called.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "raft/config.h"
#include "raft/log_storage.h"
#include "raft/types.h"

namespace meridian::raft {

class Raft;

struct SoftState {
  NodeId leader = kNoNode;
  Role role = Role::kFollower;
  bool operator==(const SoftState&) const = default;
};

struct Ready {
  std::optional<SoftState> soft_state;          // set when leader or role changed
  std::optional<HardState> hard_state;          // set when it changed and must be persisted
  std::shared_ptr<const Snapshot> snapshot;     // to persist and install, or nullptr
  std::vector<Entry> entries;                   // to persist, after the snapshot
  std::vector<Message> messages;                // may be sent at once
  std::vector<Message> messages_after_persist;  // only after the above are durable
  std::vector<Entry> committed_entries;         // to apply, in order
  std::vector<ReadState> read_states;
  // Whether persisting needs an fsync (new entries, vote or term changed, snapshot).
  bool must_sync = false;
};

struct ProgressStatus {
  Index match;
  Index next;
  bool learner = false;
  bool recent_active = false;
  const char* state = "";
};

struct ReplicaStatus {
  NodeId id;
  Term term;
  NodeId vote;
  NodeId leader;
  Role role = Role::kFollower;
  Index commit;
  Index applied;
  Index last_index;
  ConfState conf_state;
  NodeId lead_transferee = kNoNode;
  std::unordered_map<NodeId, ProgressStatus> progress;  // leader only
};

class Replica {
 public:
  // Creates a replica over `storage` (not owned; must outlive it). Fails with
  // kInvalidArgument for a bad config.
  static Result<std::unique_ptr<Replica>> create(const Config& config, const LogStorage* storage);
  ~Replica();
  Replica(const Replica&) = delete;
  Replica& operator=(const Replica&) = delete;

  void tick();
  // Starts an election now (pre-vote first when enabled).
  void campaign();
  // Appends data to the log if leader, or forwards it to the leader. kProposalDropped
  // when there is no leader, a transfer is in progress, or the uncommitted limit is hit.
  Status propose(std::string data);
  // Proposes a membership change. kProposalDropped also while another one is pending.
  Status propose_conf_change(const ConfChange& cc);
  // Handles a message from a peer. Stale or misaddressed messages are ignored.
  Status step(Message m);
  // Requests a linearizable read point; a ReadState with this context follows in a
  // later Ready (or never, if leadership is lost: the caller times out and retries).
  void read_index(std::string context);
  // Asks the leader to hand leadership to `target`.
  void transfer_leader(NodeId target);
  // Applies a committed membership change (the host calls this when applying a
  // kConfChange entry) and returns the new membership.
  ConfState apply_conf_change(const ConfChange& cc);
  // The host could not deliver to `node` (the leader probes it again).
  void report_unreachable(NodeId node);
  // The host finished (or failed) sending a snapshot to `node`.
  void report_snapshot(NodeId node, bool ok);

  bool has_ready() const;
  Ready ready();
  void advance();

  ReplicaStatus status() const;
  NodeId id() const;
  NodeId leader() const;
  Role role() const;
  Term term() const;

 private:
  explicit Replica(std::unique_ptr<Raft> raft);
  std::unique_ptr<Raft> raft_;
  // What the last Ready handed out, to acknowledge in advance().
  bool ready_in_flight_ = false;
  std::optional<std::pair<Index, Term>> inflight_stable_;
  Index inflight_snapshot_index_;
  Index inflight_applied_;
  uint64_t inflight_applied_bytes_ = 0;
  SoftState prev_soft_;
  HardState prev_hard_;
};

}  // namespace meridian::raft
