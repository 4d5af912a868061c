// NodeStorage: one simulated node's disk and what it stores on it, with the real
// storage layer: a storage::FaultyFileSystem (the disk and its page cache) holding
// a storage::LogEngine (the journal of the node's Raft log and hard state) and a
// storage::SnapshotStore, read by the node's Replica through a
// storage::GroupLogStorage of the one group the simulator runs (kGroup).
//
// The node drives it in the order of the Ready contract (raft/replica.h): at most
// one journal write is outstanding, and it is synced before the next write (the
// journal's recovery assumes that only the last record can be torn).
//
// Crashes. A process crash drops the engine and store objects and reopens them
// over the same files: everything written survives, from the kernel's page cache.
// A power loss also crashes the file system (FaultyFileSystem::crash), which keeps
// what was synced plus, per file, a random prefix of the unsynced appends, possibly
// torn. A torn-write crash (arm_torn_write) is a power loss in the middle of one
// append; the node sees the write fail (power_failed()) and must stop at once.
// open() then runs the real recovery (torn tails cut, segments replayed) and checks
// that nothing the node had synced was lost (the SyncedLog record).
//
// Errors are values: a non-ok Status from any call is a failure of the run, except
// after power_failed(), which is the crash itself. Owned by its SimNode;
// single-threaded. The LogStorage returned by log() lives until close().
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "base/ids.h"
#include "raft/log_storage.h"
#include "raft/replica.h"
#include "raft/types.h"
#include "sim/synced_log.h"
#include "storage/faulty_file_system.h"
#include "storage/log_engine.h"
#include "storage/snapshot_store.h"

namespace meridian::sim {

struct NodeStorageStats {
  uint64_t recoveries = 0;    // open() after a crash
  uint64_t torn_crashes = 0;  // power lost in the middle of a write
  uint64_t snapshots_written = 0;
  uint64_t segments_removed = 0;  // by the journal's garbage collection
  uint64_t journal_writes = 0;
};

class NodeStorage {
 public:
  // The simulator runs one Raft group; every node stores it under this id.
  static constexpr GroupId kGroup{1};
  // Small journal segments: a node writes some tens of kilobytes in a run, so at
  // 4 KiB rotation, checkpoints and garbage collection happen many times per run
  // (64 KiB, a more realistic small size, would rarely rotate at all).
  static constexpr uint64_t kSegmentBytesMax = 4 << 10;

  explicit NodeStorage(uint64_t file_system_seed);
  NodeStorage(const NodeStorage&) = delete;
  NodeStorage& operator=(const NodeStorage&) = delete;
  ~NodeStorage();

  // Opens the journal and snapshot store over whatever the disk holds (recovery),
  // and checks that everything synced before the crash is still there.
  base::Status open();
  bool is_open() const { return engine_ != nullptr; }
  // Writes a bootstrapping member's initial state durably; open() first.
  base::Status bootstrap(const raft::Snapshot& snap, const raft::HardState& hs);

  // Writes a Ready's snapshot (to the store, durably: finish() syncs), entries and
  // hard state (to the journal, one write, not yet durable).
  base::Status write_ready(const raft::Ready& rd);
  bool has_unsynced_write() const { return unsynced_.has_value(); }
  // Makes the outstanding write durable; after a snapshot install, removes the
  // older snapshots and collects journal segments nothing needs any more.
  base::Status sync();
  // An application snapshot of the state at `meta.index` (an entry the log holds):
  // the data goes to the store, the journal records the snapshot and drops entries
  // below `compact_to` (first index afterwards), all made durable at once, then
  // older snapshots and dead segments are removed.
  base::Status snapshot_and_compact(const raft::SnapshotMeta& meta, const std::string& data,
                                    raft::Index compact_to);

  // The file system crashed in the middle of a write (an armed torn write fired):
  // the node is down from that instant.
  bool power_failed() const { return fs_.crashed(); }
  // Crash: drops every open object. keep_unsynced_ppm set: a power loss, where each
  // file keeps a prefix of its unsynced appends with that chance (per million);
  // nullopt: a process crash, where the page cache survives.
  void crash(std::optional<uint32_t> keep_unsynced_ppm);
  // The power fails in the middle of the n-th append from now (n >= 1), keeping
  // unsynced appends as crash(keep_unsynced_ppm) would; disarm with n = 0.
  void arm_torn_write(uint64_t n, uint32_t keep_unsynced_ppm);

  // Reads; is_open() must hold.
  const raft::LogStorage& log() const;
  raft::SnapshotMeta snapshot_meta() const;
  base::Result<raft::Snapshot> read_snapshot(raft::Index index) const;
  // What this node has synced, as recorded at each successful sync (kept across
  // crashes: the durable state does not change when the power fails).
  const SyncedLog& synced() const { return synced_; }
  NodeStorageStats stats() const;
  // "journal 3..17 (2 segments) snapshot 12 hs=(term=3 vote=2 commit=15)".
  std::string describe() const;

 private:
  // The write not yet synced: where it may have changed the log, what hard state
  // it set, and whether it installed a snapshot (then older ones are removed once
  // it is durable).
  struct Unsynced {
    raft::Index changed_from;
    std::optional<raft::HardState> hard_state;
    bool snapshot = false;
  };

  void close();
  base::Status write_snapshot_file(const raft::SnapshotMeta& meta, const std::string& data);
  base::Status write(const storage::WriteBatch& batch, const Unsynced& what);
  base::Status remove_older(raft::Index snapshot_index);
  base::Status check_recovered() const;

  storage::FaultyFileSystem fs_;
  std::unique_ptr<storage::LogEngine> engine_;
  std::unique_ptr<storage::SnapshotStore> snapshots_;
  std::unique_ptr<storage::GroupLogStorage> log_;
  std::optional<Unsynced> unsynced_;
  SyncedLog synced_;
  NodeStorageStats stats_;              // but segments_removed, see stats()
  uint64_t segments_removed_base_ = 0;  // by engines before the current one
  bool opened_before_ = false;
};

}  // namespace meridian::sim
