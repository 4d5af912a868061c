#include "raft/message_coalescing.h"

#include <algorithm>
#include <unordered_map>

namespace meridian::raft {

namespace {

uint64_t entry_bytes(const Message& m) {
  uint64_t n = 0;
  for (const Entry& e : m.entries) n += e.data.size();
  return n;
}

// Whether `next` starts where `prev` ends: it could only follow `prev`'s entries.
bool continues(const Message& prev, const Message& next) {
  const Index end = prev.entries.empty() ? prev.index : prev.entries.back().index;
  const Term end_term = prev.entries.empty() ? prev.log_term : prev.entries.back().term;
  return next.index == end && next.log_term == end_term;
}

bool is_ack(const Message& m) { return m.type == MessageType::kAppendResponse && !m.reject; }

bool is_heartbeat(const Message& m) {
  return m.type == MessageType::kHeartbeat || m.type == MessageType::kHeartbeatResponse;
}

}  // namespace

void coalesce_messages(std::vector<Message>& msgs, uint64_t append_bytes_max,
                       bool merge_rejections) {
  if (msgs.size() < 2) return;
  struct Latest {
    size_t at = 0;       // position in the output
    uint64_t bytes = 0;  // entry payload of the message there
  };
  std::unordered_map<NodeId, Latest> latest;
  size_t out = 0;
  for (size_t i = 0; i < msgs.size(); ++i) {
    Message& m = msgs[i];
    auto it = latest.find(m.to);
    if (it != latest.end()) {
      Message& prev = msgs[it->second.at];
      if (m.type == MessageType::kAppend && prev.type == MessageType::kAppend &&
          m.term == prev.term && continues(prev, m)) {
        const uint64_t bytes = entry_bytes(m);
        if (m.entries.empty() || prev.entries.empty() ||
            it->second.bytes + bytes <= append_bytes_max) {
          prev.entries.insert(prev.entries.end(), std::make_move_iterator(m.entries.begin()),
                              std::make_move_iterator(m.entries.end()));
          prev.commit = std::max(prev.commit, m.commit);
          it->second.bytes += bytes;
          continue;
        }
      } else if ((is_ack(m) || (merge_rejections && m.type == MessageType::kAppendResponse)) &&
                 is_ack(prev) && m.term == prev.term) {
        prev.index = std::max(prev.index, m.index);
        continue;
      } else if (is_heartbeat(m) && m.type == prev.type && m.term == prev.term) {
        prev.commit = std::max(prev.commit, m.commit);
        if (!m.context.empty()) prev.context = std::move(m.context);
        continue;
      }
    }
    const uint64_t bytes = m.type == MessageType::kAppend ? entry_bytes(m) : 0;
    if (out != i) msgs[out] = std::move(m);
    latest[msgs[out].to] = Latest{out, bytes};
    ++out;
  }
  msgs.resize(out);
}

}  // namespace meridian::raft
