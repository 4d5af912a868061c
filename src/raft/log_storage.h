// LogStorage: the Raft core's read-only view of a replica's durable state: hard
// state, membership at the last snapshot, the stable log and the latest snapshot.
//
// The host owns the storage and writes to it (after taking a Ready); the core only
// reads. Both happen on the thread that owns the replica, so implementations need
// no locking for the core's sake.
//
// Invariants: first_index() >= 1; last_index() >= first_index() - 1; the entry at
// first_index() - 1 is the last one covered by the latest snapshot (or index 0),
// and term(first_index() - 1) still answers for it.
#pragma once

#include <vector>

#include "raft/types.h"

namespace meridian::raft {

class LogStorage {
 public:
  virtual ~LogStorage() = default;

  virtual HardState hard_state() const = 0;
  // Membership as of the latest snapshot. The host replays committed conf changes
  // after it (with Replica::apply_conf_change) as it re-applies the log.
  virtual ConfState conf_state() const = 0;

  // Entries in [lo, hi), stopping before the total would pass max_bytes but always
  // returning at least one entry when lo < hi. kCompacted if lo < first_index();
  // hi must be <= last_index() + 1.
  virtual Result<std::vector<Entry>> entries(Index lo, Index hi, uint64_t max_bytes) const = 0;

  // Term of entry i, for i in [first_index() - 1, last_index()]. kCompacted below
  // that range, kUnavailable above it.
  virtual Result<Term> term(Index i) const = 0;

  virtual Index first_index() const = 0;
  virtual Index last_index() const = 0;

  // The latest snapshot. kUnavailable if one is being prepared (the core retries later).
  virtual Result<Snapshot> snapshot() const = 0;
};

}  // namespace meridian::raft
