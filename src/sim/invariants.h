// SafetyChecker: the Raft safety properties (Raft paper §5.2-5.4, Figure 3),
// checked incrementally as the simulated cluster runs, from observations the
// Cluster forwards as they happen:
//
//   1. Election safety: at most one leader per term.
//   2. Log matching: two logs holding an entry with the same index and term hold
//      the same entry there and agree on everything before it. Checked through a
//      global map (index, term) -> (content hash, term of the previous entry) fed
//      with every entry any node writes: by induction on the index, equal
//      (index, term) with equal previous terms everywhere means equal prefixes.
//   3. Leader completeness: a leader of term T holds every entry committed in a
//      term before T (outside its snapshot). The term an entry was committed in is
//      observed when a leader's commit index moves past it; an entry first seen
//      when it is applied gets the highest term seen so far, an upper bound, so
//      the check can miss but never falsely accuse.
//   4. State machine safety: no two nodes apply different entries at one index
//      (global map index -> (term, hash) of committed entries, which also catches
//      a leader committing an entry that differs from one applied elsewhere).
//
// Two protocol rules can be checked as well (ProtocolRules); they catch a bug at
// its first misstep instead of at its first visible consequence:
//   5. Commitment rule (§5.4.2, Figure 8): a leader moves its commit index only
//      onto an entry of its own term.
//   6. Persist before responding (Figure 2): a node sends an append
//      acknowledgement, a granted vote or a vote request only once the state it
//      vouches for is durable.
//
// Owned by the Cluster; single-threaded. Each check returns the violation it
// found, if any; the first one ends the run.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "raft/log_storage.h"
#include "raft/types.h"
#include "sim/synced_log.h"

namespace meridian::sim {

struct Violation {
  std::string invariant;
  std::string detail;
};

using MaybeViolation = std::optional<Violation>;

// FNV-1a over an entry's type and data: its identity for the checks above.
uint64_t entry_hash(const raft::Entry& e);

class SafetyChecker {
 public:
  // A node's role or term changed; call with its current values.
  MaybeViolation on_role(raft::NodeId node, raft::Role role, raft::Term term);
  // `log` holds, among others, the entries just written (all of `written` that
  // lie at or after its first index).
  MaybeViolation on_entries_written(raft::NodeId node, const std::vector<raft::Entry>& written,
                                    const raft::LogStorage& log);
  // A leader of `term` took a Ready moving its commit index from old_commit to
  // new_commit; `log` is its complete log.
  MaybeViolation on_leader_commit(raft::NodeId node, raft::Term term, raft::Index old_commit,
                                  raft::Index new_commit, const raft::LogStorage& log);
  // A leader of `term` took a Ready; `log` is its complete log. Checks property 3
  // once per (node, term).
  MaybeViolation on_leader_log(raft::NodeId node, raft::Term term, const raft::LogStorage& log);
  MaybeViolation on_applied(raft::NodeId node, const raft::Entry& e);
  // Rule 5: a leader of `term` moved its commit index from old_commit (or the
  // commit index it had when elected, if later) to new_commit.
  MaybeViolation check_commit_rule(raft::NodeId node, raft::Term term, raft::Index old_commit,
                                   raft::Index new_commit, const raft::LogStorage& log) const;
  // Rule 6: `node` sends m; `durable` is what it has synced (what survives a
  // crash), `log` its whole log.
  MaybeViolation check_persisted_before_send(const raft::Message& m, const SyncedLog& durable,
                                             const raft::LogStorage& log) const;
  MaybeViolation on_snapshot(raft::NodeId node, const raft::SnapshotMeta& meta);

  size_t leaders_elected() const { return leaders_.size(); }
  size_t committed_entries() const { return committed_count_; }

 private:
  struct Written {
    uint64_t hash;
    raft::Term prev_term;
    raft::NodeId first_writer;
  };
  struct Committed {
    bool known = false;
    raft::Term term;
    uint64_t hash = 0;
    raft::Term commit_term;  // upper bound of the term it was committed in
    raft::NodeId first_seen;
  };
  struct IndexTermHash {
    size_t operator()(const std::pair<raft::Index, raft::Term>& k) const {
      return std::hash<uint64_t>()(k.first.value() * 0x9e3779b97f4a7c15ull ^ k.second.value());
    }
  };

  MaybeViolation record_committed(raft::NodeId node, raft::Index i, raft::Term term, uint64_t hash,
                                  raft::Term commit_term, const char* how);

  std::unordered_map<raft::Term, raft::NodeId> leaders_;
  raft::Term max_term_;
  std::unordered_map<std::pair<raft::Index, raft::Term>, Written, IndexTermHash> written_;
  std::vector<Committed> committed_ = std::vector<Committed>(1);  // [0] unused
  size_t committed_count_ = 0;
  std::unordered_set<uint64_t> leader_logs_checked_;  // node id * 2^40 + term
};

}  // namespace meridian::sim
