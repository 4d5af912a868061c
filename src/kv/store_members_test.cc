// MvccStore's member records: replaced by id, listed by id, carried by
// snapshots, and never counted as a revision.
#include <gtest/gtest.h>

#include "kv/mvcc_store.h"
#include "kv/store_testing.h"

namespace meridian::kv {
namespace {

using testing::StoreTest;

etcdpb::Member member(uint64_t id, const std::string& name, const std::string& client) {
  etcdpb::Member m;
  m.set_id(id);
  m.set_name(name);
  m.add_peerurls("http://127.0.0.1:2380");
  m.add_clienturls(client);
  m.set_islearner(true);  // not kept: the Raft configuration says who learns
  return m;
}

TEST_F(StoreTest, MemberRecordsAreReplacedListedAndSnapshotted) {
  EXPECT_EQ(store_->put_member(next_index(), member(2, "node2", "http://b")), Errc::kOk);
  EXPECT_EQ(store_->put_member(next_index(), member(1, "node1", "http://a")), Errc::kOk);
  EXPECT_EQ(store_->put_member(next_index(), member(2, "node2", "http://b2")), Errc::kOk);
  EXPECT_EQ(store_->revision(), 1);
  EXPECT_EQ(store_->applied_index(), raft::Index{3});
  auto listed = store_->members();
  ASSERT_EQ(listed.size(), 2u);
  EXPECT_EQ(listed[0].id(), 1u);
  EXPECT_EQ(listed[1].clienturls(0), "http://b2");
  EXPECT_FALSE(listed[1].islearner());

  reopen();
  EXPECT_EQ(store_->members().size(), 2u);
  testing::TempDir other_dir;
  auto other = testing::open_store(other_dir.path());
  ASSERT_TRUE(other->restore(store_->snapshot()).is_ok());
  ASSERT_EQ(other->members().size(), 2u);
  EXPECT_EQ(other->members()[0].name(), "node1");
}

TEST_F(StoreTest, ANewClusterStartsAtIndexOneWithTheDataButNotTheOldMembersOrAlarms) {
  put("a", "1");
  put("a", "2");
  EXPECT_EQ(store_->put_member(next_index(), member(7, "old", "http://old")), Errc::kOk);
  etcdpb::AlarmRequest raise;
  raise.set_action(etcdpb::AlarmRequest::ACTIVATE);
  raise.set_memberid(7);
  raise.set_alarm(etcdpb::AlarmType::NOSPACE);
  etcdpb::AlarmResponse resp;
  ASSERT_EQ(store_->alarm(next_index(), raise, &resp), Errc::kOk);
  ASSERT_TRUE(store_->no_space());
  ASSERT_TRUE(store_->begin_new_cluster().is_ok());
  EXPECT_EQ(store_->applied_index(), raft::Index{1});
  EXPECT_EQ(store_->revision(), 3);
  EXPECT_TRUE(store_->members().empty());
  EXPECT_FALSE(store_->no_space());
  reopen();
  EXPECT_EQ(store_->applied_index(), raft::Index{1});
  EXPECT_EQ(value_at("a"), "2");
  EXPECT_EQ(value_at("a", 2), "1");
  EXPECT_TRUE(store_->alarms().empty());
}

}  // namespace
}  // namespace meridian::kv
