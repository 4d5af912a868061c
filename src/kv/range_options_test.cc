// MvccStore::range: every option of etcd's Range and the combinations that
// interact (limit, more and count with sorting and filters; revision bounds;
// the byte bound).
#include <gtest/gtest.h>

#include "kv/mvcc_store.h"
#include "kv/store_testing.h"

namespace meridian::kv {
namespace {

using etcdpb::RangeRequest;
using testing::keys_of;
using testing::range_request;
using testing::StoreTest;

const std::string kZero(1, '\0');

// Keys a..e with distinct versions, create and mod revisions, values:
//   a: created 2, version 3 (mod 9), value "3"
//   b: created 3, version 1 (mod 3), value "z"
//   c: created 4, version 2 (mod 7), value "m"
//   d: created 5, version 1 (mod 5), value "a"
//   e: created 6, version 1 (mod 6), value "m"
class RangeTest : public StoreTest {
 protected:
  RangeTest() {
    put("a", "1");  // 2
    put("b", "z");  // 3
    put("c", "x");  // 4
    put("d", "a");  // 5
    put("e", "m");  // 6
    put("c", "m");  // 7
    put("a", "2");  // 8
    put("a", "3");  // 9
  }
};

TEST_F(RangeTest, RangeEndForms) {
  EXPECT_EQ(keys_of(get("b")), "b");
  EXPECT_EQ(keys_of(get("bb")), "");
  EXPECT_EQ(keys_of(get("b", "d")), "b,c");
  EXPECT_EQ(keys_of(get("b", kZero)), "b,c,d,e");  // from key
  EXPECT_EQ(keys_of(get(kZero, kZero)), "a,b,c,d,e");
  EXPECT_EQ(keys_of(get("c", "c")), "");  // empty: end == key
  EXPECT_EQ(keys_of(get("d", "b")), "");  // empty: end < key
  put("ca", "1");
  put("cb", "1");
  EXPECT_EQ(keys_of(get("c", "d")), "c,ca,cb");  // prefix "c"
}

TEST_F(RangeTest, HistoricalReadsAndTheirHeader) {
  auto r = get("a", "", 8);
  ASSERT_EQ(r.kvs_size(), 1);
  EXPECT_EQ(r.kvs(0).value(), "2");
  EXPECT_EQ(r.kvs(0).version(), 2);
  EXPECT_EQ(r.header().revision(), 9);  // always the current revision
  EXPECT_EQ(keys_of(get(kZero, kZero, 4)), "a,b,c");
  EXPECT_EQ(get(kZero, kZero, 4).kvs(2).value(), "x");
  EXPECT_EQ(keys_of(get(kZero, kZero, 1)), "");
  EXPECT_EQ(get(kZero, kZero, -5).count(), 5);  // <= 0: current
}

TEST_F(RangeTest, FutureAndCompactedRevisions) {
  RangeRequest req = range_request("a", "", 10);
  etcdpb::RangeResponse r;
  EXPECT_EQ(store_->range(req, &r), Errc::kFutureRevision);
  req.set_revision(9);
  EXPECT_EQ(store_->range(req, &r), Errc::kOk);
  compact(5);
  req.set_revision(5);  // at the compacted revision: readable
  r.Clear();
  EXPECT_EQ(store_->range(req, &r), Errc::kOk);
  EXPECT_EQ(r.kvs(0).value(), "1");
  req.set_revision(4);
  EXPECT_EQ(store_->range(req, &r), Errc::kCompacted);
  req.set_revision(0);
  EXPECT_EQ(store_->range(req, &r), Errc::kOk);
}

TEST_F(RangeTest, LimitMoreAndCount) {
  RangeRequest req = range_request(kZero, kZero);
  req.set_limit(2);
  auto r = range(req);
  EXPECT_EQ(keys_of(r), "a,b");
  EXPECT_TRUE(r.more());
  EXPECT_EQ(r.count(), 5);
  req.set_limit(4);
  r = range(req);
  EXPECT_TRUE(r.more());
  req.set_limit(5);
  r = range(req);
  EXPECT_EQ(r.kvs_size(), 5);
  EXPECT_FALSE(r.more());
  req.set_limit(50);
  r = range(req);
  EXPECT_FALSE(r.more());
  EXPECT_EQ(r.count(), 5);
  req.set_limit(-1);  // negative: no limit
  EXPECT_EQ(range(req).kvs_size(), 5);
  // At an older revision the count is that revision's.
  req.set_limit(1);
  req.set_revision(4);
  r = range(req);
  EXPECT_EQ(keys_of(r), "a");
  EXPECT_EQ(r.count(), 3);
  EXPECT_TRUE(r.more());
}

TEST_F(RangeTest, SortEveryTargetBothWays) {
  struct Case {
    RangeRequest::SortTarget target;
    RangeRequest::SortOrder order;
    std::string keys;
  };
  const Case cases[] = {
      {RangeRequest::KEY, RangeRequest::ASCEND, "a,b,c,d,e"},
      {RangeRequest::KEY, RangeRequest::DESCEND, "e,d,c,b,a"},
      {RangeRequest::VERSION, RangeRequest::ASCEND, "b,d,e,c,a"},  // ties by key
      {RangeRequest::VERSION, RangeRequest::DESCEND, "a,c,b,d,e"},
      {RangeRequest::CREATE, RangeRequest::ASCEND, "a,b,c,d,e"},
      {RangeRequest::CREATE, RangeRequest::DESCEND, "e,d,c,b,a"},
      {RangeRequest::MOD, RangeRequest::ASCEND, "b,d,e,c,a"},
      {RangeRequest::MOD, RangeRequest::DESCEND, "a,c,e,d,b"},
      {RangeRequest::VALUE, RangeRequest::ASCEND, "a,d,c,e,b"},  // "3","a","m","m","z"
      {RangeRequest::VALUE, RangeRequest::DESCEND, "b,c,e,d,a"},
  };
  for (const Case& c : cases) {
    RangeRequest req = range_request(kZero, kZero);
    req.set_sort_target(c.target);
    req.set_sort_order(c.order);
    auto r = range(req);
    EXPECT_EQ(keys_of(r), c.keys) << c.target << " " << c.order;
    EXPECT_FALSE(r.more());
    // With a limit: the first of the whole sorted answer (everything is fetched
    // when sorting), more set, count whole.
    req.set_limit(2);
    r = range(req);
    EXPECT_EQ(keys_of(r), c.keys.substr(0, 3)) << c.target << " " << c.order;
    EXPECT_TRUE(r.more());
    EXPECT_EQ(r.count(), 5);
  }
}

TEST_F(RangeTest, TargetWithoutOrderSortsOnlyTheFetchedWindow) {
  // etcd: a target other than KEY with order NONE sorts ascending, but the
  // store fetched only limit + 1 keys by key first.
  RangeRequest req = range_request(kZero, kZero);
  req.set_sort_target(RangeRequest::MOD);
  auto r = range(req);
  EXPECT_EQ(keys_of(r), "b,d,e,c,a");
  req.set_limit(2);
  r = range(req);
  // Window a(mod 9), b(3), c(7): sorted b, c, a; the first two.
  EXPECT_EQ(keys_of(r), "b,c");
  EXPECT_TRUE(r.more());
  EXPECT_EQ(r.count(), 5);
}

TEST_F(RangeTest, RevisionFiltersPruneButDoNotChangeCount) {
  RangeRequest req = range_request(kZero, kZero);
  req.set_min_mod_revision(6);
  EXPECT_EQ(keys_of(range(req)), "a,c,e");
  EXPECT_EQ(range(req).count(), 5);
  req.set_max_mod_revision(7);
  EXPECT_EQ(keys_of(range(req)), "c,e");
  req.Clear();
  req.set_key(kZero);
  req.set_range_end(kZero);
  req.set_min_create_revision(3);
  req.set_max_create_revision(5);
  EXPECT_EQ(keys_of(range(req)), "b,c,d");
  // Filters make everything a candidate: the limit applies after them.
  req.set_limit(2);
  auto r = range(req);
  EXPECT_EQ(keys_of(r), "b,c");
  EXPECT_TRUE(r.more());
  EXPECT_EQ(r.count(), 5);
  req.set_limit(3);
  r = range(req);
  EXPECT_EQ(keys_of(r), "b,c,d");
  EXPECT_FALSE(r.more());  // nothing else passes the filters
  // Filters with sorting.
  req.set_limit(0);
  req.set_sort_target(RangeRequest::VALUE);
  req.set_sort_order(RangeRequest::DESCEND);
  EXPECT_EQ(keys_of(range(req)), "b,c,d");
}

TEST_F(RangeTest, KeysOnlyAndCountOnly) {
  RangeRequest req = range_request("a", "c");
  req.set_keys_only(true);
  auto r = range(req);
  ASSERT_EQ(r.kvs_size(), 2);
  EXPECT_EQ(r.kvs(0).key(), "a");
  EXPECT_EQ(r.kvs(0).value(), "");
  EXPECT_EQ(r.kvs(0).version(), 3);
  EXPECT_EQ(r.kvs(0).mod_revision(), 9);
  req.set_sort_target(RangeRequest::VALUE);  // sorting by value still works
  req.set_sort_order(RangeRequest::DESCEND);
  r = range(req);
  EXPECT_EQ(keys_of(r), "b,a");
  EXPECT_EQ(r.kvs(0).value(), "");

  req.Clear();
  req.set_key(kZero);
  req.set_range_end(kZero);
  req.set_count_only(true);
  req.set_limit(1);
  r = range(req);
  EXPECT_EQ(r.kvs_size(), 0);
  EXPECT_EQ(r.count(), 5);
  EXPECT_FALSE(r.more());
  EXPECT_EQ(r.header().revision(), 9);
}

TEST_F(RangeTest, DeletedKeysAreNeitherReturnedNorCounted) {
  del("b");
  del("d");
  auto r = get(kZero, kZero);
  EXPECT_EQ(keys_of(r), "a,c,e");
  EXPECT_EQ(r.count(), 3);
  EXPECT_EQ(get(kZero, kZero, 9).count(), 5);
}

class BoundedRangeTest : public StoreTest {
 protected:
  BoundedRangeTest() : StoreTest(100) {}
};

TEST_F(BoundedRangeTest, StopsAtTheByteBoundWithMoreAndFullCount) {
  // 10 keys of 1 + 29 bytes: three fit in 100 bytes.
  for (char c = 'a'; c < 'k'; ++c) put(std::string(1, c), std::string(29, c));
  auto r = get(kZero, kZero);
  EXPECT_EQ(keys_of(r), "a,b,c");
  EXPECT_TRUE(r.more());
  EXPECT_EQ(r.count(), 10);
  // Keys only: 10 bytes in all.
  RangeRequest req = range_request(kZero, kZero);
  req.set_keys_only(true);
  r = range(req);
  EXPECT_EQ(r.kvs_size(), 10);
  EXPECT_FALSE(r.more());
  // A limit below the bound wins.
  req.set_keys_only(false);
  req.set_limit(2);
  r = range(req);
  EXPECT_EQ(keys_of(r), "a,b");
  EXPECT_TRUE(r.more());
  // Sorted: a prefix of the sorted answer.
  req.set_limit(0);
  req.set_sort_target(RangeRequest::KEY);
  req.set_sort_order(RangeRequest::DESCEND);
  r = range(req);
  EXPECT_EQ(keys_of(r), "j,i,h");
  EXPECT_TRUE(r.more());
  EXPECT_EQ(r.count(), 10);
  // A big kv that comes early in the sort order is not skipped over to fit
  // smaller ones behind it: the answer stays a prefix.
  put("h", std::string(90, 'h'));
  r = range(req);
  EXPECT_EQ(keys_of(r), "j,i");
  EXPECT_TRUE(r.more());
  req.set_sort_order(RangeRequest::ASCEND);
  req.set_sort_target(RangeRequest::MOD);  // a..g, i, j, then h (newest)
  r = range(req);
  EXPECT_EQ(keys_of(r), "a,b,c");
}

TEST_F(BoundedRangeTest, ASortedAnswerNeverSkipsAnItemThatDidNotFit) {
  put("k1", std::string(40, 'a'));  // 42 bytes, first by value
  put("k2", std::string(70, 'b'));  // 72 bytes, second: does not fit after k1
  put("k3", "c");                   // 3 bytes, third: would fit, but after k2
  RangeRequest req = range_request(kZero, kZero);
  req.set_sort_target(RangeRequest::VALUE);
  req.set_sort_order(RangeRequest::ASCEND);
  const auto r = range(req);
  EXPECT_EQ(keys_of(r), "k1");
  EXPECT_TRUE(r.more());
  EXPECT_EQ(r.count(), 3);
}

TEST_F(BoundedRangeTest, OneKvLargerThanTheBoundIsStillReturned) {
  put("big", std::string(500, 'x'));
  put("small", "y");
  auto r = get(kZero, kZero);
  EXPECT_EQ(keys_of(r), "big");
  EXPECT_TRUE(r.more());
  EXPECT_EQ(r.count(), 2);
  RangeRequest req = range_request(kZero, kZero);
  req.set_sort_target(RangeRequest::VALUE);
  req.set_sort_order(RangeRequest::DESCEND);
  r = range(req);
  EXPECT_EQ(keys_of(r), "small");  // "y" > "xxx...": comes first, then big does not fit
  EXPECT_TRUE(r.more());
}

// A range past the first 10,000 kvs goes on on another iterator (one that does
// not fill the block cache, range_reader.cc): nothing is lost, repeated or
// mixed up at the switch, at the latest revision and at an older one.
class LongRangeTest : public StoreTest {};

TEST_F(LongRangeTest, LongScansAreTheSameAcrossTheIteratorSwitch) {
  constexpr int kKeys = 25000;
  auto key = [](int i) {
    std::string k = std::to_string(i);
    return "k" + std::string(5 - k.size(), '0') + k;
  };
  for (int i = 0; i < kKeys; ++i) put(key(i), "old");
  const int64_t before = store_->revision();
  for (int i = 0; i < kKeys; i += 3) put(key(i), "new");
  for (int i = 0; i < kKeys; i += 7) del(key(i));

  auto now = get("k", "l");
  auto then = get("k", "l", before);
  EXPECT_EQ(then.count(), kKeys);
  ASSERT_EQ(then.kvs_size(), kKeys);
  for (int i = 0; i < kKeys; ++i) {
    ASSERT_EQ(then.kvs(i).key(), key(i));
    ASSERT_EQ(then.kvs(i).value(), "old");
  }
  int at = 0;
  for (int i = 0; i < kKeys; ++i) {
    if (i % 7 == 0) continue;
    ASSERT_LT(at, now.kvs_size());
    ASSERT_EQ(now.kvs(at).key(), key(i));
    ASSERT_EQ(now.kvs(at).value(), i % 3 == 0 ? "new" : "old") << key(i);
    ++at;
  }
  EXPECT_EQ(now.kvs_size(), at);
  EXPECT_EQ(now.count(), at);
}

}  // namespace
}  // namespace meridian::kv
