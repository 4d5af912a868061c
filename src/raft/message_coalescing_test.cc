// Merging of repeated messages to one peer (message_coalescing.h), alone and in a
// cluster's Readies.
#include "raft/message_coalescing.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "raft/cluster_testing.h"

namespace meridian::raft {
namespace {

using testing::kN1;
using testing::kN2;
using testing::kN3;
using testing::TestCluster;

constexpr uint64_t kBytesMax = 1 << 20;

Entry entry(uint64_t index, uint64_t term, std::string data = "x") {
  Entry e;
  e.index = Index{index};
  e.term = Term{term};
  e.data = std::move(data);
  return e;
}

// A kAppend from node 1 in `term` after (prev, prev_term) carrying entries
// [first, last] of `term`.
Message append(NodeId to, uint64_t term, uint64_t prev, uint64_t prev_term, uint64_t first,
               uint64_t last, uint64_t commit) {
  Message m;
  m.type = MessageType::kAppend;
  m.from = kN1;
  m.to = to;
  m.term = Term{term};
  m.index = Index{prev};
  m.log_term = Term{prev_term};
  for (uint64_t i = first; i <= last && first > 0; ++i) m.entries.push_back(entry(i, term));
  m.commit = Index{commit};
  return m;
}

Message ack(NodeId to, uint64_t term, uint64_t index, bool reject = false) {
  Message m;
  m.type = MessageType::kAppendResponse;
  m.from = kN2;
  m.to = to;
  m.term = Term{term};
  m.index = Index{index};
  m.reject = reject;
  if (reject) m.reject_hint = Index{index - 1};
  return m;
}

Message heartbeat(NodeId to, uint64_t term, std::string context = "", uint64_t commit = 0,
                  MessageType type = MessageType::kHeartbeat) {
  Message m;
  m.type = type;
  m.from = kN1;
  m.to = to;
  m.term = Term{term};
  m.context = std::move(context);
  m.commit = Index{commit};
  return m;
}

std::vector<uint64_t> indexes(const Message& m) {
  std::vector<uint64_t> out;
  for (const Entry& e : m.entries) out.push_back(e.index.value());
  return out;
}

TEST(CoalesceMessages, AppendsThatContinueEachOtherBecomeOnePerPeer) {
  std::vector<Message> msgs = {
      append(kN2, 2, 4, 2, 5, 5, 4), append(kN3, 2, 4, 2, 5, 5, 4), append(kN2, 2, 5, 2, 6, 6, 4),
      append(kN3, 2, 5, 2, 6, 6, 4), append(kN2, 2, 6, 2, 0, 0, 5),  // the commit advance alone
      append(kN2, 2, 6, 2, 7, 8, 5),
  };
  coalesce_messages(msgs, kBytesMax);
  ASSERT_EQ(msgs.size(), 2u);
  EXPECT_EQ(msgs[0].to, kN2);
  EXPECT_EQ(msgs[0].index, Index{4});
  EXPECT_EQ(msgs[0].log_term, Term{2});
  EXPECT_EQ(indexes(msgs[0]), (std::vector<uint64_t>{5, 6, 7, 8}));
  EXPECT_EQ(msgs[0].commit, Index{5});
  EXPECT_EQ(msgs[1].to, kN3);
  EXPECT_EQ(indexes(msgs[1]), (std::vector<uint64_t>{5, 6}));
  EXPECT_EQ(msgs[1].commit, Index{4});
}

// After a rejection the leader probes from further back: that kAppend does not
// continue the one before it and must arrive as its own message.
TEST(CoalesceMessages, AppendThatDoesNotContinueStaysSeparate) {
  std::vector<Message> msgs = {append(kN2, 2, 9, 2, 10, 10, 4), append(kN2, 2, 5, 1, 6, 10, 4)};
  coalesce_messages(msgs, kBytesMax);
  ASSERT_EQ(msgs.size(), 2u);
  EXPECT_EQ(indexes(msgs[0]), (std::vector<uint64_t>{10}));
  EXPECT_EQ(msgs[1].index, Index{5});

  // Same index, but the previous entry's term differs: not a continuation either.
  std::vector<Message> terms = {append(kN2, 3, 4, 2, 5, 5, 4), append(kN2, 3, 5, 2, 6, 6, 4)};
  coalesce_messages(terms, kBytesMax);
  EXPECT_EQ(terms.size(), 2u);
}

TEST(CoalesceMessages, PlantedBugMergesARejectionIntoAnAcknowledgement) {
  std::vector<Message> msgs = {ack(kN1, 2, 7), ack(kN1, 2, 9, /*reject=*/true)};
  coalesce_messages(msgs, kBytesMax, /*merge_rejections=*/true);
  ASSERT_EQ(msgs.size(), 1u);
  EXPECT_FALSE(msgs[0].reject);
  EXPECT_EQ(msgs[0].index, Index{9});
}

TEST(CoalesceMessages, DifferentTermsAreNotMerged) {
  std::vector<Message> msgs = {append(kN2, 2, 4, 2, 5, 5, 4), append(kN2, 3, 5, 2, 6, 6, 4)};
  coalesce_messages(msgs, kBytesMax);
  EXPECT_EQ(msgs.size(), 2u);
}

// Only the latest message to a peer is merged into: what one peer receives keeps
// its order.
TEST(CoalesceMessages, AnotherMessageToThePeerInBetweenKeepsOrder) {
  std::vector<Message> msgs = {append(kN2, 2, 4, 2, 5, 5, 4), heartbeat(kN2, 2),
                               append(kN2, 2, 5, 2, 6, 6, 4), heartbeat(kN3, 2),
                               append(kN2, 2, 6, 2, 7, 7, 4)};
  coalesce_messages(msgs, kBytesMax);
  ASSERT_EQ(msgs.size(), 4u);
  EXPECT_EQ(indexes(msgs[0]), (std::vector<uint64_t>{5}));
  EXPECT_EQ(msgs[1].type, MessageType::kHeartbeat);
  EXPECT_EQ(indexes(msgs[2]), (std::vector<uint64_t>{6, 7}));
  EXPECT_EQ(msgs[3].to, kN3);
}

TEST(CoalesceMessages, MergedEntriesStayWithinTheMessageByteBound) {
  std::vector<Message> msgs = {append(kN2, 2, 4, 2, 5, 5, 4), append(kN2, 2, 5, 2, 6, 6, 4),
                               append(kN2, 2, 6, 2, 7, 7, 4), append(kN2, 2, 7, 2, 0, 0, 6)};
  for (Message& m : msgs) {
    for (Entry& e : m.entries) e.data = std::string(400, 'v');
  }
  coalesce_messages(msgs, 1000);
  ASSERT_EQ(msgs.size(), 2u);
  EXPECT_EQ(indexes(msgs[0]), (std::vector<uint64_t>{5, 6}));
  // The empty commit advance still joins the second: it adds no bytes.
  EXPECT_EQ(indexes(msgs[1]), (std::vector<uint64_t>{7}));
  EXPECT_EQ(msgs[1].commit, Index{6});
}

TEST(CoalesceMessages, AcknowledgementsKeepTheHighestIndex) {
  std::vector<Message> msgs = {ack(kN1, 2, 5), ack(kN1, 2, 9), ack(kN1, 2, 7)};
  coalesce_messages(msgs, kBytesMax);
  ASSERT_EQ(msgs.size(), 1u);
  EXPECT_EQ(msgs[0].index, Index{9});
  EXPECT_FALSE(msgs[0].reject);
}

TEST(CoalesceMessages, RejectionsAndNewTermsAreNotMerged) {
  std::vector<Message> msgs = {ack(kN1, 2, 5), ack(kN1, 2, 8, /*reject=*/true), ack(kN1, 2, 6),
                               ack(kN1, 2, 4, /*reject=*/true), ack(kN1, 3, 7)};
  coalesce_messages(msgs, kBytesMax);
  ASSERT_EQ(msgs.size(), 5u);
  EXPECT_TRUE(msgs[1].reject);
  EXPECT_EQ(msgs[1].index, Index{8});
  EXPECT_TRUE(msgs[3].reject);
  EXPECT_EQ(msgs[4].term, Term{3});
}

TEST(CoalesceMessages, HeartbeatsKeepTheLatestReadContext) {
  std::vector<Message> msgs = {heartbeat(kN2, 2, "r1", 3), heartbeat(kN3, 2, "r1", 3),
                               heartbeat(kN2, 2, "r2", 4), heartbeat(kN2, 2, "", 5)};
  coalesce_messages(msgs, kBytesMax);
  ASSERT_EQ(msgs.size(), 2u);
  EXPECT_EQ(msgs[0].context, "r2");
  EXPECT_EQ(msgs[0].commit, Index{5});
  EXPECT_EQ(msgs[1].context, "r1");

  const auto resp = MessageType::kHeartbeatResponse;
  std::vector<Message> answers = {heartbeat(kN1, 2, "r1", 0, resp),
                                  heartbeat(kN1, 2, "r2", 0, resp),
                                  heartbeat(kN1, 3, "r3", 0, resp)};
  coalesce_messages(answers, kBytesMax);
  ASSERT_EQ(answers.size(), 2u);  // a new term is not merged into the old one
  EXPECT_EQ(answers[0].context, "r2");
  EXPECT_EQ(answers[1].context, "r3");
}

// ReadIndex requests that arrive between two Readies share one heartbeat round;
// its acknowledgement answers all of them.
TEST(CoalesceMessages, ReadsBetweenReadiesShareOneHeartbeatRound) {
  TestCluster c(3);
  ASSERT_TRUE(c.elect(kN1));
  ASSERT_TRUE(c.stabilize());
  for (const char* ctx : {"a", "b", "c"}) c.replica(kN1).read_index(ctx);
  Ready rd = c.replica(kN1).ready();
  ASSERT_EQ(rd.messages.size(), 2u);
  for (const Message& m : rd.messages) {
    EXPECT_EQ(m.type, MessageType::kHeartbeat);
    EXPECT_EQ(m.context, "c");
  }
  c.send(kN1, rd.messages);
  c.advance(kN1);
  c.deliver();
  ASSERT_TRUE(c.handle_ready(kN2));
  ASSERT_TRUE(c.handle_ready(kN3));
  c.deliver();
  Ready answered = c.replica(kN1).ready();
  ASSERT_EQ(answered.read_states.size(), 3u);
  EXPECT_EQ(answered.read_states[0].context, "a");
  EXPECT_EQ(answered.read_states[2].context, "c");
  c.advance(kN1);
}

// In a cluster: proposals that arrive between two Readies leave the leader as one
// kAppend per follower, and each follower answers once; everything commits.
TEST(CoalesceMessages, ProposalsBetweenReadiesLeaveAsOneAppendPerFollower) {
  TestCluster c(3);
  ASSERT_TRUE(c.elect(kN1));
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(c.propose(kN1, "p" + std::to_string(i)).is_ok());
  Ready rd = c.replica(kN1).ready();
  ASSERT_EQ(rd.messages.size(), 2u);
  for (const Message& m : rd.messages) {
    EXPECT_EQ(m.type, MessageType::kAppend);
    EXPECT_EQ(m.entries.size(), 5u);
  }
  c.send(kN1, rd.messages);
  c.persist(kN1, rd);
  c.apply(kN1, rd);
  c.advance(kN1);
  c.deliver();
  Ready follower = c.replica(kN2).ready();
  EXPECT_EQ(follower.messages_after_persist.size(), 1u);
  c.persist(kN2, follower);
  c.send(kN2, follower.messages_after_persist);
  c.advance(kN2);
  ASSERT_TRUE(c.stabilize());
  for (NodeId id : c.ids()) EXPECT_EQ(c.node(id).applied_log.size(), 6u) << "node " << id;
  EXPECT_TRUE(c.violations().empty());
}

}  // namespace
}  // namespace meridian::raft
