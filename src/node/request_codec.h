// How a proposal travels in a log entry: the command wrapped with the proposing
// node's id and a request id, so that the node that took the request (maybe a
// follower, which forwarded it to the leader) recognises its own entry when it
// applies it and answers the caller. Layout: u8 version (1), u64 origin node,
// u64 request id (little endian), then the command bytes. An entry with empty
// data is the leader's no-op of its term and carries no request.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "raft/types.h"

namespace meridian::node {

struct RequestHeader {
  raft::NodeId origin;
  uint64_t request_id = 0;
};

std::string encode_request(const RequestHeader& h, std::string_view command);
// The header and the command, or nullopt if `data` is not a request of this format.
std::optional<std::pair<RequestHeader, std::string_view>> decode_request(std::string_view data);

// A ReadIndex context carries the request id (8 bytes, little endian).
std::string encode_read_context(uint64_t request_id);
std::optional<uint64_t> decode_read_context(std::string_view ctx);

}  // namespace meridian::node
