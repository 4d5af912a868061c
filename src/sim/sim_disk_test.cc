// SimDisk: writes reach the page cache at once, the durable copy at sync, and a
// crash keeps exactly a prefix of the unsynced writes.
#include "sim/sim_disk.h"

#include <gtest/gtest.h>

#include <memory>
#include <vector>

namespace meridian::sim {
namespace {

using raft::Entry;
using raft::HardState;
using raft::Index;
using raft::Term;

Entry entry(uint64_t term, uint64_t index) {
  return Entry{.term = Term{term}, .index = Index{index}, .data = "d"};
}

std::vector<Entry> entries(uint64_t term, uint64_t from, uint64_t to) {
  std::vector<Entry> out;
  for (uint64_t i = from; i <= to; ++i) out.push_back(entry(term, i));
  return out;
}

HardState hard_state(uint64_t term, uint64_t vote, uint64_t commit) {
  return HardState{.term = Term{term}, .vote = raft::NodeId{vote}, .commit = Index{commit}};
}

TEST(SimDisk, WritesAreVolatileUntilSynced) {
  SimDisk disk;
  disk.write_entries(entries(1, 1, 3));
  disk.write_hard_state(hard_state(1, 2, 2));
  EXPECT_EQ(disk.page_cache().last_index(), Index{3});
  EXPECT_EQ(disk.durable().last_index(), Index{0});
  EXPECT_EQ(disk.unsynced_writes(), 4u);  // three entries and a hard state
  disk.sync();
  EXPECT_EQ(disk.unsynced_writes(), 0u);
  EXPECT_EQ(disk.durable().last_index(), Index{3});
  EXPECT_EQ(disk.durable().hard_state(), hard_state(1, 2, 2));
}

TEST(SimDisk, CrashKeepsOnlyThePrefixAndRebuildsThePageCache) {
  SimDisk disk;
  disk.write_entries(entries(1, 1, 2));
  disk.sync();
  disk.write_entries(entries(2, 3, 5));
  disk.write_hard_state(hard_state(2, 1, 4));
  disk.crash(2);  // entries 3 and 4 reached the disk; 5 and the hard state did not
  EXPECT_EQ(disk.durable().last_index(), Index{4});
  EXPECT_EQ(disk.page_cache().last_index(), Index{4});
  EXPECT_EQ(disk.page_cache().hard_state(), HardState{});
  EXPECT_EQ(disk.unsynced_writes(), 0u);
}

TEST(SimDisk, TornAppendOfAConflictingSuffixTruncatesIt) {
  SimDisk disk;
  disk.write_entries(entries(1, 1, 5));
  disk.sync();
  disk.write_entries(entries(3, 3, 4));  // replaces 3..5 of term 1 with 3..4 of term 3
  EXPECT_EQ(disk.page_cache().last_index(), Index{4});
  disk.crash(1);  // only the new entry 3 reached the disk; the old 4..5 are gone with it
  EXPECT_EQ(disk.page_cache().last_index(), Index{3});
  EXPECT_EQ(disk.page_cache().term(Index{3}).value(), Term{3});
}

TEST(SimDisk, CrashWithNothingKeptLosesEveryUnsyncedWrite) {
  SimDisk disk;
  raft::Snapshot snap;
  snap.meta.index = Index{10};
  snap.meta.term = Term{2};
  ASSERT_TRUE(disk.write_snapshot(std::make_shared<raft::Snapshot>(snap)).is_ok());
  disk.write_entries(entries(2, 11, 12));
  disk.crash(0);
  EXPECT_EQ(disk.page_cache().snapshot().value().meta.index, Index{0});
  EXPECT_EQ(disk.page_cache().last_index(), Index{0});
}

TEST(SimDisk, ApplicationSnapshotSyncsAndCompactsBothCopies) {
  SimDisk disk;
  disk.write_entries(entries(1, 1, 10));
  disk.write_hard_state(hard_state(1, 0, 10));
  ASSERT_TRUE(disk.snapshot_and_compact(Index{8}, raft::ConfState{}, "state", Index{6}).is_ok());
  EXPECT_EQ(disk.unsynced_writes(), 0u);
  EXPECT_EQ(disk.durable().snapshot().value().meta.index, Index{8});
  EXPECT_EQ(disk.durable().first_index(), Index{7});
  EXPECT_EQ(disk.page_cache().first_index(), Index{7});
  disk.crash(0);
  EXPECT_EQ(disk.page_cache().snapshot().value().data, "state");
  EXPECT_EQ(disk.page_cache().last_index(), Index{10});
}

TEST(SimDisk, BootstrapIsDurable) {
  SimDisk disk;
  raft::Snapshot snap;
  snap.meta.index = Index{1};
  snap.meta.term = Term{1};
  snap.meta.conf_state.voters = {raft::NodeId{1}, raft::NodeId{2}, raft::NodeId{3}};
  disk.bootstrap(snap, hard_state(1, 0, 1));
  disk.crash(0);
  EXPECT_EQ(disk.page_cache().conf_state().voters.size(), 3u);
  EXPECT_EQ(disk.page_cache().hard_state(), hard_state(1, 0, 1));
}

}  // namespace
}  // namespace meridian::sim
