// Membership changes (Raft thesis §4.3, joint consensus). A Changer computes the
// configuration and Progress map that result from a ConfChange, on copies of the
// tracker's, and validates them; the caller installs the result in its
// ProgressTracker only if it succeeded. Nothing here mutates tracker state.
//
// Three kinds of transition:
//   - simple: at most one voter changes, so any majority of the old voters overlaps
//     any majority of the new ones, and the change takes effect in one step;
//   - enter_joint: outgoing := incoming, then the changes apply to incoming; until
//     the joint config is left, every decision needs a majority of both halves;
//   - leave_joint: drop the outgoing half; demoted voters become learners.
//
// Single changes, applied in order:
//   kAddVoter id:   id becomes an incoming voter (leaving learners/learners_next).
//   kAddLearner id: id leaves the incoming voters; if it still votes in the outgoing
//                   half it waits in learners_next, otherwise it joins learners.
//   kRemoveNode id: id leaves incoming voters, learners and learners_next; its
//                   Progress goes too unless it still votes in the outgoing half.
//
// Value-semantic helpers with no state of their own; used on the replica's thread.
// A Changer holds references to the config and progress it was given, so it must
// not outlive them (make one, call it, drop it).
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "raft/tracker.h"
#include "raft/types.h"

namespace meridian::raft {

using ConfigAndProgress = std::pair<TrackerConfig, ProgressMap>;

class Changer {
 public:
  // New members get Progress(next = last_index + 1), match 0, in the probe state,
  // marked recent_active so that a node just added does not count as inactive in
  // the leader's next check-quorum round before it had a chance to answer.
  Changer(const TrackerConfig& config, const ProgressMap& progress, Index last_index,
          uint32_t inflight_messages_max, uint64_t inflight_bytes_max);

  // Enters a joint config. kFailedPrecondition if already joint or if there are no
  // incoming voters to start from; kInvalidArgument for a bad change or if the new
  // incoming half would have no voters.
  Result<ConfigAndProgress> enter_joint(bool auto_leave,
                                        const std::vector<ConfChangeSingle>& changes) const;

  // Leaves the joint config: the outgoing half is dropped, learners_next become
  // learners, and outgoing voters that are no longer members lose their Progress.
  // kFailedPrecondition if not joint.
  Result<ConfigAndProgress> leave_joint() const;

  // A one-step change. kFailedPrecondition if joint; kInvalidArgument if it changes
  // more than one voter (that needs enter_joint), leaves no voters, or has a bad change.
  Result<ConfigAndProgress> simple(const std::vector<ConfChangeSingle>& changes) const;

 private:
  Status apply(TrackerConfig& cfg, ProgressMap& prs,
               const std::vector<ConfChangeSingle>& changes) const;
  void add_voter(TrackerConfig& cfg, ProgressMap& prs, NodeId id) const;
  void add_learner(TrackerConfig& cfg, ProgressMap& prs, NodeId id) const;
  void remove_node(TrackerConfig& cfg, ProgressMap& prs, NodeId id) const;
  // The Progress of id, created for a new member if it has none.
  Progress& ensure_progress(ProgressMap& prs, NodeId id) const;

  const TrackerConfig& config_;
  const ProgressMap& progress_;
  Index last_index_;
  uint32_t inflight_messages_max_;
  uint64_t inflight_bytes_max_;
};

// Asserts the invariants listed in tracker.h, plus: every Progress belongs to a
// member, and is_learner is set exactly for the nodes in learners. A violation is a
// bug in the Changer or in whoever built the state, never bad input.
void check_invariants(const TrackerConfig& cfg, const ProgressMap& prs);

// Builds the config and Progress map described by a persisted ConfState (on
// restart, or when a snapshot is installed). kInvalidArgument for a ConfState that
// no sequence of valid changes could have produced: unsorted or duplicate lists, node
// id 0, learners that are also voters, learners_next that are not outgoing-only
// voters, joint fields outside a joint config, or members without any voter. An
// all-empty ConfState (a node not yet part of a group) is valid.
Result<ConfigAndProgress> restore_conf_state(const ConfState& cs, Index last_index,
                                             uint32_t inflight_messages_max,
                                             uint64_t inflight_bytes_max);

// How a ConfChange is carried out.
struct ConfChangePlan {
  bool leave = false;       // leave_joint(): the change list is empty
  bool joint = false;       // enter_joint(auto_leave, changes); otherwise simple(changes)
  bool auto_leave = false;  // with joint: the leader leaves the joint config by itself
};

// An empty change list leaves the joint config (whatever the transition). Otherwise
// the change is joint when the transition asks for it, or, under kAuto, when it has
// more than one single change. The kAuto rule counts every single change as a
// possible voter change, because whether kAddLearner (a demotion?) or kRemoveNode
// (of a learner?) touches a voter depends on the config at apply time; entering a
// joint config when one step would do is only slower, never unsafe. auto_leave is set
// for kAuto and kJointImplicit.
ConfChangePlan plan_conf_change(const ConfChange& cc);

// Convenience: plan_conf_change(cc) carried out with `changer`.
Result<ConfigAndProgress> execute_conf_change(const Changer& changer, const ConfChange& cc);

}  // namespace meridian::raft
