#include "api/grpc_errors.h"

#include <gtest/gtest.h>

namespace meridian::api {
namespace {

using base::Code;
using grpc::StatusCode;

void expect(const grpc::Status& s, StatusCode code, const std::string& message) {
  EXPECT_EQ(s.error_code(), code) << s.error_message();
  EXPECT_EQ(s.error_message(), message);
}

// Codes and messages as etcd's rpctypes define them (clients match on both).
TEST(GrpcErrorsTest, StoreAndValidationErrorsAreEtcds) {
  EXPECT_TRUE(kv_status(kv::Errc::kOk).ok());
  expect(kv_status(kv::Errc::kCompacted), StatusCode::OUT_OF_RANGE,
         "etcdserver: mvcc: required revision has been compacted");
  expect(kv_status(kv::Errc::kFutureRevision), StatusCode::OUT_OF_RANGE,
         "etcdserver: mvcc: required revision is a future revision");
  expect(kv_status(kv::Errc::kEmptyKey), StatusCode::INVALID_ARGUMENT,
         "etcdserver: key is not provided");
  expect(kv_status(kv::Errc::kValueProvided), StatusCode::INVALID_ARGUMENT,
         "etcdserver: value is provided");
  expect(kv_status(kv::Errc::kLeaseProvided), StatusCode::INVALID_ARGUMENT,
         "etcdserver: lease is provided");
  expect(kv_status(kv::Errc::kTooManyOps), StatusCode::INVALID_ARGUMENT,
         "etcdserver: too many operations in txn request");
  expect(kv_status(kv::Errc::kDuplicateKey), StatusCode::INVALID_ARGUMENT,
         "etcdserver: duplicate key given in txn request");
  expect(kv_status(kv::Errc::kRequestTooLarge), StatusCode::INVALID_ARGUMENT,
         "etcdserver: request is too large");
  expect(kv_status(kv::Errc::kKeyNotFound), StatusCode::INVALID_ARGUMENT,
         "etcdserver: key not found");
  expect(kv_status(kv::Errc::kLeaseNotFound), StatusCode::NOT_FOUND,
         "etcdserver: requested lease not found");
  expect(kv_status(kv::Errc::kNoSpace), StatusCode::RESOURCE_EXHAUSTED,
         "etcdserver: mvcc: database space exceeded");
  EXPECT_EQ(kv_status(kv::Errc::kCorrupt).error_code(), StatusCode::DATA_LOSS);
}

// The node's own messages (node/node.cc, node/group.cc), one of each kind.
TEST(GrpcErrorsTest, NodeErrorsAreEtcdsTransientErrors) {
  expect(node_status({Code::kNotLeader, "group 1: no leader (an election is under way); retry"}),
         StatusCode::UNAVAILABLE, "etcdserver: no leader");
  expect(node_status({Code::kNotLeader, "group 1: not accepted; the leader is node 2; retry"}),
         StatusCode::UNAVAILABLE, "etcdserver: no leader");
  expect(node_status({Code::kNotLeader, "group 1: leadership is moving to node 3; retry"}),
         StatusCode::UNAVAILABLE, "etcdserver: leader changed");
  expect(node_status({Code::kUnavailable,
                      "group 1: proposal timed out after 5000 ms (leader: node 2); it may still "
                      "be applied"}),
         StatusCode::UNAVAILABLE, "etcdserver: request timed out");
  expect(node_status({Code::kUnavailable, "group 1: read timed out after 5000 ms"}),
         StatusCode::UNAVAILABLE, "etcdserver: request timed out");
  expect(node_status({Code::kUnavailable,
                      "group 1: the leader changed (was node 1) while the request was in flight; "
                      "it may or may not be applied; retry"}),
         StatusCode::UNAVAILABLE, "etcdserver: leader changed");
  expect(node_status({Code::kUnavailable, "node 2 is stopping"}), StatusCode::UNAVAILABLE,
         "etcdserver: server stopped");
  expect(node_status({Code::kUnavailable, "this node's storage failed"}), StatusCode::UNAVAILABLE,
         "etcdserver: server stopped");
  expect(node_status(
             {Code::kUnavailable, "group 1: too many uncommitted proposals at the leader; retry"}),
         StatusCode::RESOURCE_EXHAUSTED, "etcdserver: too many requests");
  expect(node_status({Code::kNoSpace, "disk full"}), StatusCode::RESOURCE_EXHAUSTED,
         "etcdserver: mvcc: database space exceeded");
}

TEST(GrpcErrorsTest, UnknownNodeErrorsKeepTheirText) {
  expect(node_status({Code::kUnavailable, "something new"}), StatusCode::UNAVAILABLE,
         "etcdserver: something new");
  expect(node_status({Code::kNotFound, "no group 7"}), StatusCode::INTERNAL,
         "etcdserver: no group 7");
}

TEST(GrpcErrorsTest, CodeNames) {
  EXPECT_STREQ(code_name(StatusCode::OUT_OF_RANGE), "OUT_OF_RANGE");
  EXPECT_STREQ(code_name(StatusCode::UNAVAILABLE), "UNAVAILABLE");
  EXPECT_STREQ(code_name(StatusCode::OK), "OK");
}

}  // namespace
}  // namespace meridian::api
