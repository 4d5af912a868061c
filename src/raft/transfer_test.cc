// Leadership transfer (Raft thesis §3.10).
#include <gtest/gtest.h>

#include "raft/cluster_testing.h"

namespace meridian::raft {
namespace {

using testing::kN1;
using testing::kN2;
using testing::kN3;
using testing::kN4;
using testing::TestCluster;

constexpr int kElectionTicks = 10;

// Thesis §3.10: with the target's log up to date, the leader sends TimeoutNow and
// the target campaigns at once, without waiting for an election timeout (no tick
// happens in this test), past the other voters' leader leases.
TEST(Transfer, UpToDateTargetBecomesLeaderWithoutElectionTimeout) {
  TestCluster c(3);
  ASSERT_TRUE(c.elect(kN1));
  c.replica(kN1).transfer_leader(kN2);
  ASSERT_TRUE(c.stabilize());
  EXPECT_EQ(c.leader(), kN2);
  EXPECT_EQ(c.replica(kN2).term(), Term{3});
  EXPECT_EQ(c.replica(kN1).role(), Role::kFollower);
  EXPECT_EQ(c.replica(kN1).leader(), kN2);
  EXPECT_EQ(c.count_sent(testing::is(MessageType::kTimeoutNow, kN1, kN2)), 1u);
}

// A follower asked to transfer forwards the request to the leader.
TEST(Transfer, RequestAtFollowerIsForwarded) {
  TestCluster c(3);
  ASSERT_TRUE(c.elect(kN1));
  c.replica(kN3).transfer_leader(kN2);
  ASSERT_TRUE(c.stabilize());
  EXPECT_EQ(c.leader(), kN2);
}

// Thesis §3.10 step 2: a target that lacks entries is first brought up to date;
// only then does it get TimeoutNow, so it can win and nothing committed is lost.
TEST(Transfer, LaggingTargetIsCaughtUpFirst) {
  TestCluster c(3);
  ASSERT_TRUE(c.elect(kN1));
  c.cut(kN1, kN2);
  for (std::string s : {"a", "b", "c"}) ASSERT_TRUE(c.propose(kN1, s).is_ok());
  ASSERT_TRUE(c.stabilize());
  ASSERT_EQ(c.status(kN2).last_index, Index{2});
  c.heal();
  c.replica(kN1).transfer_leader(kN2);
  ASSERT_TRUE(c.handle_ready(kN1));
  EXPECT_EQ(c.count_sent(testing::is(MessageType::kTimeoutNow)), 0u);
  ASSERT_TRUE(c.stabilize());
  EXPECT_EQ(c.leader(), kN2);
  EXPECT_EQ(c.node(kN2).state, (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(c.node(kN3).state, (std::vector<std::string>{"a", "b", "c"}));
}

// Thesis §3.10 step 1: the leader stops accepting proposals during a transfer; if
// the transfer does not complete within an election timeout it is abandoned and the
// leader accepts proposals again.
TEST(Transfer, ProposalsDroppedDuringTransferAndTransferAbortsAfterTimeout) {
  TestCluster c(3);
  ASSERT_TRUE(c.elect(kN1));
  c.crash(kN2);
  c.replica(kN1).transfer_leader(kN2);
  EXPECT_EQ(c.status(kN1).lead_transferee, kN2);
  EXPECT_EQ(c.propose(kN1, "x").code(), Code::kProposalDropped);

  ASSERT_TRUE(c.tick_all(kElectionTicks));
  EXPECT_EQ(c.status(kN1).lead_transferee, kNoNode);
  EXPECT_EQ(c.leader(), kN1);
  EXPECT_TRUE(c.propose(kN1, "y").is_ok());
  ASSERT_TRUE(c.stabilize());
  EXPECT_EQ(c.node(kN3).state, std::vector<std::string>{"y"});
}

// Regression: every transfer request used to restart the leader's election clock,
// so a leader cut off from its followers that kept being asked to transfer (to
// alternating targets) never reached check-quorum and led forever (thesis §6.2).
TEST(Transfer, RepeatedTransfersDoNotPostponeCheckQuorum) {
  TestCluster c(3);
  ASSERT_TRUE(c.elect(kN1));
  c.isolate(kN1);
  for (int i = 0; i < 4 * kElectionTicks; ++i) {
    c.replica(kN1).transfer_leader(i % 2 ? kN2 : kN3);
    c.tick(kN1);
    ASSERT_TRUE(c.stabilize());
  }
  EXPECT_NE(c.replica(kN1).role(), Role::kLeader);
}

// Only voters can lead: a transfer to a learner is ignored.
TEST(Transfer, TransferToLearnerIsIgnored) {
  TestCluster c(3);
  ASSERT_TRUE(c.elect(kN1));
  c.add_node(kN4);
  ASSERT_TRUE(
      c.propose_conf_change(
           kN1, ConfChange{ConfChangeTransition::kAuto, {{ConfChangeType::kAddLearner, kN4}}, ""})
          .is_ok());
  ASSERT_TRUE(c.stabilize());
  c.replica(kN1).transfer_leader(kN4);
  EXPECT_EQ(c.status(kN1).lead_transferee, kNoNode);
  ASSERT_TRUE(c.stabilize());
  EXPECT_EQ(c.leader(), kN1);
  EXPECT_TRUE(c.propose(kN1, "x").is_ok());
  EXPECT_EQ(c.count_sent(testing::is(MessageType::kTimeoutNow)), 0u);
}

}  // namespace
}  // namespace meridian::raft
