#include "raft/confchange.h"

#include <algorithm>
#include <iterator>
#include <string>

namespace meridian::raft {

namespace {

std::string id_str(NodeId id) { return std::to_string(id.value()); }

// Number of voters in exactly one of a and b (both sorted).
size_t symmetric_difference_size(const MajorityConfig& a, const MajorityConfig& b) {
  std::vector<NodeId> diff;
  std::set_symmetric_difference(a.ids().begin(), a.ids().end(), b.ids().begin(), b.ids().end(),
                                std::back_inserter(diff));
  return diff.size();
}

Status check_sorted_ids(const std::vector<NodeId>& ids, const char* what) {
  for (size_t i = 0; i < ids.size(); ++i) {
    if (ids[i] == kNoNode) {
      return Status(Code::kInvalidArgument, std::string(what) + " contains node id 0");
    }
    if (i > 0 && ids[i - 1] >= ids[i]) {
      return Status(Code::kInvalidArgument,
                    std::string(what) + " is not sorted or has duplicates at " + id_str(ids[i]));
    }
  }
  return Status::ok();
}

bool sorted_contains(const std::vector<NodeId>& ids, NodeId id) {
  return std::binary_search(ids.begin(), ids.end(), id);
}

Status validate_conf_state(const ConfState& cs) {
  if (Status s = check_sorted_ids(cs.voters, "voters"); !s.is_ok()) return s;
  if (Status s = check_sorted_ids(cs.voters_outgoing, "voters_outgoing"); !s.is_ok()) return s;
  if (Status s = check_sorted_ids(cs.learners, "learners"); !s.is_ok()) return s;
  if (Status s = check_sorted_ids(cs.learners_next, "learners_next"); !s.is_ok()) return s;

  for (NodeId id : cs.learners) {
    if (sorted_contains(cs.voters, id) || sorted_contains(cs.voters_outgoing, id)) {
      return Status(Code::kInvalidArgument, "node " + id_str(id) + " is both learner and voter");
    }
  }
  for (NodeId id : cs.learners_next) {
    if (!sorted_contains(cs.voters_outgoing, id)) {
      return Status(Code::kInvalidArgument,
                    "learner_next " + id_str(id) + " is not an outgoing voter");
    }
    if (sorted_contains(cs.voters, id)) {
      return Status(Code::kInvalidArgument,
                    "learner_next " + id_str(id) + " is still an incoming voter");
    }
  }
  if (!cs.joint() && cs.auto_leave) {
    return Status(Code::kInvalidArgument, "auto_leave set outside a joint config");
  }
  // A joint config is only ever entered from, and into, a config with voters.
  if (cs.joint() && cs.voters.empty()) {
    return Status(Code::kInvalidArgument, "joint config without incoming voters");
  }
  if (cs.voters.empty() && !cs.learners.empty()) {
    return Status(Code::kInvalidArgument, "learners without any voter");
  }
  return Status::ok();
}

Progress new_progress(Index last_index, uint32_t inflight_messages_max, uint64_t inflight_bytes_max,
                      bool is_learner) {
  Progress pr(last_index + 1, inflight_messages_max, inflight_bytes_max);
  pr.recent_active = true;
  pr.is_learner = is_learner;
  return pr;
}

}  // namespace

Changer::Changer(const TrackerConfig& config, const ProgressMap& progress, Index last_index,
                 uint32_t inflight_messages_max, uint64_t inflight_bytes_max)
    : config_(config),
      progress_(progress),
      last_index_(last_index),
      inflight_messages_max_(inflight_messages_max),
      inflight_bytes_max_(inflight_bytes_max) {}

Result<ConfigAndProgress> Changer::enter_joint(bool auto_leave,
                                               const std::vector<ConfChangeSingle>& changes) const {
  if (config_.joint()) {
    return Status(Code::kFailedPrecondition, "config is already joint: " + config_.to_string());
  }
  // With no voters to start from, the outgoing half would be empty and the "joint"
  // config would silently be a simple one with unbounded changes.
  if (config_.voters.incoming.empty()) {
    return Status(Code::kFailedPrecondition, "can't make a zero-voter config joint");
  }
  TrackerConfig cfg = config_;
  ProgressMap prs = progress_;
  cfg.voters.outgoing = cfg.voters.incoming;
  if (Status s = apply(cfg, prs, changes); !s.is_ok()) return s;
  if (cfg.voters.incoming.empty()) {
    return Status(Code::kInvalidArgument, "the change removes every incoming voter");
  }
  cfg.auto_leave = auto_leave;
  check_invariants(cfg, prs);
  return ConfigAndProgress{std::move(cfg), std::move(prs)};
}

Result<ConfigAndProgress> Changer::leave_joint() const {
  if (!config_.joint()) {
    return Status(Code::kFailedPrecondition, "config is not joint: " + config_.to_string());
  }
  TrackerConfig cfg = config_;
  ProgressMap prs = progress_;
  for (NodeId id : cfg.learners_next) {
    cfg.learners.insert(id);
    auto it = prs.find(id);
    MERIDIAN_ASSERT(it != prs.end(), "learner_next ", id, " has no progress");
    it->second.is_learner = true;
  }
  cfg.learners_next.clear();
  for (NodeId id : cfg.voters.outgoing.ids()) {
    if (!cfg.voters.incoming.contains(id) && !cfg.learners.contains(id)) prs.erase(id);
  }
  cfg.voters.outgoing = MajorityConfig();
  cfg.auto_leave = false;
  check_invariants(cfg, prs);
  return ConfigAndProgress{std::move(cfg), std::move(prs)};
}

Result<ConfigAndProgress> Changer::simple(const std::vector<ConfChangeSingle>& changes) const {
  if (config_.joint()) {
    return Status(Code::kFailedPrecondition,
                  "can't make a simple change in a joint config: " + config_.to_string());
  }
  TrackerConfig cfg = config_;
  ProgressMap prs = progress_;
  if (Status s = apply(cfg, prs, changes); !s.is_ok()) return s;
  // Raft thesis §4.1: only a single-voter change keeps every old majority overlapping
  // every new one; anything more must go through a joint config.
  if (symmetric_difference_size(config_.voters.incoming, cfg.voters.incoming) > 1) {
    return Status(Code::kInvalidArgument,
                  "a simple change may change at most one voter; use a joint change");
  }
  if (cfg.voters.incoming.empty()) {
    return Status(Code::kInvalidArgument, "the change removes every voter");
  }
  check_invariants(cfg, prs);
  return ConfigAndProgress{std::move(cfg), std::move(prs)};
}

Status Changer::apply(TrackerConfig& cfg, ProgressMap& prs,
                      const std::vector<ConfChangeSingle>& changes) const {
  for (const ConfChangeSingle& cc : changes) {
    if (cc.node == kNoNode) {
      return Status(Code::kInvalidArgument, "node id 0 is not a valid member");
    }
    switch (cc.type) {
      case ConfChangeType::kAddVoter:
        add_voter(cfg, prs, cc.node);
        break;
      case ConfChangeType::kAddLearner:
        add_learner(cfg, prs, cc.node);
        break;
      case ConfChangeType::kRemoveNode:
        remove_node(cfg, prs, cc.node);
        break;
      default:
        // Decoded from a log entry; an unknown type is bad input, not a bug here.
        return Status(Code::kInvalidArgument,
                      "unknown conf change type " + std::to_string(static_cast<int>(cc.type)));
    }
    check_invariants(cfg, prs);
  }
  return Status::ok();
}

Progress& Changer::ensure_progress(ProgressMap& prs, NodeId id) const {
  auto it = prs.find(id);
  if (it == prs.end()) {
    it = prs.emplace(id, new_progress(last_index_, inflight_messages_max_, inflight_bytes_max_,
                                      /*is_learner=*/false))
             .first;
  }
  return it->second;
}

void Changer::add_voter(TrackerConfig& cfg, ProgressMap& prs, NodeId id) const {
  cfg.voters.incoming.add(id);
  cfg.learners.erase(id);
  cfg.learners_next.erase(id);
  ensure_progress(prs, id).is_learner = false;
}

void Changer::add_learner(TrackerConfig& cfg, ProgressMap& prs, NodeId id) const {
  cfg.voters.incoming.remove(id);
  Progress& pr = ensure_progress(prs, id);
  if (cfg.voters.outgoing.contains(id)) {
    // Still needed for the outgoing majority until the joint config is left.
    cfg.learners_next.insert(id);
    pr.is_learner = false;
  } else {
    cfg.learners.insert(id);
    pr.is_learner = true;
  }
}

void Changer::remove_node(TrackerConfig& cfg, ProgressMap& prs, NodeId id) const {
  cfg.voters.incoming.remove(id);
  cfg.learners.erase(id);
  cfg.learners_next.erase(id);
  // An outgoing voter keeps replicating (and voting) until the joint config is left.
  if (!cfg.voters.outgoing.contains(id)) prs.erase(id);
}

void check_invariants(const TrackerConfig& cfg, const ProgressMap& prs) {
  const JointConfig& v = cfg.voters;
  for (NodeId id : v.ids()) {
    auto it = prs.find(id);
    MERIDIAN_ASSERT(it != prs.end(), "voter ", id, " has no progress in ", cfg.to_string());
    MERIDIAN_ASSERT(!it->second.is_learner, "voter ", id, " is marked learner");
  }
  for (NodeId id : cfg.learners) {
    auto it = prs.find(id);
    MERIDIAN_ASSERT(it != prs.end(), "learner ", id, " has no progress in ", cfg.to_string());
    MERIDIAN_ASSERT(it->second.is_learner, "learner ", id, " is not marked learner");
    MERIDIAN_ASSERT(!v.incoming.contains(id), "learner ", id, " is an incoming voter");
    MERIDIAN_ASSERT(!v.outgoing.contains(id), "learner ", id, " is an outgoing voter");
  }
  for (NodeId id : cfg.learners_next) {
    MERIDIAN_ASSERT(v.outgoing.contains(id), "learner_next ", id, " is not an outgoing voter");
    MERIDIAN_ASSERT(!v.incoming.contains(id), "learner_next ", id, " is an incoming voter");
    MERIDIAN_ASSERT(!cfg.learners.contains(id), "learner_next ", id, " is already a learner");
  }
  for (const auto& [id, pr] : prs) {
    MERIDIAN_ASSERT(v.contains(id) || cfg.learners.contains(id), "progress of ", id,
                    " which is not a member of ", cfg.to_string());
  }
  if (!v.joint()) {
    MERIDIAN_ASSERT(cfg.learners_next.empty(), "learners_next outside a joint config");
    MERIDIAN_ASSERT(!cfg.auto_leave, "auto_leave outside a joint config");
  }
}

Result<ConfigAndProgress> restore_conf_state(const ConfState& cs, Index last_index,
                                             uint32_t inflight_messages_max,
                                             uint64_t inflight_bytes_max) {
  if (Status s = validate_conf_state(cs); !s.is_ok()) return s;
  TrackerConfig cfg;
  cfg.voters.incoming = MajorityConfig(cs.voters);
  cfg.voters.outgoing = MajorityConfig(cs.voters_outgoing);
  cfg.learners.insert(cs.learners.begin(), cs.learners.end());
  cfg.learners_next.insert(cs.learners_next.begin(), cs.learners_next.end());
  cfg.auto_leave = cs.auto_leave;

  ProgressMap prs;
  for (NodeId id : cfg.voters.ids()) {
    prs.emplace(id, new_progress(last_index, inflight_messages_max, inflight_bytes_max,
                                 /*is_learner=*/false));
  }
  for (NodeId id : cfg.learners) {
    prs.emplace(id, new_progress(last_index, inflight_messages_max, inflight_bytes_max,
                                 /*is_learner=*/true));
  }
  check_invariants(cfg, prs);
  return ConfigAndProgress{std::move(cfg), std::move(prs)};
}

ConfChangePlan plan_conf_change(const ConfChange& cc) {
  ConfChangePlan plan;
  if (cc.leave_joint()) {
    plan.leave = true;
    return plan;
  }
  plan.joint = cc.transition != ConfChangeTransition::kAuto || cc.changes.size() > 1;
  if (plan.joint) plan.auto_leave = cc.transition != ConfChangeTransition::kJointExplicit;
  return plan;
}

Result<ConfigAndProgress> execute_conf_change(const Changer& changer, const ConfChange& cc) {
  const ConfChangePlan plan = plan_conf_change(cc);
  if (plan.leave) return changer.leave_joint();
  if (plan.joint) return changer.enter_joint(plan.auto_leave, cc.changes);
  return changer.simple(cc.changes);
}

}  // namespace meridian::raft
