#include "node/node_testing.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <future>
#include <thread>

#include "base/loopback_port.h"
#include "base/strings.h"
#include "node/map_state_machine.h"

namespace meridian::node {

using base::cat;
using base::Result;
using base::Status;

NodeCluster::NodeCluster(int size, std::function<void(NodeOptions&)> tweak) : tweak_(tweak) {
  char tmpl[] = "/tmp/meridian-node-test-XXXXXX";
  root_ = ::mkdtemp(tmpl);
  std::map<raft::NodeId, std::string> members;
  std::vector<uint16_t> ports;
  for (int i = 1; i <= size; ++i) {
    ports.push_back(base::free_loopback_port());
    members[raft::NodeId{static_cast<uint64_t>(i)}] = cat("127.0.0.1:", ports.back());
  }
  for (int i = 1; i <= size; ++i) {
    NodeOptions o;
    o.id = raft::NodeId{static_cast<uint64_t>(i)};
    o.initial_cluster = members;
    o.cluster_token = "node-test";
    o.data_dir = cat(root_, "/node-", i);
    o.listen_peer_port = ports[i - 1];
    o.tick_ms = 20;
    o.election_ticks = 10;
    o.proposal_timeout_ms = 3000;
    o.shutdown_transfer_timeout_ms = 3000;
    o.journal_segment_bytes = 1 << 20;
    if (tweak) tweak(o);
    options_.push_back(std::move(o));
  }
  nodes_.resize(size);
  registries_.resize(size);
}

NodeCluster::~NodeCluster() {
  for (auto& n : nodes_) {
    if (n) n->stop();
  }
  nodes_.clear();
  std::error_code ec;
  std::filesystem::remove_all(root_, ec);
}

int NodeCluster::add_joiner() {
  const int i = size() + 1;
  NodeOptions o = options_.front();
  o.id = raft::NodeId{static_cast<uint64_t>(i)};
  o.listen_peer_port = base::free_loopback_port();
  o.initial_cluster[o.id] = cat("127.0.0.1:", o.listen_peer_port);
  o.data_dir = cat(root_, "/node-", i);
  o.join_existing = true;
  if (tweak_) tweak_(o);
  options_.push_back(std::move(o));
  nodes_.resize(i);
  registries_.resize(i);
  return i;
}

std::string NodeCluster::address(int i) const {
  return cat("127.0.0.1:", options_[i - 1].listen_peer_port);
}

Status NodeCluster::start(int i) {
  registries_[i - 1] = std::make_unique<observe::Registry>();
  auto n = Node::start(options_[i - 1], registries_[i - 1].get());
  if (!n.is_ok()) return n.status();
  nodes_[i - 1] = std::move(n).value();
  return Status::ok();
}

void NodeCluster::stop(int i) {
  if (nodes_[i - 1]) nodes_[i - 1]->stop();
  nodes_[i - 1].reset();
}

void NodeCluster::crash(int i) {
  if (!nodes_[i - 1]) return;
  nodes_[i - 1]->halt();
  nodes_[i - 1].reset();
}

std::optional<GroupStatus> NodeCluster::group_status(int i, GroupId group) {
  if (!nodes_[i - 1]) return std::nullopt;
  for (const GroupStatus& g : nodes_[i - 1]->status().groups) {
    if (g.group == group) return g;
  }
  return std::nullopt;
}

int NodeCluster::wait_leader(GroupId group, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    raft::NodeId agreed = raft::kNoNode;
    bool all = true;
    for (int i = 1; i <= size(); ++i) {
      auto st = group_status(i, group);
      if (!st) continue;
      if (st->leader == raft::kNoNode || (agreed != raft::kNoNode && st->leader != agreed)) {
        all = false;
        break;
      }
      agreed = st->leader;
    }
    if (all && agreed != raft::kNoNode) {
      const int idx = static_cast<int>(agreed.value());
      auto lst = group_status(idx, group);
      if (lst && lst->role == raft::Role::kLeader) return idx;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return 0;
}

Result<ProposeResult> NodeCluster::put(int i, GroupId group, const std::string& key,
                                       const std::string& value) {
  std::promise<Result<ProposeResult>> p;
  auto f = p.get_future();
  nodes_[i - 1]->propose(group, encode_put(key, value),
                         [&p](Result<ProposeResult> r) { p.set_value(std::move(r)); });
  return f.get();
}

Result<ProposeResult> NodeCluster::change_membership(int i, GroupId group,
                                                     MembershipChange change) {
  std::promise<Result<ProposeResult>> p;
  auto f = p.get_future();
  nodes_[i - 1]->propose_membership(group, std::move(change),
                                    [&p](Result<ProposeResult> r) { p.set_value(std::move(r)); });
  return f.get();
}

Result<std::optional<std::string>> NodeCluster::get(int i, GroupId group, const std::string& key,
                                                    bool linearizable) {
  std::promise<Result<std::string>> p;
  auto f = p.get_future();
  nodes_[i - 1]->read(
      group, linearizable,
      [key](const StateMachine& sm) {
        auto v = dynamic_cast<const MapStateMachine&>(sm).get(key);
        return v ? "=" + *v : std::string("-");
      },
      [&p](Result<std::string> r) { p.set_value(std::move(r)); });
  Result<std::string> r = f.get();
  if (!r.is_ok()) return r.status();
  if (r.value() == "-") return std::optional<std::string>();
  return std::optional<std::string>(r.value().substr(1));
}

bool NodeCluster::wait_applied(int i, GroupId group, raft::Index index,
                               std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    auto st = group_status(i, group);
    if (st && st->applied >= index) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

}  // namespace meridian::node
