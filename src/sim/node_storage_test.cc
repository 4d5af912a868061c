// NodeStorage and SyncedLog: the simulator's view of a node's disk keeps what was
// synced across every kind of crash, loses only unsynced writes on a power loss,
// and its record of what was synced follows the journal exactly.
#include "sim/node_storage.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "raft/memory_storage.h"
#include "sim/synced_log.h"

namespace meridian::sim {
namespace {

using raft::Entry;
using raft::HardState;
using raft::Index;
using raft::NodeId;
using raft::Term;

Entry entry(uint64_t term, uint64_t index, std::string data = "x") {
  return Entry{.term = Term{term}, .index = Index{index}, .data = std::move(data)};
}

raft::Snapshot boot_snapshot() {
  raft::Snapshot s;
  s.meta.index = Index{1};
  s.meta.term = Term{1};
  s.meta.conf_state.voters = {NodeId{1}, NodeId{2}, NodeId{3}};
  s.data = "boot";
  return s;
}

HardState hs(uint64_t term, uint64_t commit) {
  return HardState{.term = Term{term}, .vote = NodeId{1}, .commit = Index{commit}};
}

raft::Ready ready_of(std::vector<Entry> entries, HardState h) {
  raft::Ready rd;
  rd.entries = std::move(entries);
  rd.hard_state = h;
  rd.must_sync = true;
  return rd;
}

// A bootstrapped node storage with entries 2..n of term 2, synced.
void fill(NodeStorage& s, uint64_t n) {
  ASSERT_TRUE(s.open().is_ok());
  ASSERT_TRUE(s.bootstrap(boot_snapshot(), hs(1, 1)).is_ok());
  for (uint64_t i = 2; i <= n; ++i) {
    ASSERT_TRUE(s.write_ready(ready_of({entry(2, i, std::string(100, 'a'))}, hs(2, i))).is_ok());
    ASSERT_TRUE(s.sync().is_ok());
  }
}

TEST(NodeStorage, PowerLossKeepsSyncedWritesAndMayLoseTheUnsyncedOne) {
  NodeStorage s(7);
  fill(s, 10);
  ASSERT_TRUE(s.write_ready(ready_of({entry(3, 11)}, hs(3, 10))).is_ok());
  EXPECT_TRUE(s.has_unsynced_write());
  EXPECT_EQ(s.synced().last_index(), Index{10});
  s.crash(0);  // power loss; no file keeps any unsynced append
  ASSERT_TRUE(s.open().is_ok());
  EXPECT_EQ(s.log().last_index(), Index{10});
  EXPECT_EQ(s.log().hard_state(), hs(2, 10));
  EXPECT_EQ(s.synced().term(Index{10}), Term{2});
  EXPECT_EQ(s.stats().recoveries, 1u);
}

TEST(NodeStorage, ProcessCrashKeepsTheUnsyncedWriteAndRecoveryMakesItDurable) {
  NodeStorage s(7);
  fill(s, 5);
  ASSERT_TRUE(s.write_ready(ready_of({entry(3, 6)}, hs(3, 5))).is_ok());
  s.crash(std::nullopt);  // the page cache survives
  ASSERT_TRUE(s.open().is_ok());
  EXPECT_EQ(s.log().last_index(), Index{6});
  EXPECT_EQ(s.synced().last_index(), Index{6});  // recovery synced it
  EXPECT_EQ(s.synced().hard_state(), hs(3, 5));
  s.crash(0);
  ASSERT_TRUE(s.open().is_ok());
  EXPECT_EQ(s.log().last_index(), Index{6});
}

TEST(NodeStorage, TornWriteCrashesTheWriteAndRecoveryCopes) {
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    NodeStorage s(seed);
    fill(s, 5);
    s.arm_torn_write(1, static_cast<uint32_t>(seed * 50'000));
    base::Status w = s.write_ready(ready_of({entry(3, 6, std::string(300, 'b'))}, hs(3, 5)));
    ASSERT_FALSE(w.is_ok());
    ASSERT_TRUE(s.power_failed());
    s.crash(std::nullopt);
    EXPECT_EQ(s.stats().torn_crashes, 1u);
    ASSERT_TRUE(s.open().is_ok()) << "seed " << seed;
    // Either the whole batch or none of it.
    const bool kept = s.log().last_index() == Index{6};
    if (!kept) {
      EXPECT_EQ(s.log().last_index(), Index{5}) << "seed " << seed;
    }
    EXPECT_EQ(s.log().hard_state(), kept ? hs(3, 5) : hs(2, 5)) << "seed " << seed;
    // And the node goes on writing after it.
    ASSERT_TRUE(s.write_ready(ready_of({entry(4, 6)}, hs(4, 5))).is_ok());
    ASSERT_TRUE(s.sync().is_ok());
    EXPECT_EQ(s.synced().term(Index{6}), Term{4});
  }
}

TEST(NodeStorage, SnapshotCompactsRemovesOlderSnapshotsAndCollectsSegments) {
  NodeStorage s(3);
  fill(s, 200);  // 20 KB of entries: several journal segments
  const raft::SnapshotMeta meta{
      .index = Index{190}, .term = Term{2}, .conf_state = boot_snapshot().meta.conf_state};
  ASSERT_TRUE(s.snapshot_and_compact(meta, "state at 190", Index{186}).is_ok());
  EXPECT_EQ(s.log().first_index(), Index{186});
  EXPECT_EQ(s.log().last_index(), Index{200});
  EXPECT_EQ(s.synced().first_index(), Index{186});
  EXPECT_EQ(s.synced().term(Index{185}), Term{2});
  EXPECT_GT(s.stats().segments_removed, 0u);
  EXPECT_FALSE(s.read_snapshot(Index{1}).is_ok());  // the bootstrap snapshot is gone
  s.crash(500'000);
  ASSERT_TRUE(s.open().is_ok());
  EXPECT_EQ(s.snapshot_meta().index, Index{190});
  auto snap = s.read_snapshot(Index{190});
  ASSERT_TRUE(snap.is_ok());
  EXPECT_EQ(snap.value().data, "state at 190");
  EXPECT_EQ(s.log().first_index(), Index{186});
}

TEST(NodeStorage, ReadySnapshotReplacesTheLog) {
  NodeStorage s(5);
  fill(s, 20);
  raft::Ready rd;
  auto snap = std::make_shared<raft::Snapshot>(boot_snapshot());
  snap->meta.index = Index{50};
  snap->meta.term = Term{4};
  snap->data = "leader state";
  rd.snapshot = snap;
  rd.hard_state = hs(4, 50);
  rd.must_sync = true;
  ASSERT_TRUE(s.write_ready(rd).is_ok());
  ASSERT_TRUE(s.sync().is_ok());
  EXPECT_EQ(s.log().first_index(), Index{51});
  EXPECT_EQ(s.log().last_index(), Index{50});
  EXPECT_EQ(s.synced().last_index(), Index{50});
  EXPECT_EQ(s.synced().term(Index{50}), Term{4});
  EXPECT_EQ(s.synced().snapshot_index(), Index{50});
}

TEST(SyncedLog, IncrementalRecordsMatchAFullOne) {
  raft::MemoryStorage log;
  SyncedLog incremental;
  auto same_as_full = [&] {
    SyncedLog full;
    full.record(log, Index{0}, Index{0});
    ASSERT_EQ(incremental.first_index(), full.first_index());
    ASSERT_EQ(incremental.last_index(), full.last_index());
    for (Index i = full.first_index() - 1; i <= full.last_index(); ++i) {
      ASSERT_EQ(incremental.term(i), full.term(i)) << "at " << i;
    }
  };
  log.append({entry(1, 1), entry(1, 2), entry(1, 3)});
  incremental.record(log, Index{1}, Index{0});
  same_as_full();
  log.append({entry(2, 3), entry(2, 4)});  // replaces 3
  incremental.record(log, Index{3}, Index{0});
  same_as_full();
  ASSERT_TRUE(log.create_snapshot(Index{3}, {}, "").is_ok());
  ASSERT_TRUE(log.compact(Index{2}).is_ok());  // first index 3
  incremental.record(log, Index{4}, Index{3});
  same_as_full();
  raft::Snapshot snap;
  snap.meta.index = Index{9};
  snap.meta.term = Term{5};
  ASSERT_TRUE(log.apply_snapshot(snap).is_ok());  // the log continues after 9
  incremental.record(log, Index{10}, Index{9});
  same_as_full();
  EXPECT_EQ(incremental.term(Index{9}), Term{5});
  EXPECT_EQ(incremental.term(Index{8}), std::nullopt);
}

}  // namespace
}  // namespace meridian::sim
