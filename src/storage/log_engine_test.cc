// LogEngine behaviour on a FaultyFileSystem without faults: writes and reads
// across groups, every operation of a WriteBatch, validation, reopening, segment
// rotation and garbage collection, retention and stats.
#include "storage/log_engine.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "storage/faulty_file_system.h"
#include "storage/log_model_testing.h"
#include "storage/segment.h"

namespace meridian::storage {
namespace {

using raft::Entry;
using raft::EntryType;
using raft::HardState;
using raft::Index;
using raft::NodeId;
using raft::SnapshotMeta;
using raft::Term;
using testing::LogModel;
using testing::make_data;

constexpr char kDir[] = "journal";

std::vector<Entry> make_entries(GroupId g, Index from, size_t n, Term term, size_t size = 40) {
  std::vector<Entry> out;
  for (size_t k = 0; k < n; k++) {
    const Index i = from + k;
    out.push_back(Entry{term, i, k % 3 == 2 ? EntryType::kConfChange : EntryType::kNormal,
                        make_data(g.value() * 1000003 + i.value() * 31 + term.value(), size)});
  }
  return out;
}

SnapshotMeta snapshot_meta(Index index, Term term) {
  SnapshotMeta m;
  m.index = index;
  m.term = term;
  m.conf_state.voters = {NodeId{1}, NodeId{2}, NodeId{3}};
  return m;
}

class LogEngineTest : public ::testing::Test {
 protected:
  void open(uint64_t segment_bytes_max = 64ull << 20) {
    engine_.reset();
    auto opened = LogEngine::open(
        &fs_, LogEngineOptions{.dir = kDir, .segment_bytes_max = segment_bytes_max});
    ASSERT_TRUE(opened.is_ok()) << opened.status();
    engine_ = std::move(opened).value();
  }
  // Writes, syncs and mirrors the batch in the model.
  void commit(const WriteBatch& b) {
    ASSERT_TRUE(engine_->write(b).is_ok());
    ASSERT_TRUE(engine_->sync().is_ok());
    model_.apply(b);
  }
  void expect_matches_model() {
    const LogModel got = LogModel::read(*engine_);
    EXPECT_TRUE(got == model_) << got.diff(model_);
  }
  std::vector<std::string> segment_files() {
    auto names = fs_.list_dir(kDir);
    EXPECT_TRUE(names.is_ok());
    std::vector<std::string> out;
    for (const std::string& n : names.value()) {
      if (parse_segment_name(n)) out.push_back(n);
    }
    return out;
  }

  FaultyFileSystem fs_{1};
  std::unique_ptr<LogEngine> engine_;
  LogModel model_;
};

TEST_F(LogEngineTest, FreshEngineIsEmpty) {
  open();
  EXPECT_TRUE(engine_->groups().empty());
  const GroupId g{5};
  EXPECT_FALSE(engine_->has_group(g));
  EXPECT_EQ(engine_->first_index(g), Index{1});
  EXPECT_EQ(engine_->last_index(g), Index{0});
  EXPECT_EQ(engine_->term(g, Index{0}).value(), Term{0});
  EXPECT_EQ(engine_->term(g, Index{1}).status().code(), Code::kUnavailable);
  EXPECT_TRUE(engine_->entries(g, Index{1}, Index{1}, 100).value().empty());
  EXPECT_EQ(engine_->entries(g, Index{1}, Index{2}, 100).status().code(), Code::kUnavailable);
  EXPECT_TRUE(engine_->hard_state(g).empty());
  EXPECT_TRUE(engine_->sync().is_ok());
  EXPECT_TRUE(engine_->collect_garbage().is_ok());
}

TEST_F(LogEngineTest, WritesAndReadsBackManyGroups) {
  open();
  for (uint64_t round = 0; round < 20; round++) {
    WriteBatch b;
    b.set_time_ms(100 + round);
    for (uint64_t g = 1; g <= 50; g++) {
      b.append(GroupId{g}, make_entries(GroupId{g}, Index{1 + round * 3}, 3, Term{1}, g * 7));
      b.set_hard_state(GroupId{g}, HardState{Term{1}, NodeId{g % 3}, Index{round * 3}});
    }
    commit(b);
  }
  EXPECT_EQ(engine_->groups().size(), 50u);
  expect_matches_model();
  // A single read of a range spanning many batches returns every byte.
  auto es = engine_->entries(GroupId{7}, Index{2}, Index{60}, UINT64_MAX);
  ASSERT_TRUE(es.is_ok());
  ASSERT_EQ(es.value().size(), 58u);
  EXPECT_EQ(es.value().front().data, make_entries(GroupId{7}, Index{2}, 1, Term{1}, 49)[0].data);
}

TEST_F(LogEngineTest, ReopenRecoversEverythingSynced) {
  open();
  testing::WorkloadGenerator gen(7, 6);
  for (int k = 0; k < 300; k++) commit(gen.next());
  expect_matches_model();
  open();
  expect_matches_model();
  EXPECT_TRUE(model_ == gen.model());
  // And the reopened journal takes more writes.
  for (int k = 0; k < 50; k++) commit(gen.next());
  open();
  expect_matches_model();
}

// Regression: open() created missing parents of the journal directory but synced
// only the journal's own entry, so after a power loss the new parent (and every
// synced write under it) could be gone. Found by the simulator (seed 1), whose
// nodes kept their journal under a data directory of their own.
TEST(LogEngineDirTest, NewParentDirectoriesSurvivePowerLoss) {
  FaultyFileSystem fs(3);
  const LogEngineOptions options{.dir = "/data/node/journal"};
  {
    auto engine = LogEngine::open(&fs, options);
    ASSERT_TRUE(engine.is_ok()) << engine.status();
    WriteBatch b;
    b.append(GroupId{1}, make_entries(GroupId{1}, Index{1}, 3, Term{1}));
    ASSERT_TRUE(engine.value()->write(b).is_ok());
    ASSERT_TRUE(engine.value()->sync().is_ok());
  }
  fs.crash(0.0);
  auto engine = LogEngine::open(&fs, options);
  ASSERT_TRUE(engine.is_ok()) << engine.status();
  EXPECT_EQ(engine.value()->last_index(GroupId{1}), Index{3});
}

TEST_F(LogEngineTest, AppendReplacesSuffix) {
  open();
  const GroupId g{1};
  WriteBatch b1;
  b1.append(g, make_entries(g, Index{1}, 10, Term{1}));
  commit(b1);
  WriteBatch b2;
  b2.append(g, make_entries(g, Index{6}, 2, Term{2}));
  commit(b2);
  EXPECT_EQ(engine_->last_index(g), Index{7});
  EXPECT_EQ(engine_->term(g, Index{5}).value(), Term{1});
  EXPECT_EQ(engine_->term(g, Index{6}).value(), Term{2});
  EXPECT_EQ(engine_->term(g, Index{8}).status().code(), Code::kUnavailable);
  expect_matches_model();
  open();
  expect_matches_model();
}

TEST_F(LogEngineTest, AppendsInOneBatchSeeEachOther) {
  open();
  const GroupId g{1};
  WriteBatch b;
  b.append(g, make_entries(g, Index{1}, 5, Term{1}));
  b.append(g, make_entries(g, Index{3}, 4, Term{2}));  // replaces 3..5 of the same batch
  b.compact(g, Index{2});
  commit(b);
  EXPECT_EQ(engine_->first_index(g), Index{2});
  EXPECT_EQ(engine_->last_index(g), Index{6});
  EXPECT_EQ(engine_->term(g, Index{1}).value(), Term{1});
  EXPECT_EQ(engine_->term(g, Index{3}).value(), Term{2});
  expect_matches_model();
  open();
  expect_matches_model();
}

TEST_F(LogEngineTest, InvalidBatchesWriteNothing) {
  open();
  const GroupId g{1};
  WriteBatch ok;
  ok.append(g, make_entries(g, Index{1}, 3, Term{1}));
  commit(ok);
  const uint64_t bytes = engine_->stats().bytes_written;

  WriteBatch gap;  // a valid op first: nothing of the batch may be written
  gap.set_hard_state(g, HardState{Term{9}, NodeId{1}, Index{1}});
  gap.append(g, make_entries(g, Index{5}, 1, Term{1}));
  EXPECT_EQ(engine_->write(gap).code(), Code::kInvalidArgument);

  WriteBatch holes;
  std::vector<Entry> es = make_entries(g, Index{4}, 3, Term{1});
  es[2].index = Index{9};
  holes.append(g, es);
  EXPECT_EQ(engine_->write(holes).code(), Code::kInvalidArgument);

  WriteBatch past;
  past.compact(g, Index{5});
  EXPECT_EQ(engine_->write(past).code(), Code::kInvalidArgument);

  WriteBatch zero;
  zero.install_snapshot(g, snapshot_meta(Index{0}, Term{0}));
  EXPECT_EQ(engine_->write(zero).code(), Code::kInvalidArgument);

  WriteBatch newer;
  newer.install_snapshot(g, snapshot_meta(Index{10}, Term{3}));
  commit(newer);
  WriteBatch older;
  older.install_snapshot(g, snapshot_meta(Index{8}, Term{3}));
  EXPECT_EQ(engine_->write(older).code(), Code::kInvalidArgument);

  EXPECT_FALSE(engine_->failed());
  EXPECT_GT(engine_->stats().bytes_written, bytes);  // only `newer`
  expect_matches_model();
  open();
  expect_matches_model();
}

TEST_F(LogEngineTest, CompactionDropsEntriesAndKeepsTheTermBefore) {
  open();
  const GroupId g{3};
  WriteBatch b;
  b.append(g, make_entries(g, Index{1}, 10, Term{4}));
  commit(b);
  WriteBatch c;
  c.compact(g, Index{6});
  commit(c);
  EXPECT_EQ(engine_->first_index(g), Index{6});
  EXPECT_EQ(engine_->term(g, Index{5}).value(), Term{4});
  EXPECT_EQ(engine_->term(g, Index{4}).status().code(), Code::kCompacted);
  EXPECT_EQ(engine_->entries(g, Index{5}, Index{7}, 100).status().code(), Code::kCompacted);
  // Compacting to a point already passed changes nothing; up to last + 1 empties it.
  WriteBatch again;
  again.compact(g, Index{3});
  commit(again);
  WriteBatch all;
  all.compact(g, Index{11});
  commit(all);
  EXPECT_EQ(engine_->first_index(g), Index{11});
  EXPECT_EQ(engine_->last_index(g), Index{10});
  EXPECT_EQ(engine_->term(g, Index{10}).value(), Term{4});
  expect_matches_model();
  open();
  expect_matches_model();
}

TEST_F(LogEngineTest, SnapshotPastTheLogReplacesIt) {
  open();
  const GroupId g{1};
  WriteBatch b;
  b.append(g, make_entries(g, Index{1}, 5, Term{1}));
  commit(b);
  WriteBatch s;
  s.install_snapshot(g, snapshot_meta(Index{20}, Term{3}));
  commit(s);
  EXPECT_EQ(engine_->first_index(g), Index{21});
  EXPECT_EQ(engine_->last_index(g), Index{20});
  EXPECT_EQ(engine_->term(g, Index{20}).value(), Term{3});
  EXPECT_EQ(engine_->snapshot_meta(g), snapshot_meta(Index{20}, Term{3}));
  // Appends covered by the snapshot are skipped; the rest continues the log.
  WriteBatch a;
  a.append(g, make_entries(g, Index{19}, 4, Term{3}));
  commit(a);
  EXPECT_EQ(engine_->first_index(g), Index{21});
  EXPECT_EQ(engine_->last_index(g), Index{22});
  expect_matches_model();
  open();
  expect_matches_model();
}

TEST_F(LogEngineTest, SnapshotConflictingWithTheLogReplacesIt) {
  open();
  const GroupId g{1};
  WriteBatch b;
  b.append(g, make_entries(g, Index{1}, 10, Term{1}));
  commit(b);
  WriteBatch s;  // index 5 is in the log but with term 1: not the same entry
  s.install_snapshot(g, snapshot_meta(Index{5}, Term{2}));
  commit(s);
  EXPECT_EQ(engine_->first_index(g), Index{6});
  EXPECT_EQ(engine_->last_index(g), Index{5});
  expect_matches_model();
}

TEST_F(LogEngineTest, SnapshotOfEntriesTheLogHoldsKeepsThem) {
  // Raft §7: a snapshot whose last entry the log holds (same index and term)
  // keeps the log; this is how a replica records a snapshot of its own state.
  open();
  const GroupId g{1};
  WriteBatch b;
  b.append(g, make_entries(g, Index{1}, 10, Term{2}));
  commit(b);
  WriteBatch s;
  s.install_snapshot(g, snapshot_meta(Index{7}, Term{2}));
  s.compact(g, Index{5});  // keep a few entries before the snapshot for slow followers
  commit(s);
  EXPECT_EQ(engine_->snapshot_meta(g).index, Index{7});
  EXPECT_EQ(engine_->first_index(g), Index{5});
  EXPECT_EQ(engine_->last_index(g), Index{10});
  expect_matches_model();
  open();
  expect_matches_model();
}

TEST_F(LogEngineTest, RemoveGroupDropsEverythingOfIt) {
  open();
  for (uint64_t g = 1; g <= 3; g++) {
    WriteBatch b;
    b.append(GroupId{g}, make_entries(GroupId{g}, Index{1}, 4, Term{1}));
    b.set_hard_state(GroupId{g}, HardState{Term{1}, NodeId{1}, Index{2}});
    commit(b);
  }
  WriteBatch r;
  r.remove_group(GroupId{2});
  commit(r);
  EXPECT_FALSE(engine_->has_group(GroupId{2}));
  EXPECT_EQ(engine_->groups(), (std::vector<GroupId>{GroupId{1}, GroupId{3}}));
  EXPECT_EQ(engine_->last_index(GroupId{2}), Index{0});
  EXPECT_TRUE(engine_->hard_state(GroupId{2}).empty());
  expect_matches_model();
  open();
  expect_matches_model();
  // A removed group can come back, starting from scratch.
  WriteBatch again;
  again.append(GroupId{2}, make_entries(GroupId{2}, Index{1}, 2, Term{7}));
  commit(again);
  open();
  expect_matches_model();
}

TEST_F(LogEngineTest, HardStateIsTheLatestWritten) {
  open();
  const GroupId g{9};
  for (uint64_t t = 1; t <= 5; t++) {
    WriteBatch b;
    b.set_hard_state(g, HardState{Term{t}, NodeId{t % 3}, Index{t * 2}});
    commit(b);
  }
  EXPECT_EQ(engine_->hard_state(g), (HardState{Term{5}, NodeId{2}, Index{10}}));
  EXPECT_TRUE(engine_->has_group(g));
  open();
  EXPECT_EQ(engine_->hard_state(g), (HardState{Term{5}, NodeId{2}, Index{10}}));
}

TEST_F(LogEngineTest, EntriesStopAtMaxBytesButReturnAtLeastOne) {
  open();
  const GroupId g{1};
  WriteBatch b;
  b.append(g, make_entries(g, Index{1}, 10, Term{1}, 100));
  commit(b);
  const uint64_t each = 100 + Entry::kHeaderBytes;
  EXPECT_EQ(engine_->entries(g, Index{1}, Index{11}, 0).value().size(), 1u);
  EXPECT_EQ(engine_->entries(g, Index{1}, Index{11}, each * 3).value().size(), 3u);
  EXPECT_EQ(engine_->entries(g, Index{1}, Index{11}, each * 3 + 1).value().size(), 3u);
  EXPECT_EQ(engine_->entries(g, Index{2}, Index{11}, UINT64_MAX).value().size(), 9u);
  EXPECT_EQ(engine_->entries(g, Index{3}, Index{2}, 100).status().code(), Code::kInvalidArgument);
}

TEST_F(LogEngineTest, ReadsFromFilesOnceEntriesLeaveTheCache) {
  // 2,000 entries of 1 KiB: most are beyond the 256 KiB per-group cache, so they
  // come back from the segment file, checked by their checksums.
  open();
  const GroupId g{1};
  for (int k = 0; k < 20; k++) {
    WriteBatch b;
    b.append(g, make_entries(g, Index{1 + k * 100ull}, 100, Term{1}, 1024));
    WriteBatch other;  // interleave another group's data between runs
    other.append(GroupId{2}, make_entries(GroupId{2}, Index{1 + k * 3ull}, 3, Term{1}, 500));
    b.merge(std::move(other));
    commit(b);
  }
  expect_matches_model();
  open();  // recovery fills the caches again; reads must still match
  expect_matches_model();
}

TEST_F(LogEngineTest, SegmentsRotateWithCheckpointsAndGarbageIsCollected) {
  open(/*segment_bytes_max=*/4096);
  const GroupId busy{1};
  const GroupId idle{2};
  WriteBatch first;
  first.append(idle, make_entries(idle, Index{1}, 2, Term{1}));
  first.set_hard_state(idle, HardState{Term{1}, NodeId{1}, Index{2}});
  commit(first);
  for (uint64_t k = 0; k < 60; k++) {
    WriteBatch b;
    b.append(busy, make_entries(busy, Index{1 + k * 4}, 4, Term{1}, 200));
    b.set_hard_state(busy, HardState{Term{1}, NodeId{1}, Index{k * 4}});
    commit(b);
    if (k % 10 == 9) {
      WriteBatch c;
      c.compact(busy, Index{1 + k * 4});
      commit(c);
      ASSERT_TRUE(engine_->collect_garbage().is_ok());
    }
  }
  const LogEngineStats before = engine_->stats();
  EXPECT_GT(before.segments_removed, 0u);
  // The idle group's two entries pin the first segment: it is never collected.
  const std::vector<std::string> files = segment_files();
  ASSERT_FALSE(files.empty());
  EXPECT_EQ(files.front(), segment_name(1));
  EXPECT_EQ(before.segments, files.size());
  expect_matches_model();
  open(4096);
  expect_matches_model();

  // Once the idle group compacts, everything but the active segment can go.
  WriteBatch c;
  c.compact(idle, Index{3});
  c.compact(busy, Index{241});
  commit(c);
  ASSERT_TRUE(engine_->collect_garbage().is_ok());
  EXPECT_EQ(segment_files().size(), 1u);
  EXPECT_EQ(engine_->stats().segments, 1u);
  // Its hard state lived only in collected segments: the checkpoint carries it.
  open(4096);
  expect_matches_model();
  EXPECT_EQ(engine_->hard_state(idle), (HardState{Term{1}, NodeId{1}, Index{2}}));
}

TEST_F(LogEngineTest, GarbageCollectionWaitsForTheNextCheckpointToBeDurable) {
  open(/*segment_bytes_max=*/1);  // every write starts a new segment
  const GroupId g{1};
  WriteBatch a;
  a.set_hard_state(g, HardState{Term{1}, NodeId{1}, Index{0}});
  commit(a);
  WriteBatch b;
  b.set_hard_state(g, HardState{Term{2}, NodeId{1}, Index{0}});
  ASSERT_TRUE(engine_->write(b).is_ok());  // segment 2, not yet synced
  ASSERT_TRUE(engine_->collect_garbage().is_ok());
  EXPECT_EQ(segment_files().size(), 2u) << "segment 1 holds the only durable hard state";
  ASSERT_TRUE(engine_->sync().is_ok());
  ASSERT_TRUE(engine_->collect_garbage().is_ok());
  EXPECT_EQ(segment_files().size(), 1u);
  model_.apply(b);
  open(1);
  expect_matches_model();
}

// Records whose segment was collected are replaced by the next segment's
// checkpoint. A group removed there must stay removed, although its entries are
// still in an older segment that another group's entries keep alive.
TEST_F(LogEngineTest, RemovalInACollectedSegmentStaysApplied) {
  open(/*segment_bytes_max=*/1500);
  const GroupId pinned{1};
  const GroupId removed{2};
  const GroupId busy{3};
  WriteBatch first;
  first.append(pinned, make_entries(pinned, Index{1}, 2, Term{1}));
  first.append(removed, make_entries(removed, Index{1}, 5, Term{1}));
  commit(first);
  uint64_t next = 1;
  auto busy_write = [&] {
    WriteBatch b;
    b.append(busy, make_entries(busy, Index{next}, 4, Term{1}, 100));
    next += 4;
    commit(b);
  };
  for (int k = 0; k < 5; k++) busy_write();  // into later segments
  WriteBatch r;
  r.remove_group(removed);
  commit(r);
  for (int k = 0; k < 5; k++) busy_write();
  WriteBatch c;
  c.compact(busy, Index{next});
  commit(c);
  for (int k = 0; k < 5; k++) busy_write();
  ASSERT_TRUE(engine_->collect_garbage().is_ok());
  ASSERT_EQ(segment_files().front(), segment_name(1)) << "the pinned group keeps segment 1";
  ASSERT_GT(engine_->stats().segments_removed, 0u);
  open(1500);
  expect_matches_model();
  EXPECT_FALSE(engine_->has_group(removed));
}

// Likewise a suffix truncation recorded in a collected segment: the older entries
// it dropped are still in the pinned segment, and must stay dropped (the next
// checkpoint's entry count cuts them).
TEST_F(LogEngineTest, TruncationInACollectedSegmentStaysApplied) {
  open(/*segment_bytes_max=*/1500);
  const GroupId g{1};
  const GroupId busy{3};
  WriteBatch first;
  first.append(g, make_entries(g, Index{1}, 10, Term{1}));
  first.append(GroupId{2}, make_entries(GroupId{2}, Index{1}, 1, Term{1}));  // pins it
  commit(first);
  uint64_t next = 1;
  auto busy_write = [&] {
    WriteBatch b;
    b.append(busy, make_entries(busy, Index{next}, 4, Term{1}, 100));
    next += 4;
    commit(b);
  };
  for (int k = 0; k < 5; k++) busy_write();
  WriteBatch t;  // replaces 4..10 with 4..5 of term 2, in a later segment
  t.append(g, make_entries(g, Index{4}, 2, Term{2}));
  commit(t);
  for (int k = 0; k < 5; k++) busy_write();
  WriteBatch t2;  // and compacts them away: that segment then holds nothing live
  t2.compact(g, Index{6});
  t2.compact(busy, Index{next});
  commit(t2);
  for (int k = 0; k < 5; k++) busy_write();
  ASSERT_TRUE(engine_->collect_garbage().is_ok());
  ASSERT_EQ(segment_files().front(), segment_name(1));
  ASSERT_GT(engine_->stats().segments_removed, 0u);
  open(1500);
  expect_matches_model();
  EXPECT_EQ(engine_->first_index(g), Index{6});
  EXPECT_EQ(engine_->last_index(g), Index{5});
  EXPECT_EQ(engine_->term(g, Index{5}).value(), Term{2});
}

// Many random workloads with tiny segments, collection after every write and
// frequent reopening: the reopened engine always equals the model.
TEST(LogEngineGcTest, RandomWorkloadsSurviveCollectionAndReopen) {
  constexpr uint64_t kSegmentBytes = 700;
  for (uint64_t seed = 1; seed <= 40; seed++) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    FaultyFileSystem fs(seed);
    auto reopen = [&] {
      auto opened =
          LogEngine::open(&fs, LogEngineOptions{.dir = kDir, .segment_bytes_max = kSegmentBytes});
      EXPECT_TRUE(opened.is_ok()) << opened.status();
      return std::move(opened).value();
    };
    std::unique_ptr<LogEngine> engine = reopen();
    testing::WorkloadGenerator gen(seed, 1 + seed % 5, 150);
    uint64_t removed = 0;
    for (int k = 1; k <= 150; k++) {
      ASSERT_TRUE(engine->write(gen.next()).is_ok());
      ASSERT_TRUE(engine->sync().is_ok());
      ASSERT_TRUE(engine->collect_garbage().is_ok());
      if (k % 25 == 0) {
        removed += engine->stats().segments_removed;
        engine.reset();
        engine = reopen();
        const LogModel got = LogModel::read(*engine);
        ASSERT_TRUE(got == gen.model()) << "after " << k << ": " << got.diff(gen.model());
      }
    }
    EXPECT_GT(removed, 3u);
  }
}

TEST_F(LogEngineTest, RetentionPointBySizeAndAge) {
  open();
  const GroupId g{1};
  for (uint64_t k = 0; k < 10; k++) {
    WriteBatch b;
    b.set_time_ms(1000 + k * 100);  // entry 1+k appended at 1000 + 100k
    b.append(g, make_entries(g, Index{1 + k}, 1, Term{1}, 10));
    commit(b);
  }
  EXPECT_EQ(engine_->retention_point(g, 0, 0), Index{1});
  EXPECT_EQ(engine_->retention_point(g, 30, 0), Index{8});
  EXPECT_EQ(engine_->retention_point(g, 29, 0), Index{9});
  EXPECT_EQ(engine_->retention_point(g, 1000, 0), Index{1});
  EXPECT_EQ(engine_->retention_point(g, 0, 1450), Index{6});
  EXPECT_EQ(engine_->retention_point(g, 0, 1500), Index{6});
  EXPECT_EQ(engine_->retention_point(g, 30, 1500), Index{8});
  EXPECT_EQ(engine_->retention_point(g, 0, 5000), Index{11});
  EXPECT_EQ(engine_->retention_point(GroupId{77}, 10, 10), Index{1});
  // Compacting to it applies the policy, and the times survive a reopen.
  WriteBatch c;
  c.compact(g, engine_->retention_point(g, 0, 1500));
  commit(c);
  open();
  EXPECT_EQ(engine_->first_index(g), Index{6});
  EXPECT_EQ(engine_->retention_point(g, 0, 1750), Index{9});
}

TEST_F(LogEngineTest, StatsCountWritesSyncsAndBytes) {
  open();
  WriteBatch b;
  b.append(GroupId{1}, make_entries(GroupId{1}, Index{1}, 2, Term{1}));
  ASSERT_TRUE(engine_->write(b).is_ok());
  ASSERT_TRUE(engine_->sync().is_ok());
  ASSERT_TRUE(engine_->sync().is_ok());  // nothing to sync: no fdatasync
  const LogEngineStats s = engine_->stats();
  EXPECT_EQ(s.writes, 1u);
  EXPECT_EQ(s.syncs, 1u);
  EXPECT_EQ(s.segments, 1u);
  EXPECT_EQ(s.journal_bytes, s.bytes_written);
  EXPECT_EQ(fs_.syncs(), 1u);
  // An empty batch, or one that changes nothing, writes nothing.
  ASSERT_TRUE(engine_->write(WriteBatch{}).is_ok());
  WriteBatch noop;
  noop.compact(GroupId{1}, Index{1});
  ASSERT_TRUE(engine_->write(noop).is_ok());
  EXPECT_EQ(engine_->stats().writes, 1u);
}

TEST_F(LogEngineTest, RejectsBadOptions) {
  EXPECT_EQ(LogEngine::open(&fs_, LogEngineOptions{.dir = ""}).status().code(),
            Code::kInvalidArgument);
  EXPECT_EQ(
      LogEngine::open(&fs_, LogEngineOptions{.dir = kDir, .segment_bytes_max = 0}).status().code(),
      Code::kInvalidArgument);
}

TEST_F(LogEngineTest, OtherFilesInTheDirectoryAreLeftAlone) {
  open();
  WriteBatch b;
  b.append(GroupId{1}, make_entries(GroupId{1}, Index{1}, 2, Term{1}));
  commit(b);
  auto f = fs_.open(join_path(kDir, "notes.txt"), OpenMode::kCreate);
  ASSERT_TRUE(f.is_ok());
  open();
  expect_matches_model();
  EXPECT_TRUE(fs_.exists(join_path(kDir, "notes.txt")));
}

}  // namespace
}  // namespace meridian::storage
