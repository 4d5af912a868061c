// GroupLogStorage: the raft::LogStorage view of one group in a LogEngine.
#include <string>

#include "base/assert.h"
#include "storage/log_engine.h"
#include "storage/snapshot_store.h"

namespace meridian::storage {

GroupLogStorage::GroupLogStorage(const LogEngine* engine, const SnapshotStore* snapshots,
                                 GroupId group)
    : engine_(engine), snapshots_(snapshots), group_(group) {
  MERIDIAN_ASSERT(engine_ != nullptr, "GroupLogStorage without an engine");
}

raft::HardState GroupLogStorage::hard_state() const { return engine_->hard_state(group_); }

raft::ConfState GroupLogStorage::conf_state() const {
  return engine_->snapshot_meta(group_).conf_state;
}

Result<std::vector<raft::Entry>> GroupLogStorage::entries(raft::Index lo, raft::Index hi,
                                                          uint64_t max_bytes) const {
  return engine_->entries(group_, lo, hi, max_bytes);
}

Result<raft::Term> GroupLogStorage::term(raft::Index i) const { return engine_->term(group_, i); }

raft::Index GroupLogStorage::first_index() const { return engine_->first_index(group_); }

raft::Index GroupLogStorage::last_index() const { return engine_->last_index(group_); }

Result<raft::Snapshot> GroupLogStorage::snapshot() const {
  const raft::SnapshotMeta meta = engine_->snapshot_meta(group_);
  // No snapshot yet: an empty one, as raft::MemoryStorage gives.
  if (meta.index == raft::Index{0}) return raft::Snapshot{};
  if (snapshots_ == nullptr) {
    return Status(Code::kUnavailable, "group " + std::to_string(group_.value()) +
                                          " has a snapshot but no snapshot store was given");
  }
  Result<raft::Snapshot> snap = snapshots_->read_all(group_, meta.index);
  if (!snap.is_ok()) return snap.status();
  // The journal records which snapshot the log starts after; the store's copy
  // must describe the same one.
  if (snap.value().meta.index != meta.index || snap.value().meta.term != meta.term) {
    return Status(Code::kCorruption, "group " + std::to_string(group_.value()) +
                                         ": snapshot store holds a different snapshot at " +
                                         std::to_string(meta.index.value()));
  }
  return snap;
}

}  // namespace meridian::storage
