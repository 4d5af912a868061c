// A Group driven by hand (group_testing.h): what it asks of its peers, and what
// it does with its waiting requests, when the test decides every answer.
#include "node/group.h"

#include <gtest/gtest.h>

#include "node/group_testing.h"
#include "node/map_state_machine.h"

namespace meridian::node {
namespace {

using raft::Message;
using raft::MessageType;
using raft::NodeId;
using raft::Term;

// The ReadIndex contexts of the heartbeats in `sent` (one per round and follower).
std::vector<std::string> read_contexts(const std::vector<Message>& sent) {
  std::vector<std::string> out;
  for (const Message& m : sent) {
    if (m.type == MessageType::kHeartbeat && !m.context.empty()) out.push_back(m.context);
  }
  return out;
}

Message heartbeat_response(const Message& hb) {
  Message r;
  r.type = MessageType::kHeartbeatResponse;
  r.from = hb.to;
  r.term = hb.term;
  r.context = hb.context;
  return r;
}

TEST(GroupTest, ReadsArrivingWhileARoundIsOutShareTheNextOne) {
  GroupHarness h;
  h.become_leader();
  h.take_sent();
  const uint64_t rounds_before = h.group().status().read_rounds;
  int answered = 0;
  auto read = [&] {
    h.group().read(
        true, [](const StateMachine&) { return std::string("v"); },
        [&](base::Result<std::string> r) {
          EXPECT_TRUE(r.is_ok()) << r.status();
          ++answered;
        });
  };
  for (int i = 0; i < 3; ++i) read();
  h.settle();
  auto first = h.take_sent();
  auto contexts = read_contexts(first);
  ASSERT_EQ(contexts.size(), 2u) << "one round: a heartbeat with its context to each follower";
  EXPECT_EQ(h.group().status().read_rounds, rounds_before + 1);

  // Two more while that round is out: they wait for it rather than asking.
  read();
  read();
  h.settle();
  EXPECT_TRUE(read_contexts(h.take_sent()).empty());
  EXPECT_EQ(h.group().status().read_rounds, rounds_before + 1);
  EXPECT_EQ(answered, 0);

  // One follower answers: with the leader that is a quorum. The three reads of
  // the round are served and the two waiting ones go out in the next round.
  for (const Message& m : first) {
    if (m.type == MessageType::kHeartbeat && m.to == NodeId{2}) h.step(heartbeat_response(m));
  }
  EXPECT_EQ(answered, 3);
  auto second = h.take_sent();
  auto next_contexts = read_contexts(second);
  ASSERT_EQ(next_contexts.size(), 2u);
  EXPECT_NE(next_contexts[0], contexts[0]);
  EXPECT_EQ(h.group().status().read_rounds, rounds_before + 2);
  for (const Message& m : second) {
    if (m.type == MessageType::kHeartbeat && m.to == NodeId{3}) h.step(heartbeat_response(m));
  }
  EXPECT_EQ(answered, 5);
  EXPECT_TRUE(h.failures().empty());
}

// Makes node 2 the leader this node follows, at `term`, with an append that
// matches this node's log.
void follow(GroupHarness& h, NodeId leader, uint64_t term) {
  const GroupStatus st = h.group().status();
  Message m;
  m.type = MessageType::kAppend;
  m.from = leader;
  m.term = Term{term};
  m.index = st.last_index;
  m.log_term = Term{st.term.value() == 0 ? 1 : st.term.value()};
  m.commit = st.commit;
  h.step(m);
}

TEST(GroupTest, AProposalWaitsThroughALeaderBrieflyUnknownAndFailsWhenAnotherLeads) {
  GroupHarness h;
  follow(h, NodeId{2}, 2);
  ASSERT_EQ(h.group().leader(), NodeId{2});
  h.take_sent();
  std::optional<base::Result<ProposeResult>> result;
  h.group().propose(encode_put("k", "v"), [&](base::Result<ProposeResult> r) { result = r; });
  h.settle();
  bool forwarded = false;
  for (const Message& m : h.take_sent()) forwarded |= m.type == MessageType::kPropose;
  ASSERT_TRUE(forwarded) << "the proposal goes to the leader";

  // The leader goes quiet: this node times out and pre-campaigns (no leader
  // known, the term unchanged), in vain.
  for (int i = 0; i < 100 && h.group().leader() != raft::kNoNode; ++i) h.tick();
  ASSERT_EQ(h.group().leader(), raft::kNoNode);
  ASSERT_EQ(h.group().status().term, Term{2});
  // The same leader comes back in the same term: it still holds the proposal.
  follow(h, NodeId{2}, 2);
  ASSERT_EQ(h.group().leader(), NodeId{2});
  EXPECT_FALSE(result.has_value())
      << "failed while its leader was only briefly unknown: " << result->status();

  // Another leader: what went to node 2 may never be answered.
  follow(h, NodeId{3}, 3);
  ASSERT_EQ(h.group().leader(), NodeId{3});
  ASSERT_TRUE(result.has_value());
  ASSERT_FALSE(result->is_ok());
  EXPECT_NE(result->status().message().find("leader changed"), std::string::npos)
      << result->status();
}

}  // namespace
}  // namespace meridian::node
