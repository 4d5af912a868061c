// Leader election (Raft paper §5.2, §5.4.1; thesis §4.2.3, §6.2, §9.6).
#include <gtest/gtest.h>

#include <set>

#include "raft/cluster_testing.h"

namespace meridian::raft {
namespace {

using testing::ConfigureFn;
using testing::kN1;
using testing::kN2;
using testing::kN3;
using testing::TestCluster;

constexpr int kElectionTicks = 10;  // Config's default

ConfigureFn no_pre_vote() {
  return [](Config& c) { c.pre_vote = false; };
}

// §5.2: election timeouts are chosen at random from a fixed interval, here
// [election_ticks, 2 * election_ticks), so that split votes are rare.
TEST(Election, RandomizedTimeoutsSpreadOverOneToTwoElectionTimeouts) {
  std::set<int> seen;
  for (uint64_t seed = 0; seed < 100; ++seed) {
    TestCluster c(3, [&](Config& cfg) { cfg.random_seed = seed; });
    int ticks = 0;
    while (!c.replica(kN1).has_ready() && ticks < 100) {
      c.tick(kN1);
      ++ticks;
    }
    EXPECT_GE(ticks, kElectionTicks) << "seed " << seed;
    EXPECT_LT(ticks, 2 * kElectionTicks) << "seed " << seed;
    EXPECT_EQ(c.replica(kN1).role(), Role::kPreCandidate);
    seen.insert(ticks);
  }
  // Ten possible values; 100 draws that all collide would mean no randomization.
  EXPECT_GE(seen.size(), 5u);
}

// §5.2: a candidate that wins a majority becomes leader and the others follow it.
TEST(Election, CandidateWithMajorityBecomesLeaderAndOthersFollow) {
  TestCluster c(3);
  ASSERT_TRUE(c.elect(kN1));
  for (NodeId id : c.ids()) {
    EXPECT_EQ(c.replica(id).leader(), kN1);
    EXPECT_EQ(c.replica(id).term(), Term{2});
    // The leader's no-op of term 2 (index 2) is committed everywhere.
    EXPECT_EQ(c.status(id).commit, Index{2});
  }
  EXPECT_TRUE(c.violations().empty());
}

// §5.2 / Figure 2 (RequestVote): each server votes for at most one candidate per
// term, and the vote is persisted before it is answered, so a crash cannot undo it.
TEST(Election, AtMostOneVotePerTermEvenAcrossACrash) {
  TestCluster c(3, no_pre_vote());
  c.campaign(kN1);
  c.campaign(kN2);
  ASSERT_TRUE(c.handle_ready(kN1));
  ASSERT_TRUE(c.handle_ready(kN2));
  ASSERT_EQ(c.replica(kN1).term(), Term{2});
  ASSERT_EQ(c.replica(kN2).term(), Term{2});

  c.deliver(testing::is(MessageType::kVote, kN1, kN3));
  ASSERT_TRUE(c.handle_ready(kN3));
  EXPECT_EQ(c.storage(kN3).hard_state().vote, kN1);
  c.crash(kN3);
  c.restart(kN3);
  c.deliver(testing::is(MessageType::kVote, kN2, kN3));
  ASSERT_TRUE(c.handle_ready(kN3));

  auto granted = [&](NodeId from, NodeId to) {
    return c.count_sent([&](const Message& m) {
      return m.type == MessageType::kVoteResponse && m.from == from && m.to == to && !m.reject;
    });
  };
  EXPECT_EQ(granted(kN3, kN1), 1u);
  EXPECT_EQ(granted(kN3, kN2), 0u);
  ASSERT_TRUE(c.stabilize());
  EXPECT_EQ(c.leader(), kN1);
  EXPECT_EQ(c.replica(kN2).role(), Role::kFollower);
}

// §5.4.1: a voter denies its vote to a candidate whose log is less up to date, so a
// node that missed committed entries cannot become leader.
TEST(Election, CandidateMissingCommittedEntriesCannotWin) {
  // Without pre-vote and leader leases the vote request reaches the log check.
  TestCluster c(3, [](Config& cfg) {
    cfg.pre_vote = false;
    cfg.check_quorum = false;
  });
  ASSERT_TRUE(c.elect(kN1));
  c.crash(kN3);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(c.propose(kN1, "x").is_ok());
  ASSERT_TRUE(c.stabilize());
  ASSERT_EQ(c.status(kN2).commit, Index{5});
  c.crash(kN1);
  c.restart(kN3);

  EXPECT_FALSE(c.elect(kN3, 3));
  EXPECT_GE(c.count_sent([](const Message& m) {
    return m.type == MessageType::kVoteResponse && m.from == kN2 && m.reject;
  }),
            1u);
  EXPECT_TRUE(c.elect(kN2));
  ASSERT_TRUE(c.stabilize());
  EXPECT_EQ(c.node(kN3).state, (std::vector<std::string>{"x", "x", "x"}));
}

// §5.4.1: logs are compared by the term of their last entry first; only with equal
// last terms does the longer log win.
TEST(Election, LaterLastTermBeatsLongerLog) {
  TestCluster c(3, [](Config& cfg) {
    cfg.pre_vote = false;
    cfg.check_quorum = false;
  });
  c.crash(kN1);
  c.crash(kN2);
  c.crash(kN3);
  c.storage(kN1).append(testing::make_entries(Index{2}, {2, 2, 2}));
  c.storage(kN1).set_hard_state(HardState{Term{2}, kNoNode, Index{1}});
  c.storage(kN2).append(testing::make_entries(Index{2}, {3}));
  c.storage(kN2).set_hard_state(HardState{Term{3}, kNoNode, Index{1}});
  c.restart(kN1);
  c.restart(kN2);

  // n1 has the longer log but n2 the later last term: n2 refuses n1 ...
  EXPECT_FALSE(c.elect(kN1, 2));
  // ... and n1 votes for n2, which then overwrites n1's conflicting entries.
  EXPECT_TRUE(c.elect(kN2));
  ASSERT_TRUE(c.stabilize());
  EXPECT_EQ(c.storage(kN1).term(Index{2}).value(), Term{3});
  EXPECT_EQ(c.storage(kN1).last_index(), c.storage(kN2).last_index());
}

// §5.1: a candidate that learns of a higher term returns to follower; §5.2: and it
// recognizes the leader of that term.
TEST(Election, CandidateStepsDownOnHigherTerm) {
  TestCluster c(3, [](Config& cfg) {
    cfg.pre_vote = false;
    cfg.check_quorum = false;
  });
  c.isolate(kN1);
  c.campaign(kN1);
  ASSERT_TRUE(c.stabilize());
  ASSERT_EQ(c.replica(kN1).role(), Role::kCandidate);
  ASSERT_EQ(c.replica(kN1).term(), Term{2});

  ASSERT_TRUE(c.elect(kN2));  // term 2
  ASSERT_TRUE(c.elect(kN3));  // term 3
  c.heal();
  ASSERT_TRUE(c.tick_all(1));  // a heartbeat of term 3 reaches n1
  EXPECT_EQ(c.replica(kN1).role(), Role::kFollower);
  EXPECT_EQ(c.replica(kN1).term(), Term{3});
  EXPECT_EQ(c.replica(kN1).leader(), kN3);
}

// Figure 2 ("if RPC request or response contains term T > currentTerm ... convert
// to follower"): a follower answers a stale leader's heartbeat with its term even
// without pre-vote and check-quorum. The candidate that raised that term may not
// count the stale leader among its voters (an older configuration), so its vote
// requests alone need not ever reach it; the simulator found a joint
// configuration that stalled that way.
TEST(Election, StaleLeaderLearnsTheTermFromAFollowerItContacts) {
  TestCluster c(3, [](Config& cfg) {
    cfg.pre_vote = false;
    cfg.check_quorum = false;
  });
  ASSERT_TRUE(c.elect(kN1));
  c.isolate(kN2);
  for (int i = 0; i < 2; ++i) {
    c.campaign(kN2);  // its vote requests are lost
    ASSERT_TRUE(c.stabilize());
  }
  ASSERT_EQ(c.replica(kN2).term(), Term{4});
  ASSERT_EQ(c.replica(kN1).role(), Role::kLeader);
  c.heal();
  c.tick(kN1);  // heartbeat_ticks = 1
  ASSERT_TRUE(c.handle_ready(kN1));
  c.deliver(testing::is(MessageType::kHeartbeat, kN1, kN2));
  ASSERT_TRUE(c.handle_ready(kN2));
  c.deliver(testing::is(MessageType::kAppendResponse, kN2, kN1));
  EXPECT_EQ(c.replica(kN1).term(), Term{4});
  EXPECT_EQ(c.replica(kN1).role(), Role::kFollower);
}

// §5.2: with no majority for anyone, candidates time out at different random times
// and one of them eventually wins.
TEST(Election, SplitVoteResolves) {
  TestCluster c(3, no_pre_vote());
  c.crash(kN3);
  c.campaign(kN1);
  c.campaign(kN2);
  ASSERT_TRUE(c.stabilize());
  ASSERT_EQ(c.leader(), kNoNode);  // each voted for itself; n3 is down
  ASSERT_EQ(c.replica(kN1).role(), Role::kCandidate);
  ASSERT_EQ(c.replica(kN2).role(), Role::kCandidate);

  for (int i = 0; i < 10 * kElectionTicks && c.leader() == kNoNode; ++i) {
    ASSERT_TRUE(c.tick_all(1));
  }
  NodeId leader = c.leader();
  EXPECT_TRUE(leader == kN1 || leader == kN2) << leader;
}

// Thesis §9.6: a pre-vote does not change terms, but a rejection carries the
// voter's term, so a node that fell behind in terms catches up instead of
// pre-campaigning forever at a stale term.
TEST(Election, PreVoteRejectionCatchesUpStaleTerm) {
  TestCluster c(3);
  ASSERT_TRUE(c.elect(kN1));
  c.isolate(kN3);
  c.replica(kN1).transfer_leader(kN2);  // term 3
  ASSERT_TRUE(c.stabilize());
  c.replica(kN2).transfer_leader(kN1);  // term 4
  ASSERT_TRUE(c.stabilize());
  ASSERT_EQ(c.replica(kN1).term(), Term{4});
  ASSERT_EQ(c.replica(kN3).term(), Term{2});
  c.heal();
  c.campaign(kN3);
  // Only the pre-vote exchange, no heartbeat: the rejection alone teaches n3 term 4.
  ASSERT_TRUE(c.handle_ready(kN3));
  c.deliver(testing::is(MessageType::kPreVote));
  ASSERT_TRUE(c.handle_ready(kN1));
  c.deliver(testing::is(MessageType::kPreVoteResponse));
  EXPECT_EQ(c.replica(kN3).term(), Term{4});
  EXPECT_EQ(c.replica(kN3).role(), Role::kFollower);
  EXPECT_EQ(c.replica(kN1).role(), Role::kLeader);
}

// Isolates n3 of a three-node group led by n1 for ten election timeouts, then heals.
// Returns n3's term before healing and the leader's term afterwards.
struct RejoinOutcome {
  Term isolated_term;
  NodeId leader_after;
  Term leader_term_after;
};
RejoinOutcome isolate_and_rejoin(bool pre_vote) {
  TestCluster c(3, [&](Config& cfg) { cfg.pre_vote = pre_vote; });
  MERIDIAN_ASSERT(c.elect(kN1), "n1 must win the first election");
  c.isolate(kN3);
  MERIDIAN_ASSERT(c.tick_all(10 * kElectionTicks), "livelock");
  RejoinOutcome out;
  out.isolated_term = c.replica(kN3).term();
  c.heal();
  MERIDIAN_ASSERT(c.tick_all(3 * kElectionTicks), "livelock");
  out.leader_after = c.leader();
  out.leader_term_after =
      out.leader_after == kNoNode ? Term{0} : c.replica(out.leader_after).term();
  return out;
}

// Thesis §9.6: with pre-vote, a partitioned node cannot win a pre-election, so it
// never raises its term, and on rejoining it does not depose the leader.
TEST(Election, PreVoteKeepsPartitionedNodeFromDisruptingLeader) {
  RejoinOutcome with = isolate_and_rejoin(/*pre_vote=*/true);
  EXPECT_EQ(with.isolated_term, Term{2});
  EXPECT_EQ(with.leader_after, kN1);
  EXPECT_EQ(with.leader_term_after, Term{2});

  // Contrast: without pre-vote the isolated node inflates its term, and its higher
  // term deposes the leader when it comes back.
  RejoinOutcome without = isolate_and_rejoin(/*pre_vote=*/false);
  EXPECT_GT(without.isolated_term, Term{2});
  EXPECT_GT(without.leader_term_after, Term{2});
}

// Thesis §4.2.3: a server that heard from a current leader within the election
// timeout ignores vote requests, so it neither adopts the term nor grants a vote.
TEST(Election, FollowerOfLiveLeaderIgnoresVoteRequest) {
  auto run = [](bool check_quorum) {
    TestCluster c(3, [&](Config& cfg) {
      cfg.pre_vote = false;  // the disrupting node sends real vote requests
      cfg.check_quorum = check_quorum;
    });
    MERIDIAN_ASSERT(c.elect(kN1), "n1 must win");
    c.campaign(kN3);  // e.g. a node that missed heartbeats and timed out
    MERIDIAN_ASSERT(c.handle_ready(kN3), "n3 campaigns");
    c.deliver(testing::is(MessageType::kVote, kN3, kN2));
    return std::make_pair(c.replica(kN2).term(), c.status(kN2).vote);
  };
  auto [term_sticky, vote_sticky] = run(/*check_quorum=*/true);
  EXPECT_EQ(term_sticky, Term{2});
  EXPECT_EQ(vote_sticky, kN1);

  // Contrast: without leases the follower adopts term 3 and votes for n3.
  auto [term_plain, vote_plain] = run(/*check_quorum=*/false);
  EXPECT_EQ(term_plain, Term{3});
  EXPECT_EQ(vote_plain, kN3);
}

// Thesis §6.2 (check-quorum): a leader that has not heard from a majority for an
// election timeout steps down; it notices within about two election timeouts.
TEST(Election, CheckQuorumLeaderCutOffFromMajorityStepsDown) {
  auto ticks_to_step_down = [](bool check_quorum) {
    TestCluster c(3, [&](Config& cfg) { cfg.check_quorum = check_quorum; });
    MERIDIAN_ASSERT(c.elect(kN1), "n1 must win");
    c.isolate(kN1);
    int ticks = 0;
    while (c.replica(kN1).role() == Role::kLeader && ticks < 10 * kElectionTicks) {
      MERIDIAN_ASSERT(c.tick_all(1), "livelock");
      ++ticks;
    }
    return ticks;
  };
  EXPECT_LE(ticks_to_step_down(true), 2 * kElectionTicks);
  // Contrast: without check-quorum the cut-off leader keeps believing it leads.
  EXPECT_EQ(ticks_to_step_down(false), 10 * kElectionTicks);
}

// Thesis §6.2: the leader counts itself toward the quorum it checks; a leader with a
// majority (itself plus one of two followers) must not step down.
TEST(Election, CheckQuorumLeaderWithMajorityIncludingItselfStaysLeader) {
  TestCluster c(3);
  c.crash(kN3);  // down from the start: it never answers this leader
  ASSERT_TRUE(c.elect(kN1));
  ASSERT_TRUE(c.tick_all(5 * kElectionTicks));
  EXPECT_EQ(c.replica(kN1).role(), Role::kLeader);
  EXPECT_EQ(c.replica(kN1).term(), Term{2});
}

}  // namespace
}  // namespace meridian::raft
