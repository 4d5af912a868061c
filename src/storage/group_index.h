// GroupIndex: the log engine's in-memory state of every group in the journal:
// hard state, snapshot, first index and, for each live entry, where its data lies
// in which segment (so a read is one pread), plus a bounded cache of each group's
// most recent entries' data and the number of live entries per segment (which
// tells garbage collection which segments nothing needs any more).
//
// The same code builds it at recovery (replaying records) and keeps it current on
// writes: plan() validates a batch against the state and decides how each
// operation is recorded; apply() applies a recorded operation. Replay may meet
// entries whose segment was collected; they stand as placeholders (segment 0)
// until a later record drops them, and check_complete() fails if any remain.
//
// Not thread-safe: the LogEngine lets one writer mutate it under an exclusive lock
// and readers read it under a shared one.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <vector>

#include "base/ids.h"
#include "base/status.h"
#include "raft/types.h"
#include "storage/journal_format.h"
#include "storage/write_batch.h"

namespace meridian::storage {

// Where one live entry lies. 32 bytes, so a million entries cost 32 MB.
struct EntryMeta {
  uint64_t term = 0;
  uint64_t time_ms = 0;  // of the batch that appended it
  uint32_t segment = 0;  // 0: a placeholder (replay only; its segment was collected)
  uint32_t offset = 0;   // of the entry's data in the segment file
  uint32_t size = 0;     // data bytes
  raft::EntryType type = raft::EntryType::kNormal;
};
static_assert(sizeof(EntryMeta) == 32, "EntryMeta is sized for millions of entries");

struct GroupState {
  raft::HardState hard_state;
  raft::SnapshotMeta snapshot;
  raft::Index first{1};
  raft::Term prev_term;            // term of the entry at first - 1
  std::deque<EntryMeta> entries;   // first .. last()
  std::deque<std::string> recent;  // data of the last recent.size() entries
  uint64_t recent_bytes = 0;

  raft::Index last() const { return first + entries.size() - 1; }
  const EntryMeta& at(raft::Index i) const { return entries[i - first]; }
};

struct RecentCacheLimits {
  // Raft reads entries right after appending them (to apply them once committed,
  // and to send them to followers that were not sent them from memory), so the
  // newest entries of each group are kept: 256 KiB is a few hundred entries of
  // typical size, more than one round of appends per group.
  uint64_t group_bytes_max = 256 << 10;
  // All groups together; beyond it, groups' caches are trimmed in turn.
  uint64_t total_bytes_max = 64 << 20;
};

class GroupIndex {
 public:
  explicit GroupIndex(RecentCacheLimits limits = {}) : limits_(limits) {}

  // kInvalidArgument if any operation of `batch`, applied in order, is not valid
  // for the state (see write_batch.h); otherwise one plan per operation.
  Status plan(const WriteBatch& batch, std::vector<OpPlan>& plans) const;

  // Applies one recorded operation (planned, or decoded at replay). For kAppend,
  // data_offsets holds the file offset in `segment` of each recorded entry's data.
  // kCorruption if the record does not fit the state (replay of a damaged or
  // foreign journal); a planned operation always fits.
  Status apply(const WriteBatch::Op& op, const OpPlan& plan, uint32_t segment,
               const std::vector<uint32_t>& data_offsets, uint64_t time_ms);

  // Every group's state, as the checkpoint that starts a new segment records it.
  std::vector<GroupCheckpoint> checkpoint() const;
  // Replay of a checkpoint: groups not listed are dropped, listed ones take the
  // recorded state; entries the checkpoint counts but the index lacks become
  // placeholders.
  void apply_checkpoint(const std::vector<GroupCheckpoint>& groups);
  // kCorruption if a placeholder remains (a segment with live entries is missing).
  Status check_complete() const;

  const GroupState* find(GroupId g) const;
  const std::map<GroupId, GroupState>& groups() const { return groups_; }
  uint64_t live_entries(uint32_t segment) const;
  uint64_t recent_bytes() const { return recent_bytes_; }

 private:
  GroupState& get_or_create(GroupId g) { return groups_[g]; }
  Status apply_append(const WriteBatch::Op& op, const OpPlan& plan, uint32_t segment,
                      const std::vector<uint32_t>& data_offsets, uint64_t time_ms);
  Status apply_snapshot(const WriteBatch::Op& op, const OpPlan& plan);
  // Appends an entry to the log; `cache`: keep its data among the recent ones.
  void push_entry(GroupState& gs, const EntryMeta& meta, const std::string& data, bool cache);
  void drop_front(GroupState& gs);
  void drop_back(GroupState& gs);
  void drop_all(GroupState& gs);
  void pop_recent_front(GroupState& gs);
  void trim_recent(GroupState& gs);

  RecentCacheLimits limits_;
  std::map<GroupId, GroupState> groups_;
  std::map<uint32_t, uint64_t> live_;  // segment -> live entries (absent: 0)
  uint64_t recent_bytes_ = 0;
  GroupId evict_cursor_;  // the group whose cache was trimmed last (round robin)
};

}  // namespace meridian::storage
