// GroupIndex: planning (validation and how each operation is recorded), live
// entry counts per segment, the recent-entry cache and checkpoint replay.
#include "storage/group_index.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace meridian::storage {
namespace {

using raft::Entry;
using raft::EntryType;
using raft::Index;
using raft::Term;

std::vector<Entry> entries(Index from, size_t n, Term term, size_t size = 10) {
  std::vector<Entry> out;
  for (size_t k = 0; k < n; k++) {
    out.push_back(Entry{term, from + k, EntryType::kNormal,
                        std::string(size, static_cast<char>('a' + (from.value() + k) % 26))});
  }
  return out;
}

raft::SnapshotMeta snap(Index i, Term t) {
  raft::SnapshotMeta m;
  m.index = i;
  m.term = t;
  return m;
}

class GroupIndexTest : public ::testing::Test {
 protected:
  // Plans and applies `b` as the engine does, in segment `segment`, with made-up
  // data offsets.
  void write(const WriteBatch& b, uint32_t segment = 1) {
    std::vector<OpPlan> plans;
    ASSERT_TRUE(index_.plan(b, plans).is_ok());
    for (size_t k = 0; k < plans.size(); k++) {
      if (plans[k].skip) continue;
      const WriteBatch::Op& op = b.ops()[k];
      std::vector<uint32_t> offsets;
      if (op.type == WriteBatch::OpType::kAppend) {
        for (size_t e = plans[k].covered; e < op.entries.size(); e++) offsets.push_back(next_++);
      }
      ASSERT_TRUE(index_.apply(op, plans[k], segment, offsets, 7).is_ok());
    }
  }
  std::vector<OpPlan> plan(const WriteBatch& b) {
    std::vector<OpPlan> plans;
    Status s = index_.plan(b, plans);
    EXPECT_TRUE(s.is_ok()) << s;
    return plans;
  }
  Status plan_status(const WriteBatch& b) {
    std::vector<OpPlan> plans;
    return index_.plan(b, plans);
  }

  GroupIndex index_;
  uint32_t next_ = 100;
  const GroupId g_{1};
};

TEST_F(GroupIndexTest, PlanRejectsGapsHolesAndOutOfRangeOperations) {
  WriteBatch a;
  a.append(g_, entries(Index{1}, 5, Term{1}));
  write(a);
  WriteBatch gap;
  gap.append(g_, entries(Index{7}, 1, Term{1}));
  EXPECT_EQ(plan_status(gap).code(), Code::kInvalidArgument);
  WriteBatch zero;
  zero.append(GroupId{2}, entries(Index{0}, 2, Term{1}));
  EXPECT_EQ(plan_status(zero).code(), Code::kInvalidArgument);
  WriteBatch compact;
  compact.compact(g_, Index{7});
  EXPECT_EQ(plan_status(compact).code(), Code::kInvalidArgument);
  // Within one batch, later operations see earlier ones.
  WriteBatch seq;
  seq.append(g_, entries(Index{6}, 2, Term{1}));
  seq.append(g_, entries(Index{8}, 1, Term{1}));
  seq.compact(g_, Index{9});
  EXPECT_TRUE(plan_status(seq).is_ok());
  WriteBatch after_remove;
  after_remove.remove_group(g_);
  after_remove.append(g_, entries(Index{2}, 1, Term{1}));
  EXPECT_EQ(plan_status(after_remove).code(), Code::kInvalidArgument);
}

TEST_F(GroupIndexTest, PlanSkipsWhatChangesNothing) {
  WriteBatch a;
  a.append(g_, entries(Index{1}, 5, Term{1}));
  a.compact(g_, Index{3});
  write(a);
  WriteBatch b;
  b.append(g_, {});
  b.append(g_, entries(Index{1}, 2, Term{1}));  // all covered
  b.append(g_, entries(Index{2}, 3, Term{1}));  // the first covered
  b.compact(g_, Index{2});
  b.remove_group(GroupId{99});
  const std::vector<OpPlan> p = plan(b);
  EXPECT_TRUE(p[0].skip);
  EXPECT_TRUE(p[1].skip);
  EXPECT_FALSE(p[2].skip);
  EXPECT_EQ(p[2].covered, 1u);
  EXPECT_TRUE(p[3].skip);
  EXPECT_TRUE(p[4].skip);
}

TEST_F(GroupIndexTest, SnapshotKeepsTheLogOnlyWhenItHoldsTheSameEntry) {
  WriteBatch a;
  a.append(g_, entries(Index{1}, 5, Term{2}));
  write(a);
  WriteBatch b;
  b.install_snapshot(g_, snap(Index{3}, Term{2}));  // same index and term: keep
  b.install_snapshot(g_, snap(Index{4}, Term{1}));  // term differs: replace
  EXPECT_TRUE(plan(b)[0].keep_log);
  EXPECT_FALSE(plan(b)[1].keep_log);
  WriteBatch c;
  c.install_snapshot(g_, snap(Index{9}, Term{2}));  // past the log: replace
  EXPECT_FALSE(plan(c)[0].keep_log);
  // After a compaction, the entry before the first still counts.
  WriteBatch d;
  d.compact(g_, Index{4});
  d.install_snapshot(g_, snap(Index{3}, Term{2}));
  EXPECT_TRUE(plan(d)[1].keep_log);
  // Entries appended earlier in the same batch count too.
  WriteBatch e;
  e.append(g_, entries(Index{6}, 1, Term{5}));
  e.install_snapshot(g_, snap(Index{6}, Term{5}));
  EXPECT_TRUE(plan(e)[1].keep_log);
  // An older snapshot than the current one is refused.
  WriteBatch f;
  f.install_snapshot(g_, snap(Index{4}, Term{2}));
  write(f);
  WriteBatch older;
  older.install_snapshot(g_, snap(Index{3}, Term{2}));
  EXPECT_EQ(plan_status(older).code(), Code::kInvalidArgument);
}

TEST_F(GroupIndexTest, CompactRecordsTheTermBeforeItsIndex) {
  WriteBatch a;
  a.append(g_, entries(Index{1}, 3, Term{1}));
  a.append(g_, entries(Index{4}, 3, Term{2}));
  write(a);
  WriteBatch b;
  b.append(g_, entries(Index{7}, 2, Term{3}));
  b.compact(g_, Index{4});  // term of 3, from the stored log
  b.compact(g_, Index{8});  // term of 7, appended by this batch
  const std::vector<OpPlan> p = plan(b);
  EXPECT_EQ(p[1].compact_term, Term{1});
  EXPECT_EQ(p[2].compact_term, Term{3});
  write(b);
  const GroupState* gs = index_.find(g_);
  ASSERT_NE(gs, nullptr);
  EXPECT_EQ(gs->first, Index{8});
  EXPECT_EQ(gs->prev_term, Term{3});
}

TEST_F(GroupIndexTest, LiveCountsFollowEveryDrop) {
  WriteBatch a;
  a.append(g_, entries(Index{1}, 4, Term{1}));
  a.append(GroupId{2}, entries(Index{1}, 3, Term{1}));
  write(a, 1);
  WriteBatch b;
  b.append(g_, entries(Index{5}, 2, Term{1}));
  write(b, 2);
  EXPECT_EQ(index_.live_entries(1), 7u);
  EXPECT_EQ(index_.live_entries(2), 2u);
  WriteBatch truncate;  // replaces 4..6: one entry of segment 1, two of segment 2
  truncate.append(g_, entries(Index{4}, 1, Term{2}));
  write(truncate, 3);
  EXPECT_EQ(index_.live_entries(1), 6u);
  EXPECT_EQ(index_.live_entries(2), 0u);
  EXPECT_EQ(index_.live_entries(3), 1u);
  WriteBatch compact;
  compact.compact(g_, Index{3});
  write(compact, 3);
  EXPECT_EQ(index_.live_entries(1), 4u);
  WriteBatch s;
  s.install_snapshot(g_, snap(Index{10}, Term{3}));
  write(s, 3);
  EXPECT_EQ(index_.live_entries(1), 3u);
  EXPECT_EQ(index_.live_entries(3), 0u);
  WriteBatch r;
  r.remove_group(GroupId{2});
  write(r, 3);
  EXPECT_EQ(index_.live_entries(1), 0u);
}

TEST_F(GroupIndexTest, RecentCacheHoldsTheNewestEntriesWithinItsBounds) {
  index_ = GroupIndex(RecentCacheLimits{.group_bytes_max = 100, .total_bytes_max = 250});
  WriteBatch a;
  a.append(g_, entries(Index{1}, 20, Term{1}, 10));
  write(a);
  const GroupState* gs = index_.find(g_);
  EXPECT_EQ(gs->recent.size(), 10u);
  EXPECT_EQ(gs->recent.back(), a.ops()[0].entries[19].data);
  EXPECT_EQ(gs->recent.front(), a.ops()[0].entries[10].data);
  // A truncation drops cached entries from the back, with the log.
  WriteBatch t;
  t.append(g_, entries(Index{18}, 1, Term{2}, 10));
  write(t);
  EXPECT_EQ(gs->recent.size(), 8u);
  EXPECT_EQ(gs->recent.back(), t.ops()[0].entries[0].data);
  // Other groups share the total: older caches are trimmed in turn.
  for (uint64_t g = 2; g <= 4; g++) {
    WriteBatch b;
    b.append(GroupId{g}, entries(Index{1}, 10, Term{1}, 10));
    write(b);
  }
  EXPECT_LE(index_.recent_bytes(), 250u);
  EXPECT_EQ(index_.find(GroupId{4})->recent.size(), 10u);
  uint64_t sum = 0;
  for (const auto& [g, s] : index_.groups()) sum += s.recent_bytes;
  EXPECT_EQ(sum, index_.recent_bytes());
  // An entry larger than a group's cache empties it (the cache has no gaps).
  WriteBatch big;
  big.append(GroupId{4}, entries(Index{11}, 1, Term{1}, 101));
  write(big);
  EXPECT_TRUE(index_.find(GroupId{4})->recent.empty());
}

TEST_F(GroupIndexTest, LargeAppendCachesOnlyItsNewestEntries) {
  index_ = GroupIndex(RecentCacheLimits{.group_bytes_max = 100, .total_bytes_max = 1000});
  WriteBatch a;
  a.append(g_, entries(Index{1}, 3, Term{1}, 10));
  write(a);
  WriteBatch big;  // 50 entries of 30 bytes: only the last 3 fit
  big.append(g_, entries(Index{4}, 50, Term{1}, 30));
  write(big);
  const GroupState* gs = index_.find(g_);
  ASSERT_EQ(gs->recent.size(), 3u);
  EXPECT_EQ(gs->recent.front(), big.ops()[0].entries[47].data);
  EXPECT_EQ(gs->recent_bytes, 90u);
  EXPECT_EQ(index_.recent_bytes(), 90u);
  EXPECT_EQ(gs->entries.size(), 53u);
}

TEST_F(GroupIndexTest, CheckpointReplayMakesPlaceholdersForMissingEntries) {
  std::vector<GroupCheckpoint> cp(2);
  cp[0].group = GroupId{1};
  cp[0].first_index = Index{5};
  cp[0].prev_term = Term{2};
  cp[0].entry_count = 3;  // 5..7, none known yet
  cp[1].group = GroupId{2};
  cp[1].first_index = Index{1};
  index_.apply_checkpoint(cp);
  EXPECT_EQ(index_.check_complete().code(), Code::kCorruption);
  // A later record replacing them from index 5 makes the group whole again.
  WriteBatch::Op op;
  op.type = WriteBatch::OpType::kAppend;
  op.group = GroupId{1};
  op.entries = entries(Index{5}, 1, Term{3});
  ASSERT_TRUE(index_.apply(op, OpPlan{}, 4, {123}, 0).is_ok());
  EXPECT_TRUE(index_.check_complete().is_ok());
  EXPECT_EQ(index_.find(GroupId{1})->last(), Index{5});
  // A checkpoint drops groups it does not list.
  index_.apply_checkpoint({cp[1]});
  EXPECT_EQ(index_.find(GroupId{1}), nullptr);
  EXPECT_EQ(index_.live_entries(4), 0u);
}

TEST_F(GroupIndexTest, ReplayedRecordsThatDoNotFitAreCorruption) {
  WriteBatch::Op op;
  op.type = WriteBatch::OpType::kAppend;
  op.group = g_;
  op.entries = entries(Index{3}, 1, Term{1});
  EXPECT_EQ(index_.apply(op, OpPlan{}, 1, {10}, 0).code(), Code::kCorruption);
  WriteBatch::Op remove;
  remove.type = WriteBatch::OpType::kRemoveGroup;
  remove.group = GroupId{42};
  EXPECT_EQ(index_.apply(remove, OpPlan{}, 1, {}, 0).code(), Code::kCorruption);
  WriteBatch::Op compact;
  compact.type = WriteBatch::OpType::kCompact;
  compact.group = g_;
  compact.index = Index{5};
  EXPECT_EQ(index_.apply(compact, OpPlan{}, 1, {}, 0).code(), Code::kCorruption);
}

}  // namespace
}  // namespace meridian::storage
