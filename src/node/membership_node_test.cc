// Membership changes on real nodes (node/membership.h): a node joins a running
// cluster as a learner of every group, catches up, is promoted, and members are
// removed, while writes go on; changes that do not fit are refused. Timeouts are
// deadlines for progress, not performance assertions.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "base/strings.h"
#include "node/membership.h"
#include "node/node.h"
#include "node/node_testing.h"

namespace meridian::node {
namespace {

using base::cat;
using raft::ConfChangeType;
using raft::NodeId;
using std::chrono::milliseconds;
constexpr milliseconds kWait{10000};

raft::ConfState conf_of(NodeCluster& c, int i, GroupId g) {
  auto st = c.group_status(i, g);
  return st ? st->conf_state : raft::ConfState{};
}

// Waits until node i's view of group g's configuration satisfies `pred`.
template <class Pred>
bool wait_conf(NodeCluster& c, int i, GroupId g, Pred pred) {
  const auto deadline = std::chrono::steady_clock::now() + kWait;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred(conf_of(c, i, g))) return true;
    std::this_thread::sleep_for(milliseconds(10));
  }
  return false;
}

// Proposes the change to every group through node i, retrying while no leader
// is known or the previous change is still being applied.
void change_everywhere(NodeCluster& c, int i, uint32_t groups, MembershipChange change) {
  for (uint32_t g = 1; g <= groups; ++g) {
    base::Result<ProposeResult> r = base::Status(base::Code::kUnavailable, "not tried");
    for (int attempt = 0; attempt < 50; ++attempt) {
      r = c.change_membership(i, GroupId{g}, change);
      if (r.is_ok() || r.status().code() == base::Code::kInvalidArgument) break;
      if (r.status().message().find("already") != std::string::npos) break;
      std::this_thread::sleep_for(milliseconds(100));
    }
    ASSERT_TRUE(r.is_ok()) << "group " << g << ": " << r.status();
  }
}

// Writes through any running member, in the background, counting what was
// acknowledged; each acknowledged key must be readable at the end.
class Writer {
 public:
  Writer(NodeCluster& c, std::vector<int> through) : c_(c), through_(std::move(through)) {
    thread_ = std::thread([this] { run(); });
  }
  ~Writer() { stop(); }
  void stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  void set_through(std::vector<int> through) {
    std::lock_guard lock(mu_);
    through_ = std::move(through);
  }
  std::vector<std::string> acked() {
    std::lock_guard lock(mu_);
    return acked_;
  }

 private:
  void run() {
    for (int n = 0; n < 100000 && !stop_; ++n) {
      int i;
      {
        std::lock_guard lock(mu_);
        i = through_[static_cast<size_t>(n) % through_.size()];
      }
      const std::string key = cat("w", n);
      if (c_.put(i, GroupId{1}, key, cat(n)).is_ok()) {
        std::lock_guard lock(mu_);
        acked_.push_back(key);
      }
      std::this_thread::sleep_for(milliseconds(2));
    }
  }
  NodeCluster& c_;
  std::mutex mu_;
  std::vector<int> through_;
  std::vector<std::string> acked_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

TEST(MembershipNodeTest, AJoinerCatchesUpAsALearnerIsPromotedAndOldMembersLeave) {
  constexpr uint32_t kGroups = 2;
  NodeCluster c(3, [](NodeOptions& o) {
    o.groups = kGroups;
    o.snapshot_entries = 200;  // the joiner needs a snapshot, not only the log
    o.snapshot_catchup_entries = 50;
  });
  for (int i = 1; i <= 3; ++i) ASSERT_TRUE(c.start(i).is_ok());
  ASSERT_NE(c.wait_leader(GroupId{1}, kWait), 0);
  for (int n = 0; n < 300; ++n)
    ASSERT_TRUE(c.put(1 + n % 3, GroupId{1}, cat("pre", n), "v").is_ok());

  Writer writer(c, {1, 2, 3});
  const int j = c.add_joiner();
  ASSERT_EQ(j, 4);
  ASSERT_TRUE(c.start(j).is_ok());
  for (int i = 1; i <= 3; ++i) c.node(i)->set_peer(NodeId{4}, c.address(j));
  change_everywhere(c, 2, kGroups, {ConfChangeType::kAddLearner, NodeId{4}, "ctx"});
  for (uint32_t g = 1; g <= kGroups; ++g) {
    ASSERT_TRUE(wait_conf(c, j, GroupId{g},
                          [](const raft::ConfState& cs) { return is_learner(cs, NodeId{4}); }))
        << "group " << g << " on the joiner: " << conf_of(c, j, GroupId{g});
  }
  // A second add of the same node is refused, on every member alike.
  auto again = c.change_membership(1, GroupId{1}, {ConfChangeType::kAddLearner, NodeId{4}, ""});
  ASSERT_FALSE(again.is_ok());
  EXPECT_EQ(again.status().code(), base::Code::kFailedPrecondition) << again.status();

  // The learner has everything written before it joined.
  const auto pre = c.get(j, GroupId{1}, "pre299", /*linearizable=*/true);
  ASSERT_TRUE(pre.is_ok()) << pre.status();
  EXPECT_EQ(pre.value(), std::optional<std::string>("v"));

  change_everywhere(c, 3, kGroups, {ConfChangeType::kAddVoter, NodeId{4}, ""});
  ASSERT_TRUE(wait_conf(c, 1, GroupId{1},
                        [](const raft::ConfState& cs) { return is_voter(cs, NodeId{4}); }));
  writer.set_through({2, 3, 4});

  // Remove node 1, whichever role it has; it learns it was removed.
  change_everywhere(c, 2, kGroups, {ConfChangeType::kRemoveNode, NodeId{1}, ""});
  for (uint32_t g = 1; g <= kGroups; ++g) {
    ASSERT_TRUE(wait_conf(c, 2, GroupId{g}, [](const raft::ConfState& cs) {
      return !is_member(cs, NodeId{1}) && cs.voters.size() == 3;
    }));
  }
  const auto deadline = std::chrono::steady_clock::now() + kWait;
  while (!c.node(1)->removed() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(10));
  }
  EXPECT_TRUE(c.node(1)->removed());
  c.stop(1);
  auto stale = c.change_membership(2, GroupId{1}, {ConfChangeType::kRemoveNode, NodeId{1}, ""});
  EXPECT_EQ(stale.status().code(), base::Code::kFailedPrecondition) << stale.status();

  std::this_thread::sleep_for(milliseconds(300));
  writer.stop();
  const std::vector<std::string> acked = writer.acked();
  ASSERT_GT(acked.size(), 10u);
  // Every acknowledged write is on every remaining member, the newcomer included.
  auto last = c.put(4, GroupId{1}, "last", "x");
  ASSERT_TRUE(last.is_ok()) << last.status();
  for (int i : {2, 3, 4}) {
    ASSERT_TRUE(c.wait_applied(i, GroupId{1}, last.value().index, kWait)) << "node " << i;
    for (const std::string& key : acked) {
      auto v = c.get(i, GroupId{1}, key, /*linearizable=*/false);
      ASSERT_TRUE(v.is_ok());
      ASSERT_TRUE(v.value().has_value()) << key << " missing on node " << i;
    }
  }

  // The newcomer keeps its membership across a restart.
  c.stop(j);
  ASSERT_TRUE(c.start(j).is_ok());
  ASSERT_NE(c.wait_leader(GroupId{2}, kWait), 0);
  ASSERT_TRUE(wait_conf(c, j, GroupId{2}, [](const raft::ConfState& cs) {
    return is_voter(cs, NodeId{4}) && !is_member(cs, NodeId{1});
  }));
  ASSERT_TRUE(c.put(j, GroupId{2}, "after-restart", "y").is_ok());
}

TEST(MembershipNodeTest, RemovingTheLastVoterIsRefused) {
  NodeCluster c(1);
  ASSERT_TRUE(c.start(1).is_ok());
  ASSERT_NE(c.wait_leader(GroupId{1}, kWait), 0);
  auto r = c.change_membership(1, GroupId{1}, {ConfChangeType::kRemoveNode, NodeId{1}, ""});
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), base::Code::kFailedPrecondition) << r.status();
  EXPECT_FALSE(c.node(1)->removed());
  EXPECT_TRUE(c.put(1, GroupId{1}, "still", "works").is_ok());
}

}  // namespace
}  // namespace meridian::node
