#include "raft/raft_log.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "raft/memory_storage.h"

namespace meridian::raft {
namespace {

constexpr uint64_t kNoLimit = std::numeric_limits<uint64_t>::max();

// The name of a Result's error code, or "ok"; unlike status(), safe on a success,
// and readable when a check fails.
template <class T>
std::string code_of(const Result<T>& r) {
  return base::code_name(r.is_ok() ? Code::kOk : r.status().code());
}

std::string name(Code c) { return base::code_name(c); }

Entry make_entry(uint64_t index, uint64_t term, std::string data = "") {
  return Entry{.term = Term{term}, .index = Index{index}, .data = std::move(data)};
}

using Ids = std::vector<std::pair<uint64_t, uint64_t>>;

// (index, term) pairs: what most checks compare, printable by GoogleTest as is.
Ids ids(const std::vector<Entry>& entries) {
  Ids out;
  out.reserve(entries.size());
  for (const Entry& e : entries) out.emplace_back(e.index.value(), e.term.value());
  return out;
}

// Entries first, first+1, ... with the given terms.
std::vector<Entry> run(uint64_t first, const std::vector<uint64_t>& terms) {
  std::vector<Entry> out;
  for (size_t k = 0; k < terms.size(); ++k) out.push_back(make_entry(first + k, terms[k]));
  return out;
}

std::shared_ptr<const Snapshot> make_snapshot(uint64_t index, uint64_t term) {
  Snapshot snap;
  snap.meta.index = Index{index};
  snap.meta.term = Term{term};
  snap.data = "snap";
  return std::make_shared<const Snapshot>(std::move(snap));
}

// Persists what a Ready would hand the host: the unstable snapshot, then the
// unstable entries, and acknowledges both.
void persist_all(MemoryStorage& storage, RaftLog& log) {
  if (log.unstable_snapshot() != nullptr) {
    const Index i = log.unstable_snapshot()->meta.index;
    ASSERT_TRUE(storage.apply_snapshot(*log.unstable_snapshot()).is_ok());
    log.stable_snapshot_to(i);
  }
  if (!log.unstable_entries().empty()) {
    const Entry last = log.unstable_entries().back();
    storage.append(log.unstable_entries());
    log.stable_to(last.index, last.term);
  }
}

Ids all_ids(const RaftLog& log) {
  return ids(log.slice(log.first_index(), log.last_index() + 1, kNoLimit).value());
}

// --- construction -------------------------------------------------------------

TEST(RaftLogTest, NewFromEmptyStorage) {
  MemoryStorage storage;
  RaftLog log(&storage);
  EXPECT_EQ(log.first_index(), Index{1});
  EXPECT_EQ(log.last_index(), Index{0});
  EXPECT_EQ(log.last_term(), Term{0});
  EXPECT_EQ(log.committed(), Index{0});
  EXPECT_EQ(log.applied(), Index{0});
  EXPECT_EQ(log.term(Index{0}).value(), Term{0});
  EXPECT_EQ(code_of(log.term(Index{1})), name(Code::kUnavailable));
  EXPECT_EQ(log.last_stable_index(), Index{0});
  EXPECT_TRUE(log.unstable_entries().empty());
  EXPECT_EQ(log.unstable_snapshot(), nullptr);
}

TEST(RaftLogTest, NewFromCompactedStorage) {
  MemoryStorage storage;
  ASSERT_TRUE(storage.apply_snapshot(*make_snapshot(5, 3)).is_ok());
  storage.append(run(6, {3, 4, 4}));
  storage.set_hard_state(HardState{.term = Term{4}, .commit = Index{7}});
  RaftLog log(&storage);
  EXPECT_EQ(log.first_index(), Index{6});
  EXPECT_EQ(log.last_index(), Index{8});
  EXPECT_EQ(log.last_term(), Term{4});
  EXPECT_EQ(log.committed(), Index{7});
  EXPECT_EQ(log.applied(), Index{5});
  EXPECT_EQ(log.term(Index{5}).value(), Term{3});
  EXPECT_EQ(code_of(log.term(Index{4})), name(Code::kCompacted));
  // Index 0 is compacted too once the log has been.
  EXPECT_EQ(code_of(log.term(Index{0})), name(Code::kCompacted));
  EXPECT_EQ(code_of(log.term(Index{9})), name(Code::kUnavailable));
  EXPECT_EQ(log.last_stable_index(), Index{8});
}

TEST(RaftLogTest, NewRaisesCommitToSnapshotIndex) {
  MemoryStorage storage;
  ASSERT_TRUE(storage.apply_snapshot(*make_snapshot(5, 3)).is_ok());
  RaftLog log(&storage);  // hard state commit still 0
  EXPECT_EQ(log.committed(), Index{5});
  EXPECT_EQ(log.applied(), Index{5});
}

TEST(RaftLogDeathTest, NewWithCommitPastLastIndexAsserts) {
  MemoryStorage storage;
  storage.append(run(1, {1, 1}));
  storage.set_hard_state(HardState{.term = Term{1}, .commit = Index{3}});
  EXPECT_DEATH(RaftLog log(&storage), "committed entries were lost");
}

// --- leader append ------------------------------------------------------------

TEST(RaftLogTest, LeaderAppend) {
  MemoryStorage storage;
  storage.append(run(1, {1, 2}));
  RaftLog log(&storage);
  EXPECT_EQ(log.append({}), Index{2});
  EXPECT_EQ(log.append(run(3, {3, 3})), Index{4});
  EXPECT_EQ(ids(log.unstable_entries()), (Ids{{3, 3}, {4, 3}}));
  EXPECT_EQ(log.last_term(), Term{3});
  EXPECT_EQ(log.last_stable_index(), Index{2});
  EXPECT_EQ(all_ids(log), (Ids{{1, 1}, {2, 2}, {3, 3}, {4, 3}}));
}

TEST(RaftLogDeathTest, LeaderAppendMustFollowLastIndex) {
  MemoryStorage storage;
  storage.append(run(1, {1, 2}));
  RaftLog log(&storage);
  EXPECT_DEATH(log.append(run(4, {2})), "does not follow last index");
  EXPECT_DEATH(log.append(run(2, {2})), "does not follow last index");
  EXPECT_DEATH(log.append({make_entry(3, 2), make_entry(5, 2)}), "expected 4");
}

// --- maybe_append -------------------------------------------------------------

// A log with entries 1..3 stable (terms 1, 2, 3) and nothing committed.
struct StableLog {
  StableLog() {
    storage.append(run(1, {1, 2, 3}));
    log = std::make_unique<RaftLog>(&storage);
  }
  MemoryStorage storage;
  std::unique_ptr<RaftLog> log;
};

TEST(RaftLogTest, MaybeAppendWithoutConflict) {
  StableLog s;
  std::optional<Index> last = s.log->maybe_append(Index{3}, Term{3}, Index{3}, run(4, {3, 4}));
  ASSERT_TRUE(last.has_value());
  EXPECT_EQ(*last, Index{5});
  EXPECT_EQ(s.log->last_index(), Index{5});
  EXPECT_EQ(ids(s.log->unstable_entries()), (Ids{{4, 3}, {5, 4}}));
  EXPECT_EQ(s.log->committed(), Index{3});
  EXPECT_EQ(s.log->last_stable_index(), Index{3});
}

TEST(RaftLogTest, MaybeAppendHeartbeatOnlyCommits) {
  StableLog s;
  std::optional<Index> last = s.log->maybe_append(Index{2}, Term{2}, Index{2}, {});
  ASSERT_TRUE(last.has_value());
  EXPECT_EQ(*last, Index{2});
  EXPECT_EQ(s.log->committed(), Index{2});
  EXPECT_EQ(s.log->last_index(), Index{3});
}

TEST(RaftLogTest, MaybeAppendRejectsMismatchedPrev) {
  StableLog s;
  // Wrong term at prev_index.
  EXPECT_FALSE(s.log->maybe_append(Index{3}, Term{2}, Index{3}, run(4, {4})).has_value());
  // prev_index past our log.
  EXPECT_FALSE(s.log->maybe_append(Index{4}, Term{3}, Index{3}, run(5, {4})).has_value());
  // Nothing changed.
  EXPECT_EQ(s.log->last_index(), Index{3});
  EXPECT_EQ(s.log->committed(), Index{0});
  EXPECT_TRUE(s.log->unstable_entries().empty());
}

TEST(RaftLogTest, MaybeAppendDuplicatesAreIdempotent) {
  StableLog s;
  ASSERT_TRUE(s.log->maybe_append(Index{3}, Term{3}, Index{0}, run(4, {3, 3})).has_value());
  // Re-delivery of entries we already have, overlapping stable and unstable parts,
  // must change nothing (in particular not truncate the longer log).
  std::optional<Index> last = s.log->maybe_append(Index{1}, Term{1}, Index{0}, run(2, {2, 3, 3}));
  ASSERT_TRUE(last.has_value());
  EXPECT_EQ(*last, Index{4});
  EXPECT_EQ(s.log->last_index(), Index{5});
  EXPECT_EQ(ids(s.log->unstable_entries()), (Ids{{4, 3}, {5, 3}}));
  EXPECT_EQ(all_ids(*s.log), (Ids{{1, 1}, {2, 2}, {3, 3}, {4, 3}, {5, 3}}));
}

TEST(RaftLogTest, MaybeAppendCapsCommitAtLastNewIndex) {
  StableLog s;
  ASSERT_TRUE(s.log->maybe_append(Index{3}, Term{3}, Index{0}, run(4, {3, 3})).has_value());
  // The leader has committed up to 10, but this message only proves 1..2 match.
  std::optional<Index> last = s.log->maybe_append(Index{1}, Term{1}, Index{10}, run(2, {2}));
  ASSERT_EQ(last, Index{2});
  EXPECT_EQ(s.log->committed(), Index{2});
  // A full message: capped at its last entry, not at our (longer) log.
  last = s.log->maybe_append(Index{3}, Term{3}, Index{10}, run(4, {3}));
  ASSERT_EQ(last, Index{4});
  EXPECT_EQ(s.log->committed(), Index{4});
  // An older commit never moves it back.
  ASSERT_TRUE(s.log->maybe_append(Index{5}, Term{3}, Index{1}, {}).has_value());
  EXPECT_EQ(s.log->committed(), Index{4});
}

TEST(RaftLogTest, MaybeAppendConflictInUnstable) {
  StableLog s;
  ASSERT_TRUE(s.log->maybe_append(Index{3}, Term{3}, Index{0}, run(4, {3, 3, 3})).has_value());
  std::optional<Index> last = s.log->maybe_append(Index{4}, Term{3}, Index{0}, run(5, {4, 4, 4}));
  ASSERT_EQ(last, Index{7});
  EXPECT_EQ(ids(s.log->unstable_entries()), (Ids{{4, 3}, {5, 4}, {6, 4}, {7, 4}}));
  EXPECT_EQ(s.log->last_stable_index(), Index{3});
  EXPECT_EQ(s.log->term(Index{6}).value(), Term{4});
  // A shorter conflicting message truncates the unstable tail after it.
  last = s.log->maybe_append(Index{4}, Term{3}, Index{0}, run(5, {5}));
  ASSERT_EQ(last, Index{5});
  EXPECT_EQ(ids(s.log->unstable_entries()), (Ids{{4, 3}, {5, 5}}));
  EXPECT_EQ(s.log->last_index(), Index{5});
  EXPECT_EQ(code_of(s.log->term(Index{6})), name(Code::kUnavailable));
}

TEST(RaftLogTest, MaybeAppendConflictInStable) {
  MemoryStorage storage;
  storage.append(run(1, {1, 1, 2, 2, 2}));
  storage.set_hard_state(HardState{.term = Term{2}, .commit = Index{2}});
  RaftLog log(&storage);
  std::optional<Index> last =
      log.maybe_append(Index{2}, Term{1}, Index{2}, {make_entry(3, 3, "a"), make_entry(4, 3)});
  ASSERT_EQ(last, Index{4});
  // The unstable part is exactly the new entries; storage's 3..5 are replaced.
  EXPECT_EQ(ids(log.unstable_entries()), (Ids{{3, 3}, {4, 3}}));
  EXPECT_EQ(log.last_index(), Index{4});
  EXPECT_EQ(log.last_term(), Term{3});
  EXPECT_EQ(log.last_stable_index(), Index{2});
  EXPECT_EQ(log.term(Index{2}).value(), Term{1});
  EXPECT_EQ(log.term(Index{3}).value(), Term{3});
  EXPECT_EQ(code_of(log.term(Index{5})), name(Code::kUnavailable));
  std::vector<Entry> all = log.slice(Index{1}, Index{5}, kNoLimit).value();
  EXPECT_EQ(ids(all), (Ids{{1, 1}, {2, 1}, {3, 3}, {4, 3}}));
  EXPECT_EQ(all[2].data, "a");

  persist_all(storage, log);
  EXPECT_TRUE(log.unstable_entries().empty());
  EXPECT_EQ(storage.last_index(), Index{4});
  EXPECT_EQ(log.last_index(), Index{4});
  EXPECT_EQ(log.last_stable_index(), Index{4});
  EXPECT_EQ(all_ids(log), (Ids{{1, 1}, {2, 1}, {3, 3}, {4, 3}}));
}

TEST(RaftLogTest, MaybeAppendConflictInStableWithUnstableTail) {
  StableLog s;
  ASSERT_TRUE(s.log->maybe_append(Index{3}, Term{3}, Index{0}, run(4, {3, 3})).has_value());
  // Conflict at 3, below the unstable offset: the unstable tail goes as well.
  ASSERT_EQ(s.log->maybe_append(Index{2}, Term{2}, Index{0}, run(3, {4})), Index{3});
  EXPECT_EQ(ids(s.log->unstable_entries()), (Ids{{3, 4}}));
  EXPECT_EQ(s.log->last_index(), Index{3});
  EXPECT_EQ(s.log->last_stable_index(), Index{2});
}

TEST(RaftLogDeathTest, MaybeAppendConflictAtCommittedAsserts) {
  MemoryStorage storage;
  storage.append(run(1, {1, 1, 2}));
  storage.set_hard_state(HardState{.term = Term{2}, .commit = Index{3}});
  RaftLog log(&storage);
  EXPECT_DEATH(log.maybe_append(Index{2}, Term{1}, Index{3}, run(3, {3})),
               "conflicts at or below commit");
  EXPECT_DEATH(log.maybe_append(Index{1}, Term{1}, Index{3}, run(2, {2, 2})),
               "conflicts at or below commit");
}

TEST(RaftLogTest, FindConflict) {
  StableLog s;
  EXPECT_EQ(s.log->find_conflict({}), Index{0});
  EXPECT_EQ(s.log->find_conflict(run(1, {1, 2, 3})), Index{0});
  EXPECT_EQ(s.log->find_conflict(run(2, {2, 3})), Index{0});
  EXPECT_EQ(s.log->find_conflict(run(2, {2, 3, 4})), Index{4});  // new entry
  EXPECT_EQ(s.log->find_conflict(run(2, {2, 4, 4})), Index{3});  // term differs
  EXPECT_EQ(s.log->find_conflict(run(4, {4, 4})), Index{4});
}

// --- stable_to ----------------------------------------------------------------

TEST(RaftLogTest, StableToDropsPersistedEntries) {
  StableLog s;
  s.log->append(run(4, {3, 3, 3}));
  s.storage.append(s.log->unstable_entries());
  s.log->stable_to(Index{5}, Term{3});  // partial acknowledgement
  EXPECT_EQ(ids(s.log->unstable_entries()), (Ids{{6, 3}}));
  EXPECT_EQ(s.log->last_stable_index(), Index{5});
  EXPECT_EQ(s.log->last_index(), Index{6});
  s.log->stable_to(Index{6}, Term{3});
  EXPECT_TRUE(s.log->unstable_entries().empty());
  EXPECT_EQ(s.log->last_stable_index(), Index{6});
  EXPECT_EQ(s.log->last_index(), Index{6});
  EXPECT_EQ(s.log->term(Index{6}).value(), Term{3});
}

TEST(RaftLogTest, StableToWithStaleTermIsIgnored) {
  StableLog s;
  ASSERT_TRUE(s.log->maybe_append(Index{3}, Term{3}, Index{0}, run(4, {3, 3})).has_value());
  // The host starts persisting 4..5 at term 3; meanwhile a new leader replaces 5.
  ASSERT_TRUE(s.log->maybe_append(Index{4}, Term{3}, Index{0}, run(5, {4})).has_value());
  s.log->stable_to(Index{5}, Term{3});
  EXPECT_EQ(ids(s.log->unstable_entries()), (Ids{{4, 3}, {5, 4}}));
  EXPECT_EQ(s.log->last_stable_index(), Index{3});
  // Outside the unstable entries: ignored too.
  s.log->stable_to(Index{3}, Term{3});
  s.log->stable_to(Index{9}, Term{4});
  EXPECT_EQ(ids(s.log->unstable_entries()), (Ids{{4, 3}, {5, 4}}));
  // The current entry at 5 is acknowledged normally.
  s.storage.append(s.log->unstable_entries());
  s.log->stable_to(Index{5}, Term{4});
  EXPECT_TRUE(s.log->unstable_entries().empty());
  EXPECT_EQ(s.log->last_stable_index(), Index{5});
}

TEST(RaftLogTest, StableToAfterRestoreIsIgnored) {
  StableLog s;
  s.log->append(run(4, {3, 3}));
  s.log->restore(make_snapshot(10, 4));
  s.log->stable_to(Index{5}, Term{3});  // the entries were dropped by the restore
  EXPECT_TRUE(s.log->unstable_entries().empty());
  EXPECT_EQ(s.log->last_index(), Index{10});
  EXPECT_EQ(s.log->first_index(), Index{11});
}

// --- restore and snapshots ----------------------------------------------------

TEST(RaftLogTest, RestoreReplacesTheLog) {
  StableLog s;
  s.log->append(run(4, {3}));
  s.log->commit_to(Index{2});
  s.log->applied_to(Index{1});
  s.log->restore(make_snapshot(10, 5));

  EXPECT_EQ(s.log->first_index(), Index{11});
  EXPECT_EQ(s.log->last_index(), Index{10});
  EXPECT_EQ(s.log->last_term(), Term{5});
  EXPECT_EQ(s.log->committed(), Index{10});
  EXPECT_EQ(s.log->applied(), Index{1});
  EXPECT_EQ(s.log->term(Index{10}).value(), Term{5});
  EXPECT_EQ(code_of(s.log->term(Index{9})), name(Code::kCompacted));
  EXPECT_EQ(code_of(s.log->term(Index{3})), name(Code::kCompacted));
  EXPECT_EQ(code_of(s.log->term(Index{11})), name(Code::kUnavailable));
  EXPECT_TRUE(s.log->unstable_entries().empty());
  ASSERT_NE(s.log->unstable_snapshot(), nullptr);
  EXPECT_EQ(s.log->unstable_snapshot()->meta.index, Index{10});
  EXPECT_EQ(s.log->snapshot().value(), s.log->unstable_snapshot());
  // Nothing of the new log is durable yet: only storage's own snapshot point (0).
  EXPECT_EQ(s.log->last_stable_index(), Index{0});
  EXPECT_EQ(code_of(s.log->slice(Index{3}, Index{4}, kNoLimit)), name(Code::kCompacted));
  // The snapshot's entries are never handed out as committed entries.
  EXPECT_FALSE(s.log->has_next_committed_entries(Index{100}));
  EXPECT_TRUE(s.log->next_committed_entries(Index{100}, kNoLimit).empty());

  // Appending after the snapshot works, and the application catches up through it.
  ASSERT_EQ(s.log->maybe_append(Index{10}, Term{5}, Index{11}, run(11, {5, 5})), Index{12});
  EXPECT_EQ(s.log->committed(), Index{11});
  EXPECT_EQ(s.log->last_stable_index(), Index{0});
  EXPECT_TRUE(s.log->next_committed_entries(s.log->last_stable_index(), kNoLimit).empty());
  persist_all(s.storage, *s.log);
  EXPECT_EQ(s.log->unstable_snapshot(), nullptr);
  EXPECT_EQ(s.log->first_index(), Index{11});
  EXPECT_EQ(s.log->last_stable_index(), Index{12});
  EXPECT_EQ(ids(s.log->next_committed_entries(Index{12}, kNoLimit)), (Ids{{11, 5}}));
  s.log->applied_to(Index{10});  // the application installed the snapshot
  EXPECT_EQ(ids(s.log->next_committed_entries(Index{12}, kNoLimit)), (Ids{{11, 5}}));
  s.log->applied_to(Index{11});
  EXPECT_FALSE(s.log->has_next_committed_entries(Index{12}));
}

TEST(RaftLogTest, RestoreHidesStaleStorageEntries) {
  // Storage holds entries past the snapshot index; after the restore they are no
  // longer part of the log, although storage still answers for them.
  MemoryStorage storage;
  storage.append(run(1, {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1}));
  RaftLog log(&storage);
  log.restore(make_snapshot(10, 5));
  EXPECT_EQ(log.last_index(), Index{10});
  EXPECT_EQ(log.term(Index{10}).value(), Term{5});
  EXPECT_EQ(code_of(log.term(Index{11})), name(Code::kUnavailable));
  EXPECT_EQ(code_of(log.term(Index{12})), name(Code::kUnavailable));
  EXPECT_FALSE(log.match_term(Index{11}, Term{1}));
  // An append after the snapshot is judged against the snapshot, not storage.
  EXPECT_FALSE(log.maybe_append(Index{11}, Term{1}, Index{10}, run(12, {5})).has_value());
  ASSERT_EQ(log.maybe_append(Index{10}, Term{5}, Index{10}, run(11, {5})), Index{11});
  EXPECT_EQ(ids(log.unstable_entries()), (Ids{{11, 5}}));
}

TEST(RaftLogTest, EntriesPersistedBeforeSnapshotAcknowledged) {
  // The host persists snapshot and entries together but acknowledges the entries
  // first: the log must then read them from storage.
  StableLog s;
  s.log->restore(make_snapshot(10, 5));
  s.log->append(run(11, {5, 6}));
  ASSERT_TRUE(s.storage.apply_snapshot(*s.log->unstable_snapshot()).is_ok());
  s.storage.append(s.log->unstable_entries());
  s.log->stable_to(Index{12}, Term{6});
  EXPECT_EQ(s.log->last_index(), Index{12});
  EXPECT_EQ(s.log->term(Index{11}).value(), Term{5});
  EXPECT_EQ(s.log->term(Index{12}).value(), Term{6});
  EXPECT_EQ(code_of(s.log->term(Index{13})), name(Code::kUnavailable));
  EXPECT_EQ(all_ids(*s.log), (Ids{{11, 5}, {12, 6}}));
  s.log->stable_snapshot_to(Index{9});  // not the pending one: ignored
  EXPECT_NE(s.log->unstable_snapshot(), nullptr);
  s.log->stable_snapshot_to(Index{10});
  EXPECT_EQ(s.log->unstable_snapshot(), nullptr);
  EXPECT_EQ(s.log->last_stable_index(), Index{12});
  EXPECT_EQ(all_ids(*s.log), (Ids{{11, 5}, {12, 6}}));
}

TEST(RaftLogDeathTest, RestoreBelowCommitAsserts) {
  StableLog s;
  s.log->commit_to(Index{3});
  EXPECT_DEATH(s.log->restore(make_snapshot(2, 2)), "move commit back");
}

TEST(RaftLogTest, SnapshotFromStorage) {
  StableLog s;
  ASSERT_TRUE(s.storage.create_snapshot(Index{2}, ConfState{}, "at2").is_ok());
  Result<std::shared_ptr<const Snapshot>> snap = s.log->snapshot();
  ASSERT_TRUE(snap.is_ok());
  EXPECT_EQ(snap.value()->meta.index, Index{2});
  EXPECT_EQ(snap.value()->data, "at2");
}

// A storage whose snapshot is always being prepared.
class SnapshotUnavailableStorage final : public LogStorage {
 public:
  HardState hard_state() const override { return inner_.hard_state(); }
  ConfState conf_state() const override { return inner_.conf_state(); }
  Result<std::vector<Entry>> entries(Index lo, Index hi, uint64_t max_bytes) const override {
    return inner_.entries(lo, hi, max_bytes);
  }
  Result<Term> term(Index i) const override { return inner_.term(i); }
  Index first_index() const override { return inner_.first_index(); }
  Index last_index() const override { return inner_.last_index(); }
  Result<Snapshot> snapshot() const override {
    return Status(Code::kUnavailable, "snapshot in preparation");
  }

 private:
  MemoryStorage inner_;
};

TEST(RaftLogTest, SnapshotErrorIsPropagated) {
  SnapshotUnavailableStorage storage;
  RaftLog log(&storage);
  EXPECT_EQ(code_of(log.snapshot()), name(Code::kUnavailable));
}

// --- commit and apply ---------------------------------------------------------

TEST(RaftLogTest, MaybeCommitNeedsMatchingTerm) {
  StableLog s;
  s.log->append(run(4, {4}));
  // Figure 8: an entry of an older term is not committed by counting replicas.
  EXPECT_FALSE(s.log->maybe_commit(Index{3}, Term{4}));
  EXPECT_EQ(s.log->committed(), Index{0});
  EXPECT_TRUE(s.log->maybe_commit(Index{4}, Term{4}));
  EXPECT_EQ(s.log->committed(), Index{4});
  EXPECT_FALSE(s.log->maybe_commit(Index{4}, Term{4}));  // not forward
  EXPECT_FALSE(s.log->maybe_commit(Index{5}, Term{4}));  // past the log
  EXPECT_EQ(s.log->committed(), Index{4});
}

TEST(RaftLogTest, CommitToNeverMovesBack) {
  StableLog s;
  s.log->commit_to(Index{3});
  s.log->commit_to(Index{1});
  EXPECT_EQ(s.log->committed(), Index{3});
}

TEST(RaftLogDeathTest, CommitAndApplyBoundsAssert) {
  StableLog s;
  EXPECT_DEATH(s.log->commit_to(Index{4}), "past last index");
  s.log->commit_to(Index{2});
  EXPECT_DEATH(s.log->applied_to(Index{3}), "past commit");
  s.log->applied_to(Index{2});
  EXPECT_DEATH(s.log->applied_to(Index{1}), "moves back");
}

TEST(RaftLogTest, NextCommittedEntries) {
  MemoryStorage storage;
  std::vector<Entry> stable;
  for (uint64_t i = 1; i <= 3; ++i) stable.push_back(make_entry(i, 1, "0123456789"));
  storage.append(stable);
  RaftLog log(&storage);
  std::vector<Entry> unstable;
  for (uint64_t i = 4; i <= 6; ++i) unstable.push_back(make_entry(i, 1, "0123456789"));
  log.append(unstable);
  const uint64_t size = stable[0].size_bytes();  // every entry has this size

  EXPECT_FALSE(log.has_next_committed_entries(Index{6}));
  log.commit_to(Index{5});
  EXPECT_TRUE(log.has_next_committed_entries(Index{6}));
  EXPECT_EQ(ids(log.next_committed_entries(Index{6}, kNoLimit)),
            (Ids{{1, 1}, {2, 1}, {3, 1}, {4, 1}, {5, 1}}));
  // up_to caps below commit, e.g. at what is persisted.
  EXPECT_EQ(ids(log.next_committed_entries(log.last_stable_index(), kNoLimit)),
            (Ids{{1, 1}, {2, 1}, {3, 1}}));
  EXPECT_FALSE(log.has_next_committed_entries(Index{0}));
  // Byte limits, across the stable/unstable boundary.
  EXPECT_EQ(log.next_committed_entries(Index{6}, 0).size(), 1u);
  EXPECT_EQ(log.next_committed_entries(Index{6}, 2 * size).size(), 2u);
  EXPECT_EQ(log.next_committed_entries(Index{6}, 4 * size - 1).size(), 3u);
  EXPECT_EQ(log.next_committed_entries(Index{6}, 4 * size).size(), 4u);

  log.applied_to(Index{3});
  EXPECT_EQ(ids(log.next_committed_entries(Index{6}, kNoLimit)), (Ids{{4, 1}, {5, 1}}));
  EXPECT_EQ(ids(log.next_committed_entries(Index{6}, 1)), (Ids{{4, 1}}));
  EXPECT_FALSE(log.has_next_committed_entries(Index{3}));
  log.applied_to(Index{5});
  EXPECT_FALSE(log.has_next_committed_entries(Index{6}));
  EXPECT_TRUE(log.next_committed_entries(Index{6}, kNoLimit).empty());
}

TEST(RaftLogTest, NextCommittedEntriesStartAfterCompaction) {
  MemoryStorage storage;
  ASSERT_TRUE(storage.apply_snapshot(*make_snapshot(5, 2)).is_ok());
  storage.append(run(6, {2, 2}));
  storage.set_hard_state(HardState{.term = Term{2}, .commit = Index{7}});
  RaftLog log(&storage);
  EXPECT_EQ(ids(log.next_committed_entries(Index{7}, kNoLimit)), (Ids{{6, 2}, {7, 2}}));
}

// --- slice --------------------------------------------------------------------

TEST(RaftLogTest, SliceAcrossStableAndUnstable) {
  MemoryStorage storage;
  ASSERT_TRUE(storage.apply_snapshot(*make_snapshot(2, 1)).is_ok());
  storage.append({make_entry(3, 1, "aaaa"), make_entry(4, 1, "aaaa")});
  RaftLog log(&storage);
  log.append({make_entry(5, 2, "bbbb"), make_entry(6, 2, "bbbb")});
  const uint64_t size = 28;  // 24-byte header + 4 bytes of data

  EXPECT_EQ(code_of(log.slice(Index{2}, Index{4}, kNoLimit)), name(Code::kCompacted));
  EXPECT_TRUE(log.slice(Index{4}, Index{4}, kNoLimit).value().empty());
  EXPECT_EQ(ids(log.slice(Index{3}, Index{7}, kNoLimit).value()),
            (Ids{{3, 1}, {4, 1}, {5, 2}, {6, 2}}));
  EXPECT_EQ(ids(log.slice(Index{5}, Index{7}, kNoLimit).value()), (Ids{{5, 2}, {6, 2}}));
  EXPECT_EQ(ids(log.slice(Index{3}, Index{5}, kNoLimit).value()), (Ids{{3, 1}, {4, 1}}));
  EXPECT_EQ(ids(log.slice(Index{4}, Index{6}, kNoLimit).value()), (Ids{{4, 1}, {5, 2}}));
  // The limit stops inside storage: nothing unstable is appended.
  EXPECT_EQ(ids(log.slice(Index{3}, Index{7}, size).value()), (Ids{{3, 1}}));
  EXPECT_EQ(ids(log.slice(Index{3}, Index{7}, 0).value()), (Ids{{3, 1}}));
  // The limit stops inside the unstable part.
  EXPECT_EQ(ids(log.slice(Index{3}, Index{7}, 3 * size).value()), (Ids{{3, 1}, {4, 1}, {5, 2}}));
  EXPECT_EQ(ids(log.slice(Index{3}, Index{7}, 3 * size - 1).value()), (Ids{{3, 1}, {4, 1}}));
  // At least one entry from the unstable part alone.
  EXPECT_EQ(ids(log.slice(Index{5}, Index{7}, 0).value()), (Ids{{5, 2}}));
  EXPECT_EQ(log.slice(Index{6}, Index{7}, kNoLimit).value()[0].data, "bbbb");
}

TEST(RaftLogTest, SliceStopsWhereStorageStopped) {
  // Storage stops before a big entry; a small unstable entry would still fit the
  // budget but must not follow, or the slice would skip the big one.
  MemoryStorage storage;
  storage.append({make_entry(1, 1), make_entry(2, 1, std::string(100, 'x'))});
  RaftLog log(&storage);
  log.append({make_entry(3, 1)});
  const uint64_t small = Entry::kHeaderBytes;
  EXPECT_EQ(ids(log.slice(Index{1}, Index{4}, 2 * small).value()), (Ids{{1, 1}}));
  EXPECT_EQ(ids(log.slice(Index{1}, Index{4}, kNoLimit).value()), (Ids{{1, 1}, {2, 1}, {3, 1}}));
}

TEST(RaftLogDeathTest, SliceBoundsAssert) {
  StableLog s;
  EXPECT_DEATH((void)s.log->slice(Index{1}, Index{5}, kNoLimit), "past last index");
  EXPECT_DEATH((void)s.log->slice(Index{3}, Index{2}, kNoLimit), "> hi");
}

// --- elections and backtracking -----------------------------------------------

TEST(RaftLogTest, IsUpToDate) {
  StableLog s;  // last entry (3, term 3)
  EXPECT_TRUE(s.log->is_up_to_date(Index{3}, Term{3}));
  EXPECT_TRUE(s.log->is_up_to_date(Index{4}, Term{3}));
  EXPECT_FALSE(s.log->is_up_to_date(Index{2}, Term{3}));
  EXPECT_TRUE(s.log->is_up_to_date(Index{1}, Term{4}));   // higher term wins at any length
  EXPECT_FALSE(s.log->is_up_to_date(Index{9}, Term{2}));  // lower term loses at any length
  MemoryStorage empty;
  RaftLog fresh(&empty);
  EXPECT_TRUE(fresh.is_up_to_date(Index{0}, Term{0}));
}

TEST(RaftLogTest, FindConflictByTerm) {
  MemoryStorage storage;
  storage.append(run(1, {1, 1, 2, 2, 3, 3}));
  RaftLog log(&storage);
  log.append(run(7, {5}));
  using P = std::pair<Index, Term>;
  EXPECT_EQ(log.find_conflict_by_term(Index{7}, Term{5}), (P{Index{7}, Term{5}}));
  EXPECT_EQ(log.find_conflict_by_term(Index{7}, Term{4}), (P{Index{6}, Term{3}}));
  EXPECT_EQ(log.find_conflict_by_term(Index{6}, Term{2}), (P{Index{4}, Term{2}}));
  EXPECT_EQ(log.find_conflict_by_term(Index{5}, Term{1}), (P{Index{2}, Term{1}}));
  EXPECT_EQ(log.find_conflict_by_term(Index{7}, Term{0}), (P{Index{0}, Term{0}}));
  // Past the log: unknown.
  EXPECT_EQ(log.find_conflict_by_term(Index{10}, Term{5}), (P{Index{10}, Term{0}}));
}

TEST(RaftLogTest, FindConflictByTermStopsAtCompaction) {
  MemoryStorage storage;
  ASSERT_TRUE(storage.apply_snapshot(*make_snapshot(3, 2)).is_ok());
  storage.append(run(4, {2, 3, 3}));
  RaftLog log(&storage);
  using P = std::pair<Index, Term>;
  EXPECT_EQ(log.find_conflict_by_term(Index{6}, Term{2}), (P{Index{4}, Term{2}}));
  // The dummy at 3 still answers.
  EXPECT_EQ(log.find_conflict_by_term(Index{3}, Term{2}), (P{Index{3}, Term{2}}));
  // Walking below the dummy reaches compacted entries: stop there, term unknown.
  EXPECT_EQ(log.find_conflict_by_term(Index{6}, Term{1}), (P{Index{2}, Term{0}}));
  // Starting in the compacted range.
  EXPECT_EQ(log.find_conflict_by_term(Index{1}, Term{5}), (P{Index{1}, Term{0}}));
}

TEST(RaftLogTest, TermOrZeroAndMatchTerm) {
  StableLog s;
  EXPECT_EQ(s.log->term_or_zero(Index{2}), Term{2});
  EXPECT_EQ(s.log->term_or_zero(Index{9}), Term{0});
  EXPECT_TRUE(s.log->match_term(Index{0}, Term{0}));
  EXPECT_TRUE(s.log->match_term(Index{3}, Term{3}));
  EXPECT_FALSE(s.log->match_term(Index{3}, Term{2}));
  EXPECT_FALSE(s.log->match_term(Index{4}, Term{0}));
}

}  // namespace
}  // namespace meridian::raft
