// GroupLogStorage against raft::MemoryStorage, the reference LogStorage: the same
// random operations on both, and every read compared, over many seeds; with the
// snapshots in a real SnapshotStore, segments small enough to rotate, garbage
// collection and reopening on the way.
#include <gtest/gtest.h>

#include <memory>
#include <random>
#include <string>
#include <vector>

#include "raft/memory_storage.h"
#include "storage/faulty_file_system.h"
#include "storage/log_engine.h"
#include "storage/log_model_testing.h"
#include "storage/snapshot_store.h"

namespace meridian::storage {
namespace {

using raft::ConfState;
using raft::Entry;
using raft::HardState;
using raft::Index;
using raft::MemoryStorage;
using raft::NodeId;
using raft::SnapshotMeta;
using raft::Term;

class Differential {
 public:
  explicit Differential(uint64_t seed) : rng_(seed), fs_(seed) {
    auto store = SnapshotStore::open(&fs_, "snapshots");
    EXPECT_TRUE(store.is_ok()) << store.status();
    snapshots_ = std::move(store).value();
    reopen();
  }

  void step() {
    const uint64_t dice = rng_() % 100;
    if (dice < 45) {
      append();
    } else if (dice < 60) {
      const HardState hs{Term{rng_() % 10}, NodeId{rng_() % 4}, Index{rng_() % 50}};
      mem_.set_hard_state(hs);
      WriteBatch b;
      b.set_hard_state(group_, hs);
      write(b);
    } else if (dice < 75) {
      compact();
    } else if (dice < 85) {
      snapshot_of_own_state();
    } else if (dice < 92) {
      snapshot_from_leader();
    } else if (dice < 96) {
      ASSERT_TRUE(engine_->collect_garbage().is_ok());
    } else {
      reopen();
    }
  }

  void check() {
    GroupLogStorage view(engine_.get(), snapshots_.get(), group_);
    ASSERT_EQ(view.first_index(), mem_.first_index());
    ASSERT_EQ(view.last_index(), mem_.last_index());
    ASSERT_EQ(view.hard_state(), mem_.hard_state());
    ASSERT_EQ(view.conf_state(), mem_.conf_state());
    const Index first = mem_.first_index();
    const Index last = mem_.last_index();
    const Index from = first > Index{2} ? first - 2 : Index{0};
    for (Index i = from; i <= last + 1; ++i) {
      Result<Term> a = view.term(i);
      Result<Term> b = mem_.term(i);
      ASSERT_EQ(a.is_ok(), b.is_ok()) << "term " << i;
      if (a.is_ok()) {
        ASSERT_EQ(a.value(), b.value()) << "term " << i;
      } else {
        ASSERT_EQ(a.status().code(), b.status().code()) << "term " << i;
      }
    }
    for (int k = 0; k < 4; k++) {
      const Index lo = first - 1 + rng_() % (last - first + 3);
      const Index hi = lo + rng_() % (last + 2 - lo);
      const uint64_t max_bytes = rng_() % 3 == 0 ? UINT64_MAX : rng_() % 2000;
      Result<std::vector<Entry>> a = view.entries(lo, hi, max_bytes);
      Result<std::vector<Entry>> b = mem_.entries(lo, hi, max_bytes);
      ASSERT_EQ(a.is_ok(), b.is_ok()) << "entries [" << lo << ", " << hi << ")";
      if (a.is_ok()) {
        ASSERT_EQ(a.value(), b.value()) << "entries [" << lo << ", " << hi << ")";
      } else {
        ASSERT_EQ(a.status().code(), b.status().code());
      }
    }
    Result<raft::Snapshot> a = view.snapshot();
    Result<raft::Snapshot> b = mem_.snapshot();
    ASSERT_TRUE(a.is_ok()) << a.status();
    ASSERT_EQ(a.value(), b.value());
  }

 private:
  void write(const WriteBatch& b) {
    ASSERT_TRUE(engine_->write(b).is_ok());
    ASSERT_TRUE(engine_->sync().is_ok());
  }

  void reopen() {
    engine_.reset();
    auto opened =
        LogEngine::open(&fs_, LogEngineOptions{.dir = "journal", .segment_bytes_max = 4096});
    ASSERT_TRUE(opened.is_ok()) << opened.status();
    engine_ = std::move(opened).value();
  }

  void append() {
    const Index first = mem_.first_index();
    const Index last = mem_.last_index();
    // Mostly at the end; sometimes over a suffix, sometimes starting below the
    // first index (entries the snapshot covers are skipped by both).
    Index start = last + 1;
    const uint64_t kind = rng_() % 6;
    if (kind == 0 && last >= first) start = first + rng_() % (last - first + 1);
    if (kind == 1 && first > Index{2}) start = first - 1 - rng_() % (first.value() - 2);
    term_ += rng_() % 4 == 0 ? 1 : 0;
    std::vector<Entry> es;
    const size_t n = 1 + rng_() % 8;
    for (size_t k = 0; k < n; k++) {
      es.push_back(Entry{Term{term_}, start + k,
                         rng_() % 7 == 0 ? raft::EntryType::kConfChange : raft::EntryType::kNormal,
                         testing::make_data(rng_(), rng_() % 400)});
    }
    if (es.back().index < first) return;  // nothing left after skipping
    mem_.append(es);
    WriteBatch b;
    b.append(group_, std::move(es));
    write(b);
  }

  void compact() {
    const Index first = mem_.first_index();
    const Index last = mem_.last_index();
    if (last < first) return;
    // The engine drops entries below c; MemoryStorage below c - 1, keeping c - 1
    // as its dummy: both then start at c.
    const Index c = first + 1 + rng_() % (last - first + 1);
    ASSERT_TRUE(mem_.compact(c - 1).is_ok());
    WriteBatch b;
    b.compact(group_, c);
    write(b);
  }

  ConfState random_conf() {
    ConfState cs;
    cs.voters = {NodeId{1}, NodeId{2 + rng_() % 3}};
    if (rng_() % 2 == 0) cs.learners = {NodeId{9}};
    return cs;
  }

  void store_snapshot(const SnapshotMeta& meta, const std::string& data) {
    auto w = snapshots_->begin(group_, meta);
    ASSERT_TRUE(w.is_ok()) << w.status();
    ASSERT_TRUE(w.value()->append(data).is_ok());
    ASSERT_TRUE(w.value()->finish().is_ok());
  }

  // A replica's snapshot of its applied state: the log holds its last entry.
  void snapshot_of_own_state() {
    const Index first = mem_.first_index();
    const Index last = mem_.last_index();
    const Index snap = mem_.snapshot().value().meta.index;
    const Index lo = std::max(snap + 1, first - 1);
    if (last < lo || lo == Index{0}) return;
    SnapshotMeta meta;
    meta.index = lo + rng_() % (last - lo + 1);
    meta.term = mem_.term(meta.index).value();
    meta.conf_state = random_conf();
    const std::string data = testing::make_data(rng_(), rng_() % 300);
    ASSERT_TRUE(mem_.create_snapshot(meta.index, meta.conf_state, data).is_ok());
    store_snapshot(meta, data);
    WriteBatch b;
    b.install_snapshot(group_, meta);
    write(b);
  }

  // A snapshot from a leader that does not match this log: it replaces it.
  void snapshot_from_leader() {
    const Index last = mem_.last_index();
    const Index snap = mem_.snapshot().value().meta.index;
    SnapshotMeta meta;
    meta.index = std::max(last, snap) + 1 + rng_() % 10;
    term_ += 1;
    meta.term = Term{term_};
    meta.conf_state = random_conf();
    const std::string data = testing::make_data(rng_(), rng_() % 300);
    raft::Snapshot s{meta, data};
    ASSERT_TRUE(mem_.apply_snapshot(s).is_ok());
    store_snapshot(meta, data);
    WriteBatch b;
    b.install_snapshot(group_, meta);
    write(b);
  }

  std::mt19937_64 rng_;
  FaultyFileSystem fs_;
  std::unique_ptr<SnapshotStore> snapshots_;
  std::unique_ptr<LogEngine> engine_;
  MemoryStorage mem_;
  const GroupId group_{3};
  uint64_t term_ = 1;
};

TEST(GroupLogStorageTest, MatchesMemoryStorageOnRandomOperations) {
  for (uint64_t seed = 1; seed <= 40; seed++) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    Differential d(seed);
    for (int k = 0; k < 250; k++) {
      d.step();
      d.check();
      if (::testing::Test::HasFatalFailure()) return;
    }
  }
}

TEST(GroupLogStorageTest, SnapshotComesFromTheStoreAtTheJournalsIndex) {
  FaultyFileSystem fs(1);
  auto store = SnapshotStore::open(&fs, "snapshots");
  ASSERT_TRUE(store.is_ok()) << store.status();
  auto engine = LogEngine::open(&fs, LogEngineOptions{.dir = "journal"});
  ASSERT_TRUE(engine.is_ok()) << engine.status();
  const GroupId g{1};
  GroupLogStorage view(engine.value().get(), store.value().get(), g);
  EXPECT_TRUE(view.snapshot().value().empty());

  SnapshotMeta meta;
  meta.index = Index{10};
  meta.term = Term{2};
  meta.conf_state.voters = {NodeId{1}};
  auto w = store.value()->begin(g, meta);
  ASSERT_TRUE(w.is_ok());
  ASSERT_TRUE(w.value()->append("state").is_ok());
  ASSERT_TRUE(w.value()->finish().is_ok());
  // The store has it, but the journal does not name it yet.
  EXPECT_TRUE(view.snapshot().value().empty());
  WriteBatch b;
  b.install_snapshot(g, meta);
  ASSERT_TRUE(engine.value()->write(b).is_ok());
  Result<raft::Snapshot> s = view.snapshot();
  ASSERT_TRUE(s.is_ok()) << s.status();
  EXPECT_EQ(s.value().meta, meta);
  EXPECT_EQ(s.value().data, "state");
  EXPECT_EQ(view.conf_state(), meta.conf_state);
  EXPECT_EQ(view.first_index(), Index{11});
  EXPECT_EQ(view.term(Index{10}).value(), Term{2});

  // A journal naming a snapshot the store lacks reports it, never a wrong one.
  WriteBatch later;
  meta.index = Index{20};
  later.install_snapshot(g, meta);
  ASSERT_TRUE(engine.value()->write(later).is_ok());
  EXPECT_FALSE(view.snapshot().is_ok());
  // Without a store a snapshot cannot be served.
  GroupLogStorage bare(engine.value().get(), nullptr, g);
  EXPECT_EQ(bare.snapshot().status().code(), Code::kUnavailable);
}

}  // namespace
}  // namespace meridian::storage
