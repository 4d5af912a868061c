// Log replication and commitment (Raft paper §5.3, §5.4.2 and Figure 8; thesis
// §10.2.1 on pipelining and parallel persistence).
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>

#include "raft/cluster_testing.h"

namespace meridian::raft {
namespace {

using testing::ConfigureFn;
using testing::kN1;
using testing::kN2;
using testing::kN3;
using testing::kN4;
using testing::kN5;
using testing::make_entries;
using testing::TestCluster;

// Elections in these tests are started by hand, so leases and pre-votes would only
// get in the way of building the logs the paper describes.
void plain_elections(Config& c) {
  c.pre_vote = false;
  c.check_quorum = false;
}

std::vector<Term> terms_of(const std::vector<Entry>& entries) {
  std::vector<Term> out;
  for (const Entry& e : entries) out.push_back(e.term);
  return out;
}

// Replaces node id's log after the bootstrap entry and its current term.
void set_log(TestCluster& c, NodeId id, const std::vector<uint64_t>& terms, uint64_t term) {
  c.crash(id);
  c.storage(id).append(make_entries(Index{2}, terms));
  c.storage(id).set_hard_state(HardState{Term{term}, kNoNode, Index{1}});
  c.restart(id);
}

// §5.3 Log Matching: once replicated, every follower's log equals the leader's.
TEST(Replication, FollowersLogsMatchLeadersLog) {
  TestCluster c(3);
  ASSERT_TRUE(c.elect(kN1));
  for (std::string s : {"a", "b", "c"}) ASSERT_TRUE(c.propose(kN1, s).is_ok());
  ASSERT_TRUE(c.stabilize());
  for (NodeId id : {kN2, kN3}) {
    EXPECT_EQ(c.storage(id).all_entries(), c.storage(kN1).all_entries());
    EXPECT_EQ(c.node(id).state, (std::vector<std::string>{"a", "b", "c"}));
  }
  EXPECT_TRUE(c.violations().empty());
}

// Figure 2, AppendEntries receiver rule 2: reply false if the log has no entry at
// prevLogIndex whose term matches prevLogTerm; rule 3-4: otherwise append.
TEST(Replication, FollowerRejectsAppendWhosePreviousEntryDoesNotMatch) {
  TestCluster c(3);
  Message m;
  m.type = MessageType::kAppend;
  m.from = kN1;
  m.to = kN2;
  m.term = Term{2};
  m.index = Index{5};  // n2 holds only index 1
  m.log_term = Term{2};
  m.entries = make_entries(Index{6}, {2});
  ASSERT_TRUE(c.replica(kN2).step(m).is_ok());
  m.index = Index{1};
  m.log_term = Term{1};
  m.entries = make_entries(Index{2}, {2});
  ASSERT_TRUE(c.replica(kN2).step(m).is_ok());
  ASSERT_TRUE(c.handle_ready(kN2));

  ASSERT_EQ(c.pending().size(), 2u);
  EXPECT_TRUE(c.pending()[0].reject);
  EXPECT_EQ(c.pending()[0].index, Index{5});
  EXPECT_FALSE(c.pending()[1].reject);
  EXPECT_EQ(c.pending()[1].index, Index{2});
  EXPECT_EQ(terms_of(c.storage(kN2).all_entries()), std::vector<Term>{Term{2}});
}

// §5.3 and Figure 7: the leader forces followers' logs to duplicate its own; missing
// entries are filled in, and extra or conflicting uncommitted entries are replaced.
TEST(Replication, MissingExtraAndDivergentFollowerLogsAreRepaired) {
  TestCluster c(5, plain_elections);
  set_log(c, kN1, {2, 2, 3, 3, 5}, 5);           // the future leader
  set_log(c, kN2, {2, 2}, 2);                    // missing entries
  set_log(c, kN3, {2, 2, 3, 3, 4, 4, 4}, 4);     // extra and conflicting entries
  set_log(c, kN4, {2, 2, 2, 2, 2, 2, 2, 2}, 2);  // a long divergent suffix
  set_log(c, kN5, {2, 2, 3, 3, 5}, 5);           // up to date
  ASSERT_TRUE(c.elect(kN1));
  ASSERT_TRUE(c.stabilize());

  std::vector<Entry> want = c.storage(kN1).all_entries();
  EXPECT_EQ(terms_of(want),
            (std::vector<Term>{Term{2}, Term{2}, Term{3}, Term{3}, Term{5}, Term{6}}));
  for (NodeId id : {kN2, kN3, kN4, kN5}) {
    EXPECT_EQ(c.storage(id).all_entries(), want) << "node " << id;
    EXPECT_EQ(c.status(id).commit, Index{7}) << "node " << id;
  }
}

// §5.3 (the optimization at the end of the section): with the conflicting term in
// the rejection, the leader skips a whole term per round trip, so repairing a
// follower takes at most one rejection per conflicting term, not one per entry.
TEST(Replication, FastBacktrackingNeedsOneRejectionPerTermNotPerEntry) {
  TestCluster c(3, plain_elections);
  std::vector<uint64_t> leader(10, 2);
  leader.insert(leader.end(), 50, 5);
  std::vector<uint64_t> follower(10, 2);
  follower.insert(follower.end(), 30, 3);
  follower.insert(follower.end(), 60, 4);  // 90 entries the leader must overwrite
  set_log(c, kN1, leader, 5);
  set_log(c, kN2, follower, 4);
  set_log(c, kN3, leader, 5);
  c.clear_sent();
  ASSERT_TRUE(c.elect(kN1));
  ASSERT_TRUE(c.stabilize());

  size_t rejections = c.count_sent([](const Message& m) {
    return m.type == MessageType::kAppendResponse && m.from == kN2 && m.reject;
  });
  EXPECT_GE(rejections, 1u);
  EXPECT_LE(rejections, 2u);  // terms 3 and 4 conflict; one index at a time would be ~50
  EXPECT_EQ(c.storage(kN2).all_entries(), c.storage(kN1).all_entries());
}

// A follower that is merely behind is caught up with a single rejection, however
// many entries it lacks.
TEST(Replication, LaggingFollowerIsFoundInOneRejection) {
  TestCluster c(3, plain_elections);
  set_log(c, kN1, std::vector<uint64_t>(100, 2), 2);
  set_log(c, kN3, std::vector<uint64_t>(100, 2), 2);
  c.clear_sent();
  ASSERT_TRUE(c.elect(kN1));
  ASSERT_TRUE(c.stabilize());
  EXPECT_EQ(c.count_sent([](const Message& m) {
    return m.type == MessageType::kAppendResponse && m.from == kN2 && m.reject;
  }),
            1u);
  EXPECT_EQ(c.storage(kN2).all_entries(), c.storage(kN1).all_entries());
}

// A single-voter group elects itself and commits as soon as its own log is durable.
TEST(Replication, SingleVoterCommitsAlone) {
  TestCluster c(1);
  ASSERT_TRUE(c.elect(kN1));
  ASSERT_TRUE(c.propose(kN1, "x").is_ok());
  ASSERT_TRUE(c.stabilize());
  EXPECT_EQ(c.node(kN1).state, std::vector<std::string>{"x"});
  c.replica(kN1).read_index("r");
  ASSERT_TRUE(c.stabilize());
  EXPECT_EQ(c.node(kN1).read_states, (std::vector<ReadState>{ReadState{Index{3}, "r"}}));
}

// Thesis §10.2.1: appends lost while the flow-control window is full must not stall
// the follower forever; the leader finds out at the next heartbeat and resends.
TEST(Replication, LostAppendsInFullWindowAreResent) {
  TestCluster c(3, [](Config& cfg) {
    cfg.inflight_messages_max = 2;
    cfg.append_bytes_max = 1;
  });
  ASSERT_TRUE(c.elect(kN1));
  c.set_drop_filter([](const Message& m) { return m.type == MessageType::kAppend && m.to == kN2; });
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(c.propose(kN1, "e" + std::to_string(i)).is_ok());
  ASSERT_TRUE(c.stabilize());
  ASSERT_EQ(c.status(kN2).last_index, Index{2});
  c.heal();
  ASSERT_TRUE(c.tick_all(3));
  EXPECT_EQ(c.node(kN2).state, c.node(kN1).state);
  EXPECT_EQ(c.node(kN2).state.size(), 5u);
}

// §5.1 and §5.3: a leader cut off from the others keeps accepting proposals that can
// never commit; when it returns, it learns the newer term from the others' replies,
// steps down, and its uncommitted entries are replaced by the new leader's.
TEST(Replication, StaleLeaderStepsDownAndLosesUncommittedEntries) {
  TestCluster c(3, [](Config& cfg) { cfg.check_quorum = false; });
  ASSERT_TRUE(c.elect(kN1));
  c.isolate(kN1);
  ASSERT_TRUE(c.propose(kN1, "lost").is_ok());
  ASSERT_TRUE(c.stabilize());
  ASSERT_TRUE(c.elect(kN2));
  ASSERT_TRUE(c.propose(kN2, "kept").is_ok());
  ASSERT_TRUE(c.stabilize());
  ASSERT_EQ(c.replica(kN1).role(), Role::kLeader);  // it has not noticed yet

  c.heal();
  ASSERT_TRUE(c.tick_all(2));
  EXPECT_EQ(c.replica(kN1).role(), Role::kFollower);
  EXPECT_EQ(c.replica(kN1).leader(), kN2);
  for (NodeId id : c.ids()) {
    EXPECT_EQ(c.node(id).state, std::vector<std::string>{"kept"}) << "node " << id;
    EXPECT_EQ(c.storage(id).all_entries(), c.storage(kN2).all_entries()) << "node " << id;
  }
}

// A leader that crashes after sending entries but before persisting them loses them
// locally; the others may still commit them (they counted only durable copies), and
// the restarted node gets them back from the new leader.
TEST(Replication, LeaderCrashBeforePersistingLosesNothingCommitted) {
  TestCluster c(3);
  ASSERT_TRUE(c.elect(kN1));
  ASSERT_TRUE(c.propose(kN1, "x").is_ok());
  Ready rd = c.replica(kN1).ready();
  c.send(kN1, rd.messages);
  c.crash(kN1);  // the Ready is lost with it
  ASSERT_TRUE(c.stabilize());
  EXPECT_EQ(c.storage(kN1).last_index(), Index{2});
  c.restart(kN1);
  NodeId leader = kNoNode;
  for (int i = 0; i < 100 && leader == kNoNode; ++i) {
    ASSERT_TRUE(c.tick_all(1));
    leader = c.leader();
  }
  ASSERT_TRUE(leader == kN2 || leader == kN3) << leader;  // n1's log is behind
  ASSERT_TRUE(c.stabilize());
  for (NodeId id : c.ids()) {
    EXPECT_EQ(c.node(id).state, std::vector<std::string>{"x"}) << "node " << id;
  }
  EXPECT_TRUE(c.violations().empty());
}

// Number of kAppend messages with entries sent from n1 to n2 and not yet
// acknowledged (their last entry is past n2's match in the leader's progress).
size_t unacked_appends(TestCluster& c, uint64_t* bytes = nullptr, uint64_t* last_bytes = nullptr) {
  Index match = c.status(kN1).progress.at(kN2).match;
  size_t n = 0;
  if (bytes) *bytes = 0;
  for (const Message& m : c.sent()) {
    if (m.type != MessageType::kAppend || m.to != kN2 || m.entries.empty()) continue;
    if (m.entries.back().index <= match) continue;
    ++n;
    uint64_t b = 0;
    for (const Entry& e : m.entries) b += e.size_bytes();
    if (bytes) *bytes += b;
    if (last_bytes) *last_bytes = b;
  }
  return n;
}

// Drives n1 -> n2 replication of `proposals` entries, releasing n2's acknowledgements
// one at a time, and returns the largest number of unacknowledged kAppend seen.
size_t max_in_flight(TestCluster& c, int proposals, uint64_t bytes_max_seen_below = 0) {
  for (int i = 0; i < proposals; ++i) {
    EXPECT_TRUE(c.propose(kN1, std::string(100, 'a' + i % 26)).is_ok());
  }
  size_t max_seen = 0;
  for (int step = 0; step < 10 * proposals; ++step) {
    while (c.handle_ready(kN1)) {
    }
    uint64_t bytes = 0;
    uint64_t last_bytes = 0;
    max_seen = std::max(max_seen, unacked_appends(c, &bytes, &last_bytes));
    if (bytes_max_seen_below > 0) {
      // Only the message that crossed the byte limit may pass it.
      EXPECT_LT(bytes - last_bytes, bytes_max_seen_below);
    }
    c.deliver(testing::is(MessageType::kAppend, kN1, kN2));
    while (c.handle_ready(kN2)) {
    }
    // Release the oldest acknowledgement only.
    bool first = true;
    c.deliver([&](const Message& m) {
      bool take = first && m.type == MessageType::kAppendResponse && m.from == kN2;
      if (take) first = false;
      return take;
    });
    if (c.status(kN1).progress.at(kN2).match == c.status(kN1).last_index) break;
  }
  EXPECT_EQ(c.status(kN1).progress.at(kN2).match, c.status(kN1).last_index);
  EXPECT_TRUE(c.stabilize());  // n2 learns the final commit index
  return max_seen;
}

// Thesis §10.2.1: the leader pipelines kAppend messages, but never more than the
// flow-control window allows to one follower.
TEST(Replication, PipeliningNeverExceedsInflightMessagesMax) {
  TestCluster c(3, [](Config& cfg) {
    cfg.inflight_messages_max = 4;
    cfg.append_bytes_max = 1;  // one entry per message
  });
  ASSERT_TRUE(c.elect(kN1));
  c.crash(kN3);
  c.clear_sent();
  EXPECT_EQ(max_in_flight(c, 12), 4u);
  EXPECT_EQ(c.node(kN2).state.size(), 12u);
}

// The byte limit of the window: a message may cross inflight_bytes_max, the next
// one waits.
TEST(Replication, PipeliningHonoursInflightBytesMax) {
  constexpr uint64_t kBytesMax = 250;  // two 124-byte entries fit, the third crosses
  TestCluster c(3, [](Config& cfg) {
    cfg.inflight_bytes_max = kBytesMax;
    cfg.append_bytes_max = 1;
  });
  ASSERT_TRUE(c.elect(kN1));
  c.crash(kN3);
  c.clear_sent();
  EXPECT_EQ(max_in_flight(c, 12, kBytesMax), 3u);
}

// Figure 8 of the Raft paper, built step by step with five nodes. Returns the
// cluster in state (c): n1 leads term 4 and holds "x" (index 3, term 2) on n1-n4,
// a majority, while its own no-op (index 4, term 4) is on n1 only. n5 is down and
// holds a conflicting index 3 of term 3.
std::unique_ptr<TestCluster> figure8_state_c() {
  auto c = std::make_unique<TestCluster>(5, [](Config& cfg) {
    plain_elections(cfg);
    cfg.append_bytes_max = 1;  // one entry per kAppend
  });
  // (a) n1 leads term 2; its no-op commits; "x" (index 3, term 2) reaches n2 only.
  MERIDIAN_ASSERT(c->elect(kN1), "n1 must win term 2");
  c->partition({{kN1, kN2}, {kN3, kN4, kN5}});
  MERIDIAN_ASSERT(c->propose(kN1, "x").is_ok(), "");
  MERIDIAN_ASSERT(c->stabilize(), "");
  // (b) n1 crashes; n5 wins term 3 with n3 and n4, appends index 3 of term 3 and
  // crashes before sending it.
  c->crash(kN1);
  c->heal();
  c->set_drop_filter(
      [](const Message& m) { return m.type == MessageType::kAppend && m.from == kN5; });
  MERIDIAN_ASSERT(c->elect(kN5), "n5 must win term 3");
  MERIDIAN_ASSERT(c->replica(kN5).term() == Term{3}, "");
  c->crash(kN5);
  // (c) n1 restarts and wins term 4 (n2, n3, n4 vote). It replicates "x" to n3 and
  // n4, but its own term-4 entry is lost on the way to anyone who would store it.
  c->restart(kN1);
  TestCluster* cp = c.get();
  c->set_drop_filter([cp](const Message& m) {
    if (m.type != MessageType::kAppend) return false;
    bool has_term4 = std::any_of(m.entries.begin(), m.entries.end(),
                                 [](const Entry& e) { return e.term == Term{4}; });
    // n3 and n4 must still see (and reject) the first probe, which lacks index 3.
    return m.to == kN2 || (has_term4 && cp->storage(m.to).last_index() >= Index{3});
  });
  MERIDIAN_ASSERT(c->elect(kN1), "n1 must win term 4");
  MERIDIAN_ASSERT(c->replica(kN1).term() == Term{4}, "");
  return c;
}

// §5.4.2: a leader never commits an entry of an earlier term by counting replicas,
// even when a majority stores it ...
TEST(Replication, Figure8OldTermEntryOnMajorityIsNotCommitted) {
  auto c = figure8_state_c();
  for (NodeId id : {kN1, kN2, kN3, kN4}) {
    EXPECT_EQ(c->storage(id).term(Index{3}).value(), Term{2}) << "node " << id;
  }
  EXPECT_EQ(c->status(kN1).progress.at(kN3).match, Index{3});
  EXPECT_EQ(c->status(kN1).progress.at(kN4).match, Index{3});
  EXPECT_EQ(c->status(kN1).commit, Index{2});

  // ... because it would be unsafe (Figure 8 (d)): n1 crashes, and n5, whose last
  // term 3 beats their term 2, wins with n2, n3 and n4 and overwrites "x" on all of
  // them. Had "x" been committed, a committed entry would now be lost.
  c->crash(kN1);
  c->heal();
  c->restart(kN5);
  ASSERT_TRUE(c->elect(kN5));
  ASSERT_TRUE(c->stabilize());
  for (NodeId id : {kN2, kN3, kN4, kN5}) {
    EXPECT_EQ(c->storage(id).term(Index{3}).value(), Term{3}) << "node " << id;
    EXPECT_TRUE(c->node(id).state.empty()) << "node " << id << " applied x";
  }
  EXPECT_TRUE(c->violations().empty());
}

// §5.4.2 and Figure 8 (e): once an entry of the leader's own term is on a majority,
// it commits, and every earlier entry with it; n5 can then never win.
TEST(Replication, Figure8OldTermEntryCommitsWithCurrentTermEntry) {
  auto c = figure8_state_c();
  c->set_drop_filter([](const Message& m) { return m.to == kN5; });
  ASSERT_TRUE(c->tick_all(1));  // a heartbeat unblocks n2's probe; term 4 flows now
  EXPECT_EQ(c->status(kN1).commit, Index{4});
  for (NodeId id : {kN1, kN2, kN3, kN4}) {
    EXPECT_EQ(c->node(id).state, std::vector<std::string>{"x"}) << "node " << id;
  }
  c->crash(kN1);
  c->heal();
  c->restart(kN5);
  EXPECT_FALSE(c->elect(kN5, 3));
}

// Thesis §10.2.1: the leader may send entries before persisting them, but its own
// copy counts toward a commit only once it is durable.
TEST(Replication, LeaderCountsItselfOnlyAfterPersisting) {
  TestCluster c(3);
  ASSERT_TRUE(c.elect(kN1));
  c.crash(kN3);  // n1 and n2 are exactly a majority
  ASSERT_TRUE(c.propose(kN1, "x").is_ok());
  Ready rd = c.replica(kN1).ready();
  ASSERT_EQ(rd.entries.size(), 1u);
  c.send(kN1, rd.messages);  // sent before the leader persisted
  ASSERT_TRUE(c.stabilize());
  EXPECT_EQ(c.status(kN2).last_index, Index{3});
  EXPECT_EQ(c.status(kN1).progress.at(kN2).match, Index{3});
  EXPECT_EQ(c.status(kN1).commit, Index{2}) << "committed with only one durable copy";

  c.persist(kN1, rd);
  c.send(kN1, rd.messages_after_persist);
  c.apply(kN1, rd);
  c.advance(kN1);
  EXPECT_EQ(c.status(kN1).commit, Index{3});
  ASSERT_TRUE(c.stabilize());
  EXPECT_EQ(c.node(kN2).state, std::vector<std::string>{"x"});
}

// Proposals made at a follower are forwarded to the leader (thesis §6.2), unless
// forwarding is disabled.
TEST(Replication, FollowerForwardsProposalsToLeader) {
  TestCluster c(3);
  ASSERT_TRUE(c.elect(kN1));
  ASSERT_TRUE(c.propose(kN2, "from-2").is_ok());
  ASSERT_TRUE(c.stabilize());
  for (NodeId id : c.ids()) {
    EXPECT_EQ(c.node(id).state, std::vector<std::string>{"from-2"}) << "node " << id;
  }

  TestCluster off(3, [](Config& cfg) { cfg.disable_proposal_forwarding = true; });
  ASSERT_TRUE(off.elect(kN1));
  EXPECT_EQ(off.propose(kN2, "from-2").code(), Code::kNotLeader);
  ASSERT_TRUE(off.stabilize());
  EXPECT_TRUE(off.node(kN1).state.empty());
}

// A follower without a leader cannot forward: the proposal is dropped.
TEST(Replication, ProposalWithoutLeaderIsDropped) {
  TestCluster c(3);
  EXPECT_EQ(c.propose(kN2, "x").code(), Code::kProposalDropped);
}

// uncommitted_bytes_max bounds the leader's memory while entries cannot commit:
// proposals past it are dropped, and accepted again once entries commit.
TEST(Replication, UncommittedBytesMaxDropsProposals) {
  TestCluster c(3, [](Config& cfg) { cfg.uncommitted_bytes_max = 100; });
  ASSERT_TRUE(c.elect(kN1));
  c.isolate(kN1);
  EXPECT_TRUE(c.propose(kN1, std::string(60, 'a')).is_ok());
  EXPECT_EQ(c.propose(kN1, std::string(60, 'b')).code(), Code::kProposalDropped);
  ASSERT_TRUE(c.stabilize());
  c.heal();
  ASSERT_TRUE(c.tick_all(2));  // heartbeats expose the gap; the entry commits
  ASSERT_EQ(c.node(kN1).state.size(), 1u);
  EXPECT_TRUE(c.propose(kN1, std::string(60, 'c')).is_ok());
}

}  // namespace
}  // namespace meridian::raft
