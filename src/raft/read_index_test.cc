// Linearizable reads without log writes: ReadIndex and lease reads (Raft thesis §6.4).
#include <gtest/gtest.h>

#include "raft/cluster_testing.h"

namespace meridian::raft {
namespace {

using testing::kN1;
using testing::kN2;
using testing::kN3;
using testing::TestCluster;

ReadState read_state(Index i, std::string context) { return ReadState{i, std::move(context)}; }

void lease_reads(Config& c) { c.read_only = ReadOnlyOption::kLeaseBased; }

// Thesis §6.4 step 3: before answering, the leader confirms it is still leader with
// a heartbeat round acknowledged by a majority. Cut off from its followers, it
// answers nothing, however long it waits.
TEST(ReadIndex, LeaderNeedsHeartbeatQuorumBeforeAnswering) {
  TestCluster c(3);
  ASSERT_TRUE(c.elect(kN1));
  c.isolate(kN1);
  c.replica(kN1).read_index("r1");
  for (int i = 0; i < 5; ++i) {
    c.tick(kN1);
    ASSERT_TRUE(c.stabilize());
  }
  EXPECT_TRUE(c.node(kN1).read_states.empty());

  c.heal();
  ASSERT_TRUE(c.tick_all(1));  // the next heartbeat carries r1 and is acknowledged
  EXPECT_EQ(c.node(kN1).read_states, std::vector<ReadState>{read_state(Index{2}, "r1")});
}

// Thesis §6.4.1: with a lease (check-quorum), the leader answers at once, without a
// heartbeat round; that is why, cut off, it still answers (until the lease runs out
// and check-quorum deposes it).
TEST(ReadIndex, LeaseBasedReadAnswersWithoutHeartbeatRound) {
  TestCluster c(3, lease_reads);
  ASSERT_TRUE(c.elect(kN1));
  c.isolate(kN1);
  c.clear_sent();
  c.replica(kN1).read_index("r1");
  ASSERT_TRUE(c.handle_ready(kN1));
  EXPECT_EQ(c.node(kN1).read_states, std::vector<ReadState>{read_state(Index{2}, "r1")});
  EXPECT_EQ(c.count_sent(testing::is(MessageType::kHeartbeat)), 0u);

  // Contrast: the safe option sends a heartbeat round and answers after it.
  TestCluster safe(3);
  ASSERT_TRUE(safe.elect(kN1));
  safe.clear_sent();
  safe.replica(kN1).read_index("r1");
  ASSERT_TRUE(safe.handle_ready(kN1));
  EXPECT_TRUE(safe.node(kN1).read_states.empty());
  EXPECT_EQ(safe.count_sent(testing::is(MessageType::kHeartbeat)), 2u);
  ASSERT_TRUE(safe.stabilize());
  EXPECT_EQ(safe.node(kN1).read_states, std::vector<ReadState>{read_state(Index{2}, "r1")});
}

// Thesis §6.4.1: a lease lasts only as long as the followers' own election timeouts
// keep them from electing someone else. Here the clocks are perfect (every node
// ticks in lockstep, messages arrive within the tick), so a lease read served while
// another leader has already committed a write is a bug, not clock drift. The cut
// is tried at every phase of the leader's check-quorum period.
TEST(ReadIndex, LeaseReadNeverMissesWriteOfNewerLeader) {
  for (int phase = 0; phase < 20; ++phase) {
    SCOPED_TRACE("phase " + std::to_string(phase));
    TestCluster c(3, lease_reads);
    ASSERT_TRUE(c.elect(kN1));
    ASSERT_TRUE(c.tick_all(phase));
    c.partition({{kN1}, {kN2, kN3}});
    Index write{0};
    for (int t = 0; t < 40 && c.replica(kN1).role() == Role::kLeader; ++t) {
      ASSERT_TRUE(c.tick_all(1));
      NodeId other = c.leader() == kN1 ? kNoNode : c.leader();
      if (write == Index{0} && other != kNoNode) {
        ASSERT_TRUE(c.propose(other, "w").is_ok());
        ASSERT_TRUE(c.stabilize());
        write = c.status(other).commit;  // acknowledged to its client now
      }
      if (write == Index{0} || c.replica(kN1).role() != Role::kLeader) continue;
      c.replica(kN1).read_index("r" + std::to_string(t));
      ASSERT_TRUE(c.stabilize());
      for (const ReadState& rs : c.node(kN1).read_states) {
        EXPECT_GE(rs.index, write) << "stale lease read at tick " << t;
      }
    }
    EXPECT_GT(write, Index{0}) << "n2 or n3 should have taken over";
  }
}

// A leadership transfer makes the target campaign with forced votes that ignore the
// voters' leases (thesis §3.10), so the old leader's lease is void from the moment
// it sends TimeoutNow. Here the target's vote request to the old leader is lost; the
// target wins and commits a write; a lease read at the old leader must not miss it.
TEST(ReadIndex, NoLeaseReadsOnceTransferStarted) {
  TestCluster c(3, lease_reads);
  ASSERT_TRUE(c.elect(kN1));
  c.cut(kN2, kN1);  // n1 will not hear of n2's election for a while
  c.replica(kN1).transfer_leader(kN2);
  ASSERT_TRUE(c.stabilize());
  ASSERT_EQ(c.replica(kN2).role(), Role::kLeader);
  ASSERT_TRUE(c.propose(kN2, "w").is_ok());
  ASSERT_TRUE(c.stabilize());
  Index write = c.status(kN2).commit;
  ASSERT_EQ(c.node(kN3).state, std::vector<std::string>{"w"});

  ASSERT_EQ(c.replica(kN1).role(), Role::kLeader);  // it does not know yet
  c.replica(kN1).read_index("r");
  ASSERT_TRUE(c.stabilize());
  for (const ReadState& rs : c.node(kN1).read_states) {
    EXPECT_GE(rs.index, write) << "stale lease read";
  }
}

// Thesis §6.4 (a follower may serve reads): it asks the leader for the read index
// and gets a ReadState with the leader's commit index.
TEST(ReadIndex, FollowerReadIsForwardedToLeader) {
  TestCluster c(3);
  ASSERT_TRUE(c.elect(kN1));
  ASSERT_TRUE(c.propose(kN1, "x").is_ok());
  ASSERT_TRUE(c.stabilize());
  c.replica(kN2).read_index("f1");
  ASSERT_TRUE(c.stabilize());
  EXPECT_EQ(c.node(kN2).read_states, std::vector<ReadState>{read_state(Index{3}, "f1")});
  EXPECT_TRUE(c.node(kN1).read_states.empty());
  EXPECT_GE(c.count_sent(testing::is(MessageType::kReadIndex, kN2, kN1)), 1u);
}

// Thesis §6.4 step 1: a new leader may not know the latest commit index until it has
// committed an entry of its own term; it must not answer reads before that.
// Here "x" was committed by the old leader, but the new leader never learned it.
TEST(ReadIndex, NewLeaderDefersReadsUntilEntryOfItsTermCommits) {
  TestCluster c(3);
  ASSERT_TRUE(c.elect(kN1));
  ASSERT_TRUE(c.propose(kN1, "x").is_ok());
  ASSERT_TRUE(c.handle_ready(kN1));
  c.deliver();  // "x" reaches n2 and n3
  ASSERT_TRUE(c.handle_ready(kN2));
  ASSERT_TRUE(c.handle_ready(kN3));
  c.deliver();  // their acknowledgements reach n1, which commits index 3
  ASSERT_TRUE(c.handle_ready(kN1));
  ASSERT_EQ(c.status(kN1).commit, Index{3});
  c.crash(kN1);  // before telling anyone
  c.drop_pending();
  // A new leader is elected, but its no-op (index 4) cannot commit yet.
  c.drop_type(MessageType::kAppendResponse);
  NodeId leader = kNoNode;
  for (int i = 0; i < 100 && leader == kNoNode; ++i) {
    ASSERT_TRUE(c.tick_all(1));
    leader = c.leader();
  }
  ASSERT_NE(leader, kNoNode);
  ASSERT_EQ(c.status(leader).commit, Index{2});  // it does not know "x" is committed

  c.replica(leader).read_index("r");
  ASSERT_TRUE(c.tick_all(3));
  EXPECT_TRUE(c.node(leader).read_states.empty()) << "answered with a stale commit index";

  c.heal();
  ASSERT_TRUE(c.tick_all(1));
  ASSERT_EQ(c.node(leader).read_states.size(), 1u);
  EXPECT_EQ(c.node(leader).read_states[0].index, Index{4});
  EXPECT_EQ(c.node(leader).state, std::vector<std::string>{"x"});
}

// A leader that loses leadership before its read is confirmed never answers it
// (the client retries elsewhere); in particular not after it became a follower.
TEST(ReadIndex, PendingReadIsDroppedWhenLeadershipIsLost) {
  TestCluster c(3);
  ASSERT_TRUE(c.elect(kN1));
  c.isolate(kN1);
  c.replica(kN1).read_index("r1");
  ASSERT_TRUE(c.tick_all(3 * 10));  // n1 steps down (check-quorum); n2 or n3 lead
  ASSERT_NE(c.replica(kN1).role(), Role::kLeader);
  c.heal();
  ASSERT_TRUE(c.tick_all(3));
  EXPECT_TRUE(c.node(kN1).read_states.empty());
}

// Heartbeat acknowledgements are cumulative: a quorum acknowledging a later read's
// round also confirms every earlier pending read (thesis §6.4 batching).
TEST(ReadIndex, LaterRoundConfirmsEarlierReads) {
  TestCluster c(3);
  ASSERT_TRUE(c.elect(kN1));
  c.replica(kN1).read_index("r1");
  ASSERT_TRUE(c.handle_ready(kN1));
  c.drop_pending();  // r1's heartbeat round is lost
  c.replica(kN1).read_index("r2");
  ASSERT_TRUE(c.stabilize());
  EXPECT_EQ(c.node(kN1).read_states,
            (std::vector<ReadState>{read_state(Index{2}, "r1"), read_state(Index{2}, "r2")}));
}

}  // namespace
}  // namespace meridian::raft
