#include "sim/nemesis.h"

#include <algorithm>
#include <sstream>
#include <vector>

#include "base/assert.h"

namespace meridian::sim {

using raft::ConfChange;
using raft::ConfChangeSingle;
using raft::ConfChangeTransition;
using raft::ConfChangeType;
using raft::ConfState;
using raft::NodeId;

namespace {

bool contains(const std::vector<NodeId>& ids, NodeId id) {
  return std::find(ids.begin(), ids.end(), id) != ids.end();
}

std::string group_string(const std::vector<NodeId>& ids) {
  std::string s = "{";
  for (size_t k = 0; k < ids.size(); ++k) s += cat(k ? "," : "", ids[k]);
  return s + "}";
}

}  // namespace

Nemesis::Nemesis(Cluster& cluster, const NemesisParams& params)
    : cluster_(cluster), params_(params) {}

void Nemesis::after_random(uint64_t min_us, uint64_t max_us, void (Nemesis::*step)()) {
  cluster_.events().after(cluster_.rng().range(min_us, max_us), [this, step] { (this->*step)(); });
}

void Nemesis::start(SimTime stop_at) {
  stop_at_ = stop_at;
  const FaultSet& f = params_.faults;
  if (f.has(Fault::kCrash)) {
    after_random(params_.crash_every_min_us, params_.crash_every_max_us, &Nemesis::crash_step);
  }
  if (f.has(Fault::kPartition) || f.has(Fault::kOneWay)) {
    after_random(params_.partition_every_min_us, params_.partition_every_max_us,
                 &Nemesis::partition_step);
  }
  if (f.has(Fault::kMembership)) {
    after_random(params_.membership_every_min_us, params_.membership_every_max_us,
                 &Nemesis::membership_step);
  }
}

void Nemesis::heal() {
  ++heal_generation_;
  cluster_.network().heal();
  cluster_.network().set_faults(kCalmLinks);
  cluster_.calm_disks();
  cluster_.trace("heal: network whole, links calm, all nodes up");
  for (NodeId id : cluster_.pool()) cluster_.restart(id);
}

void Nemesis::crash_step() {
  if (!active()) return;
  after_random(params_.crash_every_min_us, params_.crash_every_max_us, &Nemesis::crash_step);
  Rng& rng = cluster_.rng();
  std::vector<NodeId> up;
  for (NodeId id : cluster_.pool()) {
    if (cluster_.node(id).up()) up.push_back(id);
  }
  if (up.empty()) return;
  if (up.size() >= 2 && rng.chance_ppm(params_.crash_many_ppm)) {
    // Power loss of 2..all running nodes at the same virtual instant.
    for (size_t k = up.size() - 1; k > 0; --k) std::swap(up[k], up[rng.below(k + 1)]);
    const size_t victims = rng.range(2, up.size());
    cluster_.trace(cat("power loss of ", victims, " nodes"));
    for (size_t k = 0; k < victims; ++k) crash_and_schedule_restart(up[k]);
    return;
  }
  if (cluster_.nodes_down() >= params_.down_max) return;
  crash_and_schedule_restart(up[rng.below(up.size())]);
}

void Nemesis::crash_and_schedule_restart(NodeId victim) {
  cluster_.crash(victim);
  const uint64_t inc = cluster_.node(victim).incarnation();
  cluster_.events().after(cluster_.rng().range(params_.down_min_us, params_.down_max_us),
                          [this, victim, inc] {
                            SimNode& n = cluster_.node(victim);
                            if (!n.up() && n.incarnation() == inc) cluster_.restart(victim);
                          });
}

void Nemesis::partition_step() {
  if (!active()) return;
  const FaultSet& f = params_.faults;
  const bool symmetric =
      f.has(Fault::kPartition) && (!f.has(Fault::kOneWay) || cluster_.rng().below(2) == 0);
  std::string what;
  std::vector<Network::Link> links = symmetric ? symmetric_partition(what) : one_way_cuts(what);
  cut_for_a_while(std::move(links), std::move(what), true);
}

void Nemesis::cut_for_a_while(std::vector<Network::Link> links, std::string what, bool regular) {
  cluster_.network().add_cuts(links);
  cluster_.trace(what);
  const uint64_t generation = heal_generation_;
  const uint64_t duration =
      cluster_.rng().range(params_.partition_min_us, params_.partition_max_us);
  cluster_.events().after(
      duration, [this, links = std::move(links), what = std::move(what), generation, regular] {
        if (generation != heal_generation_) return;  // heal() removed every cut already
        cluster_.network().remove_cuts(links);
        cluster_.trace("end of " + what);
        if (regular) {
          after_random(params_.partition_every_min_us, params_.partition_every_max_us,
                       &Nemesis::partition_step);
        }
      });
}

void Nemesis::on_leader_elected(NodeId id, raft::Term term) {
  if (!active()) return;
  Rng& rng = cluster_.rng();
  const FaultSet& f = params_.faults;
  const uint64_t delay = rng.range(0, params_.new_leader_fault_delay_max_us);
  if (f.has(Fault::kPartition) && rng.chance_ppm(params_.new_leader_isolate_ppm)) {
    cluster_.events().after(delay, [this, id, term] { isolate_new_leader(id, term); });
  } else if (f.has(Fault::kCrash) && rng.chance_ppm(params_.new_leader_crash_ppm)) {
    cluster_.events().after(delay, [this, id, term] {
      SimNode& n = cluster_.node(id);
      if (!active() || !n.up() || n.role() != raft::Role::kLeader || n.term() != term) return;
      cluster_.trace(cat("crash new leader n", id));
      crash_and_schedule_restart(id);
    });
  }
}

void Nemesis::isolate_new_leader(NodeId id, raft::Term term) {
  SimNode& n = cluster_.node(id);
  if (!active() || !n.up() || n.role() != raft::Role::kLeader || n.term() != term) return;
  std::vector<NodeId> rest;
  for (NodeId other : cluster_.pool()) {
    if (other != id) rest.push_back(other);
  }
  // Independent of the periodic partitions: the cuts overlap and add up.
  cut_for_a_while(Network::between({id}, rest),
                  cat("partition new leader {", id, "}|", group_string(rest)), false);
}

std::vector<Network::Link> Nemesis::symmetric_partition(std::string& what) {
  Rng& rng = cluster_.rng();
  std::vector<NodeId> ids = cluster_.pool();
  std::vector<NodeId> a;
  std::vector<NodeId> b;
  SimNode* leader = cluster_.leader();
  if (leader != nullptr && rng.chance_ppm(params_.isolate_leader_ppm)) {
    a.push_back(leader->id());
  } else {
    // Fisher-Yates shuffle, then a random split point: every proper split is possible.
    for (size_t k = ids.size() - 1; k > 0; --k) std::swap(ids[k], ids[rng.below(k + 1)]);
    const size_t cut = 1 + rng.below(ids.size() - 1);
    a.assign(ids.begin(), ids.begin() + static_cast<std::ptrdiff_t>(cut));
    std::sort(a.begin(), a.end());
  }
  for (NodeId id : cluster_.pool()) {
    if (!contains(a, id)) b.push_back(id);
  }
  what = cat("partition ", group_string(a), "|", group_string(b));
  return Network::between(a, b);
}

std::vector<Network::Link> Nemesis::one_way_cuts(std::string& what) {
  Rng& rng = cluster_.rng();
  const std::vector<NodeId> ids = cluster_.pool();
  SimNode* leader = cluster_.leader();
  std::vector<Network::Link> links;
  what = "cut one way";
  // One to three cuts, often touching the leader: the asymmetric cases that
  // matter most are a leader that can send but not hear, or hear but not send.
  const uint64_t cuts = rng.range(1, 3);
  for (uint64_t k = 0; k < cuts; ++k) {
    NodeId from = ids[rng.below(ids.size())];
    NodeId to = ids[rng.below(ids.size())];
    if (leader != nullptr && rng.below(2) == 0) {
      if (rng.below(2) == 0) {
        from = leader->id();
      } else {
        to = leader->id();
      }
    }
    if (from == to) continue;
    links.emplace_back(from, to);
    what += cat(" n", from, "->n", to);
  }
  return links;
}

void Nemesis::membership_step() {
  if (!active()) return;
  after_random(params_.membership_every_min_us, params_.membership_every_max_us,
               &Nemesis::membership_step);
  SimNode* leader = cluster_.leader();
  if (leader == nullptr) return;
  std::optional<ConfChange> cc = choose_conf_change(leader->replica().status().conf_state);
  if (!cc) return;
  raft::Status s = leader->propose_conf_change(*cc);
  std::ostringstream os;
  os << *cc;
  cluster_.trace(cat("n", leader->id(), " propose conf ", os.str(), ": ", s.to_string()));
}

void Nemesis::leave_joint_if_explicit() {
  SimNode* leader = cluster_.leader();
  if (leader == nullptr) return;
  const ConfState cs = leader->replica().status().conf_state;
  if (!cs.joint() || cs.auto_leave) return;
  raft::Status s = leader->propose_conf_change(ConfChange{});
  cluster_.trace(cat("n", leader->id(), " propose conf leave-joint: ", s.to_string()));
}

std::optional<ConfChange> Nemesis::choose_conf_change(const ConfState& cs) {
  if (cs.joint()) {
    if (cs.auto_leave) return std::nullopt;  // the leader leaves by itself
    return ConfChange{};                     // explicit: leave now
  }
  Rng& rng = cluster_.rng();
  std::vector<NodeId> others;  // pool nodes that are not members
  for (NodeId id : cluster_.pool()) {
    if (!contains(cs.voters, id) && !contains(cs.learners, id)) others.push_back(id);
  }
  auto pick = [&rng](const std::vector<NodeId>& v) { return v[rng.below(v.size())]; };
  const bool can_shrink = cs.voters.size() > kVotersMin;
  ConfChange cc;
  switch (rng.below(6)) {
    case 0:  // add a learner
      if (others.empty()) return std::nullopt;
      cc.changes.push_back({ConfChangeType::kAddLearner, pick(others)});
      break;
    case 1:  // promote a learner, or add a voter outright
      if (!cs.learners.empty()) {
        cc.changes.push_back({ConfChangeType::kAddVoter, pick(cs.learners)});
      } else if (!others.empty()) {
        cc.changes.push_back({ConfChangeType::kAddVoter, pick(others)});
      } else {
        return std::nullopt;
      }
      break;
    case 2:  // remove a voter
      if (!can_shrink) return std::nullopt;
      cc.changes.push_back({ConfChangeType::kRemoveNode, pick(cs.voters)});
      break;
    case 3:  // demote a voter to learner
      if (!can_shrink) return std::nullopt;
      cc.changes.push_back({ConfChangeType::kAddLearner, pick(cs.voters)});
      break;
    case 4:  // remove a learner
      if (cs.learners.empty()) return std::nullopt;
      cc.changes.push_back({ConfChangeType::kRemoveNode, pick(cs.learners)});
      break;
    default: {  // replace a voter: one in, one out (removed or demoted), jointly
      std::vector<NodeId> incoming = others;
      incoming.insert(incoming.end(), cs.learners.begin(), cs.learners.end());
      if (incoming.empty()) return std::nullopt;
      cc.changes.push_back({ConfChangeType::kAddVoter, pick(incoming)});
      const ConfChangeType out =
          rng.below(2) == 0 ? ConfChangeType::kRemoveNode : ConfChangeType::kAddLearner;
      cc.changes.push_back({out, pick(cs.voters)});
      break;
    }
  }
  // Transitions: mostly the simple/automatic one, but every kind appears.
  const uint64_t t = rng.below(4);
  cc.transition = t == 2   ? ConfChangeTransition::kJointImplicit
                  : t == 3 ? ConfChangeTransition::kJointExplicit
                           : ConfChangeTransition::kAuto;
  return cc;
}

}  // namespace meridian::sim
