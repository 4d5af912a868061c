// The pure parts of membership changes: the id MemberAdd gives, the rule a
// learner must meet to be promoted, and which peer URLs are reachable.
#include "api/member_changes.h"

#include <gtest/gtest.h>

#include "api/peer_directory.h"

namespace meridian::api {
namespace {

TEST(MemberChangesTest, TheNextIdIsAboveEveryIdTheClusterHasHad) {
  raft::ConfState conf;
  conf.voters = {raft::NodeId{1}, raft::NodeId{2}, raft::NodeId{3}};
  EXPECT_EQ(next_member_id(conf, {}, {}), 4u);
  conf.learners = {raft::NodeId{5}};
  EXPECT_EQ(next_member_id(conf, {}, {}), 6u);
  // Member 7 was removed: its record (a tombstone) keeps 7 from being given again.
  etcdserverpb::Member tombstone;
  tombstone.set_id(7);
  EXPECT_EQ(next_member_id(conf, {tombstone}, {}), 8u);
  EXPECT_EQ(next_member_id(conf, {tombstone}, {{9, "http://127.0.0.1:9"}}), 10u);
}

// etcd's strict reconfiguration check, as the leader (node 1) sees it.
TEST(MemberChangesTest, AChangeMustLeaveAQuorumOfActiveVoters) {
  using raft::ConfChangeType;
  using raft::NodeId;
  raft::ConfState conf;
  conf.voters = {NodeId{1}, NodeId{2}, NodeId{3}};
  conf.learners = {NodeId{4}};
  const std::set<NodeId> all{NodeId{2}, NodeId{3}, NodeId{4}};
  const std::set<NodeId> three_down{NodeId{2}, NodeId{4}};
  // All up: a fourth voter (not started yet) leaves 3 of 4 active.
  EXPECT_TRUE(keeps_quorum(conf, all, NodeId{1}, ConfChangeType::kAddVoter, NodeId{5}));
  // Node 3 down: 2 of 4 would be active, no quorum; a learner is always fine.
  EXPECT_FALSE(keeps_quorum(conf, three_down, NodeId{1}, ConfChangeType::kAddVoter, NodeId{5}));
  EXPECT_TRUE(keeps_quorum(conf, three_down, NodeId{1}, ConfChangeType::kAddLearner, NodeId{5}));
  // Promoting the active learner 4: 3 of 4 active.
  EXPECT_TRUE(keeps_quorum(conf, three_down, NodeId{1}, ConfChangeType::kAddVoter, NodeId{4}));
  // Removing a live voter while 3 is down leaves 1 of 2 active; removing 3 itself is fine.
  EXPECT_FALSE(keeps_quorum(conf, three_down, NodeId{1}, ConfChangeType::kRemoveNode, NodeId{2}));
  EXPECT_TRUE(keeps_quorum(conf, three_down, NodeId{1}, ConfChangeType::kRemoveNode, NodeId{3}));
}

TEST(MemberChangesTest, ALearnerIsCaughtUpAtNinetyPercentOfTheLeadersLog) {
  EXPECT_TRUE(learner_caught_up(90, 100));
  EXPECT_TRUE(learner_caught_up(100, 100));
  EXPECT_FALSE(learner_caught_up(89, 100));
  EXPECT_FALSE(learner_caught_up(0, 100));
  EXPECT_TRUE(learner_caught_up(0, 0));
}

TEST(MemberChangesTest, PeerUrlsBecomeHostAndPort) {
  EXPECT_EQ(peer_address("http://127.0.0.1:2380"), "127.0.0.1:2380");
  EXPECT_EQ(peer_address("https://10.0.0.1:2380/"), "10.0.0.1:2380");
  EXPECT_EQ(peer_address("http://[::1]:2380"), "[::1]:2380");
  EXPECT_EQ(peer_address("http://node4.example:2380"), "node4.example:2380");
  for (const char* bad :
       {"127.0.0.1:2380", "ftp://127.0.0.1:2380", "http://127.0.0.1", "http://127.0.0.1:0",
        "http://127.0.0.1:99999", "http://:2380", "http://127.0.0.1:2380/path", "http://"}) {
    EXPECT_FALSE(peer_address(bad).has_value()) << bad;
  }
}

}  // namespace
}  // namespace meridian::api
