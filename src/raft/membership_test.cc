// Membership changes: learners, single-server changes and joint consensus (Raft
// thesis §4.1-§4.3, §4.2.1 on catching up new servers, §4.2.2 on removing the leader).
#include <gtest/gtest.h>

#include "raft/cluster_testing.h"

namespace meridian::raft {
namespace {

using testing::kN1;
using testing::kN2;
using testing::kN3;
using testing::kN4;
using testing::kN5;
using testing::TestCluster;

constexpr int kElectionTicks = 10;

ConfChangeSingle add_voter(NodeId id) { return {ConfChangeType::kAddVoter, id}; }
ConfChangeSingle add_learner(NodeId id) { return {ConfChangeType::kAddLearner, id}; }
ConfChangeSingle remove_node(NodeId id) { return {ConfChangeType::kRemoveNode, id}; }

ConfChange change(std::vector<ConfChangeSingle> changes,
                  ConfChangeTransition t = ConfChangeTransition::kAuto) {
  return ConfChange{t, std::move(changes), ""};
}

std::vector<NodeId> ids(std::initializer_list<NodeId> l) { return l; }

// Proposes `cc` at `leader` and stabilizes; fails the test if it is refused.
void change_and_wait(TestCluster& c, NodeId leader, const ConfChange& cc) {
  ASSERT_TRUE(c.propose_conf_change(leader, cc).is_ok());
  ASSERT_TRUE(c.stabilize());
}

// Ticks everyone until some node other than `not_this` leads; returns it.
NodeId wait_for_new_leader(TestCluster& c, NodeId not_this) {
  for (int i = 0; i < 20 * kElectionTicks; ++i) {
    NodeId l = c.leader();
    if (l != kNoNode && l != not_this) return l;
    if (!c.tick_all(1)) return kNoNode;
  }
  return kNoNode;
}

// Thesis §4.2.1: a learner (non-voting member) receives the log, but neither its
// acknowledgements count toward commitment nor does it vote.
TEST(Membership, LearnerReceivesLogButDoesNotCountForCommit) {
  TestCluster c(3);
  ASSERT_TRUE(c.elect(kN1));
  c.add_node(kN4);
  c.add_node(kN5);
  change_and_wait(c, kN1, change({add_learner(kN4)}));
  change_and_wait(c, kN1, change({add_learner(kN5)}));
  EXPECT_EQ(c.node(kN4).conf_state.learners, ids({kN4, kN5}));
  EXPECT_EQ(c.node(kN1).conf_state.voters, ids({kN1, kN2, kN3}));

  c.crash(kN2);
  c.crash(kN3);
  Index commit = c.status(kN1).commit;
  ASSERT_TRUE(c.propose(kN1, "x").is_ok());
  ASSERT_TRUE(c.stabilize());
  // n1, n4 and n5 hold it: three of five members, but only one of three voters.
  EXPECT_EQ(c.status(kN4).last_index, c.status(kN1).last_index);
  EXPECT_EQ(c.status(kN1).commit, commit);
}

// Thesis §4.2.1: learners never campaign, and candidates do not count them.
TEST(Membership, LearnersNeitherCampaignNorVote) {
  TestCluster c(3);
  ASSERT_TRUE(c.elect(kN1));
  c.add_node(kN4);
  c.add_node(kN5);
  change_and_wait(c, kN1, change({add_learner(kN4)}));
  change_and_wait(c, kN1, change({add_learner(kN5)}));
  c.crash(kN1);
  c.crash(kN3);
  // n2 plus the two learners would be three of five, but n2 needs two of three voters.
  ASSERT_TRUE(c.tick_all(10 * kElectionTicks));
  EXPECT_EQ(c.leader(), kNoNode);
  EXPECT_EQ(c.replica(kN4).role(), Role::kFollower);
  EXPECT_EQ(c.replica(kN5).role(), Role::kFollower);
  EXPECT_EQ(c.count_sent([](const Message& m) {
    return (m.type == MessageType::kVote || m.type == MessageType::kPreVote) &&
           (m.from == kN4 || m.from == kN5 || m.to == kN4 || m.to == kN5);
  }),
            0u);
}

// Promoting a learner makes it a voter: with four voters a commit needs three, so
// n1, n2 and the promoted n4 commit while n3 is down; and candidates ask n4 to vote.
TEST(Membership, PromotedLearnerVotesAndCounts) {
  TestCluster c(3);
  ASSERT_TRUE(c.elect(kN1));
  c.add_node(kN4);
  change_and_wait(c, kN1, change({add_learner(kN4)}));
  change_and_wait(c, kN1, change({add_voter(kN4)}));
  EXPECT_EQ(c.node(kN2).conf_state.voters, ids({kN1, kN2, kN3, kN4}));
  EXPECT_TRUE(c.node(kN2).conf_state.learners.empty());

  c.crash(kN3);
  ASSERT_TRUE(c.propose(kN1, "x").is_ok());
  ASSERT_TRUE(c.stabilize());
  EXPECT_EQ(c.node(kN1).state, std::vector<std::string>{"x"});

  // In the next election n4 is asked for its vote.
  c.restart(kN3);
  c.crash(kN1);
  c.clear_sent();
  EXPECT_NE(wait_for_new_leader(c, kN1), kNoNode);
  EXPECT_GE(c.count_sent([](const Message& m) {
    return (m.type == MessageType::kVote || m.type == MessageType::kPreVote) && m.to == kN4;
  }),
            1u);
}

// Thesis §4.1: removing a follower; the rest commit without it, and the removed
// node, once it applied its removal, never campaigns.
TEST(Membership, RemovedFollowerIsNoLongerNeededNorCampaigns) {
  TestCluster c(3);
  ASSERT_TRUE(c.elect(kN1));
  change_and_wait(c, kN1, change({remove_node(kN3)}));
  for (NodeId id : {kN1, kN2, kN3}) {
    EXPECT_EQ(c.node(id).conf_state.voters, ids({kN1, kN2})) << "node " << id;
  }
  c.isolate(kN3);
  ASSERT_TRUE(c.propose(kN1, "x").is_ok());
  ASSERT_TRUE(c.stabilize());
  EXPECT_EQ(c.node(kN2).state, std::vector<std::string>{"x"});
  Term before = c.replica(kN3).term();
  ASSERT_TRUE(c.tick_all(10 * kElectionTicks));
  EXPECT_EQ(c.replica(kN3).role(), Role::kFollower);
  EXPECT_EQ(c.replica(kN3).term(), before);
}

// Thesis §4.2.2: a leader removed from the configuration steps down once the change
// is committed, and the remaining servers elect a new leader among themselves.
TEST(Membership, RemovedLeaderStepsDownAndOthersElect) {
  TestCluster c(3);
  ASSERT_TRUE(c.elect(kN1));
  change_and_wait(c, kN1, change({remove_node(kN1)}));
  EXPECT_NE(c.replica(kN1).role(), Role::kLeader);
  NodeId next = wait_for_new_leader(c, kN1);
  ASSERT_TRUE(next == kN2 || next == kN3) << next;
  ASSERT_TRUE(c.propose(next, "x").is_ok());
  ASSERT_TRUE(c.stabilize());
  EXPECT_EQ(c.node(kN2).state, std::vector<std::string>{"x"});
  EXPECT_EQ(c.node(kN3).state, std::vector<std::string>{"x"});
  EXPECT_NE(c.replica(kN1).role(), Role::kLeader);
}

// Thesis §4.3: changing two voters at once goes through a joint configuration; with
// the automatic transition the leader leaves it by itself once it is applied.
TEST(Membership, JointChangeWithAutoLeaveLeavesByItself) {
  TestCluster c(3);
  ASSERT_TRUE(c.elect(kN1));
  c.add_node(kN4);
  c.add_node(kN5);
  // {1 2 3} -> {1 4 5}: four voter changes, one joint step.
  change_and_wait(c, kN1,
                  change({add_voter(kN4), add_voter(kN5), remove_node(kN2), remove_node(kN3)}));
  for (NodeId id : {kN1, kN4, kN5}) {
    EXPECT_EQ(c.node(id).conf_state.voters, ids({kN1, kN4, kN5})) << "node " << id;
    EXPECT_FALSE(c.node(id).conf_state.joint()) << "node " << id;
  }
  // Two conf change entries were applied: the joint one and the leave.
  int conf_entries = 0;
  for (const Entry& e : c.node(kN1).applied_log) conf_entries += e.type == EntryType::kConfChange;
  EXPECT_EQ(conf_entries, 2);
  // The new configuration works on its own.
  c.crash(kN2);
  c.crash(kN3);
  ASSERT_TRUE(c.propose(kN1, "x").is_ok());
  ASSERT_TRUE(c.stabilize());
  EXPECT_EQ(c.node(kN5).state, std::vector<std::string>{"x"});
}

// An explicit joint change stays joint until an empty ConfChange is proposed; while
// joint, only that leave is accepted.
TEST(Membership, ExplicitJointChangeNeedsEmptyChangeToLeave) {
  TestCluster c(3);
  ASSERT_TRUE(c.elect(kN1));
  c.add_node(kN4);
  change_and_wait(c, kN1, change({add_voter(kN4)}, ConfChangeTransition::kJointExplicit));
  ASSERT_TRUE(c.tick_all(3));
  ConfState cs = c.node(kN1).conf_state;
  EXPECT_EQ(cs.voters, ids({kN1, kN2, kN3, kN4}));
  EXPECT_EQ(cs.voters_outgoing, ids({kN1, kN2, kN3}));
  EXPECT_FALSE(cs.auto_leave);

  EXPECT_EQ(c.propose_conf_change(kN1, change({add_learner(kN5)})).code(), Code::kProposalDropped);
  change_and_wait(c, kN1, ConfChange{});
  for (NodeId id : {kN1, kN2, kN3, kN4}) {
    EXPECT_EQ(c.node(id).conf_state.voters, ids({kN1, kN2, kN3, kN4})) << "node " << id;
    EXPECT_FALSE(c.node(id).conf_state.joint()) << "node " << id;
  }
}

// Thesis §4.1: one change at a time; the next is refused until the previous one is
// applied by the leader.
TEST(Membership, SecondChangeRefusedWhileOneIsPending) {
  TestCluster c(3);
  ASSERT_TRUE(c.elect(kN1));
  c.add_node(kN4);
  c.add_node(kN5);
  ASSERT_TRUE(c.propose_conf_change(kN1, change({add_learner(kN4)})).is_ok());
  EXPECT_EQ(c.propose_conf_change(kN1, change({add_learner(kN5)})).code(), Code::kProposalDropped);
  ASSERT_TRUE(c.stabilize());
  EXPECT_TRUE(c.propose_conf_change(kN1, change({add_learner(kN5)})).is_ok());
  ASSERT_TRUE(c.stabilize());
  EXPECT_EQ(c.node(kN1).conf_state.learners, ids({kN4, kN5}));
}

// Thesis §4.3 with a leader change in the middle: the leader appends a joint change,
// replicates it and dies before committing it. The next leader commits it with its
// own term's entries and then leaves the joint configuration itself.
TEST(Membership, NextLeaderFinishesJointChangeOfDeadLeader) {
  TestCluster c(3);
  ASSERT_TRUE(c.elect(kN1));
  c.add_node(kN4);
  c.add_node(kN5);
  ASSERT_TRUE(c.propose_conf_change(kN1, change({add_voter(kN4), add_voter(kN5)})).is_ok());
  ASSERT_TRUE(c.handle_ready(kN1));
  c.deliver(testing::is(MessageType::kAppend));  // n2 and n3 store the change ...
  ASSERT_TRUE(c.handle_ready(kN2));
  ASSERT_TRUE(c.handle_ready(kN3));
  c.crash(kN1);  // ... and n1 dies before hearing back
  c.drop_pending();
  ASSERT_EQ(c.status(kN2).commit, Index{2});
  ASSERT_EQ(c.status(kN2).last_index, Index{3});

  NodeId next = wait_for_new_leader(c, kN1);
  ASSERT_TRUE(next == kN2 || next == kN3) << next;
  ASSERT_TRUE(c.stabilize());
  for (NodeId id : {kN2, kN3, kN4, kN5}) {
    EXPECT_EQ(c.node(id).conf_state.voters, ids({kN1, kN2, kN3, kN4, kN5})) << "node " << id;
    EXPECT_FALSE(c.node(id).conf_state.joint()) << "node " << id;
  }
}

// Thesis §4.3 with the leader leaving: {1 2 3} -> {2 3 4}. The leader manages the
// joint phase (it is still an outgoing voter), leaves it, and then steps down.
TEST(Membership, JointChangeRemovingLeaderHandsOver) {
  TestCluster c(3);
  ASSERT_TRUE(c.elect(kN1));
  c.add_node(kN4);
  change_and_wait(c, kN1, change({remove_node(kN1), add_voter(kN4)}));
  EXPECT_NE(c.replica(kN1).role(), Role::kLeader);
  // n4 may still be catching up: the leave committed with n2 and n3 alone.
  NodeId next = wait_for_new_leader(c, kN1);
  EXPECT_TRUE(next == kN2 || next == kN3) << next;
  ASSERT_TRUE(c.stabilize());
  for (NodeId id : {kN2, kN3, kN4}) {
    EXPECT_EQ(c.node(id).conf_state.voters, ids({kN2, kN3, kN4})) << "node " << id;
    EXPECT_FALSE(c.node(id).conf_state.joint()) << "node " << id;
  }
}

// Thesis §4.3: a voter demoted in a joint change keeps voting in the outgoing half
// and becomes a learner when the joint configuration is left.
TEST(Membership, DemotedVoterBecomesLearnerOnLeavingJoint) {
  TestCluster c(3);
  ASSERT_TRUE(c.elect(kN1));
  c.add_node(kN4);
  change_and_wait(c, kN1,
                  change({add_learner(kN3), add_voter(kN4)}, ConfChangeTransition::kJointExplicit));
  ConfState joint = c.node(kN2).conf_state;
  EXPECT_EQ(joint.voters, ids({kN1, kN2, kN4}));
  EXPECT_EQ(joint.voters_outgoing, ids({kN1, kN2, kN3}));
  EXPECT_EQ(joint.learners_next, ids({kN3}));
  change_and_wait(c, kN1, ConfChange{});
  for (NodeId id : {kN1, kN2, kN3, kN4}) {
    EXPECT_EQ(c.node(id).conf_state.voters, ids({kN1, kN2, kN4})) << "node " << id;
    EXPECT_EQ(c.node(id).conf_state.learners, ids({kN3})) << "node " << id;
  }
}

// The automatic leave of a joint configuration is refused while a leadership
// transfer is under way; when the transfer is abandoned, the leader must still leave
// the joint configuration (without waiting for unrelated proposals).
TEST(Membership, AutoLeaveHappensAfterAbandonedTransfer) {
  TestCluster c(3);
  ASSERT_TRUE(c.elect(kN1));
  c.crash(kN3);
  c.add_node(kN4);
  ASSERT_TRUE(
      c.propose_conf_change(kN1, change({add_learner(kN4)}, ConfChangeTransition::kJointImplicit))
          .is_ok());
  c.replica(kN1).transfer_leader(kN3);  // n3 is down: the transfer cannot finish
  ASSERT_TRUE(c.stabilize());
  ASSERT_TRUE(c.node(kN1).conf_state.joint());
  ASSERT_TRUE(c.tick_all(3 * kElectionTicks));
  EXPECT_EQ(c.leader(), kN1);
  EXPECT_EQ(c.status(kN1).lead_transferee, kNoNode);
  EXPECT_FALSE(c.node(kN1).conf_state.joint());
  EXPECT_FALSE(c.node(kN2).conf_state.joint());
}

// A node restarted in the middle of a joint change rebuilds the joint configuration
// from its log (the bootstrap snapshot predates it) and then follows the leave.
TEST(Membership, RestartDuringJointRebuildsConfigurationFromLog) {
  TestCluster c(3);
  ASSERT_TRUE(c.elect(kN1));
  c.add_node(kN4);
  change_and_wait(c, kN1, change({add_voter(kN4)}, ConfChangeTransition::kJointExplicit));
  ConfState joint = c.node(kN2).conf_state;
  ASSERT_TRUE(joint.joint());
  c.crash(kN2);
  c.restart(kN2);
  ASSERT_TRUE(c.stabilize());
  EXPECT_EQ(c.status(kN2).conf_state, joint);
  change_and_wait(c, kN1, ConfChange{});
  EXPECT_EQ(c.status(kN2).conf_state.voters, ids({kN1, kN2, kN3, kN4}));
  EXPECT_FALSE(c.status(kN2).conf_state.joint());
}

// Thesis §4.3: elections in the joint configuration also need both majorities.
TEST(Membership, JointElectionNeedsBothMajorities) {
  auto elected_with_down = [](std::vector<NodeId> down) {
    // No leases: the voters must answer right after losing n1.
    TestCluster c(3, [](Config& cfg) {
      cfg.pre_vote = false;
      cfg.check_quorum = false;
    });
    MERIDIAN_ASSERT(c.elect(kN1), "");
    c.add_node(kN4);
    c.add_node(kN5);
    MERIDIAN_ASSERT(c.propose_conf_change(kN1, change({add_voter(kN4), add_voter(kN5),
                                                       remove_node(kN2), remove_node(kN3)},
                                                      ConfChangeTransition::kJointExplicit))
                        .is_ok(),
                    "");
    MERIDIAN_ASSERT(c.stabilize(), "");
    c.crash(kN1);
    for (NodeId id : down) c.crash(id);
    // n4 is in the incoming half only; it needs n5 there and two of n1-n3 outside.
    return c.elect(kN4, 3);
  };
  EXPECT_TRUE(elected_with_down({}));
  EXPECT_FALSE(elected_with_down({kN2}));  // outgoing {1 2 3}: only n3 is left
  EXPECT_FALSE(elected_with_down({kN5}));  // incoming {1 4 5}: only n4 is left
}

// Entries of term 2 from index 2 on: a no-op, then `changes` as conf change
// entries, then `data` normal entries.
std::vector<Entry> crafted_log(const std::vector<ConfChange>& changes, int data) {
  std::vector<Entry> out(1);
  out[0].term = Term{2};
  out[0].index = Index{2};
  for (const ConfChange& cc : changes) {
    Entry e;
    e.term = Term{2};
    e.index = out.back().index + 1;
    e.type = EntryType::kConfChange;
    e.data = encode_conf_change(cc);
    out.push_back(std::move(e));
  }
  for (int i = 0; i < data; ++i) {
    Entry e;
    e.term = Term{2};
    e.index = out.back().index + 1;
    e.data = "d" + std::to_string(i);
    out.push_back(std::move(e));
  }
  return out;
}

// Restarts `id` with the first `n` entries of `log` and the given commit index.
void set_log(TestCluster& c, NodeId id, const std::vector<Entry>& log, size_t n, uint64_t commit) {
  c.crash(id);
  if (c.storage(id).first_index() == Index{1}) {  // a node added later: bootstrap it too
    Snapshot boot;
    boot.meta = SnapshotMeta{Index{1}, Term{1}, ConfState{{kN1, kN2, kN3}, {}, {}, {}, false}};
    MERIDIAN_ASSERT(c.storage(id).apply_snapshot(boot).is_ok(), "");
  }
  c.storage(id).append(std::vector<Entry>(log.begin(), log.begin() + n));
  c.storage(id).set_hard_state(HardState{Term{2}, kNoNode, Index{commit}});
  c.restart(id);
  while (c.handle_ready(id)) {  // re-apply the committed entries
  }
}

// Configurations take effect when applied, so after a leader dies the survivors may
// disagree on which configuration is in force. Here {1 2 3 4} -> {1 4} (2 and 3
// demoted) committed, but n1 never learned it: n1 still uses the joint config and
// needs n2 or n3, whose logs are longer (they reject it); n4 uses {1 4} and needs
// n1, whose log is longer. n2 and n3 are learners now and never campaign. The group
// must still elect a leader: the voters that know the commit pass it on in their
// vote rejections (the liveness problem of apply-time configuration changes).
TEST(Membership, CandidateLearnsCommittedConfChangeFromVoteRejections) {
  TestCluster c(4);
  std::vector<Entry> log = crafted_log({change({add_learner(kN2), add_learner(kN3)}), ConfChange{}},
                                       /*data=*/4);  // 2..8
  set_log(c, kN1, log, 5, 3);                        // through index 6; knows the joint change only
  set_log(c, kN2, log, 7, 4);                        // the old leader: everything; knows the leave
  set_log(c, kN3, log, 7, 4);
  set_log(c, kN4, log, 3, 4);  // through index 4 (the leave), which it knows
  ASSERT_TRUE(c.node(kN1).conf_state.joint());
  ASSERT_EQ(c.node(kN4).conf_state.voters, ids({kN1, kN4}));

  ASSERT_NE(wait_for_new_leader(c, kNoNode), kNoNode);
  ASSERT_TRUE(c.stabilize());
  EXPECT_EQ(c.node(kN1).conf_state.voters, ids({kN1, kN4}));
  EXPECT_FALSE(c.node(kN1).conf_state.joint());
}

// The other direction: the node that knows the change committed is the candidate,
// and the voter it needs does not know. {1 2 3} + learner 4 -> {1 2 4} + learner 3,
// committed by n1 with n3 and n4; n1 dies and n2 (which missed it all) restarts. n3
// knows the joint config but n4, whose log is longer, rejects it; n4 itself is still
// a learner in its own eyes and never campaigns; n2's log is too short. n4 must learn
// the commit from n3's vote request, become a voter, and win.
TEST(Membership, VoterLearnsCommittedConfChangeFromVoteRequest) {
  TestCluster c(3);
  c.add_node(kN4);
  std::vector<Entry> log =
      crafted_log({change({add_learner(kN4)}), change({add_voter(kN4), add_learner(kN3)})},
                  /*data=*/4);  // indices 2..8: the joint change is at 4
  c.crash(kN1);
  set_log(c, kN2, log, 2, 3);  // through index 3
  set_log(c, kN3, log, 5, 4);  // through index 6; knows the joint change committed
  set_log(c, kN4, log, 7, 3);  // everything, but thinks it is still a learner
  ASSERT_TRUE(c.node(kN3).conf_state.joint());
  ASSERT_EQ(c.node(kN4).conf_state.learners, ids({kN4}));

  NodeId leader = wait_for_new_leader(c, kNoNode);
  EXPECT_EQ(leader, kN4);
  ASSERT_TRUE(c.stabilize());
  EXPECT_EQ(c.node(kN2).conf_state.voters, ids({kN1, kN2, kN4}));
}

// Which nodes to crash once {1 2 3} && {1 4 5} is in effect; returns whether a
// proposal at n1 then commits.
bool commits_in_joint_with_down(std::vector<NodeId> down) {
  TestCluster c(3);
  MERIDIAN_ASSERT(c.elect(kN1), "");
  c.add_node(kN4);
  c.add_node(kN5);
  MERIDIAN_ASSERT(c.propose_conf_change(kN1, change({add_voter(kN4), add_voter(kN5),
                                                     remove_node(kN2), remove_node(kN3)},
                                                    ConfChangeTransition::kJointExplicit))
                      .is_ok(),
                  "");
  MERIDIAN_ASSERT(c.stabilize(), "");
  MERIDIAN_ASSERT(c.node(kN1).conf_state.joint(), "");
  for (NodeId id : down) c.crash(id);
  Index before = c.status(kN1).commit;
  MERIDIAN_ASSERT(c.propose(kN1, "x").is_ok(), "");
  MERIDIAN_ASSERT(c.stabilize(), "");
  return c.status(kN1).commit > before;
}

// Thesis §4.3: in the joint configuration, agreement needs separate majorities of
// both the old and the new configuration.
TEST(Membership, JointQuorumNeedsBothMajorities) {
  EXPECT_TRUE(commits_in_joint_with_down({kN3}));        // {1 2} and {1 4 5}
  EXPECT_TRUE(commits_in_joint_with_down({kN3, kN5}));   // {1 2} and {1 4}
  EXPECT_FALSE(commits_in_joint_with_down({kN2, kN3}));  // old majority down
  EXPECT_FALSE(commits_in_joint_with_down({kN4, kN5}));  // new majority down
}

}  // namespace
}  // namespace meridian::raft

namespace meridian::raft {
namespace {

// Regression (simulator seed 3007): a node that applies its own removal while it
// campaigns must stop. Voters do not check a candidate's membership, so it could
// otherwise win the new configuration's majority and lead a group it is not in.
TEST(Membership, CandidateRemovedMidCampaignStopsCampaigning) {
  TestCluster c(3, [](Config& cfg) { cfg.pre_vote = false; });
  c.campaign(kN1);
  Replica& r1 = c.replica(kN1);
  ASSERT_EQ(r1.role(), Role::kCandidate);
  // The host applies a committed change that removes n1 (learned, say, from a vote
  // rejection carrying a newer commit index).
  r1.apply_conf_change(change({remove_node(kN1)}));
  EXPECT_EQ(r1.role(), Role::kFollower);
  for (NodeId voter : {kN2, kN3}) {
    Message grant;
    grant.type = MessageType::kVoteResponse;
    grant.from = voter;
    grant.to = kN1;
    grant.term = r1.term();
    ASSERT_TRUE(r1.step(grant).is_ok());
  }
  EXPECT_NE(r1.role(), Role::kLeader);
}

}  // namespace
}  // namespace meridian::raft
