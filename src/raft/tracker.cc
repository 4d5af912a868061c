#include "raft/tracker.h"

namespace meridian::raft {

namespace {

std::string set_to_string(const std::set<NodeId>& ids) {
  std::string s = "(";
  bool first = true;
  for (NodeId id : ids) {
    if (!first) s += ' ';
    first = false;
    s += std::to_string(id.value());
  }
  s += ')';
  return s;
}

}  // namespace

std::string TrackerConfig::to_string() const {
  std::string s = "voters=" + voters.to_string();
  if (!learners.empty()) s += " learners=" + set_to_string(learners);
  if (!learners_next.empty()) s += " learners_next=" + set_to_string(learners_next);
  if (auto_leave) s += " autoleave";
  return s;
}

ProgressTracker::ProgressTracker(uint32_t inflight_messages_max, uint64_t inflight_bytes_max)
    : inflight_messages_max_(inflight_messages_max), inflight_bytes_max_(inflight_bytes_max) {}

ConfState ProgressTracker::conf_state() const {
  ConfState cs;
  cs.voters = config.voters.incoming.ids();
  cs.voters_outgoing = config.voters.outgoing.ids();
  cs.learners.assign(config.learners.begin(), config.learners.end());
  cs.learners_next.assign(config.learners_next.begin(), config.learners_next.end());
  cs.auto_leave = config.auto_leave;
  return cs;
}

bool ProgressTracker::is_singleton() const {
  return config.voters.incoming.size() == 1 && !config.joint();
}

Index ProgressTracker::committed() const {
  if (config.voters.incoming.empty() && config.voters.outgoing.empty()) return Index{0};
  return config.voters.committed_index([this](NodeId id) -> std::optional<Index> {
    auto it = progress.find(id);
    if (it == progress.end()) return std::nullopt;
    return it->second.match;
  });
}

bool ProgressTracker::quorum_active() const {
  std::unordered_map<NodeId, bool> active;
  for (const auto& [id, pr] : progress) {
    if (pr.is_learner) continue;
    active.emplace(id, pr.recent_active);
  }
  return config.voters.vote_result(active) == VoteResult::kWon;
}

std::vector<NodeId> ProgressTracker::voter_nodes() const { return config.voters.ids(); }

std::vector<NodeId> ProgressTracker::learner_nodes() const {
  return {config.learners.begin(), config.learners.end()};
}

Progress* ProgressTracker::find(NodeId id) {
  auto it = progress.find(id);
  return it == progress.end() ? nullptr : &it->second;
}

const Progress* ProgressTracker::find(NodeId id) const {
  auto it = progress.find(id);
  return it == progress.end() ? nullptr : &it->second;
}

void ProgressTracker::reset_votes() { votes_.clear(); }

void ProgressTracker::record_vote(NodeId id, bool granted) { votes_.try_emplace(id, granted); }

ProgressTracker::Tally ProgressTracker::tally_votes() const {
  Tally t;
  for (NodeId id : config.voters.ids()) {
    auto it = votes_.find(id);
    if (it == votes_.end()) continue;
    if (it->second) {
      ++t.granted;
    } else {
      ++t.rejected;
    }
  }
  t.result = config.voters.vote_result(votes_);
  return t;
}

void ProgressTracker::visit(const std::function<void(NodeId, Progress&)>& f) {
  for (auto& [id, pr] : progress) f(id, pr);
}

}  // namespace meridian::raft
