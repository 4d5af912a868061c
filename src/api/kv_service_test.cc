// The etcd KV service end to end: three real nodes in one process, a server per
// node, and a real gRPC client per server. Deadlines here bound progress; no
// test asserts how long anything takes.
#include "api/kv_service.h"

#include <future>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "api/api_testing.h"
#include "base/strings.h"

namespace meridian::api {
namespace {

namespace pb = ::etcdserverpb;
using base::cat;
using std::chrono::milliseconds;
using ::testing::AnyOf;
using ::testing::HasSubstr;
constexpr milliseconds kWait{10000};

#define ASSERT_GRPC_OK(expr)                                              \
  do {                                                                    \
    const grpc::Status s_ = (expr);                                       \
    ASSERT_TRUE(s_.ok()) << s_.error_code() << " " << s_.error_message(); \
  } while (0)

void expect_error(const grpc::Status& s, grpc::StatusCode code, const std::string& message) {
  EXPECT_EQ(s.error_code(), code) << s.error_message();
  EXPECT_EQ(s.error_message(), message);
}

pb::RequestOp put_op(const std::string& key, const std::string& value) {
  pb::RequestOp op;
  *op.mutable_request_put() = put_request(key, value);
  return op;
}

pb::RequestOp range_op(const std::string& key, bool serializable = false) {
  pb::RequestOp op;
  *op.mutable_request_range() = range_request(key);
  op.mutable_request_range()->set_serializable(serializable);
  return op;
}

pb::Compare value_equals(const std::string& key, const std::string& value) {
  pb::Compare c;
  c.set_key(key);
  c.set_target(pb::Compare::VALUE);
  c.set_result(pb::Compare::EQUAL);
  c.set_value(value);
  return c;
}

class KvServiceTest : public ::testing::Test {
 protected:
  explicit KvServiceTest(EtcdTestOptions options = {}) : c_(options) {}

  void SetUp() override {
    leader_ = c_.start(kWait);
    ASSERT_NE(leader_, 0);
    follower_ = leader_ % c_.size() + 1;
  }

  // The group's Raft index the leader's store has applied (it counts every
  // command proposed, whether it changed the data or failed).
  uint64_t leader_applied() { return c_.store(leader_).applied_index().value(); }

  EtcdTestCluster c_;
  int leader_ = 0;
  int follower_ = 0;
};

TEST_F(KvServiceTest, PutThroughFollowerAndLeaderThenGetFromEveryNode) {
  pb::PutResponse p1;
  ASSERT_GRPC_OK(c_.put(follower_, "a", "1", &p1));
  pb::PutResponse p2;
  ASSERT_GRPC_OK(c_.put(leader_, "b", "2", &p2));
  EXPECT_EQ(p2.header().revision(), p1.header().revision() + 1);
  for (int i = 1; i <= c_.size(); ++i) {
    for (const auto& [key, value] : {std::pair{"a", "1"}, std::pair{"b", "2"}}) {
      pb::RangeResponse r;
      ASSERT_GRPC_OK(c_.get(i, key, &r));  // linearizable: sees both puts on every node
      ASSERT_EQ(r.kvs_size(), 1) << "node " << i << " key " << key;
      EXPECT_EQ(r.kvs(0).value(), value);
      EXPECT_EQ(r.count(), 1);
      EXPECT_EQ(r.header().revision(), p2.header().revision());
    }
  }
  pb::RangeResponse all;
  ASSERT_GRPC_OK(c_.range(follower_, range_request("a", "c"), &all));
  ASSERT_EQ(all.kvs_size(), 2);
  EXPECT_EQ(all.kvs(0).key(), "a");
  EXPECT_EQ(all.kvs(0).create_revision(), p1.header().revision());
  EXPECT_EQ(all.kvs(0).mod_revision(), p1.header().revision());
  EXPECT_EQ(all.kvs(0).version(), 1);
  EXPECT_EQ(all.kvs(1).key(), "b");
}

TEST_F(KvServiceTest, HeadersCarryClusterMemberRevisionAndTerm) {
  pb::PutResponse put;
  ASSERT_GRPC_OK(c_.put(follower_, "k", "v", &put));
  EXPECT_EQ(put.header().cluster_id(), c_.cluster_id());
  EXPECT_EQ(put.header().member_id(), static_cast<uint64_t>(follower_));
  EXPECT_EQ(put.header().revision(), c_.store(follower_).revision());
  EXPECT_GT(put.header().raft_term(), 0u);
  EXPECT_EQ(put.header().raft_term(), c_.node(follower_).term(GroupId{1}).value());

  pb::RangeResponse get;
  ASSERT_GRPC_OK(c_.get(leader_, "k", &get));
  EXPECT_EQ(get.header().cluster_id(), c_.cluster_id());
  EXPECT_EQ(get.header().member_id(), static_cast<uint64_t>(leader_));
  EXPECT_EQ(get.header().revision(), put.header().revision());
  EXPECT_EQ(get.header().raft_term(), put.header().raft_term());
  EXPECT_NE(c_.cluster_id(), 0u);
}

TEST_F(KvServiceTest, InvalidRequestsGetEtcdsErrorsAndAreNeverProposed) {
  ASSERT_GRPC_OK(c_.put(leader_, "k", "v"));
  const int64_t revision = c_.store(leader_).revision();
  const uint64_t applied = leader_applied();
  const uint64_t term = c_.node(leader_).term(GroupId{1}).value();

  pb::PutResponse put;
  expect_error(c_.put(follower_, put_request("", "v"), &put), grpc::StatusCode::INVALID_ARGUMENT,
               "etcdserver: key is not provided");
  pb::PutRequest ignore_value = put_request("k", "v");
  ignore_value.set_ignore_value(true);
  expect_error(c_.put(leader_, ignore_value, &put), grpc::StatusCode::INVALID_ARGUMENT,
               "etcdserver: value is provided");
  pb::RangeResponse range;
  expect_error(c_.range(follower_, range_request(""), &range), grpc::StatusCode::INVALID_ARGUMENT,
               "etcdserver: key is not provided");
  pb::DeleteRangeRequest del;
  pb::DeleteRangeResponse deleted;
  expect_error(c_.delete_range(leader_, del, &deleted), grpc::StatusCode::INVALID_ARGUMENT,
               "etcdserver: key is not provided");
  pb::TxnRequest dup;
  *dup.add_success() = put_op("x", "1");
  *dup.add_success() = put_op("x", "2");
  pb::TxnResponse txn;
  expect_error(c_.txn(follower_, dup, &txn), grpc::StatusCode::INVALID_ARGUMENT,
               "etcdserver: duplicate key given in txn request");
  pb::TxnRequest many;
  for (int i = 0; i < 129; ++i) *many.add_success() = put_op(cat("m", i), "v");  // etcd's 128
  expect_error(c_.txn(leader_, many, &txn), grpc::StatusCode::INVALID_ARGUMENT,
               "etcdserver: too many operations in txn request");
  // Above --max-request-bytes, yet within what gRPC lets through (512 KiB more).
  expect_error(c_.put(follower_, put_request("big", std::string(1600 * 1024, 'x')), &put),
               grpc::StatusCode::INVALID_ARGUMENT, "etcdserver: request is too large");

  // Nothing changed, and nothing reached the log: the next write is the very
  // next entry (unless an election added one, which the term would show).
  ASSERT_GRPC_OK(c_.put(leader_, "marker", "v"));
  EXPECT_EQ(c_.store(leader_).revision(), revision + 1);
  if (c_.node(leader_).term(GroupId{1}).value() == term) {
    EXPECT_EQ(leader_applied(), applied + 1);
  }
  pb::RangeResponse x;
  ASSERT_GRPC_OK(c_.get(leader_, "x", &x));
  EXPECT_EQ(x.kvs_size(), 0);
}

TEST_F(KvServiceTest, CompactedAndFutureRevisions) {
  pb::PutResponse put;
  for (int i = 0; i < 5; ++i) ASSERT_GRPC_OK(c_.put(leader_, "k", cat(i), &put));
  const int64_t last = put.header().revision();

  pb::CompactionRequest compact;
  compact.set_revision(last - 2);
  compact.set_physical(true);
  pb::CompactionResponse compacted;
  ASSERT_GRPC_OK(c_.compact(follower_, compact, &compacted));
  EXPECT_EQ(compacted.header().revision(), last);
  EXPECT_EQ(compacted.header().member_id(), static_cast<uint64_t>(follower_));

  pb::RangeRequest old = range_request("k");
  old.set_revision(last - 3);
  pb::RangeResponse r;
  expect_error(c_.range(follower_, old, &r), grpc::StatusCode::OUT_OF_RANGE,
               "etcdserver: mvcc: required revision has been compacted");
  old.set_revision(last - 2);  // the compacted revision itself stays readable
  ASSERT_GRPC_OK(c_.range(follower_, old, &r));
  ASSERT_EQ(r.kvs_size(), 1);
  EXPECT_EQ(r.kvs(0).value(), "2");

  pb::RangeRequest future = range_request("k");
  future.set_revision(last + 100);
  expect_error(c_.range(leader_, future, &r), grpc::StatusCode::OUT_OF_RANGE,
               "etcdserver: mvcc: required revision is a future revision");

  expect_error(c_.compact(leader_, compact, &compacted), grpc::StatusCode::OUT_OF_RANGE,
               "etcdserver: mvcc: required revision has been compacted");
  compact.set_revision(last + 100);
  expect_error(c_.compact(leader_, compact, &compacted), grpc::StatusCode::OUT_OF_RANGE,
               "etcdserver: mvcc: required revision is a future revision");
}

TEST_F(KvServiceTest, SerializableReadIsServedLocallyWithoutAQuorum) {
  pb::PutResponse put;
  ASSERT_GRPC_OK(c_.put(leader_, "k", "v", &put));
  ASSERT_TRUE(c_.wait_revision(follower_, put.header().revision(), kWait));
  for (int i = 1; i <= c_.size(); ++i) {
    if (i != follower_) c_.stop(i);
  }
  pb::RangeResponse r;
  ASSERT_GRPC_OK(c_.get(follower_, "k", &r, /*serializable=*/true));
  ASSERT_EQ(r.kvs_size(), 1);
  EXPECT_EQ(r.kvs(0).value(), "v");
  EXPECT_EQ(r.header().revision(), put.header().revision());
  // A linearizable read cannot be confirmed, and fails as etcd's do: UNAVAILABLE,
  // which clients retry on another member.
  const grpc::Status s = c_.get(follower_, "k", &r);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << s.error_message();
  EXPECT_THAT(s.error_message(), AnyOf("etcdserver: request timed out", "etcdserver: no leader",
                                       "etcdserver: leader changed"));
}

TEST_F(KvServiceTest, ReadOnlyTxnTakesTheReadPath) {
  ASSERT_GRPC_OK(c_.put(leader_, "k", "v"));
  const int64_t revision = c_.store(leader_).revision();
  const uint64_t applied = leader_applied();
  const uint64_t term = c_.node(leader_).term(GroupId{1}).value();

  pb::TxnRequest txn;
  *txn.add_compare() = value_equals("k", "v");
  *txn.add_success() = range_op("k");
  *txn.add_failure() = range_op("other");
  pb::TxnResponse resp;
  ASSERT_GRPC_OK(c_.txn(follower_, txn, &resp));
  EXPECT_TRUE(resp.succeeded());
  ASSERT_EQ(resp.responses_size(), 1);
  ASSERT_EQ(resp.responses(0).response_range().kvs_size(), 1);
  EXPECT_EQ(resp.responses(0).response_range().kvs(0).value(), "v");
  EXPECT_EQ(resp.header().revision(), revision);
  EXPECT_EQ(resp.header().member_id(), static_cast<uint64_t>(follower_));

  // A failed compare of a read-only txn: the failure branch, still no write.
  *txn.mutable_compare(0) = value_equals("k", "nope");
  ASSERT_GRPC_OK(c_.txn(leader_, txn, &resp));
  EXPECT_FALSE(resp.succeeded());

  // Neither reached the log.
  ASSERT_GRPC_OK(c_.put(leader_, "marker", "v"));
  EXPECT_EQ(c_.store(leader_).revision(), revision + 1);
  if (c_.node(leader_).term(GroupId{1}).value() == term) {
    EXPECT_EQ(leader_applied(), applied + 1);
  }
}

TEST_F(KvServiceTest, SerializableReadOnlyTxnNeedsNoQuorum) {
  pb::PutResponse put;
  ASSERT_GRPC_OK(c_.put(leader_, "k", "v", &put));
  ASSERT_TRUE(c_.wait_revision(follower_, put.header().revision(), kWait));
  for (int i = 1; i <= c_.size(); ++i) {
    if (i != follower_) c_.stop(i);
  }
  pb::TxnRequest txn;
  *txn.add_success() = range_op("k", /*serializable=*/true);
  pb::TxnResponse resp;
  ASSERT_GRPC_OK(c_.txn(follower_, txn, &resp));
  ASSERT_EQ(resp.responses_size(), 1);
  EXPECT_EQ(resp.responses(0).response_range().kvs(0).value(), "v");
}

TEST_F(KvServiceTest, TxnWithWritesThroughAFollower) {
  pb::PutResponse put;
  ASSERT_GRPC_OK(c_.put(leader_, "lock", "free", &put));

  pb::TxnRequest cas;
  *cas.add_compare() = value_equals("lock", "free");
  *cas.add_success() = put_op("lock", "mine");
  *cas.add_success() = range_op("lock");
  *cas.add_failure() = range_op("lock");
  pb::TxnResponse won;
  ASSERT_GRPC_OK(c_.txn(follower_, cas, &won));
  EXPECT_TRUE(won.succeeded());
  EXPECT_EQ(won.header().revision(), put.header().revision() + 1);
  EXPECT_EQ(won.header().member_id(), static_cast<uint64_t>(follower_));
  ASSERT_EQ(won.responses_size(), 2);
  EXPECT_TRUE(won.responses(0).has_response_put());
  ASSERT_EQ(won.responses(1).response_range().kvs_size(), 1);
  EXPECT_EQ(won.responses(1).response_range().kvs(0).value(), "mine");  // sees the txn's put

  pb::TxnResponse lost;
  ASSERT_GRPC_OK(c_.txn(leader_, cas, &lost));
  EXPECT_FALSE(lost.succeeded());
  EXPECT_EQ(lost.header().revision(), won.header().revision());  // nothing written
  ASSERT_EQ(lost.responses_size(), 1);
  EXPECT_EQ(lost.responses(0).response_range().kvs(0).value(), "mine");
}

TEST_F(KvServiceTest, DeleteRangeWithPrevKv) {
  ASSERT_GRPC_OK(c_.put(leader_, "d/1", "a"));
  ASSERT_GRPC_OK(c_.put(leader_, "d/2", "b"));
  ASSERT_GRPC_OK(c_.put(leader_, "e", "c"));
  pb::DeleteRangeRequest del;
  del.set_key("d/");
  del.set_range_end("d0");  // the prefix d/
  del.set_prev_kv(true);
  pb::DeleteRangeResponse resp;
  ASSERT_GRPC_OK(c_.delete_range(follower_, del, &resp));
  EXPECT_EQ(resp.deleted(), 2);
  ASSERT_EQ(resp.prev_kvs_size(), 2);
  EXPECT_EQ(resp.prev_kvs(0).value(), "a");
  pb::RangeResponse rest;
  ASSERT_GRPC_OK(c_.range(follower_, range_request("a", "z"), &rest));
  ASSERT_EQ(rest.kvs_size(), 1);
  EXPECT_EQ(rest.kvs(0).key(), "e");
}

TEST_F(KvServiceTest, MetricsCountRequestsErrorsAndLatency) {
  ASSERT_GRPC_OK(c_.put(follower_, "k", "v"));
  pb::RangeResponse r;
  ASSERT_GRPC_OK(c_.get(follower_, "k", &r));
  pb::PutResponse put;
  EXPECT_FALSE(c_.put(follower_, put_request("", "v"), &put).ok());
  const std::string text = c_.metrics(follower_).render();
  EXPECT_THAT(text, HasSubstr("meridian_etcd_kv_requests_total{method=\"Put\"} 2"));
  EXPECT_THAT(text, HasSubstr("meridian_etcd_kv_requests_total{method=\"Range\"} 1"));
  EXPECT_THAT(
      text, HasSubstr("meridian_etcd_kv_errors_total{method=\"Put\",code=\"INVALID_ARGUMENT\"} 1"));
  EXPECT_THAT(text, HasSubstr("meridian_etcd_kv_request_seconds_count{method=\"Range\"} 1"));
}

// A Range answer of at least release_after_answer_bytes is followed, once the
// server has its bytes and the message is freed, by one release of free memory;
// smaller answers by none.
TEST(KvServiceMemoryTest, LargeAnswersAreFollowedByAMemoryRelease) {
  EtcdTestOptions options;
  options.release_after_answer_bytes = 64 * 1024;
  EtcdTestCluster c(options);
  const int leader = c.start(kWait);
  ASSERT_NE(leader, 0);
  const std::string value(10 * 1024, 'v');
  for (int i = 0; i < 10; ++i) ASSERT_GRPC_OK(c.put(leader, cat("big/", i), value));
  const std::string counter = "\nmeridian_etcd_memory_releases_total ";
  auto releases = [&] {
    const std::string text = c.metrics(leader).render();
    const size_t at = text.find(counter);
    return at == std::string::npos ? -1.0 : std::stod(text.substr(at + counter.size()));
  };
  pb::RangeResponse small;
  ASSERT_GRPC_OK(c.range(leader, range_request("big/0", "big/3"), &small));  // 30 KiB
  ASSERT_EQ(small.kvs_size(), 3);
  pb::RangeResponse large;
  ASSERT_GRPC_OK(c.range(leader, range_request("big/", "big0"), &large));  // 100 KiB
  ASSERT_EQ(large.kvs_size(), 10);
  // The release runs on the read pool, perhaps after the client has the answer.
  for (int n = 0; n < 1000 && releases() < 1; ++n) std::this_thread::sleep_for(milliseconds(5));
  EXPECT_EQ(releases(), 1);
  ASSERT_GRPC_OK(c.range(leader, range_request("big/0", "big/3"), &small));
  std::this_thread::sleep_for(milliseconds(100));
  EXPECT_EQ(releases(), 1);  // a small answer releases nothing
}

TEST(KvServiceMemoryTest, AnswerBytesCountKeysAndValues) {
  pb::RangeResponse resp;
  EXPECT_EQ(answer_bytes(resp), 0u);
  mvccpb::KeyValue* a = resp.add_kvs();
  a->set_key("key");
  a->set_value(std::string(10, 'v'));
  resp.add_kvs()->set_key("k2");
  resp.set_count(7);  // not part of the answer's kvs
  EXPECT_EQ(answer_bytes(resp), 15u);
}

// A write that cannot commit (no quorum) waits in the node; stopping the server
// answers it at once with etcd's "server stopped", not after the timeout.
TEST(KvServiceStopTest, StopAnswersWaitingRequests) {
  EtcdTestOptions options;
  options.proposal_timeout_ms = 60000;  // longer than the test's call deadline
  // The leader left alone steps down after an election timeout (check quorum),
  // which would fail the write first: 2 s leaves ample time to stop the server.
  options.election_ticks = 100;
  EtcdTestCluster c(options);
  const int lone = c.start(std::chrono::seconds(20));
  ASSERT_NE(lone, 0);
  const uint64_t term = c.node(lone).term(GroupId{1}).value();
  for (int i = 1; i <= 3; ++i) {
    if (i != lone) c.stop(i);
  }
  auto waiting = std::async(std::launch::async, [&c, lone] {
    pb::PutResponse resp;
    return c.put(lone, "k", "v", &resp);
  });
  // Once the server has the request, stop it.
  const std::string received = "meridian_etcd_kv_requests_total{method=\"Put\"} 1";
  for (int n = 0; n < 1000 && c.metrics(lone).render().find(received) == std::string::npos; ++n) {
    std::this_thread::sleep_for(milliseconds(10));
  }
  ASSERT_THAT(c.metrics(lone).render(), HasSubstr(received));
  if (c.node(lone).term(GroupId{1}).value() != term ||
      c.node(lone).leader(GroupId{1}).value() != static_cast<uint64_t>(lone)) {
    GTEST_SKIP() << "node " << lone << " lost leadership before the server stopped";
  }
  c.server(lone).stop();
  const grpc::Status s = waiting.get();
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << s.error_message();
  EXPECT_EQ(s.error_message(), "etcdserver: server stopped");
}

TEST(TxnSerializableTest, OnlyWhenEveryOpIsASerializableRange) {
  pb::TxnRequest txn;
  EXPECT_TRUE(txn_serializable(txn));  // no ops at all, as etcd decides
  *txn.add_success() = range_op("a", true);
  *txn.add_failure() = range_op("b", true);
  EXPECT_TRUE(txn_serializable(txn));
  *txn.add_failure() = range_op("c", false);
  EXPECT_FALSE(txn_serializable(txn));
  pb::TxnRequest nested;
  nested.add_success()->mutable_request_txn();
  EXPECT_FALSE(txn_serializable(nested));
}

}  // namespace
}  // namespace meridian::api
