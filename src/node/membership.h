// Membership changes as the node offers them: one member added (as a voter or a
// learner), a learner promoted to voter, or a member removed, in one group at a
// time (Node::propose_membership). Raft carries out the change itself
// (raft/confchange.h); this says which changes make sense for a group's current
// membership, a check every member makes alike when the change is applied, so
// that a change made stale by another one committed before it (two operators
// adding the same member, a removal racing a promotion) is refused everywhere
// rather than half applied. Pure functions; any thread.
#pragma once

#include <string>

#include "base/status.h"
#include "raft/types.h"

namespace meridian::node {

struct MembershipChange {
  // kAddLearner: a new member that replicates without voting; kAddVoter: a new
  // voter, or a learner promoted; kRemoveNode: a voter or learner leaves.
  raft::ConfChangeType type = raft::ConfChangeType::kAddLearner;
  raft::NodeId node;
  // Handed to the group's state machine with the change (StateMachine::
  // apply_membership): what the application keeps of the member, such as its
  // addresses.
  std::string context;
};

bool is_voter(const raft::ConfState& cs, raft::NodeId id);    // in either half
bool is_learner(const raft::ConfState& cs, raft::NodeId id);  // and not a voter
bool is_member(const raft::ConfState& cs, raft::NodeId id);

// kFailedPrecondition, saying why, for a change that does not fit `cs`: adding
// a member that is one already (a voter made a learner is a demotion, which is
// not offered), promoting a member that is not a learner, removing a node that
// is not a member; kInvalidArgument for node id 0. Raft may still refuse a
// change that passes (one that would leave no voter).
base::Status check_membership_change(const raft::ConfState& cs, raft::ConfChangeType type,
                                     raft::NodeId node);

}  // namespace meridian::node
