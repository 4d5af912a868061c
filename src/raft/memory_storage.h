// MemoryStorage: a LogStorage kept in memory. Used by unit tests, by the simulator
// (which layers crash semantics on top of it) and as the reference against which
// durable storage implementations are tested. Single-threaded: the owner of the
// replica reads and writes it.
#pragma once

#include <vector>

#include "raft/log_storage.h"

namespace meridian::raft {

class MemoryStorage final : public LogStorage {
 public:
  MemoryStorage();

  HardState hard_state() const override { return hard_state_; }
  ConfState conf_state() const override { return snapshot_.meta.conf_state; }
  Result<std::vector<Entry>> entries(Index lo, Index hi, uint64_t max_bytes) const override;
  Result<Term> term(Index i) const override;
  Index first_index() const override;
  Index last_index() const override;
  Result<Snapshot> snapshot() const override { return snapshot_; }

  void set_hard_state(const HardState& hs) { hard_state_ = hs; }

  // Appends entries, first replacing any existing entries at and after the first
  // new index (a Raft log suffix is overwritten on conflict). Entries already
  // covered by the snapshot are ignored. The first new index must be at most
  // last_index() + 1 (asserted).
  void append(const std::vector<Entry>& entries);

  // Replaces the whole state with a snapshot (a follower installing one). Fails with
  // kFailedPrecondition if the snapshot is older than the current one.
  Status apply_snapshot(const Snapshot& snap);

  // Records a snapshot of the application state at applied index i (<= last_index()).
  // Fails with kFailedPrecondition if i is not newer than the current snapshot.
  Status create_snapshot(Index i, const ConfState& cs, std::string data);

  // Drops entries before `compact_index` (which must be covered by a snapshot or
  // applied; the entry at compact_index stays and becomes the dummy). kCompacted if
  // already compacted past it.
  Status compact(Index compact_index);

  // A copy of every entry held, first_index() .. last_index(); for tests and checkers.
  std::vector<Entry> all_entries() const;

 private:
  // Index of the dummy entry: the last compacted (snapshot-covered) index.
  Index dummy_index() const { return entries_.front().index; }

  HardState hard_state_;
  Snapshot snapshot_;
  // entries_[0] is a dummy holding the index and term of the last compacted entry
  // (the snapshot's); real entries follow it contiguously.
  std::vector<Entry> entries_;
};

}  // namespace meridian::raft
