// SimDisk: one simulated node's disk, with the crash semantics of a real one.
//
// Two copies of the Raft state are kept, both as MemoryStorage:
//   - the page cache (volatile): every write lands here at once, and the node's
//     Replica reads it as its LogStorage;
//   - the durable copy: what survives a crash.
// Writes since the last sync are also queued, in issue order, as single-step
// operations (install a snapshot; append ONE entry, truncating any conflicting
// suffix; set the hard state). sync() (an fsync completing) makes them all
// durable. crash(kept) makes only the first `kept` of them durable, as a real
// disk may have written back part of the page cache in order before power was
// lost, then rebuilds the page cache from the durable copy.
//
// Owned by its SimNode; single-threaded. Invariants: after sync() the two copies
// agree (checked cheaply); the page cache object's address never changes, so a
// Replica may keep pointing at it across crashes (the node recreates the Replica).
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "raft/memory_storage.h"
#include "raft/types.h"

namespace meridian::sim {

class SimDisk {
 public:
  SimDisk();

  // Writes the initial state of a bootstrapping member durably (no crash window).
  void bootstrap(const raft::Snapshot& snap, const raft::HardState& hs);

  // The volatile view the Replica reads.
  const raft::MemoryStorage& page_cache() const { return *page_cache_; }
  const raft::MemoryStorage& durable() const { return durable_; }

  // Buffered writes, in the order a Ready requires: snapshot, entries, hard state.
  raft::Status write_snapshot(std::shared_ptr<const raft::Snapshot> snap);
  void write_entries(const std::vector<raft::Entry>& entries);
  void write_hard_state(const raft::HardState& hs);

  size_t unsynced_writes() const { return pending_.size(); }
  // An fsync completed: every write issued so far is durable.
  void sync();

  // The application snapshots its state at applied index i and compacts the log
  // up to compact_to (<= i). Like a real snapshot procedure it syncs first (so
  // every write so far becomes durable), then writes the snapshot and syncs again:
  // there is no crash window inside it.
  raft::Status snapshot_and_compact(raft::Index i, const raft::ConfState& cs, std::string data,
                                    raft::Index compact_to);

  // Power loss: the first `kept` unsynced writes reached the platter, the rest did
  // not; the page cache is rebuilt from what is durable.
  void crash(size_t kept);

 private:
  struct SetHardState {
    raft::HardState hs;
  };
  using Write = std::variant<std::shared_ptr<const raft::Snapshot>, raft::Entry, SetHardState>;
  static void apply(raft::MemoryStorage& storage, const Write& w);
  void check_copies_agree() const;

  std::unique_ptr<raft::MemoryStorage> page_cache_;
  raft::MemoryStorage durable_;
  std::vector<Write> pending_;
};

}  // namespace meridian::sim
