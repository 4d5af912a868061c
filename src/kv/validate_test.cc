// validate.h: etcd's request checks (v3rpc/key.go) and its size limit.
#include "kv/validate.h"

#include <gtest/gtest.h>

#include "kv/store_testing.h"

namespace meridian::kv {
namespace {

using etcdserverpb::TxnRequest;
using testing::delete_op;
using testing::put_op;
using testing::range_op;

const std::string kZero(1, '\0');
const Limits kLimits;

TEST(ValidatePut, EtcdChecks) {
  auto r = testing::put_request("k", "v");
  EXPECT_EQ(validate_put(r, kLimits), Errc::kOk);
  r.set_key("");
  EXPECT_EQ(validate_put(r, kLimits), Errc::kEmptyKey);
  r.set_key("k");
  r.set_ignore_value(true);
  EXPECT_EQ(validate_put(r, kLimits), Errc::kValueProvided);
  r.set_value("");
  EXPECT_EQ(validate_put(r, kLimits), Errc::kOk);
  r.set_ignore_lease(true);
  r.set_lease(5);
  EXPECT_EQ(validate_put(r, kLimits), Errc::kLeaseProvided);
  r.set_lease(0);
  EXPECT_EQ(validate_put(r, kLimits), Errc::kOk);
  r.set_ignore_value(false);
  r.set_value(std::string(kLimits.max_request_bytes, 'x'));
  EXPECT_EQ(validate_put(r, kLimits), Errc::kRequestTooLarge);
  r.set_value(std::string(kLimits.max_request_bytes - 10, 'x'));
  EXPECT_EQ(validate_put(r, kLimits), Errc::kOk);
}

TEST(ValidateRangeAndDelete, EmptyKeysAndSize) {
  EXPECT_EQ(validate_range(testing::range_request("a", "b"), kLimits), Errc::kOk);
  EXPECT_EQ(validate_range(testing::range_request("", "b"), kLimits), Errc::kEmptyKey);
  // etcd never checks a range's size (it is not proposed).
  EXPECT_EQ(validate_range(testing::range_request(std::string(3 << 20, 'k')), kLimits), Errc::kOk);
  EXPECT_EQ(validate_delete_range(testing::delete_request("a", kZero), kLimits), Errc::kOk);
  EXPECT_EQ(validate_delete_range(testing::delete_request(""), kLimits), Errc::kEmptyKey);
  EXPECT_EQ(validate_delete_range(testing::delete_request(std::string(2 << 20, 'k')), kLimits),
            Errc::kRequestTooLarge);
}

TEST(ValidateTxn, OpCounts) {
  TxnRequest t;
  for (int i = 0; i < 128; ++i) *t.add_success() = put_op("k" + std::to_string(i), "v");
  EXPECT_EQ(validate_txn(t, kLimits), Errc::kOk);
  *t.add_success() = put_op("k128", "v");
  EXPECT_EQ(validate_txn(t, kLimits), Errc::kTooManyOps);
  TxnRequest cmp;
  for (int i = 0; i < 129; ++i) *cmp.add_compare() = testing::compare_version("a", {}, 0);
  EXPECT_EQ(validate_txn(cmp, kLimits), Errc::kTooManyOps);
  TxnRequest fail;
  for (int i = 0; i < 129; ++i) *fail.add_failure() = range_op("a");
  EXPECT_EQ(validate_txn(fail, kLimits), Errc::kTooManyOps);
  Limits small;
  small.max_txn_ops = 2;
  TxnRequest three;
  for (int i = 0; i < 3; ++i) *three.add_failure() = range_op("a");
  EXPECT_EQ(validate_txn(three, small), Errc::kTooManyOps);
}

TEST(ValidateTxn, NestedTxnsGetWhatTheirParentLeaves) {
  // The parent has 100 ops: a nested txn may have 28 of the 128.
  TxnRequest nested;
  for (int i = 0; i < 28; ++i) *nested.add_success() = range_op("n");
  TxnRequest t;
  for (int i = 0; i < 99; ++i) *t.add_success() = range_op("a");
  *t.add_success()->mutable_request_txn() = nested;
  EXPECT_EQ(validate_txn(t, kLimits), Errc::kOk);
  *nested.add_success() = range_op("n");
  *t.mutable_success(99)->mutable_request_txn() = nested;
  EXPECT_EQ(validate_txn(t, kLimits), Errc::kTooManyOps);
}

TEST(ValidateTxn, EmptyKeysAndEmptyOps) {
  TxnRequest t;
  *t.add_compare() = testing::compare_version("", {}, 0);
  EXPECT_EQ(validate_txn(t, kLimits), Errc::kEmptyKey);
  for (const auto& op : {put_op("", "v"), range_op(""), delete_op("")}) {
    TxnRequest u;
    *u.add_failure() = op;
    EXPECT_EQ(validate_txn(u, kLimits), Errc::kEmptyKey);
  }
  TxnRequest put_checks;
  auto* p = put_checks.add_success()->mutable_request_put();
  p->set_key("k");
  p->set_value("v");
  p->set_ignore_value(true);
  EXPECT_EQ(validate_txn(put_checks, kLimits), Errc::kValueProvided);
  TxnRequest empty_op;
  empty_op.add_success();
  EXPECT_EQ(validate_txn(empty_op, kLimits), Errc::kKeyNotFound);  // etcd's answer
  TxnRequest nested_empty_key;
  *nested_empty_key.add_success()->mutable_request_txn()->add_success() = put_op("", "v");
  EXPECT_EQ(validate_txn(nested_empty_key, kLimits), Errc::kEmptyKey);
}

TEST(ValidateTxn, DuplicateKeys) {
  auto check = [](std::vector<etcdserverpb::RequestOp> ops) {
    TxnRequest t;
    for (auto& op : ops) *t.add_success() = std::move(op);
    return validate_txn(t, kLimits);
  };
  EXPECT_EQ(check({put_op("a", "1"), put_op("b", "1")}), Errc::kOk);
  EXPECT_EQ(check({put_op("a", "1"), put_op("a", "2")}), Errc::kDuplicateKey);
  EXPECT_EQ(check({put_op("a", "1"), delete_op("a")}), Errc::kDuplicateKey);
  EXPECT_EQ(check({delete_op("a", "c"), put_op("b", "1")}), Errc::kDuplicateKey);
  EXPECT_EQ(check({delete_op("a", "c"), put_op("c", "1")}), Errc::kOk);  // end excluded
  EXPECT_EQ(check({delete_op("a", "c"), delete_op("b", "d")}), Errc::kOk);
  EXPECT_EQ(check({delete_op("a"), delete_op("a")}), Errc::kOk);
  EXPECT_EQ(check({put_op("a", "1"), range_op("a")}), Errc::kOk);
  // etcd's interval for a "from key" delete ends at "\0" and so covers no put.
  EXPECT_EQ(check({delete_op("a", kZero), put_op("b", "1")}), Errc::kOk);
  // Success and failure are checked apart.
  TxnRequest t;
  *t.add_success() = put_op("a", "1");
  *t.add_failure() = put_op("a", "2");
  *t.add_failure() = delete_op("b");
  EXPECT_EQ(validate_txn(t, kLimits), Errc::kOk);
}

TEST(ValidateTxn, DuplicateKeysThroughNestedTxns) {
  auto nested = [](std::vector<etcdserverpb::RequestOp> then_ops,
                   std::vector<etcdserverpb::RequestOp> else_ops) {
    etcdserverpb::RequestOp op;
    TxnRequest* t = op.mutable_request_txn();
    for (auto& o : then_ops) *t->add_success() = std::move(o);
    for (auto& o : else_ops) *t->add_failure() = std::move(o);
    return op;
  };
  auto check = [](std::vector<etcdserverpb::RequestOp> ops) {
    TxnRequest t;
    for (auto& op : ops) *t.add_success() = std::move(op);
    return validate_txn(t, kLimits);
  };
  // Then and else of one nested txn may put the same key (only one runs).
  EXPECT_EQ(check({nested({put_op("a", "1")}, {put_op("a", "2")})}), Errc::kOk);
  // The outer level and a nested txn may not.
  EXPECT_EQ(check({put_op("a", "0"), nested({put_op("a", "1")}, {})}), Errc::kDuplicateKey);
  EXPECT_EQ(check({put_op("a", "0"), nested({}, {put_op("a", "1")})}), Errc::kDuplicateKey);
  EXPECT_EQ(check({delete_op("a", "b"), nested({put_op("a", "1")}, {})}), Errc::kDuplicateKey);
  // A nested delete covers the outer level's puts...
  EXPECT_EQ(check({nested({delete_op("a")}, {}), put_op("a", "1")}), Errc::kDuplicateKey);
  // ...and the puts of nested txns after it, not before it (etcd's order).
  EXPECT_EQ(check({nested({delete_op("a")}, {}), nested({put_op("a", "1")}, {})}),
            Errc::kDuplicateKey);
  EXPECT_EQ(check({nested({put_op("a", "1")}, {}), nested({delete_op("a")}, {})}), Errc::kOk);
  // Two nested txns putting the same key.
  EXPECT_EQ(check({nested({put_op("a", "1")}, {}), nested({}, {put_op("a", "2")})}),
            Errc::kDuplicateKey);
  // Deep nesting.
  EXPECT_EQ(check({nested({nested({put_op("a", "1")}, {})}, {}), put_op("a", "2")}),
            Errc::kDuplicateKey);
  EXPECT_EQ(check({nested({put_op("a", "1"), put_op("a", "2")}, {})}), Errc::kDuplicateKey);
}

TEST(ValidateTxn, SizeComesAfterTheOtherChecks) {
  TxnRequest t;
  *t.add_success() = put_op("a", std::string(2 << 20, 'v'));
  EXPECT_EQ(validate_txn(t, kLimits), Errc::kRequestTooLarge);
  *t.add_success() = put_op("a", "dup");
  EXPECT_EQ(validate_txn(t, kLimits), Errc::kDuplicateKey);
}

}  // namespace
}  // namespace meridian::kv
