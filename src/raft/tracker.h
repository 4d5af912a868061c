// ProgressTracker: a replica's current membership (TrackerConfig: voters, possibly
// joint, and learners) together with a Progress for every member, and the votes of
// an ongoing election. The leader uses it to decide commitment and whether it still
// has an active quorum; a candidate uses it to tally votes.
//
// Owned by the Raft state machine and used only on the replica's thread.
// Membership changes are computed by confchange.h's Changer on copies and then
// assigned to `config` and `progress` together.
//
// Invariants (checked by check_invariants in confchange.h after every change):
// every voter (incoming or outgoing), learner and learner_next has a Progress;
// learners are disjoint from both voter sets; learners_next are outgoing voters that
// are not incoming voters; auto_leave implies a joint config.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "raft/progress.h"
#include "raft/quorum.h"
#include "raft/types.h"

namespace meridian::raft {

struct TrackerConfig {
  JointConfig voters;
  // Nodes that receive the log but neither vote nor count for commitment.
  std::set<NodeId> learners;
  // Outgoing voters being demoted: they become learners when the joint config is left
  // (until then they still vote in the outgoing half; Raft thesis §4.3).
  std::set<NodeId> learners_next;
  // The leader proposes leaving the joint config by itself once it is applied.
  bool auto_leave = false;

  bool joint() const { return voters.joint(); }
  bool operator==(const TrackerConfig&) const = default;
  // e.g. "voters=(1 2 4)&&(1 2 3) learners=(5) learners_next=(3) autoleave"
  std::string to_string() const;
};

// Ordered, so that iterating it (and so the order of messages) is deterministic.
using ProgressMap = std::map<NodeId, Progress>;

class ProgressTracker {
 public:
  ProgressTracker(uint32_t inflight_messages_max, uint64_t inflight_bytes_max);

  TrackerConfig config;
  ProgressMap progress;

  // The membership as persisted: sorted lists, joint fields filled when joint.
  ConfState conf_state() const;

  // Exactly one voter and not joint: a lone voter commits by itself.
  bool is_singleton() const;

  // The highest index acknowledged (Progress::match) by a quorum of voters, joint-
  // aware. Nodes without a Progress count as 0. Returns Index{0}, not
  // kIndexUnbounded, when there are no voters at all: such a config commits nothing.
  Index committed() const;

  // Whether the voters marked recent_active form a quorum (of both halves when
  // joint). Learners never count. The leader marks its own Progress active itself.
  bool quorum_active() const;

  bool is_voter(NodeId id) const { return config.voters.contains(id); }
  bool is_learner(NodeId id) const { return config.learners.contains(id); }
  // Sorted; voters of both halves when joint.
  std::vector<NodeId> voter_nodes() const;
  std::vector<NodeId> learner_nodes() const;

  // The Progress of `id`, or nullptr if it is not a member.
  Progress* find(NodeId id);
  const Progress* find(NodeId id) const;

  void reset_votes();
  // Records id's vote; a node's first vote stands and later ones are ignored (a
  // retransmitted or duplicated response must not flip it).
  void record_vote(NodeId id, bool granted);

  struct Tally {
    size_t granted = 0;
    size_t rejected = 0;
    VoteResult result = VoteResult::kPending;
  };
  // Counts only the votes of current voters (either half when joint).
  Tally tally_votes() const;

  // Calls f for every member in increasing id order.
  void visit(const std::function<void(NodeId, Progress&)>& f);

  uint32_t inflight_messages_max() const { return inflight_messages_max_; }
  uint64_t inflight_bytes_max() const { return inflight_bytes_max_; }

 private:
  std::unordered_map<NodeId, bool> votes_;
  uint32_t inflight_messages_max_;
  uint64_t inflight_bytes_max_;
};

}  // namespace meridian::raft
