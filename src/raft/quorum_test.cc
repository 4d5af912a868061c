#include "raft/quorum.h"

#include <gtest/gtest.h>

#include <map>

namespace meridian::raft {
namespace {

std::vector<NodeId> ids(std::initializer_list<uint64_t> raw) {
  std::vector<NodeId> out;
  for (uint64_t r : raw) out.push_back(NodeId{r});
  return out;
}

// Acked indices from a table; nodes missing from it are unknown.
AckedIndexFn acks(std::map<uint64_t, uint64_t> table) {
  return [table = std::move(table)](NodeId id) -> std::optional<Index> {
    auto it = table.find(id.value());
    if (it == table.end()) return std::nullopt;
    return Index{it->second};
  };
}

std::unordered_map<NodeId, bool> votes(std::map<uint64_t, bool> table) {
  std::unordered_map<NodeId, bool> out;
  for (auto [id, granted] : table) out.emplace(NodeId{id}, granted);
  return out;
}

TEST(MajorityConfigTest, ConstructorSortsAndDeduplicates) {
  MajorityConfig c(ids({3, 1, 2, 3, 1}));
  EXPECT_EQ(c.ids(), ids({1, 2, 3}));
  EXPECT_EQ(c.size(), 3u);
  EXPECT_FALSE(c.empty());
  EXPECT_TRUE(c.contains(NodeId{2}));
  EXPECT_FALSE(c.contains(NodeId{4}));
  EXPECT_EQ(c.to_string(), "(1 2 3)");
}

TEST(MajorityConfigTest, AddAndRemoveKeepOrder) {
  MajorityConfig c(ids({1, 5}));
  EXPECT_TRUE(c.add(NodeId{3}));
  EXPECT_FALSE(c.add(NodeId{3}));
  EXPECT_EQ(c.ids(), ids({1, 3, 5}));
  EXPECT_TRUE(c.remove(NodeId{1}));
  EXPECT_FALSE(c.remove(NodeId{1}));
  EXPECT_EQ(c.ids(), ids({3, 5}));
}

TEST(MajorityConfigTest, CommittedIndexEmptyIsUnbounded) {
  MajorityConfig c;
  EXPECT_EQ(c.committed_index(acks({{1, 5}})), kIndexUnbounded);
}

TEST(MajorityConfigTest, CommittedIndexSingleVoter) {
  MajorityConfig c(ids({1}));
  EXPECT_EQ(c.committed_index(acks({{1, 7}})), Index{7});
  EXPECT_EQ(c.committed_index(acks({})), Index{0});
}

TEST(MajorityConfigTest, CommittedIndexOddSize) {
  MajorityConfig c(ids({1, 2, 3}));
  // Two of three have 5 or more.
  EXPECT_EQ(c.committed_index(acks({{1, 9}, {2, 5}, {3, 2}})), Index{5});
  // Order of ids does not matter, only the values.
  EXPECT_EQ(c.committed_index(acks({{1, 2}, {2, 9}, {3, 5}})), Index{5});
  EXPECT_EQ(c.committed_index(acks({{1, 4}, {2, 4}, {3, 4}})), Index{4});

  MajorityConfig five(ids({1, 2, 3, 4, 5}));
  EXPECT_EQ(five.committed_index(acks({{1, 10}, {2, 9}, {3, 8}, {4, 1}, {5, 0}})), Index{8});
}

TEST(MajorityConfigTest, CommittedIndexEvenSizeNeedsMoreThanHalf) {
  MajorityConfig c(ids({1, 2, 3, 4}));
  // Only two of four have 8: not a majority. Three have 6 or more.
  EXPECT_EQ(c.committed_index(acks({{1, 8}, {2, 8}, {3, 6}, {4, 1}})), Index{6});
  MajorityConfig two(ids({1, 2}));
  EXPECT_EQ(two.committed_index(acks({{1, 8}, {2, 3}})), Index{3});
}

TEST(MajorityConfigTest, CommittedIndexUnknownAcksCountAsZero) {
  MajorityConfig c(ids({1, 2, 3}));
  EXPECT_EQ(c.committed_index(acks({{1, 9}})), Index{0});
  EXPECT_EQ(c.committed_index(acks({{1, 9}, {3, 4}})), Index{4});
  // An ack of a non-member is never consulted.
  EXPECT_EQ(c.committed_index(acks({{1, 9}, {7, 9}, {8, 9}})), Index{0});
}

TEST(MajorityConfigTest, CommittedIndexLargeConfigUsesHeapPath) {
  // Above kStackVotersMax the same arithmetic must hold.
  std::vector<NodeId> nine;
  std::map<uint64_t, uint64_t> table;
  for (uint64_t i = 1; i <= 9; ++i) {
    nine.push_back(NodeId{i});
    table[i] = i * 10;  // 10, 20, ..., 90
  }
  ASSERT_GT(nine.size(), MajorityConfig::kStackVotersMax);
  MajorityConfig c(nine);
  // Five of nine (50, 60, 70, 80, 90) have 50 or more.
  EXPECT_EQ(c.committed_index(acks(table)), Index{50});
}

TEST(MajorityConfigTest, VoteResultEmptyIsWon) {
  EXPECT_EQ(MajorityConfig().vote_result({}), VoteResult::kWon);
}

TEST(MajorityConfigTest, VoteResultOddSize) {
  MajorityConfig c(ids({1, 2, 3}));
  EXPECT_EQ(c.vote_result(votes({})), VoteResult::kPending);
  EXPECT_EQ(c.vote_result(votes({{1, true}})), VoteResult::kPending);
  EXPECT_EQ(c.vote_result(votes({{1, true}, {2, false}})), VoteResult::kPending);
  EXPECT_EQ(c.vote_result(votes({{1, true}, {2, true}})), VoteResult::kWon);
  EXPECT_EQ(c.vote_result(votes({{1, false}, {2, false}})), VoteResult::kLost);
  EXPECT_EQ(c.vote_result(votes({{1, true}, {2, false}, {3, false}})), VoteResult::kLost);
}

TEST(MajorityConfigTest, VoteResultEvenSize) {
  MajorityConfig c(ids({1, 2, 3, 4}));
  // Two of four is not a majority; the remaining two could still decide.
  EXPECT_EQ(c.vote_result(votes({{1, true}, {2, true}})), VoteResult::kPending);
  EXPECT_EQ(c.vote_result(votes({{1, true}, {2, true}, {3, true}})), VoteResult::kWon);
  // Two rejections of four: at most two grants remain possible, never three.
  EXPECT_EQ(c.vote_result(votes({{1, false}, {2, false}})), VoteResult::kLost);
  EXPECT_EQ(c.vote_result(votes({{1, true}, {2, true}, {3, false}, {4, false}})),
            VoteResult::kLost);
}

TEST(MajorityConfigTest, VoteResultIgnoresNonMembers) {
  MajorityConfig c(ids({1, 2, 3}));
  EXPECT_EQ(c.vote_result(votes({{1, true}, {7, true}, {8, true}})), VoteResult::kPending);
  EXPECT_EQ(c.vote_result(votes({{1, true}, {7, false}, {8, false}})), VoteResult::kPending);
}

TEST(JointConfigTest, IdsAreSortedUnion) {
  JointConfig j{MajorityConfig(ids({1, 2, 4})), MajorityConfig(ids({1, 2, 3}))};
  EXPECT_TRUE(j.joint());
  EXPECT_EQ(j.ids(), ids({1, 2, 3, 4}));
  EXPECT_TRUE(j.contains(NodeId{3}));
  EXPECT_TRUE(j.contains(NodeId{4}));
  EXPECT_FALSE(j.contains(NodeId{5}));
  EXPECT_EQ(j.to_string(), "(1 2 4)&&(1 2 3)");
}

TEST(JointConfigTest, NotJointBehavesLikeIncoming) {
  JointConfig j{MajorityConfig(ids({1, 2, 3})), MajorityConfig()};
  EXPECT_FALSE(j.joint());
  EXPECT_EQ(j.to_string(), "(1 2 3)");
  EXPECT_EQ(j.committed_index(acks({{1, 9}, {2, 5}, {3, 2}})), Index{5});
  EXPECT_EQ(j.vote_result(votes({{1, true}, {2, true}})), VoteResult::kWon);
}

TEST(JointConfigTest, CommittedIndexIsMinimumOfHalves) {
  JointConfig j{MajorityConfig(ids({1, 2, 3})), MajorityConfig(ids({3, 4, 5}))};
  // Incoming majority has 8 (1, 2); outgoing majority has only 2 (4 has 2, 5 has 1).
  auto a = acks({{1, 8}, {2, 8}, {3, 1}, {4, 2}, {5, 1}});
  EXPECT_EQ(j.incoming.committed_index(a), Index{8});
  EXPECT_EQ(j.outgoing.committed_index(a), Index{1});
  EXPECT_EQ(j.committed_index(a), Index{1});
  // And the other way round.
  auto b = acks({{1, 3}, {2, 1}, {3, 9}, {4, 9}, {5, 9}});
  EXPECT_EQ(j.committed_index(b), Index{3});
}

TEST(JointConfigTest, VoteResult) {
  JointConfig j{MajorityConfig(ids({1, 2, 3})), MajorityConfig(ids({3, 4, 5}))};
  // Won in incoming only: pending.
  EXPECT_EQ(j.vote_result(votes({{1, true}, {2, true}})), VoteResult::kPending);
  // Won in both.
  EXPECT_EQ(j.vote_result(votes({{1, true}, {3, true}, {4, true}})), VoteResult::kWon);
  // Won in incoming, lost in outgoing: lost.
  EXPECT_EQ(j.vote_result(votes({{1, true}, {2, true}, {4, false}, {5, false}})),
            VoteResult::kLost);
  // Lost in incoming, outgoing still open: lost.
  EXPECT_EQ(j.vote_result(votes({{1, false}, {2, false}})), VoteResult::kLost);
}

TEST(VoteResultTest, Names) {
  EXPECT_STREQ(vote_result_name(VoteResult::kPending), "pending");
  EXPECT_STREQ(vote_result_name(VoteResult::kLost), "lost");
  EXPECT_STREQ(vote_result_name(VoteResult::kWon), "won");
}

}  // namespace
}  // namespace meridian::raft
