// Test support: a cluster of real Nodes in one process, each with its own data
// directory under a temporary folder and its own peer port on 127.0.0.1, talking
// over the real transport. Blocking helpers with deadlines wrap the async API.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "node/node.h"
#include "observe/metrics.h"

namespace meridian::node {

class NodeCluster {
 public:
  // `tweak` adjusts every node's options (ticks, snapshot thresholds, groups).
  explicit NodeCluster(int size, std::function<void(NodeOptions&)> tweak = nullptr);
  ~NodeCluster();

  // Makes the options of one more node, not yet a member: it joins the running
  // cluster when started (join_existing), after it was added. Returns its index.
  int add_joiner();
  // Node i's peer address ("127.0.0.1:port").
  std::string address(int i) const;

  base::Status start(int i);  // 1-based
  void stop(int i);           // graceful
  void crash(int i);          // drops the node without the graceful hand-over
  Node* node(int i) { return nodes_[i - 1].get(); }
  NodeOptions& options(int i) { return options_[i - 1]; }
  int size() const { return static_cast<int>(options_.size()); }

  // The node index (1-based) that all running nodes agree leads `group`, waiting
  // up to `timeout`; 0 if none.
  int wait_leader(GroupId group, std::chrono::milliseconds timeout);
  // Blocking wrappers.
  base::Result<ProposeResult> put(int i, GroupId group, const std::string& key,
                                  const std::string& value);
  base::Result<std::optional<std::string>> get(int i, GroupId group, const std::string& key,
                                               bool linearizable);
  base::Result<ProposeResult> change_membership(int i, GroupId group, MembershipChange change);
  // Waits until node i's applied index for `group` reaches `index`.
  bool wait_applied(int i, GroupId group, raft::Index index, std::chrono::milliseconds timeout);
  std::optional<GroupStatus> group_status(int i, GroupId group);

 private:
  std::function<void(NodeOptions&)> tweak_;
  std::string root_;
  std::vector<NodeOptions> options_;
  std::vector<std::unique_ptr<Node>> nodes_;
  std::vector<std::unique_ptr<observe::Registry>> registries_;
};

}  // namespace meridian::node
