#include "node/snapshot_sink.h"

#include <gtest/gtest.h>

#include "storage/faulty_file_system.h"

namespace meridian::node {
namespace {

raft::SnapshotMeta meta_at(uint64_t index) {
  raft::SnapshotMeta m;
  m.index = raft::Index{index};
  m.term = raft::Term{2};
  m.conf_state.voters = {raft::NodeId{1}, raft::NodeId{2}, raft::NodeId{3}};
  return m;
}

class StoreSnapshotSinkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = storage::SnapshotStore::open(&fs_, "/snap");
    ASSERT_TRUE(s.is_ok()) << s.status();
    store_ = std::move(s).value();
    sink_ = std::make_unique<StoreSnapshotSink>(store_.get());
  }
  // The snapshot received as `pieces`, sealed but not kept.
  std::shared_ptr<net::ReceivedSnapshot> receive(uint64_t index,
                                                 const std::vector<std::string>& pieces) {
    auto spool = sink_->begin(GroupId{1}, meta_at(index));
    EXPECT_TRUE(spool.is_ok()) << spool.status();
    if (!spool.is_ok()) return nullptr;
    for (const std::string& p : pieces) EXPECT_TRUE(spool.value()->append(p).is_ok());
    auto received = spool.value()->finish();
    EXPECT_TRUE(received.is_ok()) << received.status();
    return received.is_ok() ? received.value() : nullptr;
  }

  storage::FaultyFileSystem fs_{7};
  std::unique_ptr<storage::SnapshotStore> store_;
  std::unique_ptr<StoreSnapshotSink> sink_;
};

TEST_F(StoreSnapshotSinkTest, AKeptSnapshotBecomesTheGroupsAndReadsBackWhole) {
  auto received = receive(50, {"abc", std::string(3 << 20, 'x'), "end"});
  ASSERT_NE(received, nullptr);
  EXPECT_TRUE(store_->list(GroupId{1}).empty()) << "not the group's before it is kept";
  ASSERT_TRUE(received->keep().is_ok());
  ASSERT_EQ(store_->list(GroupId{1}), std::vector<raft::Index>{raft::Index{50}});
  auto snap = store_->read_all(GroupId{1}, raft::Index{50});
  ASSERT_TRUE(snap.is_ok()) << snap.status();
  EXPECT_EQ(snap.value().meta, meta_at(50));
  EXPECT_TRUE(snap.value().data == "abc" + std::string(3 << 20, 'x') + "end");
}

TEST_F(StoreSnapshotSinkTest, ADroppedSnapshotLeavesNothingBehind) {
  receive(60, {"never kept"}).reset();
  {
    auto spool = sink_->begin(GroupId{1}, meta_at(70));
    ASSERT_TRUE(spool.is_ok());
    ASSERT_TRUE(spool.value()->append("cut off halfway").is_ok());
  }
  EXPECT_TRUE(store_->list(GroupId{1}).empty());
  auto names = fs_.list_dir("/snap/1");
  ASSERT_TRUE(names.is_ok());
  EXPECT_TRUE(names.value().empty());
}

}  // namespace
}  // namespace meridian::node
