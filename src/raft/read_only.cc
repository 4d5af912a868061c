#include "raft/read_only.h"

#include "base/assert.h"

namespace meridian::raft {

bool ReadIndexQueue::add(Index commit, NodeId from, std::string context) {
  if (queue_.size() >= kPendingMax) return false;
  if (seq_by_context_.count(context)) return false;
  size_t seq = front_seq_ + queue_.size();
  seq_by_context_.emplace(context, seq);
  queue_.push_back(Pending{ReadIndexRequest{commit, from, std::move(context)}, {}});
  return true;
}

std::optional<std::unordered_map<NodeId, bool>> ReadIndexQueue::ack(NodeId node,
                                                                    const std::string& context) {
  auto it = seq_by_context_.find(context);
  if (it == seq_by_context_.end()) return std::nullopt;
  MERIDIAN_ASSERT(it->second >= front_seq_, "stale sequence for a pending read");
  Pending& p = queue_[it->second - front_seq_];
  p.acks[node] = true;
  return p.acks;
}

std::vector<ReadIndexRequest> ReadIndexQueue::release_through(const std::string& context) {
  std::vector<ReadIndexRequest> out;
  auto it = seq_by_context_.find(context);
  if (it == seq_by_context_.end()) return out;
  size_t last = it->second;
  while (!queue_.empty() && front_seq_ <= last) {
    seq_by_context_.erase(queue_.front().request.context);
    out.push_back(std::move(queue_.front().request));
    queue_.pop_front();
    ++front_seq_;
  }
  return out;
}

const std::string* ReadIndexQueue::last_context() const {
  if (queue_.empty()) return nullptr;
  return &queue_.back().request.context;
}

void ReadIndexQueue::clear() {
  front_seq_ += queue_.size();
  queue_.clear();
  seq_by_context_.clear();
}

}  // namespace meridian::raft
