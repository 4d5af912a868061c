// SnapshotStore: the durable snapshots of every group on a node, one file per
// snapshot under <dir>/<group>/, written and read in chunks so that a snapshot
// never has to be held in memory whole (a stream partition's can be large).
//
// Writing: begin() opens a temporary file; append() adds chunks; finish() syncs the
// file, renames it into place and syncs the directory, and only then is the
// snapshot visible and durable. finish() is seal() (the file whole and synced,
// still temporary) then publish() (the rename); a snapshot received from a
// leader is sealed as it arrives and published only if Raft takes it. A crash
// before publishing leaves a temporary file that open() removes. Each chunk
// carries a CRC32C; the file ends with a trailer (chunk count, total bytes, CRC)
// so a truncated file is detected. Format: docs/formats/snapshot.md.
//
// Threads: writers and readers on any thread. Several writers of one group may
// be open at once, at different indexes (a snapshot being received while the
// group takes its own); each writer is used by one thread at a time. The
// store's own maps are guarded by a mutex.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/byte_source.h"
#include "base/ids.h"
#include "raft/types.h"
#include "storage/file_system.h"

namespace meridian::storage {

class SnapshotWriter {
 public:
  virtual ~SnapshotWriter() = default;
  // Adds a chunk of the application's snapshot data (any size; may be called 0+ times).
  virtual Status append(std::string_view chunk) = 0;
  // Makes the snapshot durable and visible. Nothing may be called afterwards.
  // The same as seal() then publish().
  virtual Status finish() = 0;
  // Completes and syncs the file without making it the group's snapshot yet;
  // then only publish() or abort() may be called.
  virtual Status seal() = 0;
  // Renames a sealed snapshot into place and syncs the directory.
  virtual Status publish() = 0;
  // Abandons it (also what the destructor does without finish() or publish()).
  virtual void abort() = 0;
};

// Also a ByteSource of the snapshot's data (read() slices the chunks; use one
// way of reading or the other, not both).
class SnapshotReader : public base::ByteSource {
 public:
  virtual const raft::SnapshotMeta& meta() const = 0;
  // The next chunk, in order, verified; nullopt after the last one. kCorruption if a
  // chunk or the trailer fails its check.
  virtual Result<std::optional<std::string>> next_chunk() = 0;
  Result<std::string> read(size_t max_bytes) final;

 private:
  std::string pending_;  // of the last chunk, not yet handed out by read()
  size_t pending_pos_ = 0;
};

class SnapshotStore {
 public:
  // Opens (creating `dir` and missing parents durably if needed) and removes
  // leftover temporary files.
  static Result<std::unique_ptr<SnapshotStore>> open(FileSystem* fs, const std::string& dir);
  ~SnapshotStore();

  Result<std::unique_ptr<SnapshotWriter>> begin(GroupId g, const raft::SnapshotMeta& meta);
  // The snapshot of group g at `index` (kNotFound if there is none).
  Result<std::unique_ptr<SnapshotReader>> read(GroupId g, raft::Index index) const;
  // The whole snapshot at `index` in memory (for small state machines and tests).
  Result<raft::Snapshot> read_all(GroupId g, raft::Index index) const;
  // Indexes of group g's snapshots, ascending.
  std::vector<raft::Index> list(GroupId g) const;
  // Removes group g's snapshots older than `index` (keeps it and newer ones).
  Status remove_older_than(GroupId g, raft::Index index);
  Status remove_group(GroupId g);

 private:
  struct Impl;
  explicit SnapshotStore(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace meridian::storage
