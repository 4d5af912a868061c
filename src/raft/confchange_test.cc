#include "raft/confchange.h"

#include <gtest/gtest.h>

#include <string>

namespace meridian::raft {
namespace {

constexpr uint32_t kMessagesMax = 8;
constexpr uint64_t kBytesMax = 0;
constexpr Index kLastIndex{10};

std::vector<NodeId> ids(std::initializer_list<uint64_t> raw) {
  std::vector<NodeId> out;
  for (uint64_t r : raw) out.push_back(NodeId{r});
  return out;
}

std::string describe(const std::vector<NodeId>& v) {
  std::string s = "(";
  for (size_t i = 0; i < v.size(); ++i) s += (i > 0 ? " " : "") + std::to_string(v[i].value());
  return s + ")";
}

// ConfState's operator<< lives in types.cc; these tests describe it themselves so
// they do not depend on it.
std::string describe(const ConfState& cs) {
  return "voters=" + describe(cs.voters) + " outgoing=" + describe(cs.voters_outgoing) +
         " learners=" + describe(cs.learners) + " learners_next=" + describe(cs.learners_next) +
         (cs.auto_leave ? " autoleave" : "");
}

::testing::AssertionResult same(const ConfState& got, const ConfState& want) {
  if (got == want) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "got " << describe(got) << "\nwant " << describe(want);
}

::testing::AssertionResult same(const TrackerConfig& got, const TrackerConfig& want) {
  if (got == want) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << "got " << got.to_string() << "\nwant " << want.to_string();
}

ConfChangeSingle voter(uint64_t id) { return {ConfChangeType::kAddVoter, NodeId{id}}; }
ConfChangeSingle learner(uint64_t id) { return {ConfChangeType::kAddLearner, NodeId{id}}; }
ConfChangeSingle remove_node(uint64_t id) { return {ConfChangeType::kRemoveNode, NodeId{id}}; }

// The tracker state a test changes step by step, installed only on success, as the
// core does.
struct Group {
  ProgressTracker tracker{kMessagesMax, kBytesMax};

  explicit Group(const ConfState& cs) {
    auto r = restore_conf_state(cs, kLastIndex, kMessagesMax, kBytesMax);
    EXPECT_TRUE(r.is_ok()) << r.status();
    install(std::move(r).value());
  }

  Changer changer() const {
    return Changer(tracker.config, tracker.progress, kLastIndex, kMessagesMax, kBytesMax);
  }
  void install(ConfigAndProgress cp) {
    tracker.config = std::move(cp.first);
    tracker.progress = std::move(cp.second);
  }
  Status run(Result<ConfigAndProgress> r) {
    if (!r.is_ok()) return r.status();
    install(std::move(r).value());
    return Status::ok();
  }
  Status simple(std::vector<ConfChangeSingle> ccs) { return run(changer().simple(ccs)); }
  Status enter_joint(bool auto_leave, std::vector<ConfChangeSingle> ccs) {
    return run(changer().enter_joint(auto_leave, ccs));
  }
  Status leave_joint() { return run(changer().leave_joint()); }

  ConfState cs() const { return tracker.conf_state(); }
  const Progress& pr(uint64_t id) const { return tracker.progress.at(NodeId{id}); }
  bool has_progress(uint64_t id) const { return tracker.progress.contains(NodeId{id}); }
};

ConfState voters_cs(std::initializer_list<uint64_t> v) {
  ConfState cs;
  cs.voters = ids(v);
  return cs;
}

TEST(ChangerTest, SimpleAddVoterCreatesProgress) {
  Group g(voters_cs({1, 2, 3}));
  ASSERT_TRUE(g.simple({voter(4)}).is_ok());
  EXPECT_EQ(g.cs().voters, ids({1, 2, 3, 4}));
  const Progress& pr = g.pr(4);
  EXPECT_EQ(pr.next, kLastIndex + 1);
  EXPECT_EQ(pr.match, Index{0});
  EXPECT_EQ(pr.state, ProgressState::kProbe);
  EXPECT_TRUE(pr.recent_active);
  EXPECT_FALSE(pr.is_learner);
}

TEST(ChangerTest, SimpleChangesFromEmptyConfig) {
  Group g(ConfState{});
  ASSERT_TRUE(g.simple({voter(1)}).is_ok());
  EXPECT_TRUE(g.tracker.is_singleton());
}

TEST(ChangerTest, SimpleRemoveVoterDropsProgress) {
  Group g(voters_cs({1, 2, 3}));
  ASSERT_TRUE(g.simple({remove_node(3)}).is_ok());
  EXPECT_EQ(g.cs().voters, ids({1, 2}));
  EXPECT_FALSE(g.has_progress(3));
  // Removing a non-member changes nothing and is not an error.
  ASSERT_TRUE(g.simple({remove_node(9)}).is_ok());
  EXPECT_EQ(g.cs().voters, ids({1, 2}));
}

TEST(ChangerTest, SimpleAddLearnerAndPromote) {
  Group g(voters_cs({1, 2, 3}));
  ASSERT_TRUE(g.simple({learner(4)}).is_ok());
  EXPECT_EQ(g.cs().learners, ids({4}));
  EXPECT_TRUE(g.pr(4).is_learner);

  // The learner catches up, then is promoted: its Progress (and match) is kept.
  g.tracker.find(NodeId{4})->match = Index{9};
  ASSERT_TRUE(g.simple({voter(4)}).is_ok());
  EXPECT_EQ(g.cs().voters, ids({1, 2, 3, 4}));
  EXPECT_TRUE(g.cs().learners.empty());
  EXPECT_FALSE(g.pr(4).is_learner);
  EXPECT_EQ(g.pr(4).match, Index{9});
}

TEST(ChangerTest, SimpleDemoteVoterToLearner) {
  Group g(voters_cs({1, 2, 3}));
  g.tracker.find(NodeId{3})->match = Index{7};
  ASSERT_TRUE(g.simple({learner(3)}).is_ok());
  EXPECT_EQ(g.cs().voters, ids({1, 2}));
  EXPECT_EQ(g.cs().learners, ids({3}));
  EXPECT_TRUE(g.pr(3).is_learner);
  EXPECT_EQ(g.pr(3).match, Index{7});
}

TEST(ChangerTest, SimpleLearnerChangesDoNotCountAsVoterChanges) {
  Group g(voters_cs({1, 2, 3}));
  ASSERT_TRUE(g.simple({learner(4), learner(5), voter(6)}).is_ok());
  EXPECT_EQ(g.cs().learners, ids({4, 5}));
  ASSERT_TRUE(g.simple({remove_node(4), remove_node(5)}).is_ok());
  EXPECT_TRUE(g.cs().learners.empty());
  EXPECT_FALSE(g.has_progress(4));
}

TEST(ChangerTest, SimpleRejectsMoreThanOneVoterChange) {
  Group g(voters_cs({1, 2, 3}));
  const ConfState before = g.cs();
  Status s = g.simple({voter(4), voter(5)});
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
  s = g.simple({remove_node(1), voter(4)});  // a swap changes two voters
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
  s = g.simple({learner(1), learner(2)});  // two demotions
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
  EXPECT_TRUE(same(g.cs(), before));
  // Adding and removing the same voter nets to no change.
  EXPECT_TRUE(g.simple({voter(4), remove_node(4)}).is_ok());
  EXPECT_TRUE(same(g.cs(), before));
}

TEST(ChangerTest, SimpleRejectsRemovingLastVoter) {
  Group g(voters_cs({1}));
  EXPECT_EQ(g.simple({remove_node(1)}).code(), Code::kInvalidArgument);
  EXPECT_EQ(g.simple({learner(1)}).code(), Code::kInvalidArgument);
  EXPECT_EQ(g.cs().voters, ids({1}));
}

TEST(ChangerTest, RejectsNodeZero) {
  Group g(voters_cs({1, 2, 3}));
  EXPECT_EQ(g.simple({voter(0)}).code(), Code::kInvalidArgument);
  EXPECT_EQ(g.enter_joint(false, {learner(0)}).code(), Code::kInvalidArgument);
  EXPECT_FALSE(g.has_progress(0));
}

TEST(ChangerTest, RejectsUnknownChangeType) {
  Group g(voters_cs({1, 2, 3}));
  ConfChangeSingle bad{static_cast<ConfChangeType>(9), NodeId{4}};
  EXPECT_EQ(g.simple({bad}).code(), Code::kInvalidArgument);
}

TEST(ChangerTest, SimpleRejectedWhenJoint) {
  Group g(voters_cs({1, 2, 3}));
  ASSERT_TRUE(g.enter_joint(false, {voter(4)}).is_ok());
  EXPECT_EQ(g.simple({voter(5)}).code(), Code::kFailedPrecondition);
}

TEST(ChangerTest, EnterAndLeaveJointReplacingVoters) {
  Group g(voters_cs({1, 2, 3}));
  ASSERT_TRUE(g.enter_joint(true, {remove_node(3), voter(4), voter(5)}).is_ok());
  ConfState cs = g.cs();
  EXPECT_EQ(cs.voters, ids({1, 2, 4, 5}));
  EXPECT_EQ(cs.voters_outgoing, ids({1, 2, 3}));
  EXPECT_TRUE(cs.auto_leave);
  // 3 still votes in the outgoing half, so it keeps its Progress.
  EXPECT_TRUE(g.has_progress(3));
  EXPECT_TRUE(g.has_progress(5));

  ASSERT_TRUE(g.leave_joint().is_ok());
  cs = g.cs();
  EXPECT_EQ(cs.voters, ids({1, 2, 4, 5}));
  EXPECT_TRUE(cs.voters_outgoing.empty());
  EXPECT_FALSE(cs.auto_leave);
  EXPECT_FALSE(g.has_progress(3));
}

TEST(ChangerTest, JointDemotionGoesThroughLearnersNext) {
  Group g(voters_cs({1, 2, 3}));
  ASSERT_TRUE(g.enter_joint(false, {learner(3), voter(4)}).is_ok());
  ConfState cs = g.cs();
  EXPECT_EQ(cs.voters, ids({1, 2, 4}));
  EXPECT_EQ(cs.voters_outgoing, ids({1, 2, 3}));
  EXPECT_TRUE(cs.learners.empty());
  EXPECT_EQ(cs.learners_next, ids({3}));
  // Still an outgoing voter: not a learner yet.
  EXPECT_FALSE(g.pr(3).is_learner);
  EXPECT_TRUE(g.tracker.is_voter(NodeId{3}));

  ASSERT_TRUE(g.leave_joint().is_ok());
  cs = g.cs();
  EXPECT_EQ(cs.voters, ids({1, 2, 4}));
  EXPECT_EQ(cs.learners, ids({3}));
  EXPECT_TRUE(cs.learners_next.empty());
  EXPECT_TRUE(g.pr(3).is_learner);
}

TEST(ChangerTest, JointNewNodeAsLearnerGoesStraightToLearners) {
  Group g(voters_cs({1, 2, 3}));
  ASSERT_TRUE(g.enter_joint(false, {learner(6), voter(4)}).is_ok());
  EXPECT_EQ(g.cs().learners, ids({6}));
  EXPECT_TRUE(g.cs().learners_next.empty());
  EXPECT_TRUE(g.pr(6).is_learner);
}

TEST(ChangerTest, JointDemoteThenRemoveOrRepromote) {
  Group g(voters_cs({1, 2, 3}));
  // Demote 3, then change our mind and make it a voter again: nothing pending.
  ASSERT_TRUE(g.enter_joint(false, {learner(3), voter(3)}).is_ok());
  EXPECT_TRUE(g.cs().learners_next.empty());
  EXPECT_EQ(g.cs().voters, ids({1, 2, 3}));
  ASSERT_TRUE(g.leave_joint().is_ok());

  // Demote 3, then remove it: out of learners_next; Progress kept while outgoing.
  ASSERT_TRUE(g.enter_joint(false, {learner(3), remove_node(3)}).is_ok());
  EXPECT_TRUE(g.cs().learners_next.empty());
  EXPECT_TRUE(g.has_progress(3));
  ASSERT_TRUE(g.leave_joint().is_ok());
  EXPECT_FALSE(g.has_progress(3));
  EXPECT_TRUE(g.cs().learners.empty());
}

TEST(ChangerTest, JointPromoteLearner) {
  ConfState start = voters_cs({1, 2, 3});
  start.learners = ids({4});
  Group g(start);
  ASSERT_TRUE(g.enter_joint(false, {voter(4), learner(1)}).is_ok());
  ConfState cs = g.cs();
  EXPECT_EQ(cs.voters, ids({2, 3, 4}));
  EXPECT_EQ(cs.voters_outgoing, ids({1, 2, 3}));
  EXPECT_TRUE(cs.learners.empty());
  EXPECT_EQ(cs.learners_next, ids({1}));
  EXPECT_FALSE(g.pr(4).is_learner);
  ASSERT_TRUE(g.leave_joint().is_ok());
  EXPECT_EQ(g.cs().learners, ids({1}));
}

TEST(ChangerTest, EnterJointErrors) {
  Group empty(ConfState{});
  EXPECT_EQ(empty.enter_joint(false, {voter(1)}).code(), Code::kFailedPrecondition);

  Group g(voters_cs({1, 2, 3}));
  EXPECT_EQ(g.enter_joint(false, {remove_node(1), remove_node(2), remove_node(3)}).code(),
            Code::kInvalidArgument);
  EXPECT_TRUE(same(g.cs(), voters_cs({1, 2, 3})));  // unchanged

  ASSERT_TRUE(g.enter_joint(false, {voter(4)}).is_ok());
  const ConfState joint = g.cs();
  EXPECT_EQ(g.enter_joint(false, {voter(5)}).code(), Code::kFailedPrecondition);
  EXPECT_TRUE(same(g.cs(), joint));
}

TEST(ChangerTest, LeaveJointWhenNotJointFails) {
  Group g(voters_cs({1, 2, 3}));
  EXPECT_EQ(g.leave_joint().code(), Code::kFailedPrecondition);
}

TEST(ChangerTest, EnterJointWithoutChangesStillJoint) {
  Group g(voters_cs({1, 2}));
  ASSERT_TRUE(g.enter_joint(true, {}).is_ok());
  EXPECT_EQ(g.cs().voters_outgoing, ids({1, 2}));
  EXPECT_TRUE(g.cs().auto_leave);
}

TEST(ChangerTest, ChangerDoesNotModifyItsInput) {
  Group g(voters_cs({1, 2, 3}));
  const TrackerConfig before = g.tracker.config;
  const size_t progress_before = g.tracker.progress.size();
  auto r = g.changer().enter_joint(false, {remove_node(1), voter(4)});
  ASSERT_TRUE(r.is_ok());
  EXPECT_TRUE(same(g.tracker.config, before));
  EXPECT_EQ(g.tracker.progress.size(), progress_before);
}

TEST(RestoreConfStateTest, RoundTrips) {
  std::vector<ConfState> cases;
  cases.push_back(ConfState{});
  cases.push_back(voters_cs({1}));
  cases.push_back(voters_cs({1, 2, 3}));
  ConfState with_learners = voters_cs({1, 2, 3});
  with_learners.learners = ids({4, 5});
  cases.push_back(with_learners);
  ConfState joint = voters_cs({1, 2, 4});
  joint.voters_outgoing = ids({1, 2, 3});
  joint.learners = ids({5});
  joint.learners_next = ids({3});
  joint.auto_leave = true;
  cases.push_back(joint);
  ConfState joint_disjoint = voters_cs({4, 5, 6});
  joint_disjoint.voters_outgoing = ids({1, 2, 3});
  cases.push_back(joint_disjoint);

  for (const ConfState& cs : cases) {
    auto r = restore_conf_state(cs, kLastIndex, kMessagesMax, kBytesMax);
    ASSERT_TRUE(r.is_ok()) << r.status();
    ProgressTracker t(kMessagesMax, kBytesMax);
    t.config = r.value().first;
    t.progress = r.value().second;
    EXPECT_TRUE(same(t.conf_state(), cs));
    for (const auto& [id, pr] : t.progress) {
      EXPECT_EQ(pr.next, kLastIndex + 1);
      EXPECT_EQ(pr.is_learner, t.is_learner(id));
    }
  }
}

TEST(RestoreConfStateTest, RoundTripsAfterChanges) {
  Group g(voters_cs({1, 2, 3}));
  ASSERT_TRUE(g.simple({learner(7)}).is_ok());
  ASSERT_TRUE(g.enter_joint(true, {learner(2), voter(4), remove_node(1)}).is_ok());
  const ConfState cs = g.cs();
  auto r = restore_conf_state(cs, kLastIndex, kMessagesMax, kBytesMax);
  ASSERT_TRUE(r.is_ok()) << r.status();
  EXPECT_TRUE(same(r.value().first, g.tracker.config));
  EXPECT_EQ(r.value().second.size(), g.tracker.progress.size());
}

TEST(RestoreConfStateTest, RejectsInconsistentConfStates) {
  auto fails = [](const ConfState& cs) {
    auto r = restore_conf_state(cs, kLastIndex, kMessagesMax, kBytesMax);
    return !r.is_ok() && r.status().code() == Code::kInvalidArgument;
  };
  ConfState unsorted = voters_cs({2, 1});
  EXPECT_TRUE(fails(unsorted));
  ConfState duplicate = voters_cs({1, 1, 2});
  EXPECT_TRUE(fails(duplicate));
  EXPECT_TRUE(fails(voters_cs({0, 1})));

  ConfState learner_voter = voters_cs({1, 2});
  learner_voter.learners = ids({2});
  EXPECT_TRUE(fails(learner_voter));

  ConfState learner_outgoing = voters_cs({1, 2});
  learner_outgoing.voters_outgoing = ids({1, 3});
  learner_outgoing.learners = ids({3});
  EXPECT_TRUE(fails(learner_outgoing));

  ConfState next_not_outgoing = voters_cs({1, 2});
  next_not_outgoing.voters_outgoing = ids({1, 2});
  next_not_outgoing.learners_next = ids({3});
  EXPECT_TRUE(fails(next_not_outgoing));

  ConfState next_incoming = voters_cs({1, 2, 3});
  next_incoming.voters_outgoing = ids({1, 2, 3});
  next_incoming.learners_next = ids({3});
  EXPECT_TRUE(fails(next_incoming));

  ConfState next_not_joint = voters_cs({1, 2});
  next_not_joint.learners_next = ids({2});
  EXPECT_TRUE(fails(next_not_joint));

  ConfState auto_leave_not_joint = voters_cs({1, 2});
  auto_leave_not_joint.auto_leave = true;
  EXPECT_TRUE(fails(auto_leave_not_joint));

  ConfState joint_no_incoming;
  joint_no_incoming.voters_outgoing = ids({1, 2});
  EXPECT_TRUE(fails(joint_no_incoming));

  ConfState learners_only;
  learners_only.learners = ids({1});
  EXPECT_TRUE(fails(learners_only));
}

TEST(PlanConfChangeTest, Rules) {
  ConfChange leave;
  ConfChangePlan p = plan_conf_change(leave);
  EXPECT_TRUE(p.leave);
  EXPECT_FALSE(p.joint);

  ConfChange one{ConfChangeTransition::kAuto, {voter(4)}, ""};
  p = plan_conf_change(one);
  EXPECT_FALSE(p.leave);
  EXPECT_FALSE(p.joint);

  ConfChange two{ConfChangeTransition::kAuto, {voter(4), remove_node(1)}, ""};
  p = plan_conf_change(two);
  EXPECT_TRUE(p.joint);
  EXPECT_TRUE(p.auto_leave);

  ConfChange implicit{ConfChangeTransition::kJointImplicit, {voter(4)}, ""};
  p = plan_conf_change(implicit);
  EXPECT_TRUE(p.joint);
  EXPECT_TRUE(p.auto_leave);

  ConfChange explicit_joint{ConfChangeTransition::kJointExplicit, {voter(4)}, ""};
  p = plan_conf_change(explicit_joint);
  EXPECT_TRUE(p.joint);
  EXPECT_FALSE(p.auto_leave);
}

TEST(PlanConfChangeTest, ExecuteFollowsPlan) {
  Group g(voters_cs({1, 2, 3}));
  ConfChange swap{ConfChangeTransition::kAuto, {voter(4), remove_node(1)}, ""};
  ASSERT_TRUE(g.run(execute_conf_change(g.changer(), swap)).is_ok());
  EXPECT_TRUE(g.cs().joint());
  EXPECT_TRUE(g.cs().auto_leave);
  ASSERT_TRUE(g.run(execute_conf_change(g.changer(), ConfChange{})).is_ok());
  EXPECT_TRUE(same(g.cs(), voters_cs({2, 3, 4})));
  ConfChange add{ConfChangeTransition::kAuto, {voter(5)}, ""};
  ASSERT_TRUE(g.run(execute_conf_change(g.changer(), add)).is_ok());
  EXPECT_TRUE(same(g.cs(), voters_cs({2, 3, 4, 5})));
}

TEST(CheckInvariantsDeathTest, LearnerThatIsAVoterAsserts) {
  TrackerConfig cfg;
  cfg.voters.incoming = MajorityConfig(ids({1, 2}));
  cfg.learners.insert(NodeId{2});
  ProgressMap prs;
  prs.emplace(NodeId{1}, Progress(Index{1}, 4, 0));
  Progress learner_pr(Index{1}, 4, 0);
  learner_pr.is_learner = true;
  prs.emplace(NodeId{2}, learner_pr);
  EXPECT_DEATH(check_invariants(cfg, prs), "");
}

TEST(CheckInvariantsDeathTest, VoterWithoutProgressAsserts) {
  TrackerConfig cfg;
  cfg.voters.incoming = MajorityConfig(ids({1, 2}));
  ProgressMap prs;
  prs.emplace(NodeId{1}, Progress(Index{1}, 4, 0));
  EXPECT_DEATH(check_invariants(cfg, prs), "has no progress");
}

}  // namespace
}  // namespace meridian::raft
