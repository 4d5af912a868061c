#include "node/membership.h"

#include <gtest/gtest.h>

namespace meridian::node {
namespace {

using raft::ConfChangeType;
using raft::NodeId;

raft::ConfState three_voters_and_a_learner() {
  raft::ConfState cs;
  cs.voters = {NodeId{1}, NodeId{2}, NodeId{3}};
  cs.learners = {NodeId{4}};
  return cs;
}

TEST(MembershipTest, RolesInASimpleAndAJointConfiguration) {
  raft::ConfState cs = three_voters_and_a_learner();
  EXPECT_TRUE(is_voter(cs, NodeId{2}));
  EXPECT_FALSE(is_learner(cs, NodeId{2}));
  EXPECT_TRUE(is_learner(cs, NodeId{4}));
  EXPECT_TRUE(is_member(cs, NodeId{4}));
  EXPECT_FALSE(is_member(cs, NodeId{5}));
  // Joint: 3 is being demoted (outgoing voter, learner next): still a voter.
  raft::ConfState joint;
  joint.voters = {NodeId{1}, NodeId{2}};
  joint.voters_outgoing = {NodeId{1}, NodeId{2}, NodeId{3}};
  joint.learners_next = {NodeId{3}};
  EXPECT_TRUE(is_voter(joint, NodeId{3}));
  EXPECT_FALSE(is_learner(joint, NodeId{3}));
}

TEST(MembershipTest, AddsPromotionsAndRemovalsThatFitAreAllowed) {
  const raft::ConfState cs = three_voters_and_a_learner();
  EXPECT_TRUE(check_membership_change(cs, ConfChangeType::kAddLearner, NodeId{5}).is_ok());
  EXPECT_TRUE(check_membership_change(cs, ConfChangeType::kAddVoter, NodeId{5}).is_ok());
  EXPECT_TRUE(check_membership_change(cs, ConfChangeType::kAddVoter, NodeId{4}).is_ok());
  EXPECT_TRUE(check_membership_change(cs, ConfChangeType::kRemoveNode, NodeId{4}).is_ok());
  EXPECT_TRUE(check_membership_change(cs, ConfChangeType::kRemoveNode, NodeId{1}).is_ok());
}

TEST(MembershipTest, StaleOrMeaninglessChangesAreRefusedWithTheReason) {
  const raft::ConfState cs = three_voters_and_a_learner();
  auto code = [&](ConfChangeType t, uint64_t id) {
    return check_membership_change(cs, t, NodeId{id}).code();
  };
  EXPECT_EQ(code(ConfChangeType::kAddLearner, 4), base::Code::kFailedPrecondition);
  EXPECT_EQ(code(ConfChangeType::kAddLearner, 1), base::Code::kFailedPrecondition);  // demotion
  EXPECT_EQ(code(ConfChangeType::kAddVoter, 2), base::Code::kFailedPrecondition);
  EXPECT_EQ(code(ConfChangeType::kRemoveNode, 9), base::Code::kFailedPrecondition);
  EXPECT_EQ(code(ConfChangeType::kAddLearner, 0), base::Code::kInvalidArgument);
  EXPECT_EQ(check_membership_change(cs, ConfChangeType::kAddLearner, NodeId{1}).message(),
            "member 1 is already a voting member");
}

}  // namespace
}  // namespace meridian::node
