// Test support: one Group of a three-voter cluster driven by hand. This node is
// node 1; nodes 2 and 3 exist only as the messages the test steps in, so a test
// decides exactly what the peers say and when (the rounds a leader asks, a
// leader that goes quiet and comes back). Storage is real (journal, snapshot
// store, group committer in a temporary directory); time is what the test
// passes to tick().
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "node/group.h"
#include "storage/posix_file_system.h"

namespace meridian::node {

class GroupHarness {
 public:
  // `tweak` adjusts the options before the group opens.
  explicit GroupHarness(std::function<void(NodeOptions&)> tweak = nullptr);
  ~GroupHarness();

  Group& group() { return *group_; }
  // Runs the group's ready loop and whatever the committer posts back until
  // the group is idle (nothing dirty, nothing being persisted).
  void settle();
  // One tick, then settle().
  void tick();
  // Steps a message from a peer, then settle().
  void step(raft::Message m);
  // The messages sent since the last call, taken.
  std::vector<raft::Message> take_sent();
  // Ticks, granting every (pre-)vote this node asks for and acknowledging every
  // append, until this node leads with an entry of its term committed.
  void become_leader();
  // Acknowledges every append in `sent` (as the follower it went to).
  void acknowledge(const std::vector<raft::Message>& sent);
  std::vector<base::Status> failures() const { return failures_; }

 private:
  std::string root_;
  storage::PosixFileSystem fs_;
  NodeOptions options_;
  std::unique_ptr<storage::LogEngine> engine_;
  std::unique_ptr<storage::SnapshotStore> snapshots_;
  std::unique_ptr<storage::GroupCommitter> committer_;
  GroupEnv env_;
  std::unique_ptr<Group> group_;
  bool dirty_ = false;
  uint64_t request_ids_ = 0;
  std::vector<raft::Message> sent_;
  std::vector<base::Status> failures_;

  std::mutex mu_;
  std::condition_variable posted_cv_;
  std::deque<std::function<void()>> posted_;  // guarded by mu_; from the committer's thread
};

}  // namespace meridian::node
