// Randomized runs of the whole core under faults, checked against the safety
// properties of Figure 3 of the Raft paper (Election Safety, Log Matching, Leader
// Completeness, State Machine Safety) and ReadIndex linearizability (thesis §6.4).
// Deterministic: each seed fixes the run. (The full simulator, with clients and a
// linearizability checker, is src/sim/; this is the core alone, at unit-test speed.)
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>

#include "raft/cluster_testing.h"

namespace meridian::raft {
namespace {

using testing::TestCluster;

// Safety checks over a run with random faults (Figure 3's properties): at most one
// leader per term; every node applies the same entry at a given index (State
// Machine Safety) and never the same proposal twice; a leader's log holds every
// applied entry (Leader Completeness).
class SafetyChecker {
 public:
  explicit SafetyChecker(TestCluster& c) : c_(c) {}

  // The highest index applied anywhere so far (so committed).
  Index applied_max() const { return applied_.empty() ? Index{0} : applied_.rbegin()->first; }

  void check() {
    // Every term any node reached so far bounds the term in which a newly seen
    // applied entry was committed.
    max_term_ = Term{0};
    for (NodeId id : c_.ids()) {
      Term t = c_.up(id) ? c_.replica(id).term() : c_.storage(id).hard_state().term;
      max_term_ = std::max(max_term_, t);
    }
    for (NodeId id : c_.ids()) {
      if (!c_.up(id)) continue;
      if (c_.replica(id).role() == Role::kLeader) {
        auto [it, fresh] = leaders_.emplace(c_.replica(id).term(), id);
        EXPECT_EQ(it->second, id) << "two leaders in term " << it->first;
        check_leader_log(id);
      }
      const std::vector<Entry>& log = c_.node(id).applied_log;
      size_t& seen = seen_[id];
      if (c_.node(id).restarts != restarts_[id]) {
        restarts_[id] = c_.node(id).restarts;
        seen = 0;
      }
      for (; seen < log.size(); ++seen) check_applied(id, log[seen]);
    }
    EXPECT_TRUE(c_.violations().empty()) << c_.violations().front();
  }

 private:
  void check_applied(NodeId id, const Entry& e) {
    auto [it, fresh] = applied_.emplace(e.index, Applied{e, max_term_});
    EXPECT_EQ(it->second.entry, e) << "node " << id << " applied a different entry at " << e.index;
    if (!e.data.empty() && e.type == EntryType::kNormal) {
      auto [p, first] = data_index_.emplace(e.data, e.index);
      EXPECT_EQ(p->second, e.index) << "\"" << e.data << "\" applied at two indices";
    }
  }

  // Only entries committed in an earlier term than the leader's must be in its log:
  // a stale leader of an older term (not yet deposed) may lack newer commits.
  void check_leader_log(NodeId id) {
    const MemoryStorage& st = c_.storage(id);
    Term term = c_.replica(id).term();
    for (const auto& [index, a] : applied_) {
      if (a.commit_term_max >= term || index < st.first_index()) continue;
      EXPECT_LE(index, st.last_index()) << "leader " << id << " lacks applied " << index;
      if (index > st.last_index()) return;
      EXPECT_EQ(st.term(index).value(), a.entry.term) << "leader " << id << " at " << index;
    }
  }

  struct Applied {
    Entry entry;
    Term commit_term_max;  // the entry was committed in this term or an earlier one
  };

  TestCluster& c_;
  std::map<Term, NodeId> leaders_;
  std::map<Index, Applied> applied_;
  Term max_term_;
  std::map<std::string, Index> data_index_;
  std::map<NodeId, size_t> seen_;
  std::map<NodeId, int> restarts_;
};

// A membership change among the cluster's nodes: promotions, demotions, removals and
// (re-)additions, simple or joint with either transition, and leaving a joint config.
ConfChange random_conf_change(std::mt19937& rng, const std::vector<NodeId>& all) {
  auto pick = [&] { return all[rng() % all.size()]; };
  auto single = [&] {
    const ConfChangeType types[] = {ConfChangeType::kAddVoter, ConfChangeType::kAddLearner,
                                    ConfChangeType::kRemoveNode};
    return ConfChangeSingle{types[rng() % 3], pick()};
  };
  switch (rng() % 4) {
    case 0:
      return ConfChange{};  // leave a joint config (refused outside one)
    case 1:
      return ConfChange{ConfChangeTransition::kAuto, {single()}, ""};
    case 2:
      return ConfChange{ConfChangeTransition::kAuto, {single(), single()}, ""};
    default:
      return ConfChange{ConfChangeTransition::kJointExplicit, {single(), single()}, ""};
  }
}

// Every optional feature on or off, and limits from tiny to the defaults.
Config random_config(std::mt19937& rng) {
  Config cfg;
  cfg.pre_vote = rng() % 2;
  cfg.check_quorum = rng() % 2;
  if (cfg.check_quorum && rng() % 2) cfg.read_only = ReadOnlyOption::kLeaseBased;
  const uint32_t windows[] = {1, 2, 256};
  cfg.inflight_messages_max = windows[rng() % 3];
  const uint64_t appends[] = {1, 64, 1 << 20};
  cfg.append_bytes_max = appends[rng() % 3];
  cfg.committed_bytes_per_ready_max = rng() % 2 ? 1 : 16 << 20;
  const uint64_t uncommitted[] = {0, 200, 64 << 20};
  cfg.uncommitted_bytes_max = uncommitted[rng() % 3];
  return cfg;
}

// One randomized run: a cluster under a seeded stream of faults and requests.
class RandomRun {
 public:
  explicit RandomRun(uint32_t seed)
      : seed_(seed),
        rng_(seed),
        base_(random_config(rng_)),
        c_(seed % 3 == 0 ? 3 : 5,
           [this](Config& cfg) {
             Config mine = base_;
             mine.id = cfg.id;
             mine.random_seed = cfg.random_seed;
             cfg = mine;
           }),
        checker_(c_),
        all_(c_.ids()) {
    c_.set_report_unreachable(rng_() % 2);
  }

  // One random action, some random extra faults, a delivery, and the checks.
  bool step(int step) {
    if (!act(step)) return false;
    if (chance(3) && c_.up(n_) && c_.replica(n_).has_ready()) {
      // A crash between sending a Ready's early messages and persisting it.
      Ready rd = c_.replica(n_).ready();
      c_.send(n_, rd.messages);
      c_.crash(n_);
    }
    if (chance(5) && !c_.sent().empty()) {
      // A duplicate, maybe very stale. Not of a forwarded proposal: Raft does not
      // deduplicate commands; clients do, with serial numbers (§8, thesis §6.3).
      const Message& m = c_.sent()[rng_() % c_.sent().size()];
      if (m.type != MessageType::kPropose) c_.inject(m);
    }
    if (chance(60)) {
      // Deliver only part of the traffic: the rest is delayed, hence reordered.
      for (NodeId id : all_) {
        while (c_.up(id) && c_.handle_ready(id)) {
        }
      }
      c_.deliver([&](const Message&) { return chance(60); });
    } else if (!c_.stabilize()) {
      return false;
    }
    checker_.check();
    check_reads();
    return true;
  }

  // The faults stop; every member must then catch up with a leader. Randomized
  // timeouts make an election succeed with high probability per round, not surely
  // (stale-log candidates keep resetting everyone's timers), hence the generous
  // bound. Removed nodes are left behind.
  void converge() {
    c_.heal();
    loss_ = 0;
    for (NodeId id : all_) {
      if (!c_.up(id)) c_.restart(id);
    }
    for (int i = 0; i < 1000 && !converged(); ++i) ASSERT_TRUE(c_.tick_all(1));
    checker_.check();
    ASSERT_NE(c_.leader(), kNoNode);
    for (NodeId id : members()) {
      EXPECT_EQ(c_.node(id).state, c_.node(c_.leader()).state) << "node " << id;
    }
  }

 private:
  bool chance(int percent) { return static_cast<int>(rng_() % 100) < percent; }
  NodeId any_node() { return all_[rng_() % all_.size()]; }

  // Returns false on a livelock.
  bool act(int step) {
    n_ = any_node();
    int action = static_cast<int>(rng_() % 100);
    bool up = c_.up(n_);
    if (action < 45) {
      return c_.tick_all(1);
    } else if (action < 70) {
      if (up) (void)c_.propose(n_, "s" + std::to_string(seed_) + "-" + std::to_string(step));
    } else if (action < 75) {
      if (up) c_.crash(n_);
    } else if (action < 82) {
      if (!up) c_.restart(n_);
    } else if (action < 87) {
      c_.heal();
      std::vector<NodeId> a, b;
      for (NodeId id : all_) (chance(50) ? a : b).push_back(id);
      c_.partition({a, b});
      loss_ = static_cast<int>(rng_() % 20);
      c_.set_drop_filter([this](const Message&) { return chance(loss_); });
    } else if (action < 92) {
      c_.heal();
      loss_ = 0;
    } else if (action < 95) {
      if (up && c_.node(n_).applied > c_.storage(n_).first_index()) c_.compact(n_);
    } else if (action < 96) {
      if (up) c_.replica(n_).transfer_leader(any_node());
    } else if (action < 98) {
      if (up) (void)c_.propose_conf_change(n_, random_conf_change(rng_, all_));
    } else if (up) {
      std::string context = "r" + std::to_string(step);
      read_bound_[context] = checker_.applied_max();
      c_.replica(n_).read_index(context);
    }
    return true;
  }

  // Thesis §6.4: a read point is at least every index committed before the read
  // began. (A lease is only as good as the bound on message delay, which this test
  // does not honour, so lease reads are not checked.)
  void check_reads() {
    for (NodeId id : all_) {
      if (!c_.up(id)) continue;
      for (const ReadState& rs : c_.node(id).read_states) {
        if (base_.read_only == ReadOnlyOption::kSafe) {
          EXPECT_GE(rs.index, read_bound_.at(rs.context)) << "stale read " << rs.context;
        }
      }
      c_.node(id).read_states.clear();
    }
  }

  std::vector<NodeId> members() {
    ConfState cs = c_.node(c_.leader()).conf_state;
    std::vector<NodeId> out = cs.voters;
    for (auto* more : {&cs.voters_outgoing, &cs.learners}) {
      out.insert(out.end(), more->begin(), more->end());
    }
    return out;
  }

  bool converged() {
    if (c_.leader() == kNoNode) return false;
    for (NodeId id : members()) {
      if (c_.node(id).state != c_.node(c_.leader()).state) return false;
    }
    return true;
  }

  uint32_t seed_;
  std::mt19937 rng_;
  Config base_;
  TestCluster c_;
  SafetyChecker checker_;
  std::vector<NodeId> all_;
  NodeId n_;                                 // the node the current step acts on
  int loss_ = 0;                             // percent of messages lost while partitioned
  std::map<std::string, Index> read_bound_;  // context -> index applied before the read
};

// Random partitions, message loss, duplicated and delayed (so reordered) messages,
// crashes (also in the middle of a Ready), compactions, transfers, membership
// changes, proposals and reads, under random configs, with the safety properties
// checked after every step; then the faults stop and every member must converge.
TEST(Safety, RandomFaultsKeepCommittedLogsConsistent) {
  constexpr uint32_t kSeeds = 200;  // ~0.5 s; tens of thousands were run once
  constexpr int kSteps = 1500;
  for (uint32_t seed = 1; seed <= kSeeds; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    RandomRun run(seed);
    for (int step = 0; step < kSteps && !::testing::Test::HasFailure(); ++step) {
      ASSERT_TRUE(run.step(step)) << "livelock at step " << step;
    }
    run.converge();
    if (::testing::Test::HasFailure()) return;
  }
}

}  // namespace
}  // namespace meridian::raft
