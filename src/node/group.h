// Group: one Raft group hosted by a node: the Replica, its view of the journal,
// the state machine, and the requests waiting on it. Runs the ready loop of
// raft/replica.h with persistence handed to the node's group committer, so that
// many groups share each fsync. Everything here runs on the node's raft thread;
// the committer's completions are posted back to it (GroupEnv::post).
//
// At most one Ready per group is being persisted at a time; proposals and peer
// messages arriving meanwhile accumulate in the Replica and go out together in
// the next Ready (natural batching under load).
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>

#include "base/ids.h"
#include "base/status.h"
#include "net/wire.h"
#include "node/membership.h"
#include "node/node.h"
#include "node/node_options.h"
#include "node/request_codec.h"
#include "node/state_machine.h"
#include "raft/replica.h"
#include "storage/group_commit.h"
#include "storage/log_engine.h"
#include "storage/snapshot_store.h"

namespace meridian::node {

using Clock = std::chrono::steady_clock;

// What a group needs from its node. Not owned; outlives every group.
struct GroupEnv {
  raft::NodeId self;
  const NodeOptions* options = nullptr;
  storage::LogEngine* engine = nullptr;
  storage::SnapshotStore* snapshots = nullptr;
  storage::GroupCommitter* committer = nullptr;
  // Queues a message for the peer (flushed by the node after the current task);
  // a kSnapshot's data may come from `image` instead of the message.
  std::function<void(GroupId, raft::Message, std::shared_ptr<base::ByteSource> image)> send;
  // Runs `fn` on the raft thread later (used from the committer's thread).
  std::function<void(std::function<void()>)> post;
  // Runs `fn` on the raft thread after `delay`.
  std::function<void(std::chrono::milliseconds, std::function<void()>)> post_after;
  // Marks the group as having work (its ready loop runs after the current task).
  std::function<void(GroupId)> wake;
  // A storage failure the group cannot recover from (kIoError, kCorruption).
  std::function<void(const base::Status&)> fail;
  // The disk filled up (true) or has room again (false).
  std::function<void(bool)> no_space;
  // Fresh request ids, unique in this process and across its restarts.
  std::function<uint64_t()> next_request_id;
  // A membership change took effect in the group (after the state machine saw it).
  std::function<void(GroupId, const raft::ConfChangeSingle&)> membership_changed;
};

class Group {
 public:
  // Opens the group over what the journal holds: restores the state machine from
  // the latest snapshot; the Replica re-applies committed entries after it.
  static base::Result<std::unique_ptr<Group>> open(GroupId id, GroupEnv* env,
                                                   std::unique_ptr<StateMachine> sm,
                                                   uint64_t random_seed);
  ~Group();

  GroupId id() const { return id_; }
  void tick(Clock::time_point now);
  // `received`: a kSnapshot's data, stored by the transport (net/wire.h).
  void step(raft::Message m, std::shared_ptr<net::ReceivedSnapshot> received = nullptr);
  void propose(std::string command, Node::ProposeDone done);
  // Answered once the change is applied here (ProposeResult with no result), or
  // with why it was refused (node/membership.h) or could not be proposed.
  void propose_membership(MembershipChange change, Node::ProposeDone done);
  void read(bool linearizable, Node::Query query, Node::ReadDone done);
  void transfer_leader(raft::NodeId target);
  void report_unreachable(raft::NodeId peer);
  void report_snapshot(raft::NodeId peer, bool ok);
  // Takes and handles Readies until one is being persisted or none is left.
  void process_ready();
  // Fails every waiting request (the node is stopping).
  void fail_all(const base::Status& why);

  bool is_leader() const { return replica_->role() == raft::Role::kLeader; }
  const raft::ConfState& conf_state() const { return conf_state_; }
  // In the group's configuration as this member has applied it.
  bool has_member(raft::NodeId id) const { return is_member(conf_state_, id); }
  raft::NodeId leader() const { return replica_->leader(); }
  // The voter (not this node, in `reachable`, recently active) with the highest
  // match index: the one that can take over soonest. kNoNode when there is none.
  raft::NodeId best_transfer_target(const std::set<raft::NodeId>& reachable) const;
  GroupStatus status() const;
  // A Ready (or an own snapshot) is with the committer: its completion will be
  // posted back. For tests that drive a group by hand.
  bool persisting() const { return persisting_ || snapshotting_; }

 private:
  struct PendingProposal {
    Node::ProposeDone done;
    Clock::time_point deadline;
  };
  struct PendingRead {
    Node::Query query;
    Node::ReadDone done;
    Clock::time_point deadline;
    std::optional<raft::Index> index;  // set once the ReadIndex round answered
    Clock::time_point reissue_at;      // ask again then if still unanswered
  };

  Group(GroupId id, GroupEnv* env, std::unique_ptr<StateMachine> sm);

  void on_persisted(const base::Status& s, const std::shared_ptr<raft::Ready>& rd);
  void submit(std::shared_ptr<raft::Ready> rd);
  // Whether the Ready's hard state differs from the last one only in its commit
  // index (then it need not be synced); remembers it as the last.
  bool only_commit_moved(const raft::Ready& rd);
  void finish_ready(raft::Ready& rd);
  void apply(const raft::Entry& e);
  void apply_conf_change(const raft::Entry& e);
  // Fails the waiting proposal of this request, if this node made it.
  void fail_proposal(const RequestHeader& h, const base::Status& why);
  // Hands a message to the node for sending (attaching a durable machine's image).
  void send(raft::Message m);
  void serve_reads();
  // Asks Raft again for the read index of unanswered reads (all, or those due).
  void reissue_reads(bool all, Clock::time_point now);
  // One ReadIndex request for every read in unasked_reads_.
  void ask_read_round(Clock::time_point now);
  // Asks for the waiting reads unless a round asked lately is still unanswered:
  // they then share the next round, asked when that one answers.
  void maybe_ask_read_round(Clock::time_point now);
  std::chrono::milliseconds reissue_interval() const;
  void maybe_snapshot();
  void expire(Clock::time_point now);
  // The known leader is now `leader` (kNoNode: none known): fails what was in
  // flight if the leader it went to was replaced.
  void note_leader(raft::NodeId leader);
  void fail_in_flight(raft::NodeId old_leader);
  void fail_waiting(const base::Status& proposal_error, const base::Status& read_error);
  base::Status not_leader_status() const;

  GroupId id_;
  GroupEnv* env_;
  std::unique_ptr<StateMachine> sm_;
  std::unique_ptr<storage::GroupLogStorage> log_;
  std::unique_ptr<raft::Replica> replica_;
  raft::ConfState conf_state_;
  raft::Index applied_;
  raft::Index snapshot_index_;  // of the latest durable snapshot
  // Durable machines: commands up to this index are already in the machine's
  // state (it was restored from an image taken past the snapshot's index).
  raft::Index sm_holds_;
  // The data of the latest snapshot a leader sent, stored but not yet the
  // group's (published when a Ready installs that snapshot), and its index.
  std::shared_ptr<net::ReceivedSnapshot> received_;
  raft::Index received_index_;
  bool persisting_ = false;             // a Ready is with the committer
  bool snapshotting_ = false;           // an own snapshot is with the committer
  bool reissue_pending_reads_ = false;  // a leader became known: ask for reads again
  raft::SoftState soft_;
  // The last leader known (kept while none is) and its term.
  raft::NodeId last_leader_ = raft::kNoNode;
  raft::Term last_leader_term_;
  // Entry data applied since the last snapshot, and the sizes of the latest
  // applied entries (at most snapshot_catchup_entries): the byte bounds of
  // snapshot_bytes and snapshot_catchup_bytes.
  uint64_t bytes_since_snapshot_ = 0;
  std::deque<std::pair<raft::Index, uint64_t>> recent_sizes_;
  raft::HardState last_hard_state_;  // the newest any Ready carried
  // A hard state whose commit index alone moved, not yet in the journal: the
  // next journal write carries it.
  std::optional<raft::HardState> unwritten_hard_state_;

  std::map<uint64_t, PendingProposal> proposals_;
  std::map<uint64_t, PendingRead> reads_;
  // Linearizable reads not yet asked of Raft: process_ready asks once for all of
  // them (one ReadIndex round serves every read that began before it was asked).
  std::vector<uint64_t> unasked_reads_;
  struct ReadRound {
    std::vector<uint64_t> reads;
    Clock::time_point asked_at;
  };
  // Rounds asked and not answered, by context id. A read can be in several (it
  // is asked again when unanswered); old rounds are forgotten on the tick.
  std::map<uint64_t, ReadRound> read_rounds_;
  // The latest round asked and not yet answered (0: none). While it is out, new
  // reads wait for it to answer rather than starting rounds of their own, as
  // etcd's read loop does: under load each round then serves many reads, and a
  // read costs a fraction of a heartbeat exchange instead of one.
  uint64_t round_in_flight_ = 0;
  Clock::time_point round_in_flight_since_;
  uint64_t read_rounds_asked_ = 0;

  uint64_t leader_changes_ = 0;
  uint64_t proposals_committed_ = 0;
  uint64_t proposals_failed_ = 0;
  uint64_t snapshots_sent_ = 0;
  uint64_t snapshots_received_ = 0;
  uint64_t snapshots_taken_ = 0;
};

}  // namespace meridian::node
