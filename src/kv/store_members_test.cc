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

// MemberAdd and MemberUpdate set a member's peer URLs; the member's own record,
// published at each start, does not undo them. A removal leaves the record
// without URLs.
TEST_F(StoreTest, AddedAndUpdatedPeerUrlsOutliveTheMembersOwnRecord) {
  etcdpb::Member added;
  added.set_id(4);
  added.add_peerurls("http://127.0.0.1:4380");
  EXPECT_EQ(store_->add_member(next_index(), added), Errc::kOk);
  EXPECT_EQ(store_->member(4)->name(), "");
  // It starts and publishes its name and client URL (with its configured peer URL).
  EXPECT_EQ(store_->put_member(next_index(), member(4, "node4", "http://d")), Errc::kOk);
  EXPECT_EQ(store_->member(4)->name(), "node4");
  ASSERT_EQ(store_->member(4)->peerurls_size(), 1);
  EXPECT_EQ(store_->member(4)->peerurls(0), "http://127.0.0.1:4380");

  google::protobuf::RepeatedPtrField<std::string> urls;
  urls.Add("http://127.0.0.1:5380");
  urls.Add("http://127.0.0.2:5380");
  EXPECT_EQ(store_->set_member_peer_urls(next_index(), 4, urls), Errc::kOk);
  EXPECT_EQ(store_->member(4)->peerurls_size(), 2);
  EXPECT_EQ(store_->member(4)->clienturls(0), "http://d");
  // An initial member without a record yet gets one with the URLs alone.
  EXPECT_EQ(store_->set_member_peer_urls(next_index(), 2, urls), Errc::kOk);
  EXPECT_EQ(store_->member(2)->peerurls(1), "http://127.0.0.2:5380");

  EXPECT_EQ(store_->remove_member(next_index(), 4), Errc::kOk);
  ASSERT_TRUE(store_->member(4).has_value());  // kept, so that id 4 is never given again
  EXPECT_EQ(store_->member(4)->name(), "node4");
  EXPECT_EQ(store_->member(4)->peerurls_size(), 0);
  EXPECT_EQ(store_->member(4)->clienturls_size(), 0);
  EXPECT_EQ(store_->members().size(), 2u);
  EXPECT_EQ(store_->applied_index(), raft::Index{5});
  EXPECT_EQ(store_->revision(), 1);
  reopen();
  EXPECT_EQ(store_->member(4)->peerurls_size(), 0);
  EXPECT_TRUE(store_->member(2).has_value());
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
