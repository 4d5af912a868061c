// The Ready/advance contract of Replica (replica.h) and the cost of idle replicas.
#include "raft/replica.h"

#include <gtest/gtest.h>
#include <malloc.h>

#include <iostream>
#include <memory>

#include "raft/cluster_testing.h"
#include "raft/raft.h"

namespace meridian::raft {
namespace {

using testing::kN1;
using testing::kN2;
using testing::kN3;
using testing::TestCluster;

size_t count_type(const std::vector<Message>& msgs, MessageType t) {
  size_t n = 0;
  for (const Message& m : msgs) n += m.type == t;
  return n;
}

// Figure 2 ("persistent state ... updated on stable storage before responding to
// RPCs"): a candidate's new term and self-vote are in the Ready's hard state, must be
// synced, and its vote requests wait until they are (messages_after_persist).
TEST(Ready, CampaignPersistsTermAndVoteBeforeRequestingVotes) {
  TestCluster c(3, [](Config& cfg) { cfg.pre_vote = false; });
  c.campaign(kN1);
  ASSERT_TRUE(c.replica(kN1).has_ready());
  Ready rd = c.replica(kN1).ready();
  ASSERT_TRUE(rd.hard_state.has_value());
  EXPECT_EQ(*rd.hard_state, (HardState{Term{2}, kN1, Index{1}}));
  EXPECT_TRUE(rd.must_sync);
  ASSERT_TRUE(rd.soft_state.has_value());
  EXPECT_EQ(rd.soft_state->role, Role::kCandidate);
  EXPECT_TRUE(rd.messages.empty());
  EXPECT_EQ(count_type(rd.messages_after_persist, MessageType::kVote), 2u);
}

// Thesis §9.6: a pre-vote changes no durable state, so nothing is persisted and the
// pre-vote requests (and their answers) may be sent at once.
TEST(Ready, PreVoteNeedsNoPersist) {
  TestCluster c(3);
  c.campaign(kN1);
  Ready rd = c.replica(kN1).ready();
  EXPECT_FALSE(rd.hard_state.has_value());
  EXPECT_FALSE(rd.must_sync);
  EXPECT_EQ(count_type(rd.messages, MessageType::kPreVote), 2u);
  EXPECT_TRUE(rd.messages_after_persist.empty());
  c.send(kN1, rd.messages);
  c.advance(kN1);
  c.deliver();
  Ready answer = c.replica(kN2).ready();
  EXPECT_EQ(count_type(answer.messages, MessageType::kPreVoteResponse), 1u);
  EXPECT_FALSE(answer.hard_state.has_value());
}

// A vote response promises a durable vote; an append response promises durable
// entries: both come after persisting. A heartbeat response promises nothing.
TEST(Ready, VoteAndAppendResponsesWaitForPersistHeartbeatResponsesDoNot) {
  TestCluster c(3, [](Config& cfg) { cfg.pre_vote = false; });
  c.campaign(kN1);
  ASSERT_TRUE(c.handle_ready(kN1));
  c.deliver(testing::is(MessageType::kVote, kN1, kN2));
  Ready vote = c.replica(kN2).ready();
  ASSERT_TRUE(vote.hard_state.has_value());
  EXPECT_EQ(vote.hard_state->vote, kN1);
  EXPECT_TRUE(vote.must_sync);
  EXPECT_EQ(count_type(vote.messages, MessageType::kVoteResponse), 0u);
  EXPECT_EQ(count_type(vote.messages_after_persist, MessageType::kVoteResponse), 1u);
  c.persist(kN2, vote);
  c.send(kN2, vote.messages_after_persist);
  c.advance(kN2);
  c.deliver(testing::is(MessageType::kVoteResponse));
  ASSERT_EQ(c.replica(kN1).role(), Role::kLeader);
  ASSERT_TRUE(c.handle_ready(kN1));

  c.deliver(testing::is(MessageType::kAppend, kN1, kN2));
  Ready append = c.replica(kN2).ready();
  EXPECT_EQ(append.entries.size(), 1u);  // the leader's no-op
  EXPECT_TRUE(append.must_sync);
  EXPECT_EQ(count_type(append.messages, MessageType::kAppendResponse), 0u);
  EXPECT_EQ(count_type(append.messages_after_persist, MessageType::kAppendResponse), 1u);
  c.persist(kN2, append);
  c.send(kN2, append.messages_after_persist);
  c.advance(kN2);
  ASSERT_TRUE(c.stabilize());

  c.tick(kN1);  // heartbeat_ticks = 1
  ASSERT_TRUE(c.handle_ready(kN1));
  c.deliver(testing::is(MessageType::kHeartbeat, kN1, kN2));
  Ready hb = c.replica(kN2).ready();
  EXPECT_EQ(count_type(hb.messages, MessageType::kHeartbeatResponse), 1u);
  EXPECT_TRUE(hb.messages_after_persist.empty());
  EXPECT_FALSE(hb.must_sync);
}

// A commit index advance alone needs no sync; it is still reported in the hard state.
TEST(Ready, CommitOnlyHardStateNeedsNoSync) {
  TestCluster c(3);
  ASSERT_TRUE(c.elect(kN1));
  ASSERT_TRUE(c.propose(kN1, "x").is_ok());
  ASSERT_TRUE(c.handle_ready(kN1));
  c.deliver();
  ASSERT_TRUE(c.handle_ready(kN2));
  c.deliver();
  Ready rd = c.replica(kN1).ready();  // n2's acknowledgement committed index 3
  ASSERT_TRUE(rd.hard_state.has_value());
  EXPECT_EQ(rd.hard_state->commit, Index{3});
  EXPECT_TRUE(rd.entries.empty());
  EXPECT_FALSE(rd.must_sync);
  ASSERT_EQ(rd.committed_entries.size(), 1u);
  EXPECT_EQ(rd.committed_entries[0].data, "x");
}

// replica.h: no new Ready is produced until advance(), though inputs are accepted.
TEST(Ready, NoNewReadyBeforeAdvance) {
  TestCluster c(3);
  ASSERT_TRUE(c.elect(kN1));
  ASSERT_TRUE(c.propose(kN1, "a").is_ok());
  Ready rd = c.replica(kN1).ready();
  ASSERT_EQ(rd.entries.size(), 1u);
  ASSERT_TRUE(c.propose(kN1, "b").is_ok());
  c.tick(kN1);
  EXPECT_FALSE(c.replica(kN1).has_ready());
  c.send(kN1, rd.messages);
  c.persist(kN1, rd);
  c.apply(kN1, rd);
  c.advance(kN1);
  ASSERT_TRUE(c.replica(kN1).has_ready());
  Ready next = c.replica(kN1).ready();
  ASSERT_EQ(next.entries.size(), 1u);
  EXPECT_EQ(next.entries[0].data, "b");
  c.advance(kN1);
}

// §5.3 ("apply entries in log order") and the Ready contract: every committed entry
// is handed out exactly once, in order, even when a byte limit splits them over many
// Readies and the leader changes in between.
TEST(Ready, CommittedEntriesHandedOutExactlyOnceInOrder) {
  TestCluster c(3, [](Config& cfg) { cfg.committed_bytes_per_ready_max = 100; });
  ASSERT_TRUE(c.elect(kN1));
  for (int i = 0; i < 30; ++i) ASSERT_TRUE(c.propose(kN1, std::string(40, 'a')).is_ok());
  ASSERT_TRUE(c.stabilize());
  c.replica(kN1).transfer_leader(kN2);
  ASSERT_TRUE(c.stabilize());
  ASSERT_EQ(c.leader(), kN2);
  for (int i = 0; i < 30; ++i) ASSERT_TRUE(c.propose(kN2, std::string(40, 'b')).is_ok());
  ASSERT_TRUE(c.stabilize());

  for (NodeId id : c.ids()) {
    const std::vector<Entry>& log = c.node(id).applied_log;
    ASSERT_EQ(log.size(), 62u) << "node " << id;  // 60 proposals and two no-ops
    for (size_t i = 0; i < log.size(); ++i) {
      EXPECT_EQ(log[i].index, Index{2 + i}) << "node " << id;
    }
    EXPECT_EQ(log, c.storage(id).all_entries()) << "node " << id;
  }
  EXPECT_TRUE(c.violations().empty());
}

// Config::applied: a host whose state machine is durable restarts with its applied
// index; the core hands out only the committed entries after it.
TEST(Ready, RestartWithAppliedIndexHandsOutOnlyLaterEntries) {
  TestCluster c(3);
  ASSERT_TRUE(c.elect(kN1));
  for (std::string s : {"a", "b", "c"}) ASSERT_TRUE(c.propose(kN1, s).is_ok());
  ASSERT_TRUE(c.stabilize());
  c.crash(kN2);
  Config cfg;
  cfg.id = kN2;
  cfg.applied = Index{4};  // the no-op, "a" and "b"
  auto r = Replica::create(cfg, &c.storage(kN2));
  ASSERT_TRUE(r.is_ok());
  Replica& replica = *r.value();
  ASSERT_TRUE(replica.has_ready());
  Ready rd = replica.ready();
  ASSERT_EQ(rd.committed_entries.size(), 1u);
  EXPECT_EQ(rd.committed_entries[0].data, "c");
  replica.advance();
  EXPECT_FALSE(replica.has_ready());
}

// Replica::create refuses a bad config instead of asserting later.
TEST(Ready, CreateRejectsInvalidConfig) {
  MemoryStorage storage;
  Config cfg;  // id 0
  EXPECT_EQ(Replica::create(cfg, &storage).status().code(), Code::kInvalidArgument);
  cfg.id = kN1;
  cfg.read_only = ReadOnlyOption::kLeaseBased;
  cfg.check_quorum = false;
  EXPECT_EQ(Replica::create(cfg, &storage).status().code(), Code::kInvalidArgument);
  cfg.read_only = ReadOnlyOption::kSafe;
  EXPECT_EQ(Replica::create(cfg, nullptr).status().code(), Code::kInvalidArgument);
}

// A bootstrapped replica over its own storage, as node 1 of {1 2 3}.
struct IdleReplica {
  MemoryStorage storage;
  std::unique_ptr<Replica> replica;
};

std::unique_ptr<IdleReplica> make_idle(uint64_t seed, bool member) {
  auto r = std::make_unique<IdleReplica>();
  if (member) {
    Snapshot boot;
    boot.meta = SnapshotMeta{Index{1}, Term{1}, ConfState{{kN1, kN2, kN3}, {}, {}, {}, false}};
    MERIDIAN_ASSERT(r->storage.apply_snapshot(boot).is_ok(), "");
    r->storage.set_hard_state(HardState{Term{1}, kNoNode, Index{1}});
  }
  Config cfg;
  cfg.id = kN1;
  cfg.random_seed = seed;
  r->replica = std::move(Replica::create(cfg, &r->storage)).value();
  return r;
}

// replica.h: an idle replica does nothing until ticked or stepped, and ticks short of
// an election timeout produce no output; a replica that is not (yet) a member never
// campaigns however long it is ticked.
TEST(IdleReplicas, ThousandIdleReplicasProduceNothing) {
  constexpr int kReplicas = 1000;
  constexpr int kElectionTicks = 10;
  struct mallinfo2 before = mallinfo2();
  std::vector<std::unique_ptr<IdleReplica>> members;
  for (int i = 0; i < kReplicas; ++i) members.push_back(make_idle(i, /*member=*/true));
  struct mallinfo2 after = mallinfo2();

  for (auto& r : members) {
    for (int t = 0; t < kElectionTicks - 1; ++t) r->replica->tick();
    EXPECT_FALSE(r->replica->has_ready());
  }
  for (int i = 0; i < kReplicas / 10; ++i) {
    auto r = make_idle(i, /*member=*/false);
    for (int t = 0; t < 100 * kElectionTicks; ++t) r->replica->tick();
    EXPECT_FALSE(r->replica->has_ready());
  }

  // Not an assertion (allocator-dependent): printed so that growth is noticed.
  size_t heap = (after.uordblks - before.uordblks) / kReplicas;
  std::cout << "[ idle     ] sizeof(Replica)=" << sizeof(Replica)
            << " sizeof(Raft)=" << sizeof(Raft)
            << " sizeof(MemoryStorage)=" << sizeof(MemoryStorage)
            << " heap per idle 3-voter replica incl. storage=" << heap << " bytes\n";
  EXPECT_LT(heap, 64u * 1024);  // a generous bound: thousands of groups per node
}

}  // namespace
}  // namespace meridian::raft
