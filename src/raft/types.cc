// ConfChange codec grammar (all integers little-endian):
//
//   conf_change := version:u8 (=1) transition:u8 count:u32 change{count}
//                  context_len:u32 context:byte{context_len}
//   change      := type:u8 node:u64
//
// The version byte lets a later format be read beside this one.
#include "raft/types.h"

#include <cstring>

namespace meridian::raft {
namespace {

constexpr uint8_t kConfChangeVersion = 1;
// A change list longer than this is malformed: no group has this many members.
constexpr uint32_t kConfChangesMax = 1024;

void put_u8(std::string& out, uint8_t v) { out.push_back(static_cast<char>(v)); }
void put_u32(std::string& out, uint32_t v) {
  for (int i = 0; i < 4; i++) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
void put_u64(std::string& out, uint64_t v) {
  for (int i = 0; i < 8; i++) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

class Reader {
 public:
  explicit Reader(const std::string& s) : s_(s) {}
  bool u8(uint8_t& v) { return fixed(v, 1); }
  bool u32(uint32_t& v) { return fixed(v, 4); }
  bool u64(uint64_t& v) { return fixed(v, 8); }
  bool bytes(std::string& v, size_t n) {
    if (s_.size() - pos_ < n) return false;
    v.assign(s_, pos_, n);
    pos_ += n;
    return true;
  }
  bool at_end() const { return pos_ == s_.size(); }

 private:
  template <class T>
  bool fixed(T& v, size_t n) {
    if (s_.size() - pos_ < n) return false;
    v = 0;
    for (size_t i = 0; i < n; i++) {
      v |= static_cast<T>(static_cast<uint8_t>(s_[pos_ + i])) << (8 * i);
    }
    pos_ += n;
    return true;
  }
  const std::string& s_;
  size_t pos_ = 0;
};

Status malformed(const char* what) {
  return Status(Code::kCorruption, std::string("malformed conf change: ") + what);
}

}  // namespace

std::string encode_conf_change(const ConfChange& cc) {
  std::string out;
  out.reserve(10 + cc.changes.size() * 9 + cc.context.size());
  put_u8(out, kConfChangeVersion);
  put_u8(out, static_cast<uint8_t>(cc.transition));
  put_u32(out, static_cast<uint32_t>(cc.changes.size()));
  for (const auto& c : cc.changes) {
    put_u8(out, static_cast<uint8_t>(c.type));
    put_u64(out, c.node.value());
  }
  put_u32(out, static_cast<uint32_t>(cc.context.size()));
  out += cc.context;
  return out;
}

Result<ConfChange> decode_conf_change(const std::string& data) {
  Reader r(data);
  uint8_t version = 0;
  uint8_t transition = 0;
  uint32_t count = 0;
  if (!r.u8(version)) return malformed("empty");
  if (version != kConfChangeVersion) return malformed("unknown version");
  if (!r.u8(transition) ||
      transition > static_cast<uint8_t>(ConfChangeTransition::kJointExplicit)) {
    return malformed("bad transition");
  }
  if (!r.u32(count) || count > kConfChangesMax) return malformed("bad change count");
  ConfChange cc;
  cc.transition = static_cast<ConfChangeTransition>(transition);
  cc.changes.reserve(count);
  for (uint32_t i = 0; i < count; i++) {
    uint8_t type = 0;
    uint64_t node = 0;
    if (!r.u8(type) || type > static_cast<uint8_t>(ConfChangeType::kRemoveNode)) {
      return malformed("bad change type");
    }
    if (!r.u64(node) || node == 0) return malformed("bad node id");
    cc.changes.push_back({static_cast<ConfChangeType>(type), NodeId{node}});
  }
  uint32_t context_len = 0;
  if (!r.u32(context_len) || !r.bytes(cc.context, context_len)) return malformed("bad context");
  if (!r.at_end()) return malformed("trailing bytes");
  return cc;
}

const char* message_type_name(MessageType t) {
  switch (t) {
    case MessageType::kAppend:
      return "Append";
    case MessageType::kAppendResponse:
      return "AppendResponse";
    case MessageType::kVote:
      return "Vote";
    case MessageType::kVoteResponse:
      return "VoteResponse";
    case MessageType::kPreVote:
      return "PreVote";
    case MessageType::kPreVoteResponse:
      return "PreVoteResponse";
    case MessageType::kHeartbeat:
      return "Heartbeat";
    case MessageType::kHeartbeatResponse:
      return "HeartbeatResponse";
    case MessageType::kSnapshot:
      return "Snapshot";
    case MessageType::kTimeoutNow:
      return "TimeoutNow";
    case MessageType::kPropose:
      return "Propose";
    case MessageType::kReadIndex:
      return "ReadIndex";
    case MessageType::kReadIndexResponse:
      return "ReadIndexResponse";
    case MessageType::kTransferLeader:
      return "TransferLeader";
  }
  return "Unknown";
}

const char* role_name(Role r) {
  switch (r) {
    case Role::kFollower:
      return "follower";
    case Role::kPreCandidate:
      return "pre-candidate";
    case Role::kCandidate:
      return "candidate";
    case Role::kLeader:
      return "leader";
  }
  return "unknown";
}

std::ostream& operator<<(std::ostream& os, const Entry& e) {
  os << e.term << "/" << e.index;
  if (e.type == EntryType::kConfChange) {
    auto cc = decode_conf_change(e.data);
    if (cc.is_ok()) return os << " conf " << cc.value();
    return os << " conf <malformed>";
  }
  if (e.data.empty()) return os << " noop";
  return os << " " << e.data.size() << "B";
}

std::ostream& operator<<(std::ostream& os, const Message& m) {
  os << m.from << "->" << m.to << " " << message_type_name(m.type) << " term=" << m.term;
  switch (m.type) {
    case MessageType::kAppend:
      os << " prev=" << m.log_term << "/" << m.index << " entries=" << m.entries.size()
         << " commit=" << m.commit;
      break;
    case MessageType::kAppendResponse:
      os << " index=" << m.index;
      if (m.reject) os << " reject hint=" << m.log_term << "/" << m.reject_hint;
      break;
    case MessageType::kVote:
    case MessageType::kPreVote:
      os << " last=" << m.log_term << "/" << m.index << (m.force ? " force" : "");
      break;
    case MessageType::kVoteResponse:
    case MessageType::kPreVoteResponse:
      os << (m.reject ? " rejected" : " granted");
      break;
    case MessageType::kHeartbeat:
      os << " commit=" << m.commit;
      break;
    case MessageType::kSnapshot:
      if (m.snapshot) os << " snap=" << m.snapshot->meta.term << "/" << m.snapshot->meta.index;
      break;
    case MessageType::kReadIndexResponse:
      os << " index=" << m.index;
      break;
    case MessageType::kPropose:
      os << " entries=" << m.entries.size();
      break;
    default:
      break;
  }
  return os;
}

namespace {
void print_ids(std::ostream& os, const std::vector<NodeId>& ids) {
  os << "(";
  for (size_t i = 0; i < ids.size(); i++) os << (i ? " " : "") << ids[i];
  os << ")";
}
}  // namespace

std::ostream& operator<<(std::ostream& os, const ConfState& cs) {
  os << "voters=";
  print_ids(os, cs.voters);
  if (cs.joint()) {
    os << "&&";
    print_ids(os, cs.voters_outgoing);
  }
  os << " learners=";
  print_ids(os, cs.learners);
  if (!cs.learners_next.empty()) {
    os << " learners_next=";
    print_ids(os, cs.learners_next);
  }
  if (cs.auto_leave) os << " autoleave";
  return os;
}

std::ostream& operator<<(std::ostream& os, const ConfChange& cc) {
  if (cc.leave_joint()) return os << "leave-joint";
  static constexpr const char* kNames[] = {"v", "l", "r"};
  for (size_t i = 0; i < cc.changes.size(); i++) {
    os << (i ? " " : "") << kNames[static_cast<int>(cc.changes[i].type)] << cc.changes[i].node;
  }
  if (cc.transition == ConfChangeTransition::kJointImplicit) os << " joint-implicit";
  if (cc.transition == ConfChangeTransition::kJointExplicit) os << " joint-explicit";
  return os;
}

}  // namespace meridian::raft
