// SafetyChecker: each property accepts a legal history and flags a violation.
#include "sim/invariants.h"

#include <gtest/gtest.h>

#include <vector>

#include "raft/memory_storage.h"
#include "sim/synced_log.h"

namespace meridian::sim {
namespace {

using raft::Entry;
using raft::Index;
using raft::MemoryStorage;
using raft::NodeId;
using raft::Term;

Entry entry(uint64_t term, uint64_t index, const char* data) {
  return Entry{.term = Term{term}, .index = Index{index}, .data = data};
}

MemoryStorage log_of(const std::vector<Entry>& es) {
  MemoryStorage s;
  s.append(es);
  return s;
}

TEST(SafetyChecker, OneLeaderPerTerm) {
  SafetyChecker c;
  EXPECT_FALSE(c.on_role(NodeId{1}, raft::Role::kLeader, Term{2}));
  EXPECT_FALSE(c.on_role(NodeId{1}, raft::Role::kLeader, Term{2}));
  EXPECT_FALSE(c.on_role(NodeId{2}, raft::Role::kLeader, Term{3}));
  auto v = c.on_role(NodeId{3}, raft::Role::kLeader, Term{2});
  ASSERT_TRUE(v);
  EXPECT_EQ(v->invariant, "election safety");
}

TEST(SafetyChecker, LogMatchingComparesContentAndPrefix) {
  SafetyChecker c;
  const std::vector<Entry> a = {entry(1, 1, "x"), entry(2, 2, "y")};
  EXPECT_FALSE(c.on_entries_written(NodeId{1}, a, log_of(a)));
  EXPECT_FALSE(c.on_entries_written(NodeId{2}, a, log_of(a)));
  const std::vector<Entry> other_data = {entry(1, 1, "x"), entry(2, 2, "z")};
  EXPECT_TRUE(c.on_entries_written(NodeId{3}, other_data, log_of(other_data)));
  const std::vector<Entry> other_prefix = {entry(2, 1, "w"), entry(2, 2, "y")};
  auto v = c.on_entries_written(NodeId{4}, {other_prefix[1]}, log_of(other_prefix));
  ASSERT_TRUE(v);
  EXPECT_EQ(v->invariant, "log matching");
}

TEST(SafetyChecker, NoTwoEntriesAppliedAtOneIndex) {
  SafetyChecker c;
  EXPECT_FALSE(c.on_applied(NodeId{1}, entry(1, 1, "x")));
  EXPECT_FALSE(c.on_applied(NodeId{2}, entry(1, 1, "x")));
  auto v = c.on_applied(NodeId{3}, entry(2, 1, "y"));
  ASSERT_TRUE(v);
  EXPECT_EQ(v->invariant, "state machine safety");
}

TEST(SafetyChecker, LeaderCompletenessUsesTheCommitTerm) {
  SafetyChecker c;
  const std::vector<Entry> leader_log = {entry(1, 1, "x"), entry(2, 2, "y")};
  ASSERT_FALSE(c.on_role(NodeId{1}, raft::Role::kLeader, Term{2}));
  ASSERT_FALSE(c.on_leader_commit(NodeId{1}, Term{2}, Index{0}, Index{2}, log_of(leader_log)));
  // A leader of term 3 lacking index 2 (committed in term 2) is a violation...
  const std::vector<Entry> short_log = {entry(1, 1, "x")};
  auto v = c.on_leader_log(NodeId{2}, Term{3}, log_of(short_log));
  ASSERT_TRUE(v);
  EXPECT_EQ(v->invariant, "leader completeness");
  // ...but a leader of term 2 itself is not checked against its own commits.
  EXPECT_FALSE(c.on_leader_log(NodeId{1}, Term{2}, log_of(short_log)));
}

TEST(SafetyChecker, CommitmentRule) {
  SafetyChecker c;
  const auto log = log_of({entry(1, 1, "x"), entry(3, 2, "")});
  EXPECT_FALSE(c.check_commit_rule(NodeId{1}, Term{3}, Index{0}, Index{2}, log));
  auto v = c.check_commit_rule(NodeId{1}, Term{3}, Index{0}, Index{1}, log);
  ASSERT_TRUE(v);
  EXPECT_EQ(v->invariant, "commitment rule");
}

TEST(SafetyChecker, PersistBeforeResponding) {
  SafetyChecker c;
  MemoryStorage synced_state = log_of({entry(1, 1, "x")});
  synced_state.set_hard_state({.term = Term{2}, .vote = NodeId{3}, .commit = Index{1}});
  SyncedLog durable;
  durable.record(synced_state, Index{0}, Index{0});
  MemoryStorage volatile_log = log_of({entry(1, 1, "x"), entry(2, 2, "y")});
  raft::Message ack;
  ack.type = raft::MessageType::kAppendResponse;
  ack.from = NodeId{1};
  ack.to = NodeId{3};
  ack.index = Index{1};
  EXPECT_FALSE(c.check_persisted_before_send(ack, durable, volatile_log));
  ack.index = Index{2};
  EXPECT_TRUE(c.check_persisted_before_send(ack, durable, volatile_log));
  raft::Message vote;
  vote.type = raft::MessageType::kVoteResponse;
  vote.from = NodeId{1};
  vote.to = NodeId{3};
  vote.term = Term{2};
  EXPECT_FALSE(c.check_persisted_before_send(vote, durable, volatile_log));
  vote.to = NodeId{4};
  EXPECT_TRUE(c.check_persisted_before_send(vote, durable, volatile_log));
}

}  // namespace
}  // namespace meridian::sim
