// Quorum arithmetic of Raft: which log index a majority of voters has
// acknowledged, and whether an election is won, lost or still open. A
// MajorityConfig is one set of voters (Raft §5); a JointConfig is the pair of
// voter sets in effect during a joint-consensus membership change, where every
// decision needs a majority of each (Raft thesis §4.3).
//
// Value types with no hidden state; owned by whoever holds them (the
// ProgressTracker, in the core) and used on that owner's thread.
//
// Invariants: MajorityConfig::ids() is sorted and free of duplicates. An empty
// MajorityConfig never constrains anything: it commits everything (kIndexUnbounded)
// and every vote in it is won, so a JointConfig with an empty outgoing half behaves
// exactly like its incoming half alone.
#pragma once

#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "raft/types.h"

namespace meridian::raft {

enum class VoteResult : uint8_t {
  kPending,  // neither outcome is decided by the votes seen so far
  kLost,     // a majority can no longer be reached
  kWon,      // a majority granted
};

const char* vote_result_name(VoteResult r);

// What an empty MajorityConfig reports as its committed index: larger than any real
// index, so that taking the minimum with the other half of a joint config is a no-op.
inline constexpr Index kIndexUnbounded{std::numeric_limits<uint64_t>::max()};

// The acknowledged log index of a node, or nullopt when it is not known (counted as 0).
using AckedIndexFn = std::function<std::optional<Index>(NodeId)>;

class MajorityConfig {
 public:
  MajorityConfig() = default;
  // Sorts and removes duplicates.
  explicit MajorityConfig(std::vector<NodeId> ids);

  const std::vector<NodeId>& ids() const { return ids_; }
  bool contains(NodeId id) const;
  size_t size() const { return ids_.size(); }
  bool empty() const { return ids_.empty(); }

  // Adds or removes one voter, keeping ids() sorted. Both are no-ops when there is
  // nothing to do; they return whether the set changed.
  bool add(NodeId id);
  bool remove(NodeId id);

  // The largest index that a majority of the voters has acknowledged: with the acked
  // indices sorted in descending order, the one at position size()/2. Runs on every
  // append acknowledgement, so it does not allocate for up to kStackVotersMax voters.
  // An empty config returns kIndexUnbounded.
  Index committed_index(const AckedIndexFn& acked) const;

  // The outcome of an election given `votes` (node -> granted?). Votes of nodes
  // outside the config are ignored; voters without an entry are still pending.
  // An empty config is won.
  VoteResult vote_result(const std::unordered_map<NodeId, bool>& votes) const;

  // "(1 2 3)"
  std::string to_string() const;

  bool operator==(const MajorityConfig&) const = default;

  // Groups are expected to have 3, 5 or 7 voters; larger ones still work, with one
  // allocation per committed_index call.
  static constexpr size_t kStackVotersMax = 7;

 private:
  std::vector<NodeId> ids_;
};

// The voters of a group. Outside a membership change `outgoing` is empty and only
// `incoming` matters; inside one, both must agree.
struct JointConfig {
  MajorityConfig incoming;
  MajorityConfig outgoing;

  bool joint() const { return !outgoing.empty(); }
  // Sorted union of both halves.
  std::vector<NodeId> ids() const;
  bool contains(NodeId id) const;

  // The smaller of the two halves' committed indices: an entry is committed only
  // when each half has a majority for it.
  Index committed_index(const AckedIndexFn& acked) const;
  // Won when both halves are won; lost when either is lost; otherwise pending.
  VoteResult vote_result(const std::unordered_map<NodeId, bool>& votes) const;

  // "(1 2 3)" outside a change, "(1 2 4)&&(1 2 3)" (incoming&&outgoing) inside one.
  std::string to_string() const;

  bool operator==(const JointConfig&) const = default;
};

}  // namespace meridian::raft
