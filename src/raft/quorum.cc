#include "raft/quorum.h"

#include <algorithm>
#include <array>
#include <iterator>
#include <utility>

namespace meridian::raft {

namespace {

// Majority of n voters: strictly more than half.
size_t majority(size_t n) { return n / 2 + 1; }

}  // namespace

const char* vote_result_name(VoteResult r) {
  switch (r) {
    case VoteResult::kPending:
      return "pending";
    case VoteResult::kLost:
      return "lost";
    case VoteResult::kWon:
      return "won";
  }
  return "unknown";
}

MajorityConfig::MajorityConfig(std::vector<NodeId> ids) : ids_(std::move(ids)) {
  std::sort(ids_.begin(), ids_.end());
  ids_.erase(std::unique(ids_.begin(), ids_.end()), ids_.end());
}

bool MajorityConfig::contains(NodeId id) const {
  return std::binary_search(ids_.begin(), ids_.end(), id);
}

bool MajorityConfig::add(NodeId id) {
  auto it = std::lower_bound(ids_.begin(), ids_.end(), id);
  if (it != ids_.end() && *it == id) return false;
  ids_.insert(it, id);
  return true;
}

bool MajorityConfig::remove(NodeId id) {
  auto it = std::lower_bound(ids_.begin(), ids_.end(), id);
  if (it == ids_.end() || *it != id) return false;
  ids_.erase(it);
  return true;
}

Index MajorityConfig::committed_index(const AckedIndexFn& acked) const {
  const size_t n = ids_.size();
  if (n == 0) return kIndexUnbounded;

  std::array<uint64_t, kStackVotersMax> on_stack{};
  std::vector<uint64_t> on_heap;
  uint64_t* values = on_stack.data();
  if (n > on_stack.size()) {
    on_heap.resize(n);
    values = on_heap.data();
  }
  for (size_t i = 0; i < n; ++i) {
    values[i] = acked(ids_[i]).value_or(Index{0}).value();
  }
  std::sort(values, values + n);
  // Ascending order: the value at n - majority(n) is acknowledged by itself and every
  // voter after it, which is exactly majority(n) voters; any larger value is not.
  return Index{values[n - majority(n)]};
}

VoteResult MajorityConfig::vote_result(const std::unordered_map<NodeId, bool>& votes) const {
  if (ids_.empty()) return VoteResult::kWon;
  size_t granted = 0;
  size_t missing = 0;
  for (NodeId id : ids_) {
    auto it = votes.find(id);
    if (it == votes.end()) {
      ++missing;
    } else if (it->second) {
      ++granted;
    }
  }
  const size_t needed = majority(ids_.size());
  if (granted >= needed) return VoteResult::kWon;
  if (granted + missing >= needed) return VoteResult::kPending;
  return VoteResult::kLost;
}

std::string MajorityConfig::to_string() const {
  std::string s = "(";
  for (size_t i = 0; i < ids_.size(); ++i) {
    if (i > 0) s += ' ';
    s += std::to_string(ids_[i].value());
  }
  s += ')';
  return s;
}

std::vector<NodeId> JointConfig::ids() const {
  std::vector<NodeId> out;
  out.reserve(incoming.size() + outgoing.size());
  std::set_union(incoming.ids().begin(), incoming.ids().end(), outgoing.ids().begin(),
                 outgoing.ids().end(), std::back_inserter(out));
  return out;
}

bool JointConfig::contains(NodeId id) const {
  return incoming.contains(id) || outgoing.contains(id);
}

Index JointConfig::committed_index(const AckedIndexFn& acked) const {
  return std::min(incoming.committed_index(acked), outgoing.committed_index(acked));
}

VoteResult JointConfig::vote_result(const std::unordered_map<NodeId, bool>& votes) const {
  const VoteResult in = incoming.vote_result(votes);
  const VoteResult out = outgoing.vote_result(votes);
  if (in == VoteResult::kWon && out == VoteResult::kWon) return VoteResult::kWon;
  if (in == VoteResult::kLost || out == VoteResult::kLost) return VoteResult::kLost;
  return VoteResult::kPending;
}

std::string JointConfig::to_string() const {
  if (!joint()) return incoming.to_string();
  return incoming.to_string() + "&&" + outgoing.to_string();
}

}  // namespace meridian::raft
