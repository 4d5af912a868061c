// Log compaction and snapshots (Raft paper §7; thesis §5).
#include <gtest/gtest.h>

#include "raft/cluster_testing.h"

namespace meridian::raft {
namespace {

using testing::kN1;
using testing::kN2;
using testing::kN3;
using testing::kN4;
using testing::TestCluster;

std::vector<std::string> payloads(int n, const std::string& prefix) {
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i) out.push_back(prefix + std::to_string(i));
  return out;
}

void propose_all(TestCluster& c, NodeId leader, const std::vector<std::string>& data) {
  for (const std::string& d : data) ASSERT_TRUE(c.propose(leader, d).is_ok());
}

// §7: when a follower needs entries the leader has compacted away, the leader sends
// its snapshot (InstallSnapshot), and replication resumes after it.
TEST(Snapshot, LaggingFollowerCatchesUpFromSnapshotAfterCompaction) {
  TestCluster c(3);
  ASSERT_TRUE(c.elect(kN1));
  c.crash(kN3);
  propose_all(c, kN1, payloads(10, "a"));
  ASSERT_TRUE(c.stabilize());
  c.compact(kN1);
  ASSERT_EQ(c.storage(kN1).first_index(), Index{13});

  c.restart(kN3);
  c.clear_sent();
  ASSERT_TRUE(c.tick_all(2));  // n3 answers a heartbeat; the leader notices the gap
  EXPECT_EQ(c.count_sent(testing::is(MessageType::kSnapshot, kN1, kN3)), 1u);
  EXPECT_EQ(c.storage(kN3).snapshot().value().meta.index, Index{12});
  EXPECT_EQ(c.node(kN3).state, c.node(kN1).state);
  EXPECT_EQ(c.status(kN1).progress.at(kN3).state, std::string("replicate"));

  propose_all(c, kN1, {"after"});
  ASSERT_TRUE(c.stabilize());
  EXPECT_EQ(c.node(kN3).state, c.node(kN1).state);
  EXPECT_EQ(c.node(kN3).state.back(), "after");
  EXPECT_TRUE(c.violations().empty());
}

// A node added to the group after compaction starts with an empty log; it gets the
// snapshot first, then the entries after it, including its own addition.
TEST(Snapshot, NewNodeStartsFromSnapshot) {
  TestCluster c(3);
  ASSERT_TRUE(c.elect(kN1));
  propose_all(c, kN1, payloads(5, "a"));
  ASSERT_TRUE(c.stabilize());
  c.compact(kN1);
  c.add_node(kN4);
  ASSERT_TRUE(
      c.propose_conf_change(
           kN1, ConfChange{ConfChangeTransition::kAuto, {{ConfChangeType::kAddVoter, kN4}}, ""})
          .is_ok());
  ASSERT_TRUE(c.stabilize());
  EXPECT_EQ(c.count_sent(testing::is(MessageType::kSnapshot, kN1, kN4)), 1u);
  EXPECT_EQ(c.node(kN4).state, c.node(kN1).state);
  EXPECT_EQ(c.node(kN4).conf_state.voters, (std::vector<NodeId>{kN1, kN2, kN3, kN4}));
}

// The host reports a failed snapshot transfer (report_snapshot(.., false)); the leader
// probes again and, once the follower answers a heartbeat, sends a new snapshot.
TEST(Snapshot, FailedSnapshotIsRetriedAfterReport) {
  TestCluster c(3);
  ASSERT_TRUE(c.elect(kN1));
  c.crash(kN3);
  propose_all(c, kN1, payloads(5, "a"));
  ASSERT_TRUE(c.stabilize());
  c.compact(kN1);
  c.restart(kN3);
  c.drop_type(MessageType::kSnapshot);  // lost; the harness reports the failure
  ASSERT_TRUE(c.tick_all(1));
  ASSERT_EQ(c.count_sent(testing::is(MessageType::kSnapshot)), 1u);
  EXPECT_EQ(c.status(kN1).progress.at(kN3).state, std::string("probe"));
  c.heal();
  ASSERT_TRUE(c.tick_all(2));
  EXPECT_EQ(c.count_sent(testing::is(MessageType::kSnapshot)), 2u);
  EXPECT_EQ(c.node(kN3).state, c.node(kN1).state);
}

// Contrast: a lost snapshot that is never reported leaves the follower paused in the
// snapshot state (which is why the host must report the outcome).
TEST(Snapshot, UnreportedLostSnapshotLeavesFollowerPaused) {
  TestCluster c(3);
  ASSERT_TRUE(c.elect(kN1));
  c.crash(kN3);
  propose_all(c, kN1, payloads(5, "a"));
  ASSERT_TRUE(c.stabilize());
  c.compact(kN1);
  c.restart(kN3);
  c.set_auto_report_snapshots(false);
  c.drop_type(MessageType::kSnapshot);
  ASSERT_TRUE(c.tick_all(1));
  c.heal();
  ASSERT_TRUE(c.tick_all(20));
  EXPECT_EQ(c.count_sent(testing::is(MessageType::kSnapshot)), 1u);
  EXPECT_EQ(c.status(kN1).progress.at(kN3).state, std::string("snapshot"));
  EXPECT_TRUE(c.node(kN3).state.empty());
}

// A restarted node rebuilds its state from its snapshot plus its log: the entries
// after the snapshot are handed out again (once), conf changes among them included.
TEST(Snapshot, RestartFromSnapshotAndLogRebuildsStateAndMembership) {
  TestCluster c(3);
  ASSERT_TRUE(c.elect(kN1));
  propose_all(c, kN1, payloads(3, "a"));
  ASSERT_TRUE(c.stabilize());
  c.compact(kN2);
  Index snap = c.storage(kN2).snapshot().value().meta.index;
  c.add_node(kN4);
  ASSERT_TRUE(
      c.propose_conf_change(
           kN1, ConfChange{ConfChangeTransition::kAuto, {{ConfChangeType::kAddLearner, kN4}}, ""})
          .is_ok());
  propose_all(c, kN1, payloads(2, "b"));
  ASSERT_TRUE(c.stabilize());
  std::vector<std::string> before = c.node(kN2).state;
  ConfState conf_before = c.node(kN2).conf_state;
  ASSERT_EQ(conf_before.learners, std::vector<NodeId>{kN4});

  c.crash(kN2);
  c.restart(kN2);
  ASSERT_TRUE(c.stabilize());
  EXPECT_EQ(c.node(kN2).state, before);
  EXPECT_EQ(c.node(kN2).conf_state, conf_before);
  EXPECT_EQ(c.status(kN2).conf_state, conf_before);
  ASSERT_FALSE(c.node(kN2).applied_log.empty());
  EXPECT_EQ(c.node(kN2).applied_log.front().index, snap + 1);
  EXPECT_TRUE(c.violations().empty());
}

// §7: a follower whose log conflicts with the snapshot (here: uncommitted entries of
// an old leader) discards its whole log and takes the snapshot.
TEST(Snapshot, SnapshotReplacesConflictingFollowerLog) {
  TestCluster c(3, [](Config& cfg) { cfg.check_quorum = false; });
  ASSERT_TRUE(c.elect(kN1));
  c.isolate(kN1);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(c.propose(kN1, "stale").is_ok());
  ASSERT_TRUE(c.stabilize());
  c.crash(kN1);  // holds three uncommitted entries of term 2
  c.heal();
  ASSERT_TRUE(c.elect(kN2));
  propose_all(c, kN2, payloads(6, "a"));
  ASSERT_TRUE(c.stabilize());
  c.compact(kN2);
  c.restart(kN1);
  ASSERT_TRUE(c.tick_all(3));
  EXPECT_GE(c.count_sent(testing::is(MessageType::kSnapshot, kN2, kN1)), 1u);
  EXPECT_EQ(c.node(kN1).state, c.node(kN2).state);
  EXPECT_EQ(c.storage(kN1).all_entries(), c.storage(kN2).all_entries());
  EXPECT_TRUE(c.violations().empty());
}

// The leader compacts while a follower is pipelining from it; when the follower
// then falls behind the compaction point it gets a snapshot instead of entries.
TEST(Snapshot, FollowerFallingBehindCompactionPointGetsSnapshot) {
  TestCluster c(3);
  ASSERT_TRUE(c.elect(kN1));
  ASSERT_TRUE(c.stabilize());
  c.isolate(kN3);  // n3 stays in the replicate state, its appends lost
  propose_all(c, kN1, payloads(4, "a"));
  ASSERT_TRUE(c.stabilize());
  c.compact(kN1);
  propose_all(c, kN1, payloads(2, "b"));
  ASSERT_TRUE(c.stabilize());
  c.heal();
  ASSERT_TRUE(c.tick_all(3));
  EXPECT_GE(c.count_sent(testing::is(MessageType::kSnapshot, kN1, kN3)), 1u);
  EXPECT_EQ(c.node(kN3).state, c.node(kN1).state);
  EXPECT_EQ(c.node(kN3).state.size(), 6u);
}

// A follower whose log already contains the snapshot's last entry keeps its log
// (§7: "If the follower already has the entry ... retain the entries following it").
TEST(Snapshot, FollowerHoldingSnapshotEntryKeepsItsLog) {
  TestCluster c(3);
  ASSERT_TRUE(c.elect(kN1));
  propose_all(c, kN1, payloads(3, "a"));
  ASSERT_TRUE(c.stabilize());
  Index last = c.storage(kN2).last_index();
  Message m;
  m.type = MessageType::kSnapshot;
  m.from = kN1;
  m.to = kN2;
  m.term = c.replica(kN1).term();
  auto snap = std::make_shared<Snapshot>();
  snap->meta = SnapshotMeta{Index{3}, Term{2}, c.node(kN1).conf_state};
  m.snapshot = snap;
  ASSERT_TRUE(c.replica(kN2).step(m).is_ok());
  ASSERT_TRUE(c.stabilize());
  EXPECT_EQ(c.storage(kN2).last_index(), last);
  EXPECT_EQ(c.storage(kN2).first_index(), Index{2});  // nothing was installed
}

}  // namespace
}  // namespace meridian::raft
