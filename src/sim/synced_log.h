// SyncedLog: what one simulated node is known to hold durably, as the simulator
// itself recorded it at each successful sync: the hard state, the snapshot index,
// and the term of every log entry from the one just before the first index (the
// snapshot's or compaction's last entry) to the last. Entry data is not kept: the
// checks that use it (persist-before-respond, recovery keeping synced data) only
// compare terms.
//
// It is the checker's own record, not a look into the file system: after a sync
// returns, the storage holds exactly what its reads show, so record() copies from
// them; the file layer's internals stay private to it.
//
// Owned by the node's storage; single-threaded. Invariant: first_index() >= 1 and
// last_index() + 1 >= first_index(); term() answers for [first_index() - 1,
// last_index()].
#pragma once

#include <deque>
#include <optional>

#include "raft/log_storage.h"
#include "raft/types.h"

namespace meridian::sim {

class SyncedLog {
 public:
  // `log` has just become durable. Entries at `changed_from` and above may differ
  // from the last record (appended, replaced or dropped since); below it only a
  // prefix may have been dropped (compaction) or the whole log replaced by a
  // snapshot past it. Index{0} records everything anew. Costs O(entries at or
  // past changed_from) reads of `log`.
  void record(const raft::LogStorage& log, raft::Index changed_from, raft::Index snapshot_index);

  raft::HardState hard_state() const { return hard_state_; }
  raft::Index snapshot_index() const { return snapshot_index_; }
  raft::Index first_index() const { return base_ + 1; }
  raft::Index last_index() const { return base_ + terms_.size() - 1; }
  // The term of entry i, or nullopt outside [first_index() - 1, last_index()].
  std::optional<raft::Term> term(raft::Index i) const;

 private:
  raft::HardState hard_state_;
  raft::Index snapshot_index_;
  raft::Index base_;                 // first_index() - 1; terms_[0] is its term
  std::deque<raft::Term> terms_{1};  // never empty
};

}  // namespace meridian::sim
