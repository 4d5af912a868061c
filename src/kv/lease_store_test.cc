// MvccStore's leases: grant, attach, revoke in one revision, renew, the
// leader's conditional expiry, and leases across reopen and restore.
#include <gtest/gtest.h>

#include "kv/mvcc_store.h"
#include "kv/store_testing.h"

namespace meridian::kv {
namespace {

using testing::delete_request;
using testing::put_request;
using testing::RecordingListener;
using testing::StoreTest;

class LeaseStoreTest : public StoreTest {
 protected:
  Errc grant(int64_t id, int64_t ttl, etcdpb::LeaseGrantResponse* resp = nullptr) {
    etcdpb::LeaseGrantRequest req;
    req.set_id(id);
    req.set_ttl(ttl);
    etcdpb::LeaseGrantResponse ignored;
    return store_->lease_grant(next_index(), req, resp != nullptr ? resp : &ignored);
  }
  Errc revoke(int64_t id, int64_t* revision = nullptr) {
    etcdpb::LeaseRevokeRequest req;
    req.set_id(id);
    etcdpb::LeaseRevokeResponse resp;
    const Errc e = store_->lease_revoke(next_index(), req, &resp);
    if (revision != nullptr) *revision = resp.header().revision();
    return e;
  }
  int64_t put_leased(std::string_view key, int64_t lease) {
    auto req = put_request(key, "v");
    req.set_lease(lease);
    return put(req).header().revision();
  }
  std::string keys_of_lease(int64_t id) {
    std::string out;
    for (const std::string& k : store_->lease_keys(id)) out += (out.empty() ? "" : ",") + k;
    return out;
  }
};

TEST_F(LeaseStoreTest, GrantAttachRevokeDeletesEveryKeyInOneRevision) {
  etcdpb::LeaseGrantResponse g;
  ASSERT_EQ(grant(7, 30, &g), Errc::kOk);
  EXPECT_EQ(g.id(), 7);
  EXPECT_EQ(g.ttl(), 30);
  EXPECT_EQ(g.header().revision(), 1);  // a grant makes no revision
  put_leased("b", 7);
  put_leased("a", 7);
  put("c", "not leased");
  EXPECT_EQ(get("a").kvs(0).lease(), 7);
  EXPECT_EQ(keys_of_lease(7), "a,b");

  RecordingListener listener;
  store_->set_listener(&listener);
  int64_t rev = 0;
  ASSERT_EQ(revoke(7, &rev), Errc::kOk);
  store_->set_listener(nullptr);
  EXPECT_EQ(rev, 5);
  EXPECT_EQ(store_->revision(), 5);
  EXPECT_EQ(get("a").kvs_size(), 0);
  EXPECT_EQ(get("b").kvs_size(), 0);
  EXPECT_EQ(get("c").kvs_size(), 1);
  EXPECT_FALSE(store_->leases().contains(7));
  EXPECT_EQ(keys_of_lease(7), "");
  // One revision, the keys in key order, as etcd's revoke.
  const auto batches = listener.batches();
  ASSERT_EQ(batches.size(), 1u);
  ASSERT_EQ(batches[0].events.size(), 2u);
  EXPECT_EQ(batches[0].events[0].kv().key(), "a");
  EXPECT_EQ(batches[0].events[1].kv().key(), "b");
  EXPECT_EQ(batches[0].events[0].type(), mvccpb::Event::DELETE);
  EXPECT_EQ(batches[0].events[0].prev_kv().lease(), 7);
}

TEST_F(LeaseStoreTest, RevokingALeaseWithoutKeysMakesNoRevision) {
  ASSERT_EQ(grant(1, 10), Errc::kOk);
  put("x", "1");
  int64_t rev = 0;
  ASSERT_EQ(revoke(1, &rev), Errc::kOk);
  EXPECT_EQ(rev, 2);
  EXPECT_EQ(store_->revision(), 2);
}

TEST_F(LeaseStoreTest, RefusalsChangeNothing) {
  ASSERT_EQ(grant(5, 10), Errc::kOk);
  EXPECT_EQ(grant(5, 20), Errc::kLeaseExists);
  EXPECT_EQ(store_->leases().find(5)->ttl, 10);
  EXPECT_EQ(grant(6, kMaxLeaseTtl + 1), Errc::kLeaseTtlTooLarge);
  EXPECT_EQ(grant(0, 10), Errc::kLeaseNotFound);
  EXPECT_EQ(revoke(99), Errc::kLeaseNotFound);
  EXPECT_EQ(store_->leases().size(), 1u);
  // A put with a lease that does not exist: etcd's error, nothing written.
  auto req = put_request("k", "v");
  req.set_lease(99);
  etcdpb::PutResponse resp;
  EXPECT_EQ(store_->put(next_index(), req, &resp), Errc::kLeaseNotFound);
  EXPECT_EQ(store_->revision(), 1);
  // Every refusal still counts as applied.
  EXPECT_EQ(store_->applied_index(), raft::Index{index_});
}

TEST_F(LeaseStoreTest, AttachmentsFollowTheKeysLiveVersion) {
  ASSERT_EQ(grant(1, 10), Errc::kOk);
  ASSERT_EQ(grant(2, 10), Errc::kOk);
  put_leased("k", 1);
  EXPECT_EQ(keys_of_lease(1), "k");
  put_leased("k", 2);  // moves to lease 2
  EXPECT_EQ(keys_of_lease(1), "");
  EXPECT_EQ(keys_of_lease(2), "k");
  auto keep = put_request("k", "w");
  keep.set_ignore_lease(true);  // keeps lease 2
  put(keep);
  EXPECT_EQ(keys_of_lease(2), "k");
  put("k", "plain");  // lease 0 detaches
  EXPECT_EQ(keys_of_lease(2), "");
  put_leased("k", 2);
  del("k");
  EXPECT_EQ(keys_of_lease(2), "");
  // In a txn: a put with a lease, then a delete of the same key, then a put
  // with another lease; only the last attachment stays.
  etcdpb::TxnRequest t;
  auto* p1 = t.add_success()->mutable_request_put();
  p1->set_key("t");
  p1->set_lease(1);
  t.add_success()->mutable_request_delete_range()->set_key("t");
  auto* p2 = t.add_success()->mutable_request_put();
  p2->set_key("t");
  p2->set_lease(2);
  txn(t);
  EXPECT_EQ(keys_of_lease(1), "");
  EXPECT_EQ(keys_of_lease(2), "t");
  // A txn putting with a lease that does not exist fails as a whole.
  etcdpb::TxnRequest bad;
  bad.add_success()->mutable_request_put()->set_key("u");
  auto* p3 = bad.add_success()->mutable_request_put();
  p3->set_key("w");
  p3->set_lease(3);
  etcdpb::TxnResponse resp;
  EXPECT_EQ(store_->txn(next_index(), bad, &resp), Errc::kLeaseNotFound);
  EXPECT_EQ(get("u").kvs_size(), 0);
}

TEST_F(LeaseStoreTest, RenewAndTheLeadersConditionalExpiry) {
  ASSERT_EQ(grant(1, 10), Errc::kOk);
  const uint64_t granted_at = index_;
  put_leased("k", 1);
  EXPECT_EQ(store_->leases().find(1)->renewed_index, granted_at);

  std::vector<int64_t> ttls;
  store_->lease_renew(next_index(), {1, 404}, &ttls);
  EXPECT_EQ(ttls, (std::vector<int64_t>{10, 0}));
  const uint64_t renewed_at = index_;
  EXPECT_EQ(store_->leases().find(1)->renewed_index, renewed_at);

  // The leader judged an older record: the lease was renewed since, so it stays.
  etcdpb::LeaseRevokeResponse resp;
  EXPECT_EQ(store_->lease_expire(next_index(), LeaseExpiry{1, granted_at}, &resp), Errc::kOk);
  EXPECT_TRUE(store_->leases().contains(1));
  EXPECT_EQ(get("k").kvs_size(), 1);
  // Judged by the current record: revoked with its keys.
  EXPECT_EQ(store_->lease_expire(next_index(), LeaseExpiry{1, renewed_at}, &resp), Errc::kOk);
  EXPECT_FALSE(store_->leases().contains(1));
  EXPECT_EQ(get("k").kvs_size(), 0);
  EXPECT_EQ(resp.header().revision(), store_->revision());
  // A lease already gone: nothing.
  EXPECT_EQ(store_->lease_expire(next_index(), LeaseExpiry{1, renewed_at}, &resp), Errc::kOk);
  EXPECT_EQ(store_->applied_index(), raft::Index{index_});
}

TEST_F(LeaseStoreTest, LeasesSurviveReopenAndTravelInSnapshots) {
  ASSERT_EQ(grant(1, 10), Errc::kOk);
  ASSERT_EQ(grant(-5, 20), Errc::kOk);  // etcd's ids are int64: negative ones work
  std::vector<int64_t> ttls;
  store_->lease_renew(next_index(), {-5}, &ttls);
  const uint64_t renewed_at = index_;
  put_leased("a", 1);
  put_leased(std::string("z\0z", 3), -5);
  reopen();
  EXPECT_EQ(store_->leases().size(), 2u);
  EXPECT_EQ(store_->leases().find(-5)->renewed_index, renewed_at);
  EXPECT_EQ(keys_of_lease(-5), std::string("z\0z", 3));

  const std::string snap = store_->snapshot();
  testing::TempDir other_dir;
  auto other = testing::open_store(other_dir.path());
  ASSERT_TRUE(other->restore(snap).is_ok());
  EXPECT_EQ(other->leases().size(), 2u);
  EXPECT_EQ(other->leases().find(1)->ttl, 10);
  EXPECT_EQ(other->lease_keys(1), std::vector<std::string>{"a"});
  etcdpb::LeaseRevokeResponse resp;
  etcdpb::LeaseRevokeRequest req;
  req.set_id(-5);
  ASSERT_EQ(other->lease_revoke(raft::Index{index_ + 1}, req, &resp), Errc::kOk);
  etcdpb::RangeResponse r;
  ASSERT_EQ(other->range(testing::range_request(std::string("z\0z", 3)), &r), Errc::kOk);
  EXPECT_EQ(r.kvs_size(), 0);

  // Restoring a snapshot without leases drops them.
  testing::TempDir empty_dir;
  auto empty = testing::open_store(empty_dir.path());
  ASSERT_TRUE(other->restore(empty->snapshot()).is_ok());
  EXPECT_EQ(other->leases().size(), 0u);
}

}  // namespace
}  // namespace meridian::kv
