// Raft: the consensus state machine of one replica (Raft paper and thesis), with
// pre-vote (§9.6), check-quorum and leader stickiness (§6.2, §4.2.3), pipelined
// replication with flow control (§10.2.1), fast log backtracking (§5.3), the
// Figure 8 commitment rule (§5.4.2), ReadIndex and lease reads (§6.4), snapshots
// (§5), learners and joint-consensus membership change (§4.3), and leadership
// transfer (§3.10).
//
// Internal to raft/: hosts use Replica, which wraps this with the Ready/advance
// protocol. Single-threaded; owned by the thread that owns the replica. Reads no
// clock and no global state: time is tick(), randomness is a seeded generator.
#pragma once

#include <cstdint>
#include <vector>

#include "raft/config.h"
#include "raft/raft_log.h"
#include "raft/read_only.h"
#include "raft/tracker.h"

namespace meridian::raft {

class Raft {
 public:
  Raft(const Config& config, const LogStorage* storage);

  void tick();
  // Starts an election (pre-vote first if enabled). `transfer`: requested by the
  // leader through kTimeoutNow, so voters ignore their leader lease.
  void hup(bool transfer);
  Status step(Message m);
  Status propose(std::vector<Entry> entries);
  ConfState apply_conf_change(const ConfChange& cc);
  void report_unreachable(NodeId node);
  void report_snapshot(NodeId node, bool ok);

  // Called by Replica::advance: the host persisted entries through `stable` and
  // applied through `applied`.
  void on_persisted();
  void on_applied(Index applied, uint64_t applied_entry_bytes);

  // Outputs, taken by Replica::ready().
  std::vector<Message> take_messages() { return std::exchange(msgs_, {}); }
  std::vector<Message> take_messages_after_persist() {
    return std::exchange(msgs_after_persist_, {});
  }
  std::vector<ReadState> take_read_states() { return std::exchange(read_states_, {}); }
  bool has_output() const {
    return !msgs_.empty() || !msgs_after_persist_.empty() || !read_states_.empty();
  }

  NodeId id() const { return id_; }
  Term term() const { return term_; }
  NodeId vote() const { return vote_; }
  NodeId leader() const { return lead_; }
  Role role() const { return role_; }
  NodeId lead_transferee() const { return lead_transferee_; }
  HardState hard_state() const { return HardState{term_, vote_, log_.committed()}; }
  RaftLog& log() { return log_; }
  const RaftLog& log() const { return log_; }
  const ProgressTracker& tracker() const { return trk_; }
  const Config& config() const { return config_; }

 private:
  // Roles.
  void become_follower(Term term, NodeId leader);
  void become_pre_candidate();
  void become_candidate();
  void become_leader();
  void reset(Term term);
  void campaign(bool pre_vote, bool transfer);
  bool promotable() const;
  bool has_unapplied_conf_change() const;
  void reset_randomized_election_timeout();
  bool past_election_timeout() const { return election_elapsed_ >= randomized_election_timeout_; }

  // Message handling.
  Status step_by_term(Message& m, bool& handled);
  void step_vote_request(const Message& m);
  Status step_leader(Message& m);
  Status step_candidate(Message& m);
  Status step_follower(Message& m);
  void handle_append(const Message& m);
  void handle_heartbeat(const Message& m);
  void handle_snapshot(const Message& m);
  bool restore(const std::shared_ptr<const Snapshot>& snapshot);
  void handle_append_response(const Message& m, Progress& pr);
  void handle_heartbeat_response(const Message& m, Progress& pr);
  void handle_transfer_leader(NodeId target);
  void abort_leader_transfer() { lead_transferee_ = kNoNode; }
  void learn_commit(const Message& m);

  // Leader replication.
  Status append_entries(std::vector<Entry>& entries);
  bool check_conf_change_proposal(const Entry& e, Index entry_index);
  void bcast_append();
  bool maybe_send_append(NodeId to, bool send_if_empty);
  bool send_snapshot(NodeId to, Progress& pr);
  void bcast_heartbeat();
  void bcast_heartbeat_with_context(const std::string* context);
  bool maybe_commit();
  bool committed_entry_in_current_term() const;
  void release_pending_read_indexes();
  void handle_read_index(Message& m);
  void answer_read(NodeId from, Index index, std::string context);
  void switch_to_config(TrackerConfig config, ProgressMap progress);

  void send(Message m);
  uint64_t next_random();

  Config config_;
  NodeId id_;
  Term term_;
  NodeId vote_ = kNoNode;
  NodeId lead_ = kNoNode;
  Role role_ = Role::kFollower;
  bool is_learner_ = false;
  RaftLog log_;
  ProgressTracker trk_;
  ReadIndexQueue read_queue_;
  // ReadIndex requests that arrived before the leader committed an entry of its term:
  // until then its commit index may be behind the true one (thesis §6.4 step 1).
  std::vector<Message> pending_reads_;
  static constexpr size_t kPendingReadsMax = 4096;

  NodeId lead_transferee_ = kNoNode;
  // A leader proposes no conf change until it has applied the last one (or every
  // entry of earlier terms, which may hide one): index of that entry.
  Index pending_conf_index_;
  uint64_t uncommitted_bytes_ = 0;

  int election_elapsed_ = 0;   // ticks since the last election timeout reset
  int heartbeat_elapsed_ = 0;  // leader only
  int transfer_elapsed_ = 0;   // leader only: ticks since the current transfer began
  int randomized_election_timeout_ = 0;
  uint64_t rng_state_;

  std::vector<Message> msgs_;
  std::vector<Message> msgs_after_persist_;
  std::vector<ReadState> read_states_;
};

}  // namespace meridian::raft
