// Durable state machines (state_machine.h): the node compacts the log without
// copying their state, ships a fresh image to a lagging member, and on restart
// replays only what the machine's own files lack.
#include <gtest/gtest.h>

#include <algorithm>
#include <mutex>

#include "base/strings.h"
#include "node/map_state_machine.h"
#include "node/node.h"
#include "node/node_testing.h"

namespace meridian::node {
namespace {

using base::cat;
using std::chrono::milliseconds;
constexpr GroupId kG1{1};
constexpr milliseconds kWait{10000};

// What a durable machine keeps "on disk": survives the node's restarts. The
// machine writes it only on sync(), so a crash loses what was applied since.
struct FakeDisk {
  std::mutex mu;
  std::string image;  // snapshot() at the last sync
  uint64_t applies = 0;
  uint64_t reapplied = 0;  // entries applied at or below the machine's index
  uint64_t restores = 0;
  uint64_t image_restores = 0;  // restores of an image past the bootstrap snapshot
  uint64_t syncs = 0;
};

// A MapStateMachine that is durable through a FakeDisk (a MapStateMachine still,
// so that NodeCluster::get reads it). Image: u64 applied
// index (8 bytes, little endian) then the map's snapshot.
class DurableMap final : public MapStateMachine {
 public:
  explicit DurableMap(FakeDisk* disk) : disk_(disk) {
    std::lock_guard lock(disk_->mu);
    if (!disk_->image.empty()) load(disk_->image);
  }

  std::string apply(raft::Index index, std::string_view command) override {
    std::lock_guard lock(disk_->mu);
    ++disk_->applies;
    if (index <= applied_) ++disk_->reapplied;
    applied_ = index;
    return MapStateMachine::apply(index, command);
  }
  std::string snapshot() const override {
    std::string out(8, '\0');
    uint64_t v = applied_.value();
    for (int i = 0; i < 8; ++i) out[i] = static_cast<char>(v >> (8 * i));
    return out + MapStateMachine::snapshot();
  }
  base::Status restore(std::string_view data) override {
    std::lock_guard lock(disk_->mu);
    ++disk_->restores;
    load(data);
    if (applied_ > raft::Index{1}) ++disk_->image_restores;
    return base::Status::ok();
  }
  bool durable() const override { return true; }
  raft::Index durable_applied_index() const override { return applied_; }
  base::Status sync(raft::Index applied) override {
    std::lock_guard lock(disk_->mu);
    applied_ = std::max(applied_, applied);
    ++disk_->syncs;
    disk_->image = snapshot();
    return base::Status::ok();
  }

 private:
  void load(std::string_view data) {
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v |= uint64_t{static_cast<unsigned char>(data[i])} << (8 * i);
    applied_ = raft::Index{v};
    ASSERT_TRUE(MapStateMachine::restore(data.substr(8)).is_ok());
  }

  FakeDisk* disk_;
  raft::Index applied_;
};

void use_durable_maps(NodeCluster& c, std::vector<FakeDisk>& disks) {
  for (int i = 1; i <= c.size(); ++i) {
    c.options(i).state_machine_factory = [disk = &disks[i - 1]](GroupId) {
      return std::make_unique<DurableMap>(disk);
    };
  }
}

void small_snapshots(NodeOptions& o) {
  o.snapshot_entries = 20;
  o.snapshot_catchup_entries = 5;
}

TEST(DurableNodeTest, RestartReplaysOnlyWhatTheMachineLacks) {
  std::vector<FakeDisk> disks(3);
  NodeCluster c(3, small_snapshots);
  use_durable_maps(c, disks);
  for (int i = 1; i <= 3; ++i) ASSERT_TRUE(c.start(i).is_ok());
  const int leader = c.wait_leader(kG1, kWait);
  ASSERT_NE(leader, 0);
  for (int n = 0; n < 100; ++n) ASSERT_TRUE(c.put(leader, kG1, cat("k", n), cat(n)).is_ok());
  const int other = leader == 1 ? 2 : 1;
  c.crash(other);
  FakeDisk& disk = disks[other - 1];
  uint64_t applies_before = 0, restores_before = 0;
  {
    std::lock_guard lock(disk.mu);
    ASSERT_GT(disk.syncs, 0u) << "the log was never compacted through sync()";
    applies_before = disk.applies;
    restores_before = disk.restores;  // the bootstrap snapshot's
  }
  ASSERT_TRUE(c.start(other).is_ok());
  for (int n = 0; n < 100; ++n) {
    auto v = c.get(other, kG1, cat("k", n), true);
    ASSERT_TRUE(v.is_ok()) << v.status();
    EXPECT_EQ(v.value(), std::optional<std::string>(cat(n)));
  }
  std::lock_guard lock(disk.mu);
  EXPECT_EQ(disk.restores, restores_before)
      << "a snapshot older than the machine's files was restored";
  EXPECT_EQ(disk.reapplied, 0u);
  // Only what followed the last sync (at most snapshot_entries and a few no-ops)
  // is applied again, not the whole log.
  EXPECT_LT(disk.applies - applies_before, 30u);
}

TEST(DurableNodeTest, ALaggingMemberGetsAFreshImageAndSkipsWhatItHolds) {
  std::vector<FakeDisk> disks(3);
  NodeCluster c(3, small_snapshots);
  use_durable_maps(c, disks);
  for (int i = 1; i <= 3; ++i) ASSERT_TRUE(c.start(i).is_ok());
  const int leader = c.wait_leader(kG1, kWait);
  ASSERT_NE(leader, 0);
  const int lagging = leader == 3 ? 2 : 3;
  c.stop(lagging);
  for (int n = 0; n < 200; ++n) ASSERT_TRUE(c.put(leader, kG1, cat("k", n), cat(n)).is_ok());
  ASSERT_TRUE(c.start(lagging).is_ok());
  for (int n = 0; n < 200; ++n) {
    auto v = c.get(lagging, kG1, cat("k", n), false);
    for (int tries = 0; tries < 200 && (!v.is_ok() || !v.value()); ++tries) {
      std::this_thread::sleep_for(milliseconds(50));
      v = c.get(lagging, kG1, cat("k", n), false);
    }
    ASSERT_TRUE(v.is_ok()) << v.status();
    EXPECT_EQ(v.value(), std::optional<std::string>(cat(n)));
  }
  std::lock_guard lock(disks[lagging - 1].mu);
  EXPECT_EQ(disks[lagging - 1].image_restores, 1u);
  EXPECT_EQ(disks[lagging - 1].reapplied, 0u)
      << "commands already in the restored image were applied again";
}

// Large entries: the log is compacted by bytes as well as by entry count, so it
// does not hold gigabytes beside the machine's own files.
TEST(DurableNodeTest, LargeEntriesCompactTheLogByBytes) {
  std::vector<FakeDisk> disks(3);
  NodeCluster c(3, [](NodeOptions& o) {
    o.snapshot_entries = 1000000;  // never by count here
    o.snapshot_catchup_entries = 1000;
    o.snapshot_bytes = 256 * 1024;
    o.snapshot_catchup_bytes = 64 * 1024;
  });
  use_durable_maps(c, disks);
  for (int i = 1; i <= 3; ++i) ASSERT_TRUE(c.start(i).is_ok());
  const int leader = c.wait_leader(kG1, kWait);
  ASSERT_NE(leader, 0);
  const std::string value(16 * 1024, 'v');
  raft::Index last;
  for (int n = 0; n < 100; ++n) {  // 1.6 MB of entries
    auto r = c.put(leader, kG1, cat("k", n), value);
    ASSERT_TRUE(r.is_ok()) << r.status();
    last = r.value().index;
  }
  ASSERT_TRUE(c.wait_applied(leader, kG1, last, kWait));
  const GroupStatus g = c.node(leader)->status().groups.at(0);
  EXPECT_GT(g.snapshots_taken, 0u);
  // At most snapshot_bytes since the snapshot plus snapshot_catchup_bytes below
  // it stay: (256 + 64) KiB / 16 KiB = 20 entries, and a few no-ops.
  EXPECT_LE(g.last_index.value() - g.first_index.value(), 30u)
      << "first " << g.first_index << " last " << g.last_index;
}

}  // namespace
}  // namespace meridian::node
