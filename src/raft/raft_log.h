// RaftLog: one replica's view of its Raft log: the stable part (in LogStorage,
// read-only here) followed by the unstable part (entries and possibly a snapshot
// that the core has accepted but the host has not yet persisted), plus the commit
// and applied positions. Internal to raft/; owned by the Raft state machine and
// used only on the thread that owns the replica.
//
// Invariants: applied <= committed <= last_index(); the unstable entries, if any,
// directly follow the stable ones or the unstable snapshot (the stable suffix they
// overlap is logically replaced); indices are contiguous.
#pragma once

#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "raft/log_storage.h"

namespace meridian::raft {

class RaftLog {
 public:
  // Starts with committed = storage.hard_state().commit and applied = first_index() - 1
  // (the host may then call applied_to with its own applied index).
  explicit RaftLog(const LogStorage* storage);

  Index first_index() const;
  Index last_index() const;
  Term last_term() const;
  Index committed() const { return committed_; }
  Index applied() const { return applied_; }

  // Term of entry i. Index 0 and i == first_index() - 1 are answered (0, or the
  // snapshot's term). kCompacted below, kUnavailable above last_index().
  Result<Term> term(Index i) const;
  // term(i), or Term{0} if it is not available.
  Term term_or_zero(Index i) const;
  bool match_term(Index i, Term t) const;

  // The §5.4.1 election restriction: is a log ending at (last_index, last_term) at
  // least as up to date as this one?
  bool is_up_to_date(Index last_index, Term last_term) const;

  // Follower side of kAppend: if the entry at prev_index has prev_term, appends
  // `entries` after it (dropping those already present, truncating from the first
  // conflicting one; a conflict at or below `committed` is a bug and asserted),
  // advances committed to min(commit, index of the last new entry) and returns that
  // last new index (prev_index + entries.size()). Otherwise returns nullopt and
  // changes nothing.
  std::optional<Index> maybe_append(Index prev_index, Term prev_term, Index commit,
                                    std::vector<Entry> entries);

  // Leader side: appends entries directly after last_index() (their indices must
  // follow it; asserted). Returns the new last index.
  Index append(std::vector<Entry> entries);

  // Index of the first entry in `entries` whose term differs from ours at that index,
  // or that we do not have; Index{0} if every entry is already present.
  Index find_conflict(const std::vector<Entry>& entries) const;

  // Fast backtracking (Raft thesis §5.3, "the follower can include the term of the
  // conflicting entry"): the largest index j <= index with term(j) <= term, and
  // term(j). If terms are unavailable (compacted), returns (index, Term{0}) so the
  // caller probes one index at a time.
  std::pair<Index, Term> find_conflict_by_term(Index index, Term term) const;

  // Advances committed to i if the entry at i has term `term` and i > committed.
  // (The leader passes its current term: the Figure 8 rule.) Returns whether it moved.
  bool maybe_commit(Index i, Term term);
  // Advances committed to i (never backwards; i <= last_index() asserted).
  void commit_to(Index i);
  // Records that the application applied through i (committed >= i >= applied asserted).
  void applied_to(Index i);

  // Entries in [lo, hi) with at most max_bytes (but at least one), from storage and
  // the unstable part. kCompacted if lo < first_index(). lo <= hi <= last_index()+1.
  Result<std::vector<Entry>> slice(Index lo, Index hi, uint64_t max_bytes) const;

  // --- Ready support ---------------------------------------------------------

  // Entries accepted but not yet persisted, in order.
  const std::vector<Entry>& unstable_entries() const { return unstable_entries_; }
  // A snapshot accepted but not yet persisted (nullptr if none).
  const std::shared_ptr<const Snapshot>& unstable_snapshot() const { return unstable_snapshot_; }
  // The host persisted entries through (i, t): drop them from the unstable part if the
  // unstable entry at i still has term t (a newer leader may have replaced it since).
  void stable_to(Index i, Term t);
  // The host persisted the unstable snapshot with index i: drop it.
  void stable_snapshot_to(Index i);
  // The last index that is stable (persisted): last_index() minus unstable entries,
  // or first_index()-1 of storage when a snapshot is pending.
  Index last_stable_index() const;

  // Committed entries not yet handed to the application: (applied, min(committed,
  // up_to)], at most max_bytes (but at least one).
  bool has_next_committed_entries(Index up_to) const;
  std::vector<Entry> next_committed_entries(Index up_to, uint64_t max_bytes) const;

  // Installs a snapshot as the new base of the log (follower receiving kSnapshot):
  // everything in the log is replaced, committed = snapshot index.
  void restore(std::shared_ptr<const Snapshot> snapshot);

  // The snapshot to send a lagging follower: the unstable one if any, else storage's.
  Result<std::shared_ptr<const Snapshot>> snapshot() const;

 private:
  Index unstable_offset() const { return unstable_offset_; }
  // Index of the last unstable entry; only meaningful if there are any.
  Index unstable_last_index() const { return unstable_offset_ + (unstable_entries_.size() - 1); }
  // Appends entries[from..] (contiguous, the first at most last_index() + 1) to the
  // unstable part, replacing whatever the log holds at and after their first index.
  void truncate_and_append(std::vector<Entry>&& entries, size_t from);

  const LogStorage* storage_;
  std::shared_ptr<const Snapshot> unstable_snapshot_;
  std::vector<Entry> unstable_entries_;
  // Index of unstable_entries_[0], or where it would be: storage's last index + 1
  // when nothing is pending, the snapshot's index + 1 right after restore. Entries
  // of storage at and after it are logically replaced by the unstable part.
  Index unstable_offset_;
  Index committed_;
  Index applied_;
};

}  // namespace meridian::raft
