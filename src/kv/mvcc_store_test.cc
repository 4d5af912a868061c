// MvccStore: puts, deletes, revision bookkeeping, applied index, restart.
#include "kv/mvcc_store.h"

#include <gtest/gtest.h>

#include "kv/store_testing.h"

namespace meridian::kv {
namespace {

using testing::delete_request;
using testing::keys_of;
using testing::put_request;
using testing::range_request;
using testing::StoreTest;

TEST_F(StoreTest, EmptyStoreIsAtRevisionOne) {
  EXPECT_EQ(store_->revision(), 1);
  EXPECT_EQ(store_->compact_revision(), 0);
  EXPECT_EQ(store_->applied_index(), raft::Index{0});
  const auto r = get("a");
  EXPECT_EQ(r.header().revision(), 1);
  EXPECT_EQ(r.count(), 0);
  EXPECT_EQ(r.kvs_size(), 0);
  EXPECT_FALSE(r.more());
}

TEST_F(StoreTest, PutBookkeeping) {
  EXPECT_EQ(put("a", "1"), 2);
  EXPECT_EQ(put("a", "2"), 3);
  EXPECT_EQ(put("b", "x"), 4);
  EXPECT_EQ(store_->revision(), 4);
  auto r = get("a");
  ASSERT_EQ(r.kvs_size(), 1);
  EXPECT_EQ(r.kvs(0).key(), "a");
  EXPECT_EQ(r.kvs(0).value(), "2");
  EXPECT_EQ(r.kvs(0).create_revision(), 2);
  EXPECT_EQ(r.kvs(0).mod_revision(), 3);
  EXPECT_EQ(r.kvs(0).version(), 2);
  EXPECT_EQ(r.kvs(0).lease(), 0);
  EXPECT_EQ(r.header().revision(), 4);
  r = get("b");
  ASSERT_EQ(r.kvs_size(), 1);
  EXPECT_EQ(r.kvs(0).create_revision(), 4);
  EXPECT_EQ(r.kvs(0).version(), 1);
}

TEST_F(StoreTest, DeleteEndsAnIncarnationAndPutStartsANewOne) {
  put("a", "1");  // 2
  put("a", "2");  // 3
  etcdpb::DeleteRangeResponse d;
  ASSERT_EQ(store_->delete_range(next_index(), delete_request("a"), &d), Errc::kOk);
  EXPECT_EQ(d.deleted(), 1);
  EXPECT_EQ(d.header().revision(), 4);
  EXPECT_EQ(d.prev_kvs_size(), 0);  // not asked for
  EXPECT_EQ(get("a").count(), 0);
  EXPECT_EQ(put("a", "3"), 5);
  const auto r = get("a");
  ASSERT_EQ(r.kvs_size(), 1);
  EXPECT_EQ(r.kvs(0).create_revision(), 5);
  EXPECT_EQ(r.kvs(0).version(), 1);
  // The old incarnation is still readable at its revisions.
  EXPECT_EQ(value_at("a", 3), "2");
  EXPECT_EQ(get("a", "", 3).kvs(0).version(), 2);
  EXPECT_EQ(value_at("a", 4), "<none>");
}

TEST_F(StoreTest, DeleteOfNothingKeepsTheRevision) {
  put("a", "1");
  etcdpb::DeleteRangeResponse d;
  ASSERT_EQ(store_->delete_range(next_index(), delete_request("b", "c"), &d), Errc::kOk);
  EXPECT_EQ(d.deleted(), 0);
  EXPECT_EQ(d.header().revision(), 2);
  EXPECT_EQ(store_->revision(), 2);
  EXPECT_EQ(store_->applied_index(), raft::Index{2});
  // A deleted key deleted again: nothing.
  del("a");
  ASSERT_EQ(store_->delete_range(next_index(), delete_request("a"), &d), Errc::kOk);
  EXPECT_EQ(d.deleted(), 0);
  EXPECT_EQ(store_->revision(), 3);
}

TEST_F(StoreTest, DeleteRangeWithPrevKvs) {
  put("a", "1");
  put("b", "2");
  put("c", "3");
  auto req = delete_request("a", "c");
  req.set_prev_kv(true);
  etcdpb::DeleteRangeResponse d;
  ASSERT_EQ(store_->delete_range(next_index(), req, &d), Errc::kOk);
  EXPECT_EQ(d.deleted(), 2);
  ASSERT_EQ(d.prev_kvs_size(), 2);
  EXPECT_EQ(d.prev_kvs(0).key(), "a");
  EXPECT_EQ(d.prev_kvs(0).value(), "1");
  EXPECT_EQ(d.prev_kvs(0).mod_revision(), 2);
  EXPECT_EQ(d.prev_kvs(1).key(), "b");
  EXPECT_EQ(keys_of(get("\0", std::string_view("\0", 1))), "c");
  // All of one delete share one revision.
  EXPECT_EQ(d.header().revision(), 5);
  EXPECT_EQ(store_->revision(), 5);
}

TEST_F(StoreTest, PutPrevKv) {
  auto req = put_request("a", "1");
  req.set_prev_kv(true);
  auto r = put(req);
  EXPECT_FALSE(r.has_prev_kv());
  req.set_value("2");
  r = put(req);
  ASSERT_TRUE(r.has_prev_kv());
  EXPECT_EQ(r.prev_kv().key(), "a");
  EXPECT_EQ(r.prev_kv().value(), "1");
  EXPECT_EQ(r.prev_kv().mod_revision(), 2);
  EXPECT_EQ(r.prev_kv().version(), 1);
  del("a");
  r = put(req);
  EXPECT_FALSE(r.has_prev_kv());  // a tombstone is no previous kv
}

TEST_F(StoreTest, IgnoreValueAndLease) {
  auto req = put_request("a", "");
  req.set_ignore_value(true);
  etcdpb::PutResponse resp;
  EXPECT_EQ(store_->put(next_index(), req, &resp), Errc::kKeyNotFound);
  EXPECT_EQ(store_->revision(), 1);
  EXPECT_EQ(store_->applied_index(), raft::Index{1});  // applied, though refused
  put("a", "keep");
  EXPECT_EQ(put(req).header().revision(), 3);
  auto r = get("a");
  EXPECT_EQ(r.kvs(0).value(), "keep");
  EXPECT_EQ(r.kvs(0).version(), 2);
  EXPECT_EQ(r.kvs(0).mod_revision(), 3);

  auto lease_req = put_request("b", "v");
  lease_req.set_ignore_lease(true);
  EXPECT_EQ(store_->put(next_index(), lease_req, &resp), Errc::kKeyNotFound);
  lease_req.set_key("a");
  put(lease_req);
  r = get("a");
  EXPECT_EQ(r.kvs(0).value(), "v");
  EXPECT_EQ(r.kvs(0).lease(), 0);
  EXPECT_EQ(r.kvs(0).version(), 3);
  // A deleted key is missing for ignore_value too.
  del("a");
  EXPECT_EQ(store_->put(next_index(), req, &resp), Errc::kKeyNotFound);
}

TEST_F(StoreTest, APutWithALeaseThatDoesNotExistIsRefused) {
  auto req = put_request("a", "1");
  req.set_lease(42);
  etcdpb::PutResponse resp;
  EXPECT_EQ(store_->put(next_index(), req, &resp), Errc::kLeaseNotFound);
  EXPECT_EQ(store_->revision(), 1);
  EXPECT_EQ(get("a").count(), 0);
}

TEST_F(StoreTest, KeysWithZeroAndHighBytesKeepByteOrder) {
  const std::string keys[] = {std::string("a"),
                              std::string("a\0", 2),
                              std::string("a\0\0", 3),
                              std::string("a\0\x01", 3),
                              std::string("a\x01", 2),
                              std::string("a\xff", 2),
                              std::string("a\xff\xff", 3),
                              std::string("b")};
  for (int i = 7; i >= 0; --i) put(keys[i], std::to_string(i));
  const auto r = get(std::string_view("\0", 1), std::string_view("\0", 1));
  ASSERT_EQ(r.kvs_size(), 8);
  for (int i = 0; i < 8; ++i) {
    EXPECT_EQ(r.kvs(i).key(), keys[i]) << i;
    EXPECT_EQ(r.kvs(i).value(), std::to_string(i));
  }
  // Single-key reads see exactly their key.
  for (int i = 0; i < 8; ++i) EXPECT_EQ(value_at(keys[i]), std::to_string(i)) << i;
  // [a\0, a\x01) holds the keys that start with a\0.
  EXPECT_EQ(get(keys[1], keys[4]).count(), 3);
}

TEST_F(StoreTest, AppliedIndexAndRestart) {
  put("a", "1");
  put("b", "2");
  del("a");
  compact(3);
  store_->mark_applied(raft::Index{10});
  EXPECT_EQ(store_->applied_index(), raft::Index{10});
  reopen();
  EXPECT_EQ(store_->revision(), 4);
  EXPECT_EQ(store_->compact_revision(), 3);
  EXPECT_EQ(store_->applied_index(), raft::Index{10});
  EXPECT_EQ(value_at("b"), "2");
  EXPECT_EQ(value_at("a"), "<none>");
  etcdpb::RangeResponse r;
  EXPECT_EQ(store_->range(range_request("b", "", 2), &r), Errc::kCompacted);
  index_ = 10;
  EXPECT_EQ(put("c", "3"), 5);
  EXPECT_EQ(store_->applied_index(), raft::Index{11});
}

TEST_F(StoreTest, FailedWritesStillRecordTheAppliedIndex) {
  put("a", "1");
  etcdpb::CompactionRequest c;
  c.set_revision(5);
  etcdpb::CompactionResponse cr;
  EXPECT_EQ(store_->compact(raft::Index{7}, c, &cr), Errc::kFutureRevision);
  EXPECT_EQ(store_->applied_index(), raft::Index{7});
  etcdpb::TxnRequest t;
  auto* op = t.add_success()->mutable_request_put();
  op->set_key("zz");
  op->set_ignore_value(true);
  etcdpb::TxnResponse tr;
  EXPECT_EQ(store_->txn(raft::Index{8}, t, &tr), Errc::kKeyNotFound);
  EXPECT_EQ(store_->applied_index(), raft::Index{8});
  reopen();
  EXPECT_EQ(store_->applied_index(), raft::Index{8});
  EXPECT_EQ(store_->revision(), 2);
}

TEST_F(StoreTest, ManyVersionsOfOneKeyReadAtEveryRevision) {
  for (int i = 0; i < 300; ++i) put("k", std::to_string(i));
  put("l", "x");
  for (int i = 0; i < 300; ++i) EXPECT_EQ(value_at("k", 2 + i), std::to_string(i));
  EXPECT_EQ(value_at("k"), "299");
  // A range at an old revision skips newer versions of every key.
  const auto r = get("a", "z", 100);
  EXPECT_EQ(keys_of(r), "k");
  EXPECT_EQ(r.kvs(0).value(), "98");
  EXPECT_EQ(r.kvs(0).version(), 99);
}

TEST_F(StoreTest, SizeBytesIsReported) {
  for (int i = 0; i < 100; ++i) put("key" + std::to_string(i), std::string(100, 'v'));
  EXPECT_GT(store_->size_bytes(), 0u);
}

TEST(IsReadOnly, OnlyRangesAllTheWayDown) {
  etcdpb::TxnRequest t;
  EXPECT_TRUE(is_read_only(t));
  *t.add_success() = testing::range_op("a");
  *t.add_failure() = testing::range_op("b");
  EXPECT_TRUE(is_read_only(t));
  etcdpb::TxnRequest nested = t;
  *t.add_success()->mutable_request_txn() = nested;
  EXPECT_TRUE(is_read_only(t));
  *nested.add_failure() = testing::put_op("a", "1");
  *t.add_success()->mutable_request_txn() = nested;
  EXPECT_FALSE(is_read_only(t));
  etcdpb::TxnRequest d;
  *d.add_failure() = testing::delete_op("a");
  EXPECT_FALSE(is_read_only(d));
}

}  // namespace
}  // namespace meridian::kv
