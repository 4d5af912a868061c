#include "raft/tracker.h"

#include <gtest/gtest.h>

namespace meridian::raft {
namespace {

std::vector<NodeId> ids(std::initializer_list<uint64_t> raw) {
  std::vector<NodeId> out;
  for (uint64_t r : raw) out.push_back(NodeId{r});
  return out;
}

// A tracker with the given voters (incoming, outgoing) and learners, every member
// with a Progress at match 0.
ProgressTracker make_tracker(std::initializer_list<uint64_t> incoming,
                             std::initializer_list<uint64_t> outgoing = {},
                             std::initializer_list<uint64_t> learners = {}) {
  ProgressTracker t(16, 0);
  t.config.voters.incoming = MajorityConfig(ids(incoming));
  t.config.voters.outgoing = MajorityConfig(ids(outgoing));
  for (NodeId id : t.config.voters.ids()) t.progress.emplace(id, Progress(Index{1}, 16, 0));
  for (NodeId id : ids(learners)) {
    t.config.learners.insert(id);
    Progress pr(Index{1}, 16, 0);
    pr.is_learner = true;
    t.progress.emplace(id, pr);
  }
  return t;
}

void set_match(ProgressTracker& t, uint64_t id, uint64_t match) {
  t.find(NodeId{id})->match = Index{match};
}

TEST(ProgressTrackerTest, ConfStateListsAreSortedAndJointFieldsFilled) {
  ProgressTracker t = make_tracker({3, 1, 2}, {1, 2, 4}, {6, 5});
  t.config.learners_next.insert(NodeId{4});
  t.config.auto_leave = true;
  ConfState cs = t.conf_state();
  EXPECT_EQ(cs.voters, ids({1, 2, 3}));
  EXPECT_EQ(cs.voters_outgoing, ids({1, 2, 4}));
  EXPECT_EQ(cs.learners, ids({5, 6}));
  EXPECT_EQ(cs.learners_next, ids({4}));
  EXPECT_TRUE(cs.auto_leave);
  EXPECT_EQ(t.config.to_string(),
            "voters=(1 2 3)&&(1 2 4) learners=(5 6) learners_next=(4) autoleave");
}

TEST(ProgressTrackerTest, IsSingleton) {
  EXPECT_TRUE(make_tracker({1}).is_singleton());
  EXPECT_TRUE(make_tracker({1}, {}, {2}).is_singleton());  // learners don't count
  EXPECT_FALSE(make_tracker({1, 2}).is_singleton());
  EXPECT_FALSE(make_tracker({1}, {1, 2}).is_singleton());
  EXPECT_FALSE(make_tracker({}).is_singleton());
}

TEST(ProgressTrackerTest, CommittedUsesVoterMatches) {
  ProgressTracker t = make_tracker({1, 2, 3}, {}, {4});
  set_match(t, 1, 10);
  set_match(t, 2, 7);
  set_match(t, 3, 2);
  set_match(t, 4, 100);  // a learner's match never counts
  EXPECT_EQ(t.committed(), Index{7});
}

TEST(ProgressTrackerTest, CommittedJointIsMinimum) {
  ProgressTracker t = make_tracker({1, 2, 3}, {3, 4, 5});
  set_match(t, 1, 10);
  set_match(t, 2, 10);
  set_match(t, 3, 4);
  set_match(t, 4, 6);
  set_match(t, 5, 1);
  // Incoming majority: 10; outgoing majority (3, 4): 4.
  EXPECT_EQ(t.committed(), Index{4});
}

TEST(ProgressTrackerTest, CommittedWithoutVotersIsZero) {
  ProgressTracker t(16, 0);
  EXPECT_EQ(t.committed(), Index{0});
}

TEST(ProgressTrackerTest, QuorumActive) {
  ProgressTracker t = make_tracker({1, 2, 3}, {}, {4, 5});
  t.find(NodeId{1})->recent_active = true;
  // Active learners do not make a quorum.
  t.find(NodeId{4})->recent_active = true;
  t.find(NodeId{5})->recent_active = true;
  EXPECT_FALSE(t.quorum_active());
  t.find(NodeId{3})->recent_active = true;
  EXPECT_TRUE(t.quorum_active());
}

TEST(ProgressTrackerTest, QuorumActiveJointNeedsBothHalves) {
  ProgressTracker t = make_tracker({1, 2, 3}, {3, 4, 5});
  for (uint64_t id : {1, 2}) t.find(NodeId{id})->recent_active = true;
  EXPECT_FALSE(t.quorum_active());
  t.find(NodeId{4})->recent_active = true;
  EXPECT_FALSE(t.quorum_active());  // outgoing has only 4
  t.find(NodeId{5})->recent_active = true;
  EXPECT_TRUE(t.quorum_active());
}

TEST(ProgressTrackerTest, VoterAndLearnerNodes) {
  ProgressTracker t = make_tracker({3, 1}, {1, 2}, {9, 7});
  EXPECT_EQ(t.voter_nodes(), ids({1, 2, 3}));
  EXPECT_EQ(t.learner_nodes(), ids({7, 9}));
  EXPECT_TRUE(t.is_voter(NodeId{2}));
  EXPECT_FALSE(t.is_voter(NodeId{7}));
  EXPECT_TRUE(t.is_learner(NodeId{7}));
  EXPECT_EQ(t.find(NodeId{8}), nullptr);
}

TEST(ProgressTrackerTest, FirstVoteWins) {
  ProgressTracker t = make_tracker({1, 2, 3});
  t.record_vote(NodeId{1}, true);
  t.record_vote(NodeId{2}, false);
  t.record_vote(NodeId{2}, true);  // ignored: 2 already voted
  ProgressTracker::Tally tally = t.tally_votes();
  EXPECT_EQ(tally.granted, 1u);
  EXPECT_EQ(tally.rejected, 1u);
  EXPECT_EQ(tally.result, VoteResult::kPending);
  t.record_vote(NodeId{3}, true);
  tally = t.tally_votes();
  EXPECT_EQ(tally.granted, 2u);
  EXPECT_EQ(tally.result, VoteResult::kWon);
  t.reset_votes();
  tally = t.tally_votes();
  EXPECT_EQ(tally.granted, 0u);
  EXPECT_EQ(tally.rejected, 0u);
  EXPECT_EQ(tally.result, VoteResult::kPending);
}

TEST(ProgressTrackerTest, TallyCountsOnlyVoters) {
  ProgressTracker t = make_tracker({1, 2, 3}, {}, {4});
  t.record_vote(NodeId{1}, true);
  t.record_vote(NodeId{4}, true);  // learner
  t.record_vote(NodeId{9}, true);  // stranger
  ProgressTracker::Tally tally = t.tally_votes();
  EXPECT_EQ(tally.granted, 1u);
  EXPECT_EQ(tally.result, VoteResult::kPending);
  t.record_vote(NodeId{2}, false);
  t.record_vote(NodeId{3}, false);
  tally = t.tally_votes();
  EXPECT_EQ(tally.rejected, 2u);
  EXPECT_EQ(tally.result, VoteResult::kLost);
}

TEST(ProgressTrackerTest, TallyJoint) {
  ProgressTracker t = make_tracker({1, 2, 3}, {3, 4, 5});
  for (uint64_t id : {1, 2}) t.record_vote(NodeId{id}, true);
  EXPECT_EQ(t.tally_votes().result, VoteResult::kPending);
  t.record_vote(NodeId{4}, false);
  t.record_vote(NodeId{5}, false);
  ProgressTracker::Tally tally = t.tally_votes();
  EXPECT_EQ(tally.granted, 2u);
  EXPECT_EQ(tally.rejected, 2u);
  EXPECT_EQ(tally.result, VoteResult::kLost);
}

TEST(ProgressTrackerTest, VisitInIdOrder) {
  ProgressTracker t = make_tracker({5, 1, 3}, {}, {4, 2});
  std::vector<NodeId> seen;
  t.visit([&](NodeId id, Progress& pr) {
    seen.push_back(id);
    pr.recent_active = true;
  });
  EXPECT_EQ(seen, ids({1, 2, 3, 4, 5}));
  EXPECT_TRUE(t.find(NodeId{4})->recent_active);
}

TEST(ProgressTrackerTest, InflightLimits) {
  ProgressTracker t(32, 4096);
  EXPECT_EQ(t.inflight_messages_max(), 32u);
  EXPECT_EQ(t.inflight_bytes_max(), 4096u);
}

}  // namespace
}  // namespace meridian::raft
