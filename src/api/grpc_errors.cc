#include "api/grpc_errors.h"

#include <string>

#include "base/strings.h"

namespace meridian::api {

namespace {

grpc::Status status(grpc::StatusCode code, std::string_view message) {
  return grpc::Status(code, std::string(message));
}

bool says(const base::Status& s, std::string_view what) {
  return s.message().find(what) != std::string::npos;
}

grpc::StatusCode kv_code(kv::Errc errc) {
  switch (errc) {
    case kv::Errc::kOk:
      return grpc::StatusCode::OK;
    case kv::Errc::kCompacted:
    case kv::Errc::kFutureRevision:
      return grpc::StatusCode::OUT_OF_RANGE;
    case kv::Errc::kEmptyKey:
    case kv::Errc::kValueProvided:
    case kv::Errc::kLeaseProvided:
    case kv::Errc::kTooManyOps:
    case kv::Errc::kDuplicateKey:
    case kv::Errc::kRequestTooLarge:
    case kv::Errc::kKeyNotFound:
      return grpc::StatusCode::INVALID_ARGUMENT;
    case kv::Errc::kLeaseNotFound:
      return grpc::StatusCode::NOT_FOUND;
    case kv::Errc::kNoSpace:
      return grpc::StatusCode::RESOURCE_EXHAUSTED;
    case kv::Errc::kCorrupt:
      return grpc::StatusCode::DATA_LOSS;  // etcd's ErrGRPCCorrupt
  }
  return grpc::StatusCode::INTERNAL;
}

}  // namespace

grpc::Status kv_status(kv::Errc errc) {
  if (errc == kv::Errc::kOk) return grpc::Status::OK;
  return status(kv_code(errc), kv::errc_message(errc));
}

grpc::Status stopped_status() { return status(grpc::StatusCode::UNAVAILABLE, kStoppedMessage); }

// The node's messages matched here are written in node/node.cc and node/group.cc;
// grpc_errors_test.cc holds one of each, so a reworded message fails there.
grpc::Status node_status(const base::Status& s) {
  switch (s.code()) {
    case base::Code::kOk:
      return grpc::Status::OK;
    case base::Code::kNotLeader:
    case base::Code::kProposalDropped:
      // The request was not appended. During a leadership transfer etcd's
      // proposals fail alike; any other reason is an election under way or a
      // follower that knows no leader to forward to.
      if (says(s, "leadership is moving")) {
        return status(grpc::StatusCode::UNAVAILABLE, kLeaderChangedMessage);
      }
      return status(grpc::StatusCode::UNAVAILABLE, kNoLeaderMessage);
    case base::Code::kUnavailable:
      if (says(s, "timed out")) return status(grpc::StatusCode::UNAVAILABLE, kTimeoutMessage);
      if (says(s, "leader changed")) {
        return status(grpc::StatusCode::UNAVAILABLE, kLeaderChangedMessage);
      }
      if (says(s, "is stopping") || says(s, "storage failed")) return stopped_status();
      if (says(s, "too many uncommitted")) {
        // etcd's answer when its apply falls too far behind commit.
        return status(grpc::StatusCode::RESOURCE_EXHAUSTED, kTooManyRequestsMessage);
      }
      return status(grpc::StatusCode::UNAVAILABLE, base::cat("etcdserver: ", s.message()));
    case base::Code::kNoSpace:
      return kv_status(kv::Errc::kNoSpace);
    default:
      return status(grpc::StatusCode::INTERNAL, base::cat("etcdserver: ", s.message()));
  }
}

const char* code_name(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK:
      return "OK";
    case grpc::StatusCode::CANCELLED:
      return "CANCELLED";
    case grpc::StatusCode::UNKNOWN:
      return "UNKNOWN";
    case grpc::StatusCode::INVALID_ARGUMENT:
      return "INVALID_ARGUMENT";
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return "DEADLINE_EXCEEDED";
    case grpc::StatusCode::NOT_FOUND:
      return "NOT_FOUND";
    case grpc::StatusCode::ALREADY_EXISTS:
      return "ALREADY_EXISTS";
    case grpc::StatusCode::PERMISSION_DENIED:
      return "PERMISSION_DENIED";
    case grpc::StatusCode::UNAUTHENTICATED:
      return "UNAUTHENTICATED";
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return "RESOURCE_EXHAUSTED";
    case grpc::StatusCode::FAILED_PRECONDITION:
      return "FAILED_PRECONDITION";
    case grpc::StatusCode::ABORTED:
      return "ABORTED";
    case grpc::StatusCode::OUT_OF_RANGE:
      return "OUT_OF_RANGE";
    case grpc::StatusCode::UNIMPLEMENTED:
      return "UNIMPLEMENTED";
    case grpc::StatusCode::INTERNAL:
      return "INTERNAL";
    case grpc::StatusCode::UNAVAILABLE:
      return "UNAVAILABLE";
    case grpc::StatusCode::DATA_LOSS:
      return "DATA_LOSS";
    default:
      return "UNKNOWN";
  }
}

}  // namespace meridian::api
