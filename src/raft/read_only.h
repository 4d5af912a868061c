// ReadIndexQueue: the leader's pending ReadIndex requests (Raft thesis §6.4).
// Each request records the commit index when it arrived; it may be answered once a
// quorum has acknowledged a heartbeat round that carried its context (or a later
// request's context: acknowledgements are cumulative, since they prove the leader
// was still leader after both arrived). Owned by the Raft state machine; single thread.
//
// Contexts must be unique across a group (hosts put their node id in them); a
// duplicate of a pending context is ignored.
#pragma once

#include <deque>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "raft/types.h"

namespace meridian::raft {

struct ReadIndexRequest {
  Index index;  // the leader's commit index when the request arrived
  NodeId from;  // the requesting replica (the leader itself for local reads)
  std::string context;
};

class ReadIndexQueue {
 public:
  // Bounds memory if heartbeats are never acknowledged; extra requests are dropped
  // (the caller times out and retries).
  static constexpr size_t kPendingMax = 4096;

  // Returns false (and drops the request) if the queue is full or the context is pending.
  bool add(Index commit, NodeId from, std::string context);
  // Records that `node` acknowledged the heartbeat round carrying `context`, and
  // returns every node that acknowledged it so far (nullopt if the context is unknown).
  std::optional<std::unordered_map<NodeId, bool>> ack(NodeId node, const std::string& context);
  // Removes and returns every request up to and including the one with `context`.
  std::vector<ReadIndexRequest> release_through(const std::string& context);
  // Context of the newest pending request, if any (carried by heartbeats).
  const std::string* last_context() const;
  size_t size() const { return queue_.size(); }
  void clear();

 private:
  struct Pending {
    ReadIndexRequest request;
    std::unordered_map<NodeId, bool> acks;
  };
  std::deque<Pending> queue_;
  std::unordered_map<std::string, size_t> seq_by_context_;  // context -> sequence number
  size_t front_seq_ = 0;                                    // sequence number of queue_.front()
};

}  // namespace meridian::raft
