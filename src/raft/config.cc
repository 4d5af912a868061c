#include "raft/config.h"

#include <string>

namespace meridian::raft {

Status Config::validate() const {
  auto bad = [](std::string why) { return Status(Code::kInvalidArgument, std::move(why)); };
  if (id == kNoNode) return bad("node id must not be 0");
  if (heartbeat_ticks <= 0) return bad("heartbeat_ticks must be positive");
  if (election_ticks <= heartbeat_ticks) return bad("election_ticks must exceed heartbeat_ticks");
  if (inflight_messages_max == 0) return bad("inflight_messages_max must be positive");
  if (append_bytes_max == 0) return bad("append_bytes_max must be positive");
  if (committed_bytes_per_ready_max == 0) {
    return bad("committed_bytes_per_ready_max must be positive");
  }
  if (read_only == ReadOnlyOption::kLeaseBased && !check_quorum) {
    return bad("lease-based reads need check_quorum");
  }
  return Status::ok();
}

}  // namespace meridian::raft
