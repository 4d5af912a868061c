// MvccStore::txn and read_txn: compares of every target and result, branches,
// nested txns, reads of the txn's own writes, one revision per txn, errors.
#include <gtest/gtest.h>

#include "kv/mvcc_store.h"
#include "kv/store_testing.h"

namespace meridian::kv {
namespace {

using etcdpb::Compare;
using etcdpb::TxnRequest;
using etcdpb::TxnResponse;
using testing::compare_version;
using testing::delete_op;
using testing::keys_of;
using testing::put_op;
using testing::range_op;
using testing::StoreTest;

const std::string kZero(1, '\0');

class TxnTest : public StoreTest {
 protected:
  TxnTest() {
    put("a", "apple");    // 2
    put("b", "berry");    // 3
    put("a", "apricot");  // 4: a has version 2, create 2, mod 4
  }

  // Whether a txn with this one compare takes the success branch.
  bool holds(const Compare& c) {
    TxnRequest t;
    *t.add_compare() = c;
    TxnResponse r;
    EXPECT_EQ(store_->read_txn(t, &r), Errc::kOk);
    return r.succeeded();
  }

  static Compare cmp(std::string_view key, Compare::CompareTarget target,
                     Compare::CompareResult result) {
    Compare c;
    c.set_key(std::string(key));
    c.set_target(target);
    c.set_result(result);
    return c;
  }
};

TEST_F(TxnTest, CompareEveryTargetAndResult) {
  auto version = [&](Compare::CompareResult res, int64_t v) {
    Compare c = cmp("a", Compare::VERSION, res);
    c.set_version(v);
    return holds(c);
  };
  EXPECT_TRUE(version(Compare::EQUAL, 2));
  EXPECT_FALSE(version(Compare::EQUAL, 1));
  EXPECT_TRUE(version(Compare::GREATER, 1));
  EXPECT_FALSE(version(Compare::GREATER, 2));
  EXPECT_TRUE(version(Compare::LESS, 3));
  EXPECT_FALSE(version(Compare::LESS, 2));
  EXPECT_TRUE(version(Compare::NOT_EQUAL, 3));
  EXPECT_FALSE(version(Compare::NOT_EQUAL, 2));

  Compare c = cmp("a", Compare::CREATE, Compare::EQUAL);
  c.set_create_revision(2);
  EXPECT_TRUE(holds(c));
  c = cmp("a", Compare::MOD, Compare::EQUAL);
  c.set_mod_revision(4);
  EXPECT_TRUE(holds(c));
  c.set_result(Compare::LESS);
  EXPECT_FALSE(holds(c));
  c = cmp("a", Compare::VALUE, Compare::EQUAL);
  c.set_value("apricot");
  EXPECT_TRUE(holds(c));
  c.set_result(Compare::GREATER);
  c.set_value("apple");  // "apricot" > "apple"
  EXPECT_TRUE(holds(c));
  c.set_result(Compare::LESS);
  EXPECT_FALSE(holds(c));
  c = cmp("a", Compare::LEASE, Compare::EQUAL);
  c.set_lease(0);
  EXPECT_TRUE(holds(c));
  c.set_lease(5);
  EXPECT_FALSE(holds(c));
}

TEST_F(TxnTest, MissingKeysCompareAsZeroExceptValue) {
  EXPECT_TRUE(holds(compare_version("zz", Compare::EQUAL, 0)));  // "key does not exist"
  Compare c = cmp("zz", Compare::CREATE, Compare::EQUAL);
  c.set_create_revision(0);
  EXPECT_TRUE(holds(c));
  c = cmp("zz", Compare::VALUE, Compare::EQUAL);
  c.set_value("");
  EXPECT_FALSE(holds(c));  // a missing value never compares
  c.set_result(Compare::NOT_EQUAL);
  EXPECT_FALSE(holds(c));
}

TEST_F(TxnTest, TargetUnionOfAnotherFieldComparesZero) {
  // Target VERSION but the union holds a mod_revision: etcd compares with 0.
  Compare c = cmp("a", Compare::VERSION, Compare::GREATER);
  c.set_mod_revision(100);
  EXPECT_TRUE(holds(c));
  c.set_result(Compare::EQUAL);
  EXPECT_FALSE(holds(c));
}

TEST_F(TxnTest, CompareOverARangeNeedsEveryKey) {
  Compare c = cmp("a", Compare::VERSION, Compare::GREATER);
  c.set_range_end("c");
  c.set_version(0);
  EXPECT_TRUE(holds(c));  // a: 2, b: 1
  c.set_version(1);
  EXPECT_FALSE(holds(c));  // b is not > 1
  c.set_range_end(kZero);
  c.set_version(0);
  EXPECT_TRUE(holds(c));
  c.set_key("x");  // an empty range compares a zero kv
  c.set_result(Compare::EQUAL);
  EXPECT_TRUE(holds(c));
  c = cmp("a", Compare::VALUE, Compare::GREATER);
  c.set_range_end("c");
  c.set_value("apple");  // "apricot" > "apple", "berry" > "apple"
  EXPECT_TRUE(holds(c));
}

TEST_F(TxnTest, BranchesAndResponses) {
  TxnRequest t;
  *t.add_compare() = compare_version("b", Compare::EQUAL, 1);
  *t.add_success() = put_op("c", "cherry");
  *t.add_success() = range_op("a", "z");
  *t.add_success() = delete_op("b");
  *t.add_failure() = put_op("f", "fail");
  TxnResponse r = txn(t);
  EXPECT_TRUE(r.succeeded());
  EXPECT_EQ(r.header().revision(), 5);
  ASSERT_EQ(r.responses_size(), 3);
  EXPECT_EQ(r.responses(0).response_put().header().revision(), 5);
  // The range sees the txn's put, at the txn's revision.
  EXPECT_EQ(keys_of(r.responses(1).response_range()), "a,b,c");
  EXPECT_EQ(r.responses(1).response_range().header().revision(), 5);
  EXPECT_EQ(r.responses(2).response_delete_range().deleted(), 1);
  EXPECT_EQ(keys_of(get("a", "z")), "a,c");
  EXPECT_EQ(value_at("f"), "<none>");

  // The failure branch: b is gone now.
  r = txn(t);
  EXPECT_FALSE(r.succeeded());
  ASSERT_EQ(r.responses_size(), 1);
  EXPECT_TRUE(r.responses(0).has_response_put());
  EXPECT_EQ(value_at("f"), "fail");
  EXPECT_EQ(store_->revision(), 6);
}

TEST_F(TxnTest, OneRevisionWithSubRevisionsForTheWholeTxn) {
  testing::RecordingListener listener;
  store_->set_listener(&listener);
  TxnRequest t;
  *t.add_success() = put_op("x", "1");
  *t.add_success() = put_op("y", "2");
  *t.add_success() = delete_op("a");
  txn(t);
  EXPECT_EQ(store_->revision(), 5);
  for (const char* k : {"x", "y"}) {
    const auto r = get(k);
    EXPECT_EQ(r.kvs(0).mod_revision(), 5);
    EXPECT_EQ(r.kvs(0).create_revision(), 5);
  }
  const auto batches = listener.batches();
  ASSERT_EQ(batches.size(), 1u);
  ASSERT_EQ(batches[0].events.size(), 3u);
  EXPECT_EQ(batches[0].events[0].kv().key(), "x");
  EXPECT_EQ(batches[0].events[1].kv().key(), "y");
  EXPECT_EQ(batches[0].events[2].type(), mvccpb::Event::DELETE);
  EXPECT_EQ(batches[0].events[2].prev_kv().value(), "apricot");
  store_->set_listener(nullptr);
}

TEST_F(TxnTest, ReadsSeeTheTxnsEarlierWrites) {
  TxnRequest t;
  *t.add_success() = range_op("a");  // before any write: the store's revision
  *t.add_success() = delete_op("a");
  *t.add_success() = range_op("a");
  *t.add_success() = put_op("n", "new");
  auto* pk = t.add_success()->mutable_request_put();
  pk->set_key("b");
  pk->set_value("blue");
  pk->set_prev_kv(true);
  *t.add_success() = range_op(kZero, kZero);
  // An explicit revision reads the store as it was, without the txn.
  auto* old = t.add_success()->mutable_request_range();
  old->set_key("a");
  old->set_revision(4);
  const TxnResponse r = txn(t);
  ASSERT_EQ(r.responses_size(), 7);
  EXPECT_EQ(keys_of(r.responses(0).response_range()), "a");
  EXPECT_EQ(r.responses(0).response_range().header().revision(), 4);
  EXPECT_EQ(r.responses(1).response_delete_range().header().revision(), 5);
  EXPECT_EQ(keys_of(r.responses(2).response_range()), "");
  EXPECT_EQ(r.responses(2).response_range().header().revision(), 5);
  EXPECT_EQ(r.responses(4).response_put().prev_kv().value(), "berry");
  const auto& all = r.responses(5).response_range();
  EXPECT_EQ(keys_of(all), "b,n");
  EXPECT_EQ(all.kvs(0).value(), "blue");
  EXPECT_EQ(all.kvs(0).version(), 2);
  EXPECT_EQ(all.kvs(1).create_revision(), 5);
  EXPECT_EQ(all.count(), 2);
  EXPECT_EQ(r.responses(6).response_range().kvs(0).value(), "apricot");
}

TEST_F(TxnTest, NoChangeNoNewRevision) {
  TxnRequest t;
  *t.add_success() = range_op("a");
  *t.add_success() = delete_op("nothing", "nothinh");
  TxnResponse r = txn(t);
  EXPECT_EQ(r.header().revision(), 4);
  EXPECT_EQ(store_->revision(), 4);
  EXPECT_EQ(r.responses(1).response_delete_range().header().revision(), 4);
  // A delete of nothing after a write reports the txn's revision.
  *t.add_success() = put_op("p", "1");
  *t.add_success() = delete_op("nothing");
  r = txn(t);
  EXPECT_EQ(r.header().revision(), 5);
  EXPECT_EQ(r.responses(1).response_delete_range().header().revision(), 4);
  EXPECT_EQ(r.responses(3).response_delete_range().header().revision(), 5);
  // An empty txn.
  r = txn(TxnRequest());
  EXPECT_TRUE(r.succeeded());
  EXPECT_EQ(r.header().revision(), 5);
}

TEST_F(TxnTest, NestedTxnsDecideOnTheStateBeforeTheTxn) {
  TxnRequest inner;
  // Evaluated before the outer put of "a": a's version is still 2.
  *inner.add_compare() = compare_version("a", Compare::EQUAL, 2);
  *inner.add_success() = put_op("inner", "yes");
  *inner.add_failure() = put_op("inner", "no");
  TxnRequest outer;
  *outer.add_compare() = compare_version("b", Compare::EQUAL, 1);
  *outer.add_success() = put_op("a", "again");
  *outer.add_success()->mutable_request_txn() = inner;
  *outer.add_failure() = put_op("outer", "failed");
  const TxnResponse r = txn(outer);
  EXPECT_TRUE(r.succeeded());
  ASSERT_EQ(r.responses_size(), 2);
  const TxnResponse& n = r.responses(1).response_txn();
  EXPECT_TRUE(n.succeeded());
  EXPECT_TRUE(n.has_header());  // etcd gives nested txns an empty header
  EXPECT_EQ(n.header().revision(), 0);
  EXPECT_EQ(n.responses(0).response_put().header().revision(), 5);
  EXPECT_EQ(value_at("inner"), "yes");
  EXPECT_EQ(get("a").kvs(0).version(), 3);
}

TEST_F(TxnTest, ErrorsChangeNothing) {
  TxnRequest t;
  *t.add_success() = put_op("c", "1");
  auto* p = t.add_success()->mutable_request_put();
  p->set_key("missing");
  p->set_ignore_value(true);
  TxnResponse r;
  EXPECT_EQ(store_->txn(next_index(), t, &r), Errc::kKeyNotFound);
  EXPECT_EQ(store_->revision(), 4);
  EXPECT_EQ(value_at("c"), "<none>");

  TxnRequest lease;
  auto* lp = lease.add_success()->mutable_request_put();
  lp->set_key("l");
  lp->set_lease(9);
  EXPECT_EQ(store_->txn(next_index(), lease, &r), Errc::kLeaseNotFound);

  TxnRequest future;
  *future.add_success() = put_op("c", "1");
  auto* fr = future.add_success()->mutable_request_range();
  fr->set_key("a");
  fr->set_revision(5);  // the txn's own revision is still a future one
  EXPECT_EQ(store_->txn(next_index(), future, &r), Errc::kFutureRevision);
  EXPECT_EQ(store_->revision(), 4);

  compact(3);
  fr->set_revision(2);
  EXPECT_EQ(store_->txn(next_index(), future, &r), Errc::kCompacted);
  fr->set_revision(3);
  EXPECT_EQ(store_->txn(next_index(), future, &r), Errc::kOk);
  // The branch not taken is not checked.
  TxnRequest other;
  *other.add_compare() = compare_version("a", Compare::EQUAL, 99);
  *other.add_success() = range_op("a");
  other.mutable_success(0)->mutable_request_range()->set_revision(100);
  r.Clear();
  EXPECT_EQ(store_->txn(next_index(), other, &r), Errc::kOk);
  EXPECT_FALSE(r.succeeded());
  EXPECT_EQ(store_->applied_index(), raft::Index{index_});
}

TEST_F(TxnTest, IgnoreValueOfAKeyTheTxnDeletedFailsTheWholeTxn) {
  // Validation lets a "from key" delete and a put under it through (as etcd's
  // does); etcd then panics. The store refuses the txn as a whole.
  TxnRequest t;
  *t.add_success() = put_op("0", "1");  // outside the delete
  *t.add_success() = delete_op("a", kZero);
  auto* p = t.add_success()->mutable_request_put();
  p->set_key("b");
  p->set_ignore_value(true);
  TxnResponse r;
  EXPECT_EQ(store_->txn(next_index(), t, &r), Errc::kKeyNotFound);
  EXPECT_EQ(store_->revision(), 4);
  EXPECT_EQ(keys_of(get(kZero, kZero)), "a,b");
  // A plain put under the delete works: a new incarnation.
  t.mutable_success(2)->mutable_request_put()->set_ignore_value(false);
  t.mutable_success(2)->mutable_request_put()->set_value("again");
  r = txn(t);
  EXPECT_EQ(keys_of(get(kZero, kZero)), "0,b");
  EXPECT_EQ(get("b").kvs(0).version(), 1);
  EXPECT_EQ(get("b").kvs(0).create_revision(), 5);
}

TEST_F(TxnTest, ReadTxnMatchesTxnAndNeverWrites) {
  TxnRequest t;
  *t.add_compare() = compare_version("a", Compare::GREATER, 1);
  *t.add_success() = range_op("a", "c");
  auto* hist = t.add_success()->mutable_request_range();
  hist->set_key("a");
  hist->set_revision(2);
  *t.add_failure() = range_op("b");
  TxnResponse via_read;
  ASSERT_EQ(store_->read_txn(t, &via_read), Errc::kOk);
  EXPECT_EQ(via_read.header().revision(), 4);
  const TxnResponse via_txn = txn(t);
  EXPECT_EQ(via_read.SerializeAsString(), via_txn.SerializeAsString());
  EXPECT_EQ(via_read.responses(1).response_range().kvs(0).value(), "apple");
  EXPECT_EQ(store_->revision(), 4);
  compact(3);
  EXPECT_EQ(store_->read_txn(t, &via_read), Errc::kCompacted);
}

}  // namespace
}  // namespace meridian::kv
