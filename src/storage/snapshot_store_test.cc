// SnapshotStore on a FaultyFileSystem: round trips, crashes at every write,
// corruption of every byte, truncation at every length, full disks, failing
// syncs, renames and directory syncs (through ScriptedFileSystem below), and the
// index kept by list / remove_older_than / remove_group and rebuilt by open().
#include "storage/snapshot_store.h"

#include <gtest/gtest.h>

#include <stdlib.h>

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "storage/faulty_file_system.h"
#include "storage/posix_file_system.h"

namespace meridian::storage {
namespace {

using raft::ConfState;
using raft::Index;
using raft::NodeId;
using raft::Snapshot;
using raft::SnapshotMeta;
using raft::Term;

constexpr size_t kMiB = size_t{1} << 20;
const std::string kDir = "/snap";

// Forwards to another FileSystem, failing chosen calls: fail(op, n) makes the n-th
// call (1-based, from now) of that kind return kIoError without doing anything.
class ScriptedFileSystem final : public FileSystem {
 public:
  enum class Op : uint8_t { kOpen, kRename, kRemove, kCreateDir, kSyncDir, kCount };

  explicit ScriptedFileSystem(FileSystem* inner) : inner_(inner) {}

  void fail(Op op, uint64_t n) { countdown_[idx(op)] = n; }
  uint64_t calls(Op op) const { return calls_[idx(op)]; }
  const std::vector<std::string>& synced_dirs() const { return synced_dirs_; }

  Result<std::unique_ptr<File>> open(const std::string& path, OpenMode mode) override {
    if (Status s = hit(Op::kOpen); !s.is_ok()) return s;
    return inner_->open(path, mode);
  }
  Status rename(const std::string& from, const std::string& to) override {
    if (Status s = hit(Op::kRename); !s.is_ok()) return s;
    return inner_->rename(from, to);
  }
  Status remove(const std::string& path) override {
    if (Status s = hit(Op::kRemove); !s.is_ok()) return s;
    return inner_->remove(path);
  }
  Status create_dir(const std::string& path) override {
    if (Status s = hit(Op::kCreateDir); !s.is_ok()) return s;
    return inner_->create_dir(path);
  }
  Status sync_dir(const std::string& path) override {
    if (Status s = hit(Op::kSyncDir); !s.is_ok()) return s;
    synced_dirs_.push_back(path);
    return inner_->sync_dir(path);
  }
  Result<std::vector<std::string>> list_dir(const std::string& path) override {
    return inner_->list_dir(path);
  }
  bool exists(const std::string& path) override { return inner_->exists(path); }

 private:
  static size_t idx(Op op) { return static_cast<size_t>(op); }
  Status hit(Op op) {
    calls_[idx(op)]++;
    uint64_t& c = countdown_[idx(op)];
    if (c == 0) return Status::ok();
    if (--c > 0) return Status::ok();
    return Status(Code::kIoError, "injected failure");
  }

  FileSystem* inner_;
  uint64_t countdown_[static_cast<size_t>(Op::kCount)] = {};
  uint64_t calls_[static_cast<size_t>(Op::kCount)] = {};
  std::vector<std::string> synced_dirs_;
};

using Op = ScriptedFileSystem::Op;

SnapshotMeta make_meta(uint64_t index, uint64_t term) {
  SnapshotMeta m;
  m.index = Index{index};
  m.term = Term{term};
  m.conf_state.voters = {NodeId{1}, NodeId{2}, NodeId{3}};
  return m;
}

// A joint configuration with every list in use (Raft thesis §4.3).
SnapshotMeta joint_meta(uint64_t index, uint64_t term) {
  SnapshotMeta m;
  m.index = Index{index};
  m.term = Term{term};
  m.conf_state.voters = {NodeId{1}, NodeId{2}, NodeId{4}};
  m.conf_state.voters_outgoing = {NodeId{1}, NodeId{2}, NodeId{3}};
  m.conf_state.learners = {NodeId{5}, NodeId{UINT64_MAX}};
  m.conf_state.learners_next = {NodeId{3}};
  m.conf_state.auto_leave = true;
  return m;
}

// Deterministic, position-dependent bytes, so a misplaced chunk changes the data.
std::string pattern(size_t n, uint64_t seed) {
  std::string s(n, '\0');
  uint64_t x = seed * 0x9e3779b97f4a7c15ull + 1;
  for (size_t i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    s[i] = static_cast<char>(x);
  }
  return s;
}

std::string snap_name(uint64_t index, uint64_t term) {
  std::string i = std::to_string(index);
  std::string t = std::to_string(term);
  return std::string(20 - i.size(), '0') + i + "-" + std::string(20 - t.size(), '0') + t + ".snap";
}
std::string group_dir(uint64_t g) { return join_path(kDir, std::to_string(g)); }
std::string snap_path(uint64_t g, uint64_t index, uint64_t term) {
  return join_path(group_dir(g), snap_name(index, term));
}

std::string read_file(FileSystem& fs, const std::string& path) {
  auto f = fs.open(path, OpenMode::kRead);
  EXPECT_TRUE(f.is_ok()) << path;
  if (!f.is_ok()) return "";
  auto data = f.value()->read_at(0, f.value()->size());
  EXPECT_TRUE(data.is_ok());
  return data.is_ok() ? data.value() : "";
}

// Replaces a file's content (durably), as a disk or a stray program might.
void write_file(FileSystem& fs, const std::string& path, std::string_view data) {
  if (fs.exists(path)) {
    ASSERT_TRUE(fs.remove(path).is_ok());
  }
  auto f = fs.open(path, OpenMode::kCreate);
  ASSERT_TRUE(f.is_ok()) << f.status();
  ASSERT_TRUE(f.value()->append(data).is_ok());
  ASSERT_TRUE(f.value()->sync().is_ok());
  size_t slash = path.rfind('/');
  ASSERT_TRUE(fs.sync_dir(path.substr(0, slash)).is_ok());
}

std::unique_ptr<SnapshotStore> open_store(FileSystem& fs) {
  auto s = SnapshotStore::open(&fs, kDir);
  EXPECT_TRUE(s.is_ok()) << s.status();
  return s.is_ok() ? std::move(s).value() : nullptr;
}

// Writes a snapshot with the given appends; returns the first error.
Status write_snapshot(SnapshotStore& store, GroupId g, const SnapshotMeta& meta,
                      const std::vector<std::string>& chunks) {
  auto w = store.begin(g, meta);
  if (!w.is_ok()) return w.status();
  for (const std::string& c : chunks) {
    if (Status s = w.value()->append(c); !s.is_ok()) return s;
  }
  return w.value()->finish();
}

std::vector<uint64_t> listed(const SnapshotStore& store, GroupId g) {
  std::vector<uint64_t> out;
  for (Index i : store.list(g)) out.push_back(i.value());
  return out;
}

std::vector<std::string> dir_entries(FileSystem& fs, const std::string& dir) {
  auto names = fs.list_dir(dir);
  return names.is_ok() ? names.value() : std::vector<std::string>{};
}

bool has_tmp_file(FileSystem& fs, uint64_t g) {
  for (const std::string& n : dir_entries(fs, group_dir(g))) {
    if (n.ends_with(".tmp")) return true;
  }
  return false;
}

class SnapshotStoreTest : public ::testing::Test {
 protected:
  FaultyFileSystem fs_{42};
};

TEST_F(SnapshotStoreTest, RoundTripOfManyAppendSizes) {
  auto store = open_store(fs_);
  ASSERT_NE(store, nullptr);
  // Sizes around the 1 MiB chunk bound, tiny ones that get gathered, and empty ones.
  std::vector<size_t> sizes = {0, 1, 7, 0, 4096, kMiB - 1, kMiB, kMiB + 1, 3, 3 * kMiB + 5, 0, 100};
  std::vector<std::string> chunks;
  std::string all;
  for (size_t i = 0; i < sizes.size(); i++) {
    chunks.push_back(pattern(sizes[i], i));
    all += chunks.back();
  }
  ASSERT_TRUE(write_snapshot(*store, GroupId{1}, make_meta(100, 3), chunks).is_ok());

  auto snap = store->read_all(GroupId{1}, Index{100});
  ASSERT_TRUE(snap.is_ok()) << snap.status();
  EXPECT_EQ(snap.value().meta, make_meta(100, 3));
  EXPECT_EQ(snap.value().data.size(), all.size());
  EXPECT_TRUE(snap.value().data == all);

  // Streamed, the data comes in records of at most 1 MiB, every one full but the last.
  auto reader = store->read(GroupId{1}, Index{100});
  ASSERT_TRUE(reader.is_ok()) << reader.status();
  std::string streamed;
  size_t records = 0;
  for (;;) {
    auto c = reader.value()->next_chunk();
    ASSERT_TRUE(c.is_ok()) << c.status();
    if (!c.value()) break;
    ASSERT_FALSE(c.value()->empty());
    ASSERT_LE(c.value()->size(), kMiB);
    streamed += *c.value();
    records++;
    if (streamed.size() < all.size()) {
      EXPECT_EQ(c.value()->size(), kMiB);
    }
  }
  EXPECT_EQ(records, (all.size() + kMiB - 1) / kMiB);
  EXPECT_TRUE(streamed == all);
  // After the end, the reader keeps saying so.
  auto again = reader.value()->next_chunk();
  ASSERT_TRUE(again.is_ok());
  EXPECT_FALSE(again.value().has_value());
}

TEST_F(SnapshotStoreTest, EmptyDataRoundTrips) {
  auto store = open_store(fs_);
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(write_snapshot(*store, GroupId{2}, make_meta(5, 1), {}).is_ok());
  ASSERT_TRUE(write_snapshot(*store, GroupId{2}, make_meta(6, 1), {"", ""}).is_ok());
  for (uint64_t i : {5, 6}) {
    auto reader = store->read(GroupId{2}, Index{i});
    ASSERT_TRUE(reader.is_ok()) << reader.status();
    EXPECT_EQ(reader.value()->meta(), make_meta(i, 1));
    auto c = reader.value()->next_chunk();
    ASSERT_TRUE(c.is_ok()) << c.status();
    EXPECT_FALSE(c.value().has_value());
    auto snap = store->read_all(GroupId{2}, Index{i});
    ASSERT_TRUE(snap.is_ok());
    EXPECT_TRUE(snap.value().data.empty());
  }
}

TEST_F(SnapshotStoreTest, JointConfStateAndExtremeIdsRoundTrip) {
  auto store = open_store(fs_);
  ASSERT_NE(store, nullptr);
  SnapshotMeta meta = joint_meta(UINT64_MAX, UINT64_MAX - 1);
  GroupId g{UINT64_MAX};
  ASSERT_TRUE(write_snapshot(*store, g, meta, {"state"}).is_ok());
  EXPECT_TRUE(fs_.exists(join_path(join_path(kDir, std::to_string(UINT64_MAX)),
                                   snap_name(UINT64_MAX, UINT64_MAX - 1))));
  auto snap = store->read_all(g, Index{UINT64_MAX});
  ASSERT_TRUE(snap.is_ok()) << snap.status();
  EXPECT_EQ(snap.value().meta, meta);
  EXPECT_TRUE(snap.value().meta.conf_state.joint());
  EXPECT_EQ(snap.value().data, "state");

  // And again from a reopened store.
  store.reset();
  store = open_store(fs_);
  ASSERT_NE(store, nullptr);
  auto again = store->read_all(g, Index{UINT64_MAX});
  ASSERT_TRUE(again.is_ok()) << again.status();
  EXPECT_EQ(again.value(), snap.value());
}

TEST_F(SnapshotStoreTest, BeginRejectsIndexZeroASecondWriterOfOneIndexAndASecondTerm) {
  auto store = open_store(fs_);
  ASSERT_NE(store, nullptr);
  auto zero = store->begin(GroupId{1}, make_meta(0, 0));
  ASSERT_FALSE(zero.is_ok());
  EXPECT_EQ(zero.status().code(), Code::kInvalidArgument);

  auto w = store->begin(GroupId{1}, make_meta(10, 2));
  ASSERT_TRUE(w.is_ok());
  auto same = store->begin(GroupId{1}, make_meta(10, 2));
  ASSERT_FALSE(same.is_ok());
  EXPECT_EQ(same.status().code(), Code::kFailedPrecondition);
  // Another index of the same group (a snapshot received while one is taken),
  // and another group, are independent.
  auto next = store->begin(GroupId{1}, make_meta(11, 2));
  ASSERT_TRUE(next.is_ok()) << next.status();
  ASSERT_TRUE(next.value()->append("eleven").is_ok());
  auto other = store->begin(GroupId{2}, make_meta(11, 2));
  ASSERT_TRUE(other.is_ok());
  ASSERT_TRUE(other.value()->finish().is_ok());
  ASSERT_TRUE(w.value()->finish().is_ok());
  ASSERT_TRUE(next.value()->finish().is_ok());
  EXPECT_EQ(listed(*store, GroupId{1}), (std::vector<uint64_t>{10, 11}));

  // A snapshot at the same index but another term contradicts the first.
  auto conflict = store->begin(GroupId{1}, make_meta(10, 3));
  ASSERT_FALSE(conflict.is_ok());
  EXPECT_EQ(conflict.status().code(), Code::kFailedPrecondition);
  EXPECT_EQ(listed(*store, GroupId{1}), (std::vector<uint64_t>{10, 11}));
}

TEST_F(SnapshotStoreTest, ASealedSnapshotIsInvisibleUntilPublishedAndGoneIfAbandoned) {
  auto store = open_store(fs_);
  ASSERT_NE(store, nullptr);
  auto kept = store->begin(GroupId{1}, make_meta(10, 2));
  ASSERT_TRUE(kept.is_ok());
  ASSERT_TRUE(kept.value()->append("kept").is_ok());
  ASSERT_TRUE(kept.value()->seal().is_ok());
  EXPECT_TRUE(store->list(GroupId{1}).empty());
  EXPECT_TRUE(has_tmp_file(fs_, 1));
  ASSERT_TRUE(kept.value()->publish().is_ok());
  EXPECT_EQ(listed(*store, GroupId{1}), std::vector<uint64_t>{10});
  EXPECT_FALSE(has_tmp_file(fs_, 1));

  {
    auto dropped = store->begin(GroupId{1}, make_meta(20, 2));
    ASSERT_TRUE(dropped.is_ok());
    ASSERT_TRUE(dropped.value()->append("dropped").is_ok());
    ASSERT_TRUE(dropped.value()->seal().is_ok());
  }  // destroyed sealed, never published
  EXPECT_FALSE(has_tmp_file(fs_, 1));
  EXPECT_EQ(listed(*store, GroupId{1}), std::vector<uint64_t>{10});

  // A crash before publishing leaves no snapshot (open() removes the file if
  // its directory entry survived).
  auto sealed = store->begin(GroupId{1}, make_meta(30, 2));
  ASSERT_TRUE(sealed.is_ok());
  ASSERT_TRUE(sealed.value()->append("sealed").is_ok());
  ASSERT_TRUE(sealed.value()->seal().is_ok());
  fs_.crash(1.0);
  sealed.value().reset();  // the machine is down: its cleanup fails
  store.reset();
  fs_.restart();
  store = open_store(fs_);
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(listed(*store, GroupId{1}), std::vector<uint64_t>{10});
  EXPECT_FALSE(has_tmp_file(fs_, 1));
}

TEST_F(SnapshotStoreTest, AReaderIsAByteSourceOfTheData) {
  auto store = open_store(fs_);
  ASSERT_NE(store, nullptr);
  const std::string data = pattern(2 * kMiB + 3, 7);
  ASSERT_TRUE(write_snapshot(*store, GroupId{1}, make_meta(10, 2), {data}).is_ok());
  auto reader = store->read(GroupId{1}, Index{10});
  ASSERT_TRUE(reader.is_ok());
  std::string got;
  for (;;) {
    auto piece = reader.value()->read(300000);
    ASSERT_TRUE(piece.is_ok()) << piece.status();
    if (piece.value().empty()) break;
    ASSERT_LE(piece.value().size(), 300000u);
    got += piece.value();
  }
  EXPECT_TRUE(got == data);
  EXPECT_EQ(reader.value()->read(1).value(), "");
}

TEST_F(SnapshotStoreTest, SameIndexTwiceReplacesTheFirst) {
  auto store = open_store(fs_);
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(write_snapshot(*store, GroupId{1}, make_meta(10, 2), {"first"}).is_ok());
  ASSERT_TRUE(write_snapshot(*store, GroupId{1}, make_meta(10, 2), {"second"}).is_ok());
  EXPECT_EQ(listed(*store, GroupId{1}), std::vector<uint64_t>{10});
  auto snap = store->read_all(GroupId{1}, Index{10});
  ASSERT_TRUE(snap.is_ok());
  EXPECT_EQ(snap.value().data, "second");
  fs_.crash(0.0);
  fs_.restart();
  store = open_store(fs_);
  ASSERT_NE(store, nullptr);
  snap = store->read_all(GroupId{1}, Index{10});
  ASSERT_TRUE(snap.is_ok()) << snap.status();
  EXPECT_EQ(snap.value().data, "second");
}

TEST_F(SnapshotStoreTest, AbortAndDestructionLeaveNothing) {
  auto store = open_store(fs_);
  ASSERT_NE(store, nullptr);
  {
    auto w = store->begin(GroupId{1}, make_meta(10, 2));
    ASSERT_TRUE(w.is_ok());
    ASSERT_TRUE(w.value()->append("abc").is_ok());
    EXPECT_TRUE(has_tmp_file(fs_, 1));
  }  // destroyed without finish()
  EXPECT_FALSE(has_tmp_file(fs_, 1));
  auto w = store->begin(GroupId{1}, make_meta(11, 2));
  ASSERT_TRUE(w.is_ok()) << "the destroyed writer must have released the group";
  w.value()->abort();
  EXPECT_FALSE(has_tmp_file(fs_, 1));
  EXPECT_TRUE(store->list(GroupId{1}).empty());
  auto r = store->read(GroupId{1}, Index{11});
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), Code::kNotFound);
}

TEST_F(SnapshotStoreTest, AStaleTemporaryFileIsReplaced) {
  auto store = open_store(fs_);
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(fs_.create_dir(group_dir(1)).is_ok());
  write_file(fs_, snap_path(1, 10, 2) + ".tmp", "left over by someone");
  ASSERT_TRUE(write_snapshot(*store, GroupId{1}, make_meta(10, 2), {"fresh"}).is_ok());
  auto snap = store->read_all(GroupId{1}, Index{10});
  ASSERT_TRUE(snap.is_ok()) << snap.status();
  EXPECT_EQ(snap.value().data, "fresh");
}

TEST_F(SnapshotStoreTest, CrashBeforeFinishLeavesNoSnapshotAndOpenRemovesTheTmp) {
  auto store = open_store(fs_);
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(write_snapshot(*store, GroupId{1}, make_meta(5, 1), {"old"}).is_ok());
  auto w = store->begin(GroupId{1}, make_meta(9, 1));
  ASSERT_TRUE(w.is_ok());
  // Removing snapshot 5 syncs the group directory, which makes the temporary
  // file's entry durable: it survives the crash, as it could on a real disk.
  ASSERT_TRUE(store->remove_older_than(GroupId{1}, Index{6}).is_ok());
  fs_.crash_at_write(1, 1.0);
  EXPECT_FALSE(w.value()->append(pattern(2 * kMiB, 1)).is_ok());
  ASSERT_TRUE(fs_.crashed());
  w.value().reset();  // the machine is down: its cleanup fails
  store.reset();
  fs_.restart();
  ASSERT_TRUE(has_tmp_file(fs_, 1)) << "the test needs the tmp file to survive the crash";

  store = open_store(fs_);
  ASSERT_NE(store, nullptr);
  EXPECT_TRUE(store->list(GroupId{1}).empty());
  EXPECT_FALSE(has_tmp_file(fs_, 1));
  // The removal was synced: a second crash does not bring the tmp back.
  fs_.crash(1.0);
  fs_.restart();
  EXPECT_FALSE(has_tmp_file(fs_, 1));
}

TEST_F(SnapshotStoreTest, CrashAfterFinishKeepsTheSnapshotInANewGroupAndStore) {
  // The store directory, the group directory and the file are all new: finish()
  // is only durable if each of their entries was synced.
  auto store = open_store(fs_);
  ASSERT_NE(store, nullptr);
  std::string data = pattern(kMiB + 300, 7);
  ASSERT_TRUE(write_snapshot(*store, GroupId{3}, joint_meta(40, 4), {data}).is_ok());
  fs_.crash(0.0);
  fs_.restart();
  store = open_store(fs_);
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(listed(*store, GroupId{3}), std::vector<uint64_t>{40});
  auto snap = store->read_all(GroupId{3}, Index{40});
  ASSERT_TRUE(snap.is_ok()) << snap.status();
  EXPECT_EQ(snap.value().meta, joint_meta(40, 4));
  EXPECT_TRUE(snap.value().data == data);
}

// Regression: open() created missing parents of the store directory but synced
// only the store's own entry, so a power loss could take the new parent and every
// finished snapshot under it. Found by the simulator (seed 1).
TEST(SnapshotStoreDirTest, NewParentDirectoriesSurvivePowerLoss) {
  FaultyFileSystem fs(5);
  const std::string dir = "/data/node/snapshots";
  {
    auto store = SnapshotStore::open(&fs, dir);
    ASSERT_TRUE(store.is_ok()) << store.status();
    ASSERT_TRUE(write_snapshot(*store.value(), GroupId{1}, joint_meta(9, 2), {"state"}).is_ok());
  }
  fs.crash(0.0);
  auto store = SnapshotStore::open(&fs, dir);
  ASSERT_TRUE(store.is_ok()) << store.status();
  auto snap = store.value()->read_all(GroupId{1}, Index{9});
  ASSERT_TRUE(snap.is_ok()) << snap.status();
  EXPECT_EQ(snap.value().data, "state");
}

// A crash at each write of a snapshot, in each of several runs: after restart the
// snapshot is absent or complete, and present if finish() had returned ok.
TEST_F(SnapshotStoreTest, CrashAtEveryWriteNeverLeavesAPartialSnapshot) {
  const std::vector<std::string> chunks = {pattern(100, 1), pattern(kMiB, 2), pattern(kMiB / 2, 3),
                                           pattern(kMiB, 4)};
  std::string all;
  for (const auto& c : chunks) all += c;
  bool finished_once = false;
  for (uint64_t n = 1; n < 12; n++) {
    for (double keep : {0.0, 1.0}) {
      FaultyFileSystem fs(n);
      auto store = open_store(fs);
      ASSERT_NE(store, nullptr);
      ASSERT_TRUE(write_snapshot(*store, GroupId{1}, make_meta(5, 1), {"base"}).is_ok());
      fs.crash_at_write(n, keep);
      Status s = write_snapshot(*store, GroupId{1}, make_meta(9, 2), chunks);
      bool crashed = fs.crashed();
      if (!crashed) {
        ASSERT_TRUE(s.is_ok()) << s;
        finished_once = true;
        fs.crash(keep);
      } else {
        EXPECT_FALSE(s.is_ok());
      }
      fs.restart();
      store = open_store(fs);
      ASSERT_NE(store, nullptr);
      std::vector<uint64_t> l = listed(*store, GroupId{1});
      if (!crashed) {
        ASSERT_EQ(l, (std::vector<uint64_t>{5, 9})) << "write " << n;
      } else {
        ASSERT_EQ(l, std::vector<uint64_t>{5}) << "write " << n;
      }
      EXPECT_FALSE(has_tmp_file(fs, 1));
      for (uint64_t i : l) {
        auto snap = store->read_all(GroupId{1}, Index{i});
        ASSERT_TRUE(snap.is_ok()) << snap.status();
        EXPECT_TRUE(snap.value().data == (i == 9 ? all : "base"));
      }
    }
  }
  EXPECT_TRUE(finished_once) << "the loop must also reach past the last write";
}

TEST_F(SnapshotStoreTest, FailingSyncsFailFinishAndPublishNothing) {
  auto store = open_store(fs_);
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(write_snapshot(*store, GroupId{1}, make_meta(1, 1), {"first"}).is_ok());
  fs_.fail_syncs(true);
  Status s = write_snapshot(*store, GroupId{1}, make_meta(7, 1), {pattern(1000, 1)});
  EXPECT_EQ(s.code(), Code::kIoError);
  EXPECT_EQ(listed(*store, GroupId{1}), std::vector<uint64_t>{1});
  EXPECT_FALSE(has_tmp_file(fs_, 1));
  EXPECT_FALSE(fs_.exists(snap_path(1, 7, 1)));
  fs_.fail_syncs(false);
  ASSERT_TRUE(write_snapshot(*store, GroupId{1}, make_meta(7, 1), {"ok"}).is_ok());
}

// Each step of finish() after the file sync fails in turn.
TEST_F(SnapshotStoreTest, AFailedRenameOrDirectorySyncPublishesNothing) {
  for (Op op : {Op::kRename, Op::kSyncDir}) {
    FaultyFileSystem inner(1);
    ScriptedFileSystem fs(&inner);
    auto store = open_store(fs);
    ASSERT_NE(store, nullptr);
    auto w = store->begin(GroupId{1}, make_meta(7, 1));
    ASSERT_TRUE(w.is_ok());
    ASSERT_TRUE(w.value()->append("data").is_ok());
    fs.fail(op, 1);
    Status s = w.value()->finish();
    EXPECT_EQ(s.code(), Code::kIoError) << static_cast<int>(op);
    EXPECT_TRUE(store->list(GroupId{1}).empty());
    EXPECT_FALSE(inner.exists(snap_path(1, 7, 1))) << static_cast<int>(op);
    EXPECT_FALSE(has_tmp_file(inner, 1));
    auto r = store->read(GroupId{1}, Index{7});
    EXPECT_EQ(r.is_ok() ? Code::kOk : r.status().code(), Code::kNotFound);
    // The writer is done for; it says so instead of writing.
    EXPECT_EQ(w.value()->finish().code(), Code::kFailedPrecondition);
    // And the group is free for the next attempt.
    ASSERT_TRUE(write_snapshot(*store, GroupId{1}, make_meta(7, 1), {"again"}).is_ok());
    EXPECT_EQ(listed(*store, GroupId{1}), std::vector<uint64_t>{7});
  }
}

// A failed directory sync after a rename that replaced an earlier snapshot of the
// same name: the earlier one is gone too, and the index must not still claim it.
TEST_F(SnapshotStoreTest, AFailedReplaceForgetsTheReplacedSnapshot) {
  ScriptedFileSystem fs(&fs_);
  auto store = open_store(fs);
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(write_snapshot(*store, GroupId{1}, make_meta(7, 1), {"one"}).is_ok());
  auto w = store->begin(GroupId{1}, make_meta(7, 1));
  ASSERT_TRUE(w.is_ok());
  fs.fail(Op::kSyncDir, 1);
  EXPECT_FALSE(w.value()->finish().is_ok());
  EXPECT_TRUE(store->list(GroupId{1}).empty());
  EXPECT_FALSE(fs_.exists(snap_path(1, 7, 1)));
}

TEST_F(SnapshotStoreTest, ANewGroupDirectoryIsSyncedOnceIntoTheStoreDirectory) {
  ScriptedFileSystem fs(&fs_);
  auto store = open_store(fs);
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(write_snapshot(*store, GroupId{8}, make_meta(1, 1), {"a"}).is_ok());
  ASSERT_TRUE(write_snapshot(*store, GroupId{8}, make_meta(2, 1), {"b"}).is_ok());
  std::vector<std::string> expected = {"/", kDir, group_dir(8), group_dir(8)};
  EXPECT_EQ(fs.synced_dirs(), expected);

  // A failure to create or sync the group directory fails begin().
  for (Op op : {Op::kCreateDir, Op::kSyncDir}) {
    fs.fail(op, 1);
    auto w = store->begin(GroupId{9}, make_meta(1, 1));
    ASSERT_FALSE(w.is_ok());
    EXPECT_EQ(w.status().code(), Code::kIoError);
  }
  ASSERT_TRUE(write_snapshot(*store, GroupId{9}, make_meta(1, 1), {"c"}).is_ok());
}

TEST_F(SnapshotStoreTest, DiskFullAtAnyPointPublishesNothingAndCleansUp) {
  std::string data = pattern(kMiB + kMiB / 2, 5);
  std::vector<std::string> chunks = {data.substr(0, 1000), data.substr(1000)};
  // The file is about 1.5 MiB plus some record headers; try limits across it.
  for (uint64_t space = 0; space < 2 * kMiB; space += kMiB / 7 + 13) {
    FaultyFileSystem fs(space);
    auto store = open_store(fs);
    ASSERT_NE(store, nullptr);
    fs.set_space_bytes(space);
    Status s = write_snapshot(*store, GroupId{1}, make_meta(3, 1), chunks);
    if (space < data.size()) {
      EXPECT_EQ(s.code(), Code::kNoSpace) << space;
    }
    if (!s.is_ok()) {
      EXPECT_TRUE(store->list(GroupId{1}).empty()) << space;
      EXPECT_FALSE(has_tmp_file(fs, 1)) << space;
      EXPECT_FALSE(fs.exists(snap_path(1, 3, 1)));
      EXPECT_EQ(fs.stored_bytes(), 0u) << "the partial file must be gone";
    }
    fs.set_space_bytes(UINT64_MAX);
    ASSERT_TRUE(write_snapshot(*store, GroupId{1}, make_meta(3, 1), chunks).is_ok()) << space;
    auto snap = store->read_all(GroupId{1}, Index{3});
    ASSERT_TRUE(snap.is_ok()) << snap.status();
    EXPECT_TRUE(snap.value().data == data);
  }
}

TEST_F(SnapshotStoreTest, AnIoErrorAtAnyWriteFailsTheWriterAndCleansUp) {
  std::vector<std::string> chunks = {pattern(10, 1), pattern(kMiB, 2), pattern(kMiB, 3)};
  for (uint64_t n = 1; n <= 4; n++) {
    FaultyFileSystem fs(n);
    auto store = open_store(fs);
    ASSERT_NE(store, nullptr);
    fs.fail_after_writes(n);
    Status s = write_snapshot(*store, GroupId{1}, make_meta(3, 1), chunks);
    EXPECT_EQ(s.code(), Code::kIoError) << n;
    EXPECT_TRUE(store->list(GroupId{1}).empty());
    EXPECT_FALSE(has_tmp_file(fs, 1));
  }
}

// Writes a small snapshot and returns its file's bytes.
std::string small_snapshot_file(FileSystem& fs, SnapshotStore& store) {
  EXPECT_TRUE(
      write_snapshot(store, GroupId{1}, joint_meta(12, 3), {"hello, ", "snapshot"}).is_ok());
  return read_file(fs, snap_path(1, 12, 3));
}

// Reads snapshot (1, 12) fully through the streaming reader; the data, or the error.
Result<std::string> read_stream(const SnapshotStore& store) {
  auto r = store.read(GroupId{1}, Index{12});
  if (!r.is_ok()) return r.status();
  std::string data;
  for (;;) {
    auto c = r.value()->next_chunk();
    if (!c.is_ok()) return c.status();
    if (!c.value()) return data;
    data += *c.value();
  }
}

TEST_F(SnapshotStoreTest, CorruptionOfAnyByteIsDetected) {
  auto store = open_store(fs_);
  ASSERT_NE(store, nullptr);
  const std::string good = small_snapshot_file(fs_, *store);
  ASSERT_FALSE(good.empty());
  const std::string path = snap_path(1, 12, 3);
  for (size_t pos = 0; pos < good.size(); pos++) {
    for (uint8_t flip : {0x01, 0x80, 0xff}) {
      std::string bad = good;
      bad[pos] = static_cast<char>(bad[pos] ^ flip);
      write_file(fs_, path, bad);
      auto r = read_stream(*store);
      ASSERT_FALSE(r.is_ok()) << "byte " << pos << " ^ " << int{flip};
      EXPECT_EQ(r.status().code(), Code::kCorruption) << pos;
      EXPECT_NE(r.status().message().find(path), std::string::npos) << r.status();
      EXPECT_NE(r.status().message().find("offset"), std::string::npos) << r.status();
    }
  }
  write_file(fs_, path, good);
  auto r = read_stream(*store);
  ASSERT_TRUE(r.is_ok()) << r.status();
  EXPECT_EQ(r.value(), "hello, snapshot");
}

TEST_F(SnapshotStoreTest, TruncationAtAnyLengthIsDetected) {
  auto store = open_store(fs_);
  ASSERT_NE(store, nullptr);
  const std::string good = small_snapshot_file(fs_, *store);
  const std::string path = snap_path(1, 12, 3);
  for (size_t len = 0; len < good.size(); len++) {
    write_file(fs_, path, std::string_view(good).substr(0, len));
    auto r = read_stream(*store);
    ASSERT_FALSE(r.is_ok()) << "length " << len;
    EXPECT_TRUE(r.status().code() == Code::kCorruption || r.status().code() == Code::kNotFound)
        << r.status();
  }
  // Bytes after the trailer are corruption too.
  write_file(fs_, path, good + "x");
  auto r = read_stream(*store);
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), Code::kCorruption);
}

// Damage around the record boundaries of a multi-chunk snapshot: a corrupt chunk
// in the middle fails the read there; nothing after it is returned.
TEST_F(SnapshotStoreTest, CorruptionInAnyRecordOfALargeSnapshotIsDetected) {
  auto store = open_store(fs_);
  ASSERT_NE(store, nullptr);
  std::string data = pattern(2 * kMiB + 77, 9);
  ASSERT_TRUE(write_snapshot(*store, GroupId{1}, make_meta(12, 3), {data}).is_ok());
  const std::string path = snap_path(1, 12, 3);
  const std::string good = read_file(fs_, path);
  size_t header = good.size() - data.size() - 3 * 8 - 24;
  std::vector<size_t> positions;
  for (size_t record : {header, header + 8 + kMiB, header + 2 * (8 + kMiB)}) {
    for (size_t p = record - 2; p < record + 10; p++) positions.push_back(p);
    positions.push_back(record + 8 + 50);  // inside the data (the last chunk has 77 bytes)
  }
  for (size_t p = good.size() - 24; p < good.size(); p++) positions.push_back(p);
  for (size_t pos : positions) {
    ASSERT_LT(pos, good.size());
    std::string bad = good;
    bad[pos] = static_cast<char>(bad[pos] ^ 0x10);
    write_file(fs_, path, bad);
    auto r = read_stream(*store);
    ASSERT_FALSE(r.is_ok()) << "byte " << pos;
    EXPECT_EQ(r.status().code(), Code::kCorruption) << pos;
  }
  // A chunk dropped from the middle is caught by the trailer's counts.
  std::string dropped = good.substr(0, header) + good.substr(header + 8 + kMiB);
  write_file(fs_, path, dropped);
  auto r = read_stream(*store);
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), Code::kCorruption);
}

TEST_F(SnapshotStoreTest, AFileUnderTheWrongNameIsCorruption) {
  auto store = open_store(fs_);
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(write_snapshot(*store, GroupId{1}, make_meta(12, 3), {"one"}).is_ok());
  std::string bytes = read_file(fs_, snap_path(1, 12, 3));
  ASSERT_TRUE(fs_.create_dir(group_dir(2)).is_ok());
  write_file(fs_, snap_path(2, 12, 3), bytes);  // group 1's snapshot under group 2
  write_file(fs_, snap_path(1, 13, 3), bytes);  // index 12's under index 13
  write_file(fs_, snap_path(1, 14, 4), bytes);
  store = open_store(fs_);
  ASSERT_NE(store, nullptr);
  for (auto [g, i] : {std::pair<uint64_t, uint64_t>{2, 12}, {1, 13}, {1, 14}}) {
    auto r = store->read(GroupId{g}, Index{i});
    ASSERT_FALSE(r.is_ok()) << g << "/" << i;
    EXPECT_EQ(r.status().code(), Code::kCorruption);
  }
}

TEST_F(SnapshotStoreTest, ListAndRemoveOlderThan) {
  auto store = open_store(fs_);
  ASSERT_NE(store, nullptr);
  for (uint64_t i : {15, 5, 10}) {
    ASSERT_TRUE(write_snapshot(*store, GroupId{1}, make_meta(i, 1), {pattern(10, i)}).is_ok());
  }
  ASSERT_TRUE(write_snapshot(*store, GroupId{2}, make_meta(3, 1), {"other"}).is_ok());
  EXPECT_EQ(listed(*store, GroupId{1}), (std::vector<uint64_t>{5, 10, 15}));
  EXPECT_TRUE(store->list(GroupId{7}).empty());

  ASSERT_TRUE(store->remove_older_than(GroupId{1}, Index{10}).is_ok());
  EXPECT_EQ(listed(*store, GroupId{1}), (std::vector<uint64_t>{10, 15}));
  EXPECT_FALSE(fs_.exists(snap_path(1, 5, 1)));
  EXPECT_EQ(store->read(GroupId{1}, Index{5}).status().code(), Code::kNotFound);
  ASSERT_TRUE(store->remove_older_than(GroupId{1}, Index{10}).is_ok());  // nothing to do
  ASSERT_TRUE(store->remove_older_than(GroupId{7}, Index{10}).is_ok());  // unknown group
  EXPECT_EQ(listed(*store, GroupId{2}), std::vector<uint64_t>{3});

  // The removal was synced: it survives a crash.
  fs_.crash(0.0);
  fs_.restart();
  store = open_store(fs_);
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(listed(*store, GroupId{1}), (std::vector<uint64_t>{10, 15}));
  ASSERT_TRUE(store->remove_older_than(GroupId{1}, Index{UINT64_MAX}).is_ok());
  EXPECT_TRUE(store->list(GroupId{1}).empty());
}

TEST_F(SnapshotStoreTest, AFailedRemovalKeepsWhatIsLeftIndexed) {
  ScriptedFileSystem fs(&fs_);
  auto store = open_store(fs);
  ASSERT_NE(store, nullptr);
  for (uint64_t i : {1, 2, 3}) {
    ASSERT_TRUE(write_snapshot(*store, GroupId{1}, make_meta(i, 1), {"x"}).is_ok());
  }
  fs.fail(Op::kRemove, 2);
  EXPECT_EQ(store->remove_older_than(GroupId{1}, Index{3}).code(), Code::kIoError);
  EXPECT_EQ(listed(*store, GroupId{1}), (std::vector<uint64_t>{2, 3}));
  for (uint64_t i : {2, 3}) EXPECT_TRUE(store->read_all(GroupId{1}, Index{i}).is_ok());
}

TEST_F(SnapshotStoreTest, RemoveGroupRemovesEveryFileOfOnlyThatGroup) {
  auto store = open_store(fs_);
  ASSERT_NE(store, nullptr);
  for (uint64_t i : {4, 8}) {
    ASSERT_TRUE(write_snapshot(*store, GroupId{1}, make_meta(i, 1), {"x"}).is_ok());
  }
  ASSERT_TRUE(write_snapshot(*store, GroupId{2}, make_meta(3, 1), {"other"}).is_ok());
  write_file(fs_, join_path(group_dir(1), "notes.txt"), "stray");

  auto w = store->begin(GroupId{1}, make_meta(9, 1));
  ASSERT_TRUE(w.is_ok());
  EXPECT_EQ(store->remove_group(GroupId{1}).code(), Code::kFailedPrecondition)
      << "removing a group while its snapshot is written";
  w.value()->abort();

  ASSERT_TRUE(store->remove_group(GroupId{1}).is_ok());
  EXPECT_TRUE(store->list(GroupId{1}).empty());
  EXPECT_TRUE(dir_entries(fs_, group_dir(1)).empty());
  EXPECT_EQ(listed(*store, GroupId{2}), std::vector<uint64_t>{3});
  ASSERT_TRUE(store->remove_group(GroupId{77}).is_ok());  // never existed

  fs_.crash(0.0);
  fs_.restart();
  store = open_store(fs_);
  ASSERT_NE(store, nullptr);
  EXPECT_TRUE(store->list(GroupId{1}).empty());
  EXPECT_TRUE(dir_entries(fs_, group_dir(1)).empty());
  EXPECT_EQ(listed(*store, GroupId{2}), std::vector<uint64_t>{3});
  // The group can be used again.
  ASSERT_TRUE(write_snapshot(*store, GroupId{1}, make_meta(20, 2), {"new"}).is_ok());
  EXPECT_EQ(listed(*store, GroupId{1}), std::vector<uint64_t>{20});
}

TEST_F(SnapshotStoreTest, ReopenRebuildsTheIndexAndKeepsUnknownFiles) {
  auto store = open_store(fs_);
  ASSERT_NE(store, nullptr);
  std::map<std::pair<uint64_t, uint64_t>, std::string> written;
  for (uint64_t g : {1, 2, 30}) {
    for (uint64_t i : {uint64_t{7}, uint64_t{100}, uint64_t{12345678901234}}) {
      std::string data = pattern(g * 100 + i % 1000, g + i);
      ASSERT_TRUE(write_snapshot(*store, GroupId{g}, make_meta(i, g), {data}).is_ok());
      written[{g, i}] = data;
    }
  }
  write_file(fs_, join_path(kDir, "README"), "not a group");
  write_file(fs_, join_path(group_dir(2), "0001-0001.snap"), "not a snapshot name");
  write_file(fs_, join_path(group_dir(2), "notes"), "kept");
  store.reset();

  store = open_store(fs_);
  ASSERT_NE(store, nullptr);
  for (uint64_t g : {1, 2, 30}) {
    EXPECT_EQ(listed(*store, GroupId{g}), (std::vector<uint64_t>{7, 100, 12345678901234ull}));
  }
  for (const auto& [key, data] : written) {
    auto snap = store->read_all(GroupId{key.first}, Index{key.second});
    ASSERT_TRUE(snap.is_ok()) << snap.status();
    EXPECT_EQ(snap.value().meta, make_meta(key.second, key.first));
    EXPECT_TRUE(snap.value().data == data);
  }
  EXPECT_TRUE(fs_.exists(join_path(kDir, "README")));
  EXPECT_TRUE(fs_.exists(join_path(group_dir(2), "0001-0001.snap")));
  EXPECT_TRUE(fs_.exists(join_path(group_dir(2), "notes")));
}

TEST_F(SnapshotStoreTest, OpenRefusesTwoTermsAtOneIndex) {
  auto store = open_store(fs_);
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(write_snapshot(*store, GroupId{1}, make_meta(12, 3), {"one"}).is_ok());
  write_file(fs_, snap_path(1, 12, 4), read_file(fs_, snap_path(1, 12, 3)));
  store.reset();
  auto again = SnapshotStore::open(&fs_, kDir);
  ASSERT_FALSE(again.is_ok());
  EXPECT_EQ(again.status().code(), Code::kCorruption);
}

TEST_F(SnapshotStoreTest, ReadersOutliveTheStore) {
  auto store = open_store(fs_);
  ASSERT_NE(store, nullptr);
  std::string data = pattern(2 * kMiB, 3);
  ASSERT_TRUE(write_snapshot(*store, GroupId{1}, make_meta(12, 3), {data}).is_ok());
  auto r = store->read(GroupId{1}, Index{12});
  ASSERT_TRUE(r.is_ok());
  auto first = r.value()->next_chunk();
  ASSERT_TRUE(first.is_ok());
  store.reset();
  std::string got = *first.value();
  for (;;) {
    auto c = r.value()->next_chunk();
    ASSERT_TRUE(c.is_ok()) << c.status();
    if (!c.value()) break;
    got += *c.value();
  }
  EXPECT_TRUE(got == data);
}

// Writers of two groups and readers on other threads (FaultyFileSystem serializes
// its own calls). A reader may miss a snapshot removed after list(), but never
// sees a wrong or damaged one.
TEST_F(SnapshotStoreTest, ConcurrentWritersAndReadersOfSeveralGroups) {
  auto store = open_store(fs_);
  ASSERT_NE(store, nullptr);
  constexpr uint64_t kSnapshots = 200;
  auto content = [](uint64_t g, uint64_t i) { return pattern(1000 + i * 37, g * 1000 + i); };
  std::atomic<int> writers_running{2};
  std::atomic<uint64_t> bad{0};
  std::atomic<uint64_t> reads{0};
  std::atomic<int> readers_ready{0};
  auto writer = [&](uint64_t g) {
    while (readers_ready < 2) std::this_thread::yield();
    for (uint64_t i = 1; i <= kSnapshots; i++) {
      if (!write_snapshot(*store, GroupId{g}, make_meta(i, 1), {content(g, i)}).is_ok()) bad++;
      if (i > 2 && !store->remove_older_than(GroupId{g}, Index{i - 2}).is_ok()) bad++;
    }
    writers_running--;
  };
  auto reader = [&] {
    readers_ready++;
    bool last_pass = false;
    while (!last_pass) {
      last_pass = writers_running == 0;  // one more pass after the writers are done
      for (uint64_t g : {1, 2}) {
        std::vector<Index> l = store->list(GroupId{g});
        if (l.empty()) continue;
        auto snap = store->read_all(GroupId{g}, l.back());
        if (!snap.is_ok()) {
          if (snap.status().code() != Code::kNotFound) bad++;
          continue;
        }
        reads++;
        if (snap.value().data != content(g, l.back().value())) bad++;
      }
    }
  };
  std::vector<std::thread> threads;
  threads.emplace_back(writer, 1);
  threads.emplace_back(writer, 2);
  threads.emplace_back(reader);
  threads.emplace_back(reader);
  for (auto& t : threads) t.join();
  EXPECT_EQ(bad.load(), 0u);
  EXPECT_GT(reads.load(), 0u);
  for (uint64_t g : {1, 2}) {
    EXPECT_EQ(listed(*store, GroupId{g}),
              (std::vector<uint64_t>{kSnapshots - 2, kSnapshots - 1, kSnapshots}));
  }
}

// The same code on a real disk, in a fresh temporary directory: the store
// directory is nested (its parent is created and synced too).
TEST(SnapshotStorePosixTest, RoundTripReopenAndRemoveOnARealDisk) {
  std::string root =
      (std::filesystem::temp_directory_path() / "snapshot_store_test.XXXXXX").string();
  ASSERT_NE(mkdtemp(root.data()), nullptr);
  PosixFileSystem fs;
  std::string dir = join_path(root, "node/snapshots");
  std::string data = pattern(2 * kMiB + 3, 11);
  {
    auto store = SnapshotStore::open(&fs, dir);
    ASSERT_TRUE(store.is_ok()) << store.status();
    ASSERT_TRUE(write_snapshot(*store.value(), GroupId{4}, joint_meta(9, 2), {data}).is_ok());
    ASSERT_TRUE(write_snapshot(*store.value(), GroupId{4}, make_meta(20, 3), {"x"}).is_ok());
    auto w = store.value()->begin(GroupId{4}, make_meta(30, 3));
    ASSERT_TRUE(w.is_ok());
    ASSERT_TRUE(w.value()->append("unfinished").is_ok());
    // Leave the temporary file behind, as a crash would.
    ASSERT_TRUE(fs.rename(join_path(dir, "4/" + snap_name(30, 3) + ".tmp"),
                          join_path(dir, "4/leftover.tmp"))
                    .is_ok());
    w.value()->abort();
  }
  auto store = SnapshotStore::open(&fs, dir);
  ASSERT_TRUE(store.is_ok()) << store.status();
  EXPECT_FALSE(fs.exists(join_path(dir, "4/leftover.tmp")));
  EXPECT_EQ(listed(*store.value(), GroupId{4}), (std::vector<uint64_t>{9, 20}));
  auto snap = store.value()->read_all(GroupId{4}, Index{9});
  ASSERT_TRUE(snap.is_ok()) << snap.status();
  EXPECT_EQ(snap.value().meta, joint_meta(9, 2));
  EXPECT_TRUE(snap.value().data == data);
  ASSERT_TRUE(store.value()->remove_older_than(GroupId{4}, Index{20}).is_ok());
  EXPECT_EQ(listed(*store.value(), GroupId{4}), std::vector<uint64_t>{20});
  ASSERT_TRUE(store.value()->remove_group(GroupId{4}).is_ok());
  EXPECT_TRUE(store.value()->list(GroupId{4}).empty());
  EXPECT_TRUE(dir_entries(fs, join_path(dir, "4")).empty());
  std::filesystem::remove_all(root);
}

using SnapshotStoreDeathTest = SnapshotStoreTest;

TEST_F(SnapshotStoreDeathTest, AppendAfterFinishIsABug) {
  auto store = open_store(fs_);
  ASSERT_NE(store, nullptr);
  auto w = store->begin(GroupId{1}, make_meta(1, 1));
  ASSERT_TRUE(w.is_ok());
  ASSERT_TRUE(w.value()->finish().is_ok());
  EXPECT_DEATH((void)w.value()->append("x"), "finished or aborted");
}

}  // namespace
}  // namespace meridian::storage
