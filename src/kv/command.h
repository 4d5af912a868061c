// How a write request of the etcd API travels in a Raft entry, and how its
// result comes back to the node that proposed it.
//
//   command := version:u8=1 type:u8 request   (request: the etcd protobuf message,
//                                              serialized; type says which)
//   result  := errc:u8 response               (response: the etcd response message,
//                                              serialized, when errc is kOk; else empty)
//
// The command carries etcd's own request messages so that the log holds exactly
// what the client asked, and replaying it on any member gives the same result.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "kv/errors.h"

namespace meridian::kv {

enum class CommandType : uint8_t {
  kPut = 1,               // etcdserverpb.PutRequest
  kDeleteRange = 2,       // etcdserverpb.DeleteRangeRequest
  kTxn = 3,               // etcdserverpb.TxnRequest
  kCompact = 4,           // etcdserverpb.CompactionRequest
  kLeaseGrant = 5,        // etcdserverpb.LeaseGrantRequest, its ID chosen (never 0)
  kLeaseRevoke = 6,       // etcdserverpb.LeaseRevokeRequest
  kLeaseRenew = 7,        // lease_codec.h's renew payload; result: the renew result
  kLeaseExpire = 8,       // lease_codec.h's expiry payload; result: LeaseRevokeResponse
  kMemberAttributes = 9,  // etcdserverpb.Member: a member's own record; result: empty
  kAlarm = 10,            // etcdserverpb.AlarmRequest (ACTIVATE or DEACTIVATE)
  kMemberPeerUrls = 11,   // etcdserverpb.MemberUpdateRequest: a member's new peer URLs
};

struct Command {
  CommandType type = CommandType::kPut;
  std::string_view request;  // the serialized request message
};

std::string encode_command(CommandType type, std::string_view serialized_request);
// nullopt if `data` is not a command of this format (unknown version or type).
std::optional<Command> decode_command(std::string_view data);

struct CommandResult {
  Errc errc = Errc::kOk;
  std::string_view response;  // serialized response message when errc == kOk
};

std::string encode_result(Errc errc, std::string_view serialized_response);
std::optional<CommandResult> decode_result(std::string_view data);

}  // namespace meridian::kv
