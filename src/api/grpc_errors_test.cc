#include "api/grpc_errors.h"

#include <gtest/gtest.h>

namespace meridian::api {
namespace {

using base::Code;
using rpc::StatusCode;

void expect(const rpc::Status& s, StatusCode code, const std::string& message) {
  EXPECT_EQ(s.code, code) << s.message;
  EXPECT_EQ(s.message, message);
}

// Codes and messages as etcd's rpctypes define them (clients match on both).
TEST(GrpcErrorsTest, StoreAndValidationErrorsAreEtcds) {
  EXPECT_TRUE(kv_status(kv::Errc::kOk).ok());
  expect(kv_status(kv::Errc::kCompacted), StatusCode::kOutOfRange,
         "etcdserver: mvcc: required revision has been compacted");
  expect(kv_status(kv::Errc::kFutureRevision), StatusCode::kOutOfRange,
         "etcdserver: mvcc: required revision is a future revision");
  expect(kv_status(kv::Errc::kEmptyKey), StatusCode::kInvalidArgument,
         "etcdserver: key is not provided");
  expect(kv_status(kv::Errc::kValueProvided), StatusCode::kInvalidArgument,
         "etcdserver: value is provided");
  expect(kv_status(kv::Errc::kLeaseProvided), StatusCode::kInvalidArgument,
         "etcdserver: lease is provided");
  expect(kv_status(kv::Errc::kTooManyOps), StatusCode::kInvalidArgument,
         "etcdserver: too many operations in txn request");
  expect(kv_status(kv::Errc::kDuplicateKey), StatusCode::kInvalidArgument,
         "etcdserver: duplicate key given in txn request");
  expect(kv_status(kv::Errc::kRequestTooLarge), StatusCode::kInvalidArgument,
         "etcdserver: request is too large");
  expect(kv_status(kv::Errc::kKeyNotFound), StatusCode::kInvalidArgument,
         "etcdserver: key not found");
  expect(kv_status(kv::Errc::kLeaseNotFound), StatusCode::kNotFound,
         "etcdserver: requested lease not found");
  expect(kv_status(kv::Errc::kNoSpace), StatusCode::kResourceExhausted,
         "etcdserver: mvcc: database space exceeded");
  EXPECT_EQ(kv_status(kv::Errc::kCorrupt).code, StatusCode::kDataLoss);
}

// The node's own messages (node/node.cc, node/group.cc), one of each kind.
TEST(GrpcErrorsTest, NodeErrorsAreEtcdsTransientErrors) {
  expect(node_status({Code::kNotLeader, "group 1: no leader (an election is under way); retry"}),
         StatusCode::kUnavailable, "etcdserver: no leader");
  expect(node_status({Code::kNotLeader, "group 1: not accepted; the leader is node 2; retry"}),
         StatusCode::kUnavailable, "etcdserver: no leader");
  expect(node_status({Code::kNotLeader, "group 1: leadership is moving to node 3; retry"}),
         StatusCode::kUnavailable, "etcdserver: leader changed");
  expect(node_status({Code::kUnavailable,
                      "group 1: proposal timed out after 5000 ms (leader: node 2); it may still "
                      "be applied"}),
         StatusCode::kUnavailable, "etcdserver: request timed out");
  expect(node_status({Code::kUnavailable, "group 1: read timed out after 5000 ms"}),
         StatusCode::kUnavailable, "etcdserver: request timed out");
  expect(node_status({Code::kUnavailable,
                      "group 1: the leader changed (was node 1) while the request was in flight; "
                      "it may or may not be applied; retry"}),
         StatusCode::kUnavailable, "etcdserver: leader changed");
  expect(node_status({Code::kUnavailable, "node 2 is stopping"}), StatusCode::kUnavailable,
         "etcdserver: server stopped");
  expect(node_status({Code::kUnavailable, "this node's storage failed"}), StatusCode::kUnavailable,
         "etcdserver: server stopped");
  expect(node_status(
             {Code::kUnavailable, "group 1: too many uncommitted proposals at the leader; retry"}),
         StatusCode::kResourceExhausted, "etcdserver: too many requests");
  expect(node_status({Code::kNoSpace, "disk full"}), StatusCode::kResourceExhausted,
         "etcdserver: mvcc: database space exceeded");
}

TEST(GrpcErrorsTest, UnknownNodeErrorsKeepTheirText) {
  expect(node_status({Code::kUnavailable, "something new"}), StatusCode::kUnavailable,
         "etcdserver: something new");
  expect(node_status({Code::kNotFound, "no group 7"}), StatusCode::kInternal,
         "etcdserver: no group 7");
}

}  // namespace
}  // namespace meridian::api
