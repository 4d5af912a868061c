// WriteBatch: changes to the Raft logs and hard states of any number of groups,
// written to the journal as one record: after a crash either all of it is there
// or none of it. Built by one thread, then handed to the LogEngine (or to the
// GroupCommitter, which merges many batches into one write and one sync).
//
// Operations apply in the order they were added:
//   append        entries of one group, contiguous; the first may replace the
//                 group's log from its index on (Raft suffix truncation), so it
//                 must be <= last_index + 1 of the group at that point
//   hard_state    the group's term, vote and commit index
//   snapshot      the group's log is replaced by a snapshot (whose file must
//                 already be durable in the SnapshotStore): every entry is
//                 dropped and the log continues after the snapshot's index;
//                 but if the log holds the snapshot's last entry (same index
//                 and term), only the snapshot is recorded and the entries stay
//                 (Raft §7, Figure 13 steps 6-7; also how a replica records a
//                 snapshot of its own applied state, compacting separately).
//                 Older than the group's current snapshot: invalid
//   compact       entries below `index` are dropped (after a snapshot, or for
//                 stream retention); index <= last_index + 1
//   remove_group  the group and everything of it is dropped
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/ids.h"
#include "raft/types.h"

namespace meridian::storage {

class WriteBatch {
 public:
  enum class OpType : uint8_t {
    kAppend = 1,
    kHardState = 2,
    kSnapshot = 3,
    kCompact = 4,
    kRemoveGroup = 5,
  };
  struct Op {
    OpType type;
    GroupId group;
    std::vector<raft::Entry> entries;  // kAppend
    raft::HardState hard_state;        // kHardState
    raft::SnapshotMeta snapshot;       // kSnapshot
    raft::Index index;                 // kCompact
  };

  void append(GroupId g, std::vector<raft::Entry> entries);
  void set_hard_state(GroupId g, const raft::HardState& hs);
  void install_snapshot(GroupId g, const raft::SnapshotMeta& meta);
  void compact(GroupId g, raft::Index index);
  void remove_group(GroupId g);
  // Moves every operation of `other` after this batch's own.
  void merge(WriteBatch&& other);

  // Wall-clock milliseconds stamped on the appended entries (for retention by age);
  // the caller sets it, so the simulator can use virtual time.
  void set_time_ms(uint64_t t) { time_ms_ = t; }
  uint64_t time_ms() const { return time_ms_; }

  const std::vector<Op>& ops() const { return ops_; }
  bool empty() const { return ops_.empty(); }
  // Approximate encoded size (payload bytes plus per-op overhead).
  uint64_t size_bytes() const { return size_bytes_; }

 private:
  std::vector<Op> ops_;
  uint64_t size_bytes_ = 0;
  uint64_t time_ms_ = 0;
};

}  // namespace meridian::storage
