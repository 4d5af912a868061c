#include "raft/memory_storage.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <string>
#include <utility>
#include <vector>

namespace meridian::raft {
namespace {

constexpr uint64_t kNoLimit = std::numeric_limits<uint64_t>::max();

// The name of a Result's error code, or "ok"; unlike status(), safe on a success,
// and readable when a check fails.
template <class T>
std::string code_of(const Result<T>& r) {
  return base::code_name(r.is_ok() ? Code::kOk : r.status().code());
}

std::string code_of(const Status& s) { return base::code_name(s.code()); }

std::string name(Code c) { return base::code_name(c); }

Entry make_entry(uint64_t index, uint64_t term, std::string data = "") {
  return Entry{.term = Term{term}, .index = Index{index}, .data = std::move(data)};
}

// (index, term) pairs: what most checks compare, printable by GoogleTest as is.
std::vector<std::pair<uint64_t, uint64_t>> ids(const std::vector<Entry>& entries) {
  std::vector<std::pair<uint64_t, uint64_t>> out;
  out.reserve(entries.size());
  for (const Entry& e : entries) out.emplace_back(e.index.value(), e.term.value());
  return out;
}

Snapshot make_snapshot(uint64_t index, uint64_t term, std::string data) {
  Snapshot snap;
  snap.meta.index = Index{index};
  snap.meta.term = Term{term};
  snap.data = std::move(data);
  return snap;
}

using Ids = std::vector<std::pair<uint64_t, uint64_t>>;

// Entries 1..n with the given terms.
std::vector<Entry> entries_with_terms(const std::vector<uint64_t>& terms) {
  std::vector<Entry> out;
  for (size_t k = 0; k < terms.size(); ++k) out.push_back(make_entry(k + 1, terms[k]));
  return out;
}

TEST(MemoryStorageTest, EmptyStorage) {
  MemoryStorage s;
  EXPECT_EQ(s.first_index(), Index{1});
  EXPECT_EQ(s.last_index(), Index{0});
  ASSERT_TRUE(s.term(Index{0}).is_ok());
  EXPECT_EQ(s.term(Index{0}).value(), Term{0});
  EXPECT_EQ(code_of(s.term(Index{1})), name(Code::kUnavailable));
  Result<std::vector<Entry>> r = s.entries(Index{1}, Index{1}, kNoLimit);
  ASSERT_TRUE(r.is_ok());
  EXPECT_TRUE(r.value().empty());
  EXPECT_TRUE(s.snapshot().value().empty());
  EXPECT_TRUE(s.hard_state().empty());
  EXPECT_TRUE(s.all_entries().empty());
}

TEST(MemoryStorageTest, HardStateRoundTrip) {
  MemoryStorage s;
  HardState hs{.term = Term{3}, .vote = NodeId{2}, .commit = Index{0}};
  s.set_hard_state(hs);
  EXPECT_EQ(s.hard_state(), hs);
}

TEST(MemoryStorageTest, AppendAndRead) {
  MemoryStorage s;
  s.append(entries_with_terms({1, 1, 2}));
  EXPECT_EQ(s.first_index(), Index{1});
  EXPECT_EQ(s.last_index(), Index{3});
  EXPECT_EQ(s.term(Index{3}).value(), Term{2});
  EXPECT_EQ(code_of(s.term(Index{4})), name(Code::kUnavailable));
  EXPECT_EQ(ids(s.entries(Index{2}, Index{4}, kNoLimit).value()), (Ids{{2, 1}, {3, 2}}));
  s.append({});  // no-op
  EXPECT_EQ(s.last_index(), Index{3});
}

TEST(MemoryStorageTest, AppendOverwritesSuffix) {
  MemoryStorage s;
  s.append(entries_with_terms({1, 1, 2, 2, 2}));
  // Replace from 4 on with entries of a newer term.
  s.append({make_entry(4, 3, "x"), make_entry(5, 3, "y"), make_entry(6, 3)});
  EXPECT_EQ(ids(s.all_entries()), (Ids{{1, 1}, {2, 1}, {3, 2}, {4, 3}, {5, 3}, {6, 3}}));
  EXPECT_EQ(s.all_entries()[3].data, "x");
  // A shorter overwrite drops everything after it too.
  s.append({make_entry(3, 4)});
  EXPECT_EQ(ids(s.all_entries()), (Ids{{1, 1}, {2, 1}, {3, 4}}));
  EXPECT_EQ(s.last_index(), Index{3});
  EXPECT_EQ(code_of(s.term(Index{4})), name(Code::kUnavailable));
  // Appending directly after the last entry extends.
  s.append({make_entry(4, 4)});
  EXPECT_EQ(s.last_index(), Index{4});
}

TEST(MemoryStorageTest, AppendSkipsEntriesCoveredBySnapshot) {
  MemoryStorage s;
  s.append(entries_with_terms({1, 1, 2, 2, 2}));
  ASSERT_TRUE(s.compact(Index{3}).is_ok());
  // Entries 2 and 3 are at or below the dummy: ignored; 4.. replace the suffix.
  s.append(
      {make_entry(2, 9), make_entry(3, 9), make_entry(4, 3), make_entry(5, 3), make_entry(6, 3)});
  EXPECT_EQ(s.term(Index{3}).value(), Term{2});
  EXPECT_EQ(ids(s.all_entries()), (Ids{{4, 3}, {5, 3}, {6, 3}}));
  // Entirely covered: nothing changes.
  s.append({make_entry(1, 9), make_entry(2, 9)});
  EXPECT_EQ(ids(s.all_entries()), (Ids{{4, 3}, {5, 3}, {6, 3}}));
}

TEST(MemoryStorageDeathTest, AppendWithGapAsserts) {
  MemoryStorage s;
  s.append(entries_with_terms({1, 1, 2}));
  EXPECT_DEATH(s.append({make_entry(5, 2)}), "leaves a gap");
}

TEST(MemoryStorageDeathTest, AppendNonContiguousAsserts) {
  MemoryStorage s;
  EXPECT_DEATH(s.append({make_entry(1, 1), make_entry(3, 1)}), "does not follow");
}

TEST(MemoryStorageTest, EntriesRespectMaxBytes) {
  MemoryStorage s;
  // Each entry counts 24 header bytes + 6 payload = 30 bytes.
  std::vector<Entry> ents;
  for (uint64_t i = 1; i <= 5; ++i) ents.push_back(make_entry(i, 1, "abcdef"));
  s.append(ents);
  const uint64_t size = ents[0].size_bytes();
  ASSERT_EQ(size, 30u);

  auto count = [&](uint64_t max_bytes) {
    return s.entries(Index{1}, Index{6}, max_bytes).value().size();
  };
  EXPECT_EQ(count(kNoLimit), 5u);
  EXPECT_EQ(count(0), 1u);  // at least one entry, even over the limit
  EXPECT_EQ(count(size - 1), 1u);
  EXPECT_EQ(count(size), 1u);
  EXPECT_EQ(count(2 * size - 1), 1u);
  EXPECT_EQ(count(2 * size), 2u);  // exactly at the limit is allowed
  EXPECT_EQ(count(3 * size + 1), 3u);
  EXPECT_EQ(count(5 * size), 5u);

  // An oversized first entry is returned alone; nothing follows it.
  MemoryStorage big;
  big.append({make_entry(1, 1, std::string(100, 'a')), make_entry(2, 1)});
  EXPECT_EQ(big.entries(Index{1}, Index{3}, 50).value().size(), 1u);
  EXPECT_EQ(big.entries(Index{2}, Index{3}, 0).value().size(), 1u);
}

TEST(MemoryStorageTest, EntriesBelowFirstIndexAreCompacted) {
  MemoryStorage s;
  s.append(entries_with_terms({1, 1, 2, 2}));
  ASSERT_TRUE(s.compact(Index{2}).is_ok());
  EXPECT_EQ(code_of(s.entries(Index{2}, Index{4}, kNoLimit)), name(Code::kCompacted));
  EXPECT_EQ(code_of(s.entries(Index{1}, Index{4}, kNoLimit)), name(Code::kCompacted));
  EXPECT_EQ(ids(s.entries(Index{3}, Index{5}, kNoLimit).value()), (Ids{{3, 2}, {4, 2}}));
}

TEST(MemoryStorageDeathTest, EntriesPastLastIndexAsserts) {
  MemoryStorage s;
  s.append(entries_with_terms({1, 1}));
  EXPECT_DEATH((void)s.entries(Index{1}, Index{4}, kNoLimit), "past last index");
}

TEST(MemoryStorageTest, Compact) {
  MemoryStorage s;
  s.append({make_entry(1, 1), make_entry(2, 1), make_entry(3, 2, "payload"), make_entry(4, 3),
            make_entry(5, 3)});
  ASSERT_TRUE(s.compact(Index{3}).is_ok());
  EXPECT_EQ(s.first_index(), Index{4});
  EXPECT_EQ(s.last_index(), Index{5});
  // The entry at the compact index stays answerable as the dummy.
  EXPECT_EQ(s.term(Index{3}).value(), Term{2});
  EXPECT_EQ(code_of(s.term(Index{2})), name(Code::kCompacted));
  EXPECT_EQ(code_of(s.term(Index{0})), name(Code::kCompacted));
  EXPECT_EQ(ids(s.all_entries()), (Ids{{4, 3}, {5, 3}}));

  EXPECT_EQ(code_of(s.compact(Index{3})), name(Code::kCompacted));
  EXPECT_EQ(code_of(s.compact(Index{1})), name(Code::kCompacted));

  // Compacting everything leaves an empty log after the dummy.
  ASSERT_TRUE(s.compact(Index{5}).is_ok());
  EXPECT_EQ(s.first_index(), Index{6});
  EXPECT_EQ(s.last_index(), Index{5});
  EXPECT_EQ(s.term(Index{5}).value(), Term{3});
  EXPECT_TRUE(s.all_entries().empty());
  s.append({make_entry(6, 3)});
  EXPECT_EQ(ids(s.all_entries()), (Ids{{6, 3}}));
}

TEST(MemoryStorageDeathTest, CompactPastLastIndexAsserts) {
  MemoryStorage s;
  s.append(entries_with_terms({1, 1}));
  EXPECT_DEATH((void)s.compact(Index{3}), "past last index");
}

TEST(MemoryStorageTest, CreateSnapshot) {
  MemoryStorage s;
  s.append(entries_with_terms({1, 1, 2, 2}));
  ConfState cs;
  cs.voters = {NodeId{1}, NodeId{2}, NodeId{3}};
  ASSERT_TRUE(s.create_snapshot(Index{3}, cs, "state@3").is_ok());
  Snapshot snap = s.snapshot().value();
  EXPECT_EQ(snap.meta.index, Index{3});
  EXPECT_EQ(snap.meta.term, Term{2});
  EXPECT_TRUE(snap.meta.conf_state == cs);
  EXPECT_EQ(snap.data, "state@3");
  EXPECT_TRUE(s.conf_state() == cs);
  // Creating a snapshot does not compact the log.
  EXPECT_EQ(s.first_index(), Index{1});

  // Not newer: refused, and the recorded snapshot is unchanged.
  EXPECT_EQ(code_of(s.create_snapshot(Index{3}, cs, "again")), name(Code::kFailedPrecondition));
  EXPECT_EQ(code_of(s.create_snapshot(Index{2}, cs, "older")), name(Code::kFailedPrecondition));
  EXPECT_EQ(s.snapshot().value().data, "state@3");

  ASSERT_TRUE(s.create_snapshot(Index{4}, cs, "state@4").is_ok());
  EXPECT_EQ(s.snapshot().value().meta.index, Index{4});
}

TEST(MemoryStorageTest, CreateSnapshotBelowCompactionFails) {
  MemoryStorage s;
  s.append(entries_with_terms({1, 1, 2, 2}));
  ASSERT_TRUE(s.compact(Index{3}).is_ok());  // compacted without a snapshot
  EXPECT_EQ(code_of(s.create_snapshot(Index{2}, ConfState{}, "")), name(Code::kCompacted));
  EXPECT_TRUE(s.create_snapshot(Index{3}, ConfState{}, "").is_ok());
  EXPECT_EQ(s.snapshot().value().meta.term, Term{2});
}

TEST(MemoryStorageDeathTest, CreateSnapshotPastLastIndexAsserts) {
  MemoryStorage s;
  s.append(entries_with_terms({1, 1}));
  EXPECT_DEATH((void)s.create_snapshot(Index{3}, ConfState{}, ""), "past last index");
}

TEST(MemoryStorageTest, ApplySnapshotReplacesEverything) {
  MemoryStorage s;
  s.append(entries_with_terms({1, 1, 2, 2, 2}));
  HardState hs{.term = Term{2}, .vote = NodeId{1}, .commit = Index{3}};
  s.set_hard_state(hs);
  Snapshot snap = make_snapshot(10, 4, "app");
  snap.meta.conf_state.voters = {NodeId{1}};
  ASSERT_TRUE(s.apply_snapshot(snap).is_ok());
  EXPECT_EQ(s.first_index(), Index{11});
  EXPECT_EQ(s.last_index(), Index{10});
  EXPECT_EQ(s.term(Index{10}).value(), Term{4});
  EXPECT_EQ(code_of(s.term(Index{5})), name(Code::kCompacted));
  EXPECT_TRUE(s.all_entries().empty());
  EXPECT_EQ(s.snapshot().value(), snap);
  EXPECT_TRUE(s.conf_state() == snap.meta.conf_state);
  EXPECT_EQ(s.hard_state(), hs);  // left to the host

  s.append({make_entry(11, 4), make_entry(12, 5)});
  EXPECT_EQ(ids(s.all_entries()), (Ids{{11, 4}, {12, 5}}));
}

TEST(MemoryStorageTest, ApplySnapshotRefusesOlderOrSame) {
  MemoryStorage s;
  Snapshot snap = make_snapshot(10, 4, "10");
  ASSERT_TRUE(s.apply_snapshot(snap).is_ok());
  s.append({make_entry(11, 4)});

  Snapshot older = make_snapshot(8, 3, "8");
  EXPECT_EQ(code_of(s.apply_snapshot(older)), name(Code::kFailedPrecondition));
  EXPECT_EQ(code_of(s.apply_snapshot(snap)), name(Code::kFailedPrecondition));
  // Nothing changed.
  EXPECT_EQ(s.snapshot().value().data, "10");
  EXPECT_EQ(s.last_index(), Index{11});

  Snapshot newer = make_snapshot(20, 5, "20");
  EXPECT_TRUE(s.apply_snapshot(newer).is_ok());
  EXPECT_EQ(s.first_index(), Index{21});
}

}  // namespace
}  // namespace meridian::raft
