#include "node/membership.h"

#include <algorithm>

#include "base/strings.h"

namespace meridian::node {

using base::cat;
using base::Code;
using base::Status;

namespace {

bool contains(const std::vector<raft::NodeId>& ids, raft::NodeId id) {
  return std::find(ids.begin(), ids.end(), id) != ids.end();
}

}  // namespace

bool is_voter(const raft::ConfState& cs, raft::NodeId id) {
  return contains(cs.voters, id) || contains(cs.voters_outgoing, id);
}

bool is_learner(const raft::ConfState& cs, raft::NodeId id) {
  return !is_voter(cs, id) && (contains(cs.learners, id) || contains(cs.learners_next, id));
}

bool is_member(const raft::ConfState& cs, raft::NodeId id) {
  return is_voter(cs, id) || is_learner(cs, id);
}

Status check_membership_change(const raft::ConfState& cs, raft::ConfChangeType type,
                               raft::NodeId node) {
  if (node == raft::kNoNode) return Status(Code::kInvalidArgument, "member id 0 is not valid");
  switch (type) {
    case raft::ConfChangeType::kAddLearner:
      if (is_member(cs, node)) {
        return Status(Code::kFailedPrecondition,
                      cat("member ", node, " is already a ",
                          is_voter(cs, node) ? "voting member" : "learner"));
      }
      return Status::ok();
    case raft::ConfChangeType::kAddVoter:
      if (is_voter(cs, node)) {
        return Status(Code::kFailedPrecondition, cat("member ", node, " is already a voter"));
      }
      return Status::ok();
    case raft::ConfChangeType::kRemoveNode:
      if (!is_member(cs, node)) {
        return Status(Code::kFailedPrecondition, cat("node ", node, " is not a member"));
      }
      return Status::ok();
  }
  return Status(Code::kInvalidArgument, "unknown membership change");
}

}  // namespace meridian::node
