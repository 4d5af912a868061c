// Value types of the Raft consensus core: identifiers, log entries, hard state,
// membership (ConfState, ConfChange), snapshots and messages. Plain data with no
// behaviour beyond small helpers; any thread may use them.
//
// Index 0 and term 0 mean "none": a log's first real entry has index 1, and an
// empty snapshot has index 0. Node id 0 (kNoNode) means "no node".
#pragma once

#include <cstdint>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "base/status.h"
#include "base/strong_int.h"

namespace meridian::raft {

using base::Code;
using base::Result;
using base::Status;

struct TermTag;
struct IndexTag;
struct NodeIdTag;
using Term = base::StrongInt<TermTag>;
using Index = base::StrongInt<IndexTag>;
using NodeId = base::StrongInt<NodeIdTag>;

inline constexpr NodeId kNoNode{0};

enum class EntryType : uint8_t {
  kNormal = 0,      // application data (empty data: the leader's no-op of its term)
  kConfChange = 1,  // data is an encoded ConfChange (see encode_conf_change)
};

struct Entry {
  Term term;
  Index index;
  EntryType type = EntryType::kNormal;
  std::string data;

  // Bytes this entry counts for against size limits (payload plus a fixed header).
  uint64_t size_bytes() const { return data.size() + kHeaderBytes; }
  static constexpr uint64_t kHeaderBytes = 24;  // term + index + type, rounded

  bool operator==(const Entry&) const = default;
};

// State that must be durable before any message that depends on it is sent.
struct HardState {
  Term term;
  NodeId vote = kNoNode;
  Index commit;

  bool operator==(const HardState&) const = default;
  bool empty() const { return *this == HardState{}; }
};

// Membership of a group. While a joint configuration is in effect, decisions need
// a majority of `voters` AND a majority of `voters_outgoing` (Raft thesis §4.3).
// `learners_next` are nodes that are voters in the outgoing configuration and
// become learners when the joint configuration is left. All lists are sorted.
struct ConfState {
  std::vector<NodeId> voters;
  std::vector<NodeId> voters_outgoing;
  std::vector<NodeId> learners;
  std::vector<NodeId> learners_next;
  bool auto_leave = false;  // the leader leaves the joint state by itself

  bool operator==(const ConfState&) const = default;
  bool joint() const { return !voters_outgoing.empty(); }
};

enum class ConfChangeType : uint8_t {
  kAddVoter = 0,
  kAddLearner = 1,  // also demotes a voter to learner
  kRemoveNode = 2,
};

struct ConfChangeSingle {
  ConfChangeType type;
  NodeId node;
  bool operator==(const ConfChangeSingle&) const = default;
};

enum class ConfChangeTransition : uint8_t {
  // Changing at most one voter: a simple change; more: joint consensus that the
  // leader leaves automatically once the change is applied.
  kAuto = 0,
  kJointImplicit = 1,  // always joint, left automatically
  kJointExplicit = 2,  // always joint, left by proposing an empty ConfChange
};

// A membership change. An empty `changes` list means "leave the joint configuration".
struct ConfChange {
  ConfChangeTransition transition = ConfChangeTransition::kAuto;
  std::vector<ConfChangeSingle> changes;
  std::string context;  // opaque to Raft, carried to the application

  bool operator==(const ConfChange&) const = default;
  bool leave_joint() const { return changes.empty(); }
  // Whether applying this change enters a joint configuration (given the number of
  // voters it changes; see confchange.h for the exact rule).
};

// Versioned binary codec for ConfChange entries (format in docs/formats/raft.md).
std::string encode_conf_change(const ConfChange& cc);
Result<ConfChange> decode_conf_change(const std::string& data);

struct SnapshotMeta {
  Index index;  // last log index the snapshot covers
  Term term;    // term of that entry
  ConfState conf_state;
  bool operator==(const SnapshotMeta&) const = default;
};

struct Snapshot {
  SnapshotMeta meta;
  std::string data;  // the application's state, opaque to Raft
  bool empty() const { return meta.index == Index{0}; }
  bool operator==(const Snapshot&) const = default;
};

enum class MessageType : uint8_t {
  kAppend = 0,      // leader -> follower: entries after (index, log_term)
  kAppendResponse,  // index = last matching index, or the rejected index
  kVote,            // candidate -> all: index/log_term = candidate's last entry
  kVoteResponse,
  kPreVote,  // like kVote, at term + 1, without changing anyone's term
  kPreVoteResponse,
  kHeartbeat,  // leader -> follower: commit, context (ReadIndex round)
  kHeartbeatResponse,
  kSnapshot,           // leader -> follower: install `snapshot`
  kTimeoutNow,         // leader -> transferee: campaign now (leadership transfer)
  kPropose,            // follower -> leader: forwarded proposal (entries)
  kReadIndex,          // follower -> leader: forwarded ReadIndex request (context)
  kReadIndexResponse,  // leader -> follower: index = read index, context echoed
  kTransferLeader,     // follower -> leader: forwarded transfer request (see target)
};

const char* message_type_name(MessageType t);

struct Message {
  MessageType type = MessageType::kAppend;
  NodeId from = kNoNode;
  NodeId to = kNoNode;
  Term term;  // sender's term; 0 for forwarded local requests (kPropose, kReadIndex, ...)

  Term log_term;  // kAppend: term at `index`; kVote/kPreVote: last log term;
                  // kAppendResponse reject: term at reject_hint in the follower's log
  Index index;    // kAppend: index before `entries`; kVote/kPreVote: last log index;
                  // kAppendResponse: highest index known to match, or the rejected index
  std::vector<Entry> entries;
  Index commit;      // kVote/kPreVote and their rejections too: the sender's commit index
  Term commit_term;  // kVote/kPreVote and their rejections: term of the entry at `commit`
  bool reject = false;
  Index reject_hint;        // kAppendResponse reject: the follower's last index at or below `index`
  bool force = false;       // kVote/kPreVote from a leadership transfer: ignore leader stickiness
  NodeId target = kNoNode;  // kTransferLeader: the node to hand leadership to
  std::shared_ptr<const Snapshot> snapshot;  // kSnapshot
  std::string context;                       // ReadIndex request context (kHeartbeat*, kReadIndex*)
};

// A linearizable read may be served once the local applied index reaches `index`.
struct ReadState {
  Index index;
  std::string context;
  bool operator==(const ReadState&) const = default;
};

enum class Role : uint8_t { kFollower = 0, kPreCandidate, kCandidate, kLeader };
const char* role_name(Role r);

std::ostream& operator<<(std::ostream& os, const Entry& e);
std::ostream& operator<<(std::ostream& os, const Message& m);
std::ostream& operator<<(std::ostream& os, const ConfState& cs);
std::ostream& operator<<(std::ostream& os, const ConfChange& cc);

}  // namespace meridian::raft
