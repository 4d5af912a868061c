#include "api/grpc_errors.h"

#include <string>

#include "base/strings.h"

namespace meridian::api {

namespace {

rpc::Status status(rpc::StatusCode code, std::string_view message) {
  return rpc::Status{code, std::string(message)};
}

bool says(const base::Status& s, std::string_view what) {
  return s.message().find(what) != std::string::npos;
}

rpc::StatusCode kv_code(kv::Errc errc) {
  switch (errc) {
    case kv::Errc::kOk:
      return rpc::StatusCode::kOk;
    case kv::Errc::kCompacted:
    case kv::Errc::kFutureRevision:
    case kv::Errc::kLeaseTtlTooLarge:
      return rpc::StatusCode::kOutOfRange;
    case kv::Errc::kEmptyKey:
    case kv::Errc::kValueProvided:
    case kv::Errc::kLeaseProvided:
    case kv::Errc::kTooManyOps:
    case kv::Errc::kDuplicateKey:
    case kv::Errc::kRequestTooLarge:
    case kv::Errc::kKeyNotFound:
      return rpc::StatusCode::kInvalidArgument;
    case kv::Errc::kLeaseNotFound:
      return rpc::StatusCode::kNotFound;
    case kv::Errc::kLeaseExists:
      return rpc::StatusCode::kFailedPrecondition;
    case kv::Errc::kNoSpace:
      return rpc::StatusCode::kResourceExhausted;
    case kv::Errc::kCorrupt:
      return rpc::StatusCode::kDataLoss;  // etcd's ErrGRPCCorrupt
  }
  return rpc::StatusCode::kInternal;
}

}  // namespace

rpc::Status kv_status(kv::Errc errc) {
  if (errc == kv::Errc::kOk) return rpc::Status{};
  return status(kv_code(errc), kv::errc_message(errc));
}

rpc::Status stopped_status() { return status(rpc::StatusCode::kUnavailable, kStoppedMessage); }

// The node's messages matched here are written in node/node.cc and node/group.cc;
// grpc_errors_test.cc holds one of each, so a reworded message fails there.
rpc::Status node_status(const base::Status& s) {
  switch (s.code()) {
    case base::Code::kOk:
      return rpc::Status{};
    case base::Code::kNotLeader:
    case base::Code::kProposalDropped:
      // The request was not appended. During a leadership transfer etcd's
      // proposals fail alike; any other reason is an election under way or a
      // follower that knows no leader to forward to.
      if (says(s, "leadership is moving")) {
        return status(rpc::StatusCode::kUnavailable, kLeaderChangedMessage);
      }
      return status(rpc::StatusCode::kUnavailable, kNoLeaderMessage);
    case base::Code::kUnavailable:
      if (says(s, "timed out")) return status(rpc::StatusCode::kUnavailable, kTimeoutMessage);
      if (says(s, "leader changed")) {
        return status(rpc::StatusCode::kUnavailable, kLeaderChangedMessage);
      }
      if (says(s, "is stopping") || says(s, "storage failed")) return stopped_status();
      if (says(s, "too many uncommitted")) {
        // etcd's answer when its apply falls too far behind commit.
        return status(rpc::StatusCode::kResourceExhausted, kTooManyRequestsMessage);
      }
      return status(rpc::StatusCode::kUnavailable, base::cat("etcdserver: ", s.message()));
    case base::Code::kNoSpace:
      return kv_status(kv::Errc::kNoSpace);
    default:
      return status(rpc::StatusCode::kInternal, base::cat("etcdserver: ", s.message()));
  }
}

}  // namespace meridian::api
