// LogEngine: the durable home of every Raft group's log and hard state on a node.
// One journal for all groups (a sequence of segment files), so that a write and
// one fdatasync cover any number of groups, plus an in-memory index per group
// that maps each log index to where its entry lies, so entries are read back by
// (group, index) with one pread. Snapshot data lives in the SnapshotStore; the
// journal records which snapshot each group's log starts after.
//
// Threads: write(), sync() and collect_garbage() are called by one thread at a
// time (the group-commit writer). Every read may be called from any thread,
// concurrently with them (an internal shared mutex guards the index; file reads
// are positional). A read sees every write() that returned before it began.
//
// Durability: write() makes a batch visible to reads but not durable; sync()
// makes every earlier write durable. A batch is all-or-nothing across crashes.
// Failures: kNoSpace leaves the journal as it was before the failed write (the
// engine keeps serving reads and later writes may succeed); kIoError from a
// write or sync, or a failed cleanup, puts the engine in a failed state in which
// every later write and sync fails (reads keep working) and the node must restart.
//
// Recovery (open): scans the segments in order; stops at a torn or incomplete
// record at the end of the last segment and truncates it away; a corrupt record
// anywhere before that is kCorruption naming the file and offset, never skipped.
// On-disk format: docs/formats/storage.md.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/ids.h"
#include "raft/log_storage.h"
#include "raft/types.h"
#include "storage/file_system.h"
#include "storage/write_batch.h"

namespace meridian::storage {

struct LogEngineOptions {
  std::string dir;  // the journal directory; created durably (parents too) if missing
  // A new segment is started once the active one passes this size; smaller
  // segments free disk sooner after compaction, larger ones mean fewer files.
  uint64_t segment_bytes_max = 64ull << 20;
};

struct LogEngineStats {
  uint64_t writes = 0;
  uint64_t syncs = 0;
  uint64_t bytes_written = 0;
  uint64_t segments = 0;
  uint64_t segments_removed = 0;
  uint64_t journal_bytes = 0;  // size of all segments on disk
};

class LogEngine {
 public:
  static Result<std::unique_ptr<LogEngine>> open(FileSystem* fs, const LogEngineOptions& options);
  ~LogEngine();

  Status write(const WriteBatch& batch);
  Status sync();
  // Removes segments that hold nothing any group still needs.
  Status collect_garbage();
  bool failed() const;

  // --- reads -----------------------------------------------------------------
  std::vector<GroupId> groups() const;
  bool has_group(GroupId g) const;
  raft::HardState hard_state(GroupId g) const;
  // The snapshot the group's log starts after (index 0 if none).
  raft::SnapshotMeta snapshot_meta(GroupId g) const;
  // Same meaning as raft::LogStorage: first_index() - 1 is the snapshot/compaction point.
  raft::Index first_index(GroupId g) const;
  raft::Index last_index(GroupId g) const;
  Result<raft::Term> term(GroupId g, raft::Index i) const;
  Result<std::vector<raft::Entry>> entries(GroupId g, raft::Index lo, raft::Index hi,
                                           uint64_t max_bytes) const;
  // Retention for stream partitions: the smallest index such that the entries from
  // it on total at most `bytes_max` payload bytes and none was appended before
  // `cutoff_ms` (0 disables either rule). Compacting to it applies the policy.
  raft::Index retention_point(GroupId g, uint64_t bytes_max, uint64_t cutoff_ms) const;

  LogEngineStats stats() const;

 private:
  struct Impl;
  explicit LogEngine(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// A raft::LogStorage view of one group in a LogEngine (the replica's reads); the
// snapshot itself comes from the SnapshotStore. Cheap; one per replica.
class SnapshotStore;
class GroupLogStorage final : public raft::LogStorage {
 public:
  GroupLogStorage(const LogEngine* engine, const SnapshotStore* snapshots, GroupId group);

  raft::HardState hard_state() const override;
  raft::ConfState conf_state() const override;
  Result<std::vector<raft::Entry>> entries(raft::Index lo, raft::Index hi,
                                           uint64_t max_bytes) const override;
  Result<raft::Term> term(raft::Index i) const override;
  raft::Index first_index() const override;
  raft::Index last_index() const override;
  Result<raft::Snapshot> snapshot() const override;

 private:
  const LogEngine* engine_;
  const SnapshotStore* snapshots_;
  GroupId group_;
};

}  // namespace meridian::storage
