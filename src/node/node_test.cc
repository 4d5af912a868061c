// Real nodes in one process over the real transport and storage (temporary
// directories, 127.0.0.1). Timeouts here are deadlines for progress, not
// performance assertions.
#include "node/node.h"

#include <gtest/gtest.h>

#include <condition_variable>
#include <mutex>

#include "base/strings.h"
#include "node/map_state_machine.h"
#include "node/node_testing.h"

namespace meridian::node {
namespace {

using base::cat;
using std::chrono::milliseconds;
constexpr GroupId kG1{1};
constexpr milliseconds kWait{10000};

TEST(NodeTest, ThreeNodesElectOneLeaderAndReplicateThroughAnyNode) {
  NodeCluster c(3);
  for (int i = 1; i <= 3; ++i) ASSERT_TRUE(c.start(i).is_ok());
  const int leader = c.wait_leader(kG1, kWait);
  ASSERT_NE(leader, 0);
  raft::Index last;
  for (int i = 1; i <= 3; ++i) {
    auto r = c.put(i, kG1, cat("k", i), cat("v", i));
    ASSERT_TRUE(r.is_ok()) << r.status();
    EXPECT_EQ(r.value().result, "ok");
    last = std::max(last, r.value().index);
  }
  for (int i = 1; i <= 3; ++i) {
    ASSERT_TRUE(c.wait_applied(i, kG1, last, kWait)) << "node " << i;
    for (int k = 1; k <= 3; ++k) {
      auto v = c.get(i, kG1, cat("k", k), /*linearizable=*/false);
      ASSERT_TRUE(v.is_ok());
      EXPECT_EQ(v.value(), std::optional<std::string>(cat("v", k))) << "node " << i;
    }
  }
}

TEST(NodeTest, LinearizableReadOnFollowerSeesTheLatestWrite) {
  NodeCluster c(3);
  for (int i = 1; i <= 3; ++i) ASSERT_TRUE(c.start(i).is_ok());
  const int leader = c.wait_leader(kG1, kWait);
  ASSERT_NE(leader, 0);
  const int follower = leader % 3 + 1;
  for (int n = 0; n < 20; ++n) {
    ASSERT_TRUE(c.put(leader, kG1, "x", cat(n)).is_ok());
    auto v = c.get(follower, kG1, "x", /*linearizable=*/true);
    ASSERT_TRUE(v.is_ok()) << v.status();
    EXPECT_EQ(v.value(), std::optional<std::string>(cat(n)));
  }
  auto absent = c.get(follower, kG1, "nope", true);
  ASSERT_TRUE(absent.is_ok());
  EXPECT_FALSE(absent.value().has_value());
}

// A commit index that moved alone is written with the next entries, not synced
// on its own: a write costs each member one fsync, not two (the second, for the
// commit index the leader broadcasts, was half of every member's disk rounds).
TEST(NodeTest, AWriteCostsEachMemberOneSyncNotTwo) {
  NodeCluster c(3);
  for (int i = 1; i <= 3; ++i) ASSERT_TRUE(c.start(i).is_ok());
  const int leader = c.wait_leader(kG1, kWait);
  ASSERT_NE(leader, 0);
  ASSERT_TRUE(c.put(leader, kG1, "warm", "up").is_ok());
  auto syncs = [&] {
    uint64_t total = 0;
    for (int i = 1; i <= 3; ++i) total += c.node(i)->status().journal_syncs;
    return total;
  };
  const uint64_t before = syncs();
  constexpr uint64_t kWrites = 60;
  for (uint64_t n = 0; n < kWrites; ++n) {
    ASSERT_TRUE(c.put(leader, kG1, cat("k", n), cat(n)).is_ok());
  }
  const uint64_t per_write_x10 = (syncs() - before) * 10 / kWrites;
  // One write at a time: three members, one fsync each (plus the odd election
  // or snapshot); two each would be 60.
  EXPECT_LE(per_write_x10, 40u) << "fsyncs per write x10";
}

// Linearizable reads that arrive together share one ReadIndex round; each still
// sees every write acknowledged before it began.
TEST(NodeTest, ConcurrentLinearizableReadsSeeEveryEarlierWrite) {
  NodeCluster c(3);
  for (int i = 1; i <= 3; ++i) ASSERT_TRUE(c.start(i).is_ok());
  const int leader = c.wait_leader(kG1, kWait);
  ASSERT_NE(leader, 0);
  const int follower = leader % 3 + 1;
  for (int round = 0; round < 10; ++round) {
    ASSERT_TRUE(c.put(leader, kG1, "x", cat(round)).is_ok());
    constexpr int kReads = 50;
    std::mutex mu;
    std::condition_variable cv;
    int answered = 0;
    std::vector<std::string> seen;
    for (int r = 0; r < kReads; ++r) {
      c.node(r % 2 == 0 ? follower : leader)
          ->read(
              kG1, true,
              [](const StateMachine& sm) {
                auto v = static_cast<const MapStateMachine&>(sm).get("x");
                return v ? *v : std::string("absent");
              },
              [&](base::Result<std::string> v) {
                std::lock_guard lock(mu);
                seen.push_back(v.is_ok() ? v.value() : v.status().message());
                ++answered;
                cv.notify_all();
              });
    }
    std::unique_lock lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, kWait, [&] { return answered == kReads; }));
    for (const std::string& v : seen) EXPECT_EQ(v, cat(round));
  }
}

TEST(NodeTest, ManyGroupsEachElectAndReplicate) {
  NodeCluster c(3, [](NodeOptions& o) { o.groups = 16; });
  for (int i = 1; i <= 3; ++i) ASSERT_TRUE(c.start(i).is_ok());
  for (uint64_t g = 1; g <= 16; ++g) {
    ASSERT_NE(c.wait_leader(GroupId{g}, kWait), 0) << "group " << g;
    auto r = c.put(static_cast<int>(g % 3) + 1, GroupId{g}, "k", cat("g", g));
    ASSERT_TRUE(r.is_ok()) << r.status();
  }
  for (uint64_t g = 1; g <= 16; ++g) {
    auto v = c.get(1, GroupId{g}, "k", true);
    ASSERT_TRUE(v.is_ok()) << v.status();
    EXPECT_EQ(v.value(), std::optional<std::string>(cat("g", g)));
  }
}

TEST(NodeTest, GracefulStopOfTheLeaderHandsLeadershipOver) {
  // A long election timeout (at least 50 ticks of 20 ms): without a hand-over no
  // follower could become leader within the 300 ms allowed below.
  NodeCluster c(3, [](NodeOptions& o) { o.election_ticks = 50; });
  for (int i = 1; i <= 3; ++i) ASSERT_TRUE(c.start(i).is_ok());
  const int leader = c.wait_leader(kG1, kWait);
  ASSERT_NE(leader, 0);
  ASSERT_TRUE(c.put(leader, kG1, "a", "1").is_ok());
  const raft::Term before = c.group_status(leader, kG1)->term;
  c.stop(leader);
  // stop() returned only once another member led: its status shows it within a
  // tick or two, long before any election timeout could have passed.
  const int next = c.wait_leader(kG1, milliseconds(300));
  ASSERT_NE(next, 0) << "no leader right after the graceful stop: leadership was not handed over";
  ASSERT_NE(next, leader);
  // A transfer is one election at term + 1.
  EXPECT_EQ(c.group_status(next, kG1)->term, before + 1);
  auto r = c.put(next, kG1, "a", "2");
  ASSERT_TRUE(r.is_ok()) << r.status();
}

TEST(NodeTest, AfterTheLeaderCrashesANewOneServesWrites) {
  NodeCluster c(3);
  for (int i = 1; i <= 3; ++i) ASSERT_TRUE(c.start(i).is_ok());
  const int leader = c.wait_leader(kG1, kWait);
  ASSERT_NE(leader, 0);
  ASSERT_TRUE(c.put(leader, kG1, "a", "1").is_ok());
  c.crash(leader);
  const int next = c.wait_leader(kG1, kWait);
  ASSERT_NE(next, 0);
  ASSERT_NE(next, leader);
  auto r = c.put(next, kG1, "a", "2");
  ASSERT_TRUE(r.is_ok()) << r.status();
  // The crashed node comes back with its data and catches up.
  ASSERT_TRUE(c.start(leader).is_ok());
  ASSERT_TRUE(c.wait_applied(leader, kG1, r.value().index, kWait));
  auto v = c.get(leader, kG1, "a", false);
  ASSERT_TRUE(v.is_ok());
  EXPECT_EQ(v.value(), std::optional<std::string>("2"));
}

TEST(NodeTest, AProposalWaitingOnACrashedLeaderFailsWhenTheLeaderChanges) {
  // A request timeout far beyond the election timeout: the error must come from
  // the leader change, not from the timeout.
  NodeCluster c(3, [](NodeOptions& o) { o.proposal_timeout_ms = 60000; });
  for (int i = 1; i <= 3; ++i) ASSERT_TRUE(c.start(i).is_ok());
  const int leader = c.wait_leader(kG1, kWait);
  ASSERT_NE(leader, 0);
  const int follower = leader % 3 + 1;
  c.crash(leader);
  // The follower still names the crashed leader and forwards to it; nothing answers.
  auto r = c.put(follower, kG1, "k", "v");
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), base::Code::kUnavailable) << r.status();
  EXPECT_NE(r.status().message().find("leader changed"), std::string::npos) << r.status();
  ASSERT_NE(c.wait_leader(kG1, kWait), 0);
}

TEST(NodeTest, ALaggingNodeCatchesUpBySnapshotAfterCompaction) {
  NodeCluster c(3, [](NodeOptions& o) {
    o.snapshot_entries = 20;
    o.snapshot_catchup_entries = 5;
  });
  for (int i = 1; i <= 3; ++i) ASSERT_TRUE(c.start(i).is_ok());
  const int leader = c.wait_leader(kG1, kWait);
  ASSERT_NE(leader, 0);
  const int lagging = leader % 3 + 1;
  c.stop(lagging);
  raft::Index last;
  for (int n = 0; n < 100; ++n) {
    auto r = c.put(leader, kG1, cat("k", n % 10), cat(n));
    ASSERT_TRUE(r.is_ok()) << r.status();
    last = r.value().index;
  }
  auto ls = c.group_status(leader, kG1);
  ASSERT_TRUE(ls);
  EXPECT_GT(ls->first_index, raft::Index{50}) << "the leader compacted its log";
  ASSERT_TRUE(c.start(lagging).is_ok());
  ASSERT_TRUE(c.wait_applied(lagging, kG1, last, kWait));
  auto st = c.group_status(lagging, kG1);
  EXPECT_GE(st->snapshots_received, 1u);
  for (int k = 0; k < 10; ++k) {
    auto v = c.get(lagging, kG1, cat("k", k), false);
    ASSERT_TRUE(v.is_ok());
    EXPECT_EQ(v.value(), std::optional<std::string>(cat(90 + k)));
  }
}

TEST(NodeTest, RestartReplaysTheLogIntoTheStateMachine) {
  NodeCluster c(3);
  for (int i = 1; i <= 3; ++i) ASSERT_TRUE(c.start(i).is_ok());
  const int leader = c.wait_leader(kG1, kWait);
  ASSERT_NE(leader, 0);
  for (int n = 0; n < 10; ++n) ASSERT_TRUE(c.put(leader, kG1, cat("k", n), "v").is_ok());
  for (int i = 1; i <= 3; ++i) c.stop(i);
  for (int i = 1; i <= 3; ++i) ASSERT_TRUE(c.start(i).is_ok());
  const int again = c.wait_leader(kG1, kWait);
  ASSERT_NE(again, 0);
  for (int n = 0; n < 10; ++n) {
    auto v = c.get(again, kG1, cat("k", n), true);
    ASSERT_TRUE(v.is_ok()) << v.status();
    EXPECT_EQ(v.value(), std::optional<std::string>("v"));
  }
}

TEST(NodeTest, ADataDirOfAnotherClusterIsRefused) {
  NodeCluster c(1);
  ASSERT_TRUE(c.start(1).is_ok());
  c.stop(1);
  c.options(1).cluster_token = "another";
  base::Status s = c.start(1);
  ASSERT_FALSE(s.is_ok());
  EXPECT_EQ(s.code(), base::Code::kFailedPrecondition);
  EXPECT_NE(s.message().find("belongs to node 1 of cluster"), std::string::npos) << s;
}

TEST(NodeTest, SingleNodeClusterServesAlone) {
  NodeCluster c(1);
  ASSERT_TRUE(c.start(1).is_ok());
  ASSERT_EQ(c.wait_leader(kG1, kWait), 1);
  auto r = c.put(1, kG1, "solo", "yes");
  ASSERT_TRUE(r.is_ok()) << r.status();
  auto v = c.get(1, kG1, "solo", true);
  ASSERT_TRUE(v.is_ok());
  EXPECT_EQ(v.value(), std::optional<std::string>("yes"));
}

TEST(NodeTest, ProposalWithoutQuorumTimesOutWithAClearError) {
  NodeCluster c(3, [](NodeOptions& o) { o.proposal_timeout_ms = 300; });
  for (int i = 1; i <= 3; ++i) ASSERT_TRUE(c.start(i).is_ok());
  const int leader = c.wait_leader(kG1, kWait);
  ASSERT_NE(leader, 0);
  for (int i = 1; i <= 3; ++i) {
    if (i != leader) c.crash(i);
  }
  auto r = c.put(leader, kG1, "k", "v");
  ASSERT_FALSE(r.is_ok());
  EXPECT_TRUE(r.status().code() == base::Code::kUnavailable ||
              r.status().code() == base::Code::kNotLeader)
      << r.status();
}

}  // namespace
}  // namespace meridian::node
