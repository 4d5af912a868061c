#include "sim/node_storage.h"

#include <algorithm>
#include <limits>
#include <utility>

#include "base/assert.h"
#include "sim/random.h"
#include "sim/trace.h"

namespace meridian::sim {

using base::Code;
using base::Status;
using raft::Index;

namespace {

// Where the node keeps its data on its own (simulated) disk. Nothing creates the
// data directory beforehand: the journal and the store must make it durable
// themselves (storage::create_dir_durably).
constexpr const char* kJournalDir = "/meridian/journal";
constexpr const char* kSnapshotDir = "/meridian/snapshots";
// A write that changed no log entry (only the hard state).
constexpr Index kNoLogChange{std::numeric_limits<uint64_t>::max()};

// The file system takes a probability; the simulator draws integers (random.h),
// and an integer divided by a power of ten is the same double on every platform.
double fraction(uint32_t ppm) { return static_cast<double>(ppm) / Rng::kPpmOne; }

Status with_context(const Status& s, const char* what) {
  return Status(s.code(), cat(what, ": ", s.message()));
}

}  // namespace

NodeStorage::NodeStorage(uint64_t file_system_seed) : fs_(file_system_seed) {}

NodeStorage::~NodeStorage() = default;

Status NodeStorage::open() {
  MERIDIAN_ASSERT(!is_open(), "storage opened twice");
  if (fs_.crashed()) fs_.restart();  // the power is back
  auto engine = storage::LogEngine::open(
      &fs_, storage::LogEngineOptions{.dir = kJournalDir, .segment_bytes_max = kSegmentBytesMax});
  if (!engine.is_ok()) return with_context(engine.status(), "journal recovery");
  engine_ = std::move(engine).value();
  auto store = storage::SnapshotStore::open(&fs_, kSnapshotDir);
  if (!store.is_ok()) {
    close();
    return with_context(store.status(), "snapshot store recovery");
  }
  snapshots_ = std::move(store).value();
  log_ = std::make_unique<storage::GroupLogStorage>(engine_.get(), snapshots_.get(), kGroup);
  if (Status s = check_recovered(); !s.is_ok()) {
    close();
    return s;
  }
  // Recovery made durable what it found, including the unsynced write if it
  // survived (whole: a batch is all or nothing).
  synced_.record(*log_, unsynced_ ? unsynced_->changed_from : synced_.last_index() + 1,
                 engine_->snapshot_meta(kGroup).index);
  if (opened_before_) ++stats_.recoveries;
  opened_before_ = true;
  unsynced_.reset();
  return Status::ok();
}

// Everything synced before the crash must be back; the one unsynced write may or
// may not be, but only whole. A spot check, cheap enough for every restart: the
// hard state, the snapshot, the log's end, and the term of the highest synced
// entry the unsynced write could not have touched. Entries lost below that point
// while it survives would be another kind of storage bug, one the Raft checks
// (log matching, leader completeness, linearizability) would see instead.
Status NodeStorage::check_recovered() const {
  const raft::HardState hs = log_->hard_state();
  const bool hs_unsynced = unsynced_ && unsynced_->hard_state && hs == *unsynced_->hard_state;
  if (hs != synced_.hard_state() && !hs_unsynced) {
    const raft::HardState& d = synced_.hard_state();
    return Status(Code::kCorruption,
                  cat("recovered hard state (term=", hs.term, " vote=", hs.vote,
                      " commit=", hs.commit, ") is neither the synced one (term=", d.term,
                      " vote=", d.vote, " commit=", d.commit, ") nor the one written since"));
  }
  const Index snap = engine_->snapshot_meta(kGroup).index;
  if (snap < synced_.snapshot_index()) {
    return Status(Code::kCorruption, cat("recovered snapshot ", snap, " is older than the synced ",
                                         synced_.snapshot_index()));
  }
  Index probe = synced_.last_index();
  if (unsynced_) probe = std::min(probe, unsynced_->changed_from - 1);
  const std::optional<raft::Term> want = synced_.term(probe);
  if (want && probe + 1 >= log_->first_index()) {
    auto got = log_->term(probe);
    if (!got.is_ok() || got.value() != *want) {
      return Status(Code::kCorruption,
                    cat("synced entry ", *want, "/", probe, " is lost: recovered log ",
                        log_->first_index(), "..", log_->last_index(), " has ",
                        got.is_ok() ? cat("term ", got.value()) : got.status().to_string()));
    }
  }
  if (!unsynced_ && log_->last_index() != synced_.last_index()) {
    return Status(Code::kCorruption,
                  cat("recovered log ends at ", log_->last_index(), " but ", synced_.last_index(),
                      " was synced and nothing written since"));
  }
  return Status::ok();
}

Status NodeStorage::bootstrap(const raft::Snapshot& snap, const raft::HardState& hs) {
  MERIDIAN_ASSERT(is_open() && !unsynced_, "bootstrap of closed or busy storage");
  if (Status s = write_snapshot_file(snap.meta, snap.data); !s.is_ok()) return s;
  storage::WriteBatch batch;
  batch.install_snapshot(kGroup, snap.meta);
  batch.set_hard_state(kGroup, hs);
  if (Status s =
          write(batch, Unsynced{.changed_from = Index{0}, .hard_state = hs, .snapshot = true});
      !s.is_ok()) {
    return s;
  }
  return sync();
}

Status NodeStorage::write_snapshot_file(const raft::SnapshotMeta& meta, const std::string& data) {
  auto writer = snapshots_->begin(kGroup, meta);
  if (!writer.is_ok()) return with_context(writer.status(), "snapshot begin");
  if (!data.empty()) {
    if (Status s = writer.value()->append(data); !s.is_ok()) return with_context(s, "snapshot");
  }
  if (Status s = writer.value()->finish(); !s.is_ok()) return with_context(s, "snapshot finish");
  ++stats_.snapshots_written;
  return Status::ok();
}

Status NodeStorage::write(const storage::WriteBatch& batch, const Unsynced& what) {
  MERIDIAN_ASSERT(!unsynced_, "a second journal write before the first was synced");
  Status s = engine_->write(batch);
  // A torn-write crash may still have put all of the batch on the platter.
  if (s.is_ok() || power_failed()) unsynced_ = what;
  if (!s.is_ok()) return with_context(s, "journal write");
  ++stats_.journal_writes;
  return Status::ok();
}

Status NodeStorage::write_ready(const raft::Ready& rd) {
  MERIDIAN_ASSERT(is_open(), "write to closed storage");
  storage::WriteBatch batch;
  Unsynced what{.changed_from = kNoLogChange, .hard_state = std::nullopt, .snapshot = false};
  if (rd.snapshot) {
    const raft::SnapshotMeta& meta = rd.snapshot->meta;
    if (Status s = write_snapshot_file(meta, rd.snapshot->data); !s.is_ok()) return s;
    batch.install_snapshot(kGroup, meta);
    what.snapshot = true;
    what.changed_from = meta.index + 1;
  }
  if (!rd.entries.empty()) {
    what.changed_from = std::min(what.changed_from, rd.entries.front().index);
    batch.append(kGroup, rd.entries);
  }
  if (rd.hard_state) {
    batch.set_hard_state(kGroup, *rd.hard_state);
    what.hard_state = *rd.hard_state;
  }
  if (batch.empty()) return Status::ok();
  return write(batch, what);
}

Status NodeStorage::sync() {
  MERIDIAN_ASSERT(is_open(), "sync of closed storage");
  if (!unsynced_) return Status::ok();
  if (Status s = engine_->sync(); !s.is_ok()) return with_context(s, "journal sync");
  const Index snap = engine_->snapshot_meta(kGroup).index;
  synced_.record(*log_, unsynced_->changed_from, snap);
  const bool installed_snapshot = unsynced_->snapshot;
  unsynced_.reset();
  return installed_snapshot ? remove_older(snap) : Status::ok();
}

Status NodeStorage::remove_older(Index snapshot_index) {
  // Only now is the journal's reference to the new snapshot durable; until then a
  // crash would bring back the previous one, which must still be there.
  if (Status s = engine_->collect_garbage(); !s.is_ok()) return with_context(s, "journal gc");
  Status s = snapshots_->remove_older_than(kGroup, snapshot_index);
  return s.is_ok() ? s : with_context(s, "snapshot removal");
}

Status NodeStorage::snapshot_and_compact(const raft::SnapshotMeta& meta, const std::string& data,
                                         Index compact_to) {
  MERIDIAN_ASSERT(is_open(), "snapshot on closed storage");
  MERIDIAN_ASSERT(compact_to <= meta.index + 1, "compact to ", compact_to, " past snapshot ",
                  meta.index);
  // The log must hold the snapshot's last entry, so that the journal keeps the
  // entries (write_batch.h; else it would drop the whole log) and compacting is a
  // separate step.
  if (auto t = log_->term(meta.index); !t.is_ok() || t.value() != meta.term) {
    return Status(Code::kFailedPrecondition,
                  cat("application snapshot at ", meta.term, "/", meta.index, " but the log ",
                      log_->first_index(), "..", log_->last_index(), " has ",
                      t.is_ok() ? cat("term ", t.value()) : t.status().to_string()));
  }
  if (Status s = write_snapshot_file(meta, data); !s.is_ok()) return s;
  storage::WriteBatch batch;
  batch.install_snapshot(kGroup, meta);
  if (compact_to > log_->first_index()) batch.compact(kGroup, compact_to);
  if (Status s = write(
          batch,
          Unsynced{.changed_from = meta.index + 1, .hard_state = std::nullopt, .snapshot = true});
      !s.is_ok()) {
    return s;
  }
  return sync();
}

void NodeStorage::close() {
  log_.reset();
  snapshots_.reset();
  if (engine_ != nullptr) segments_removed_base_ += engine_->stats().segments_removed;
  engine_.reset();
}

void NodeStorage::crash(std::optional<uint32_t> keep_unsynced_ppm) {
  close();
  // After a torn-write crash the file system is already down (and lost what it lost).
  if (fs_.crashed()) {
    ++stats_.torn_crashes;
  } else if (keep_unsynced_ppm) {
    fs_.crash(fraction(*keep_unsynced_ppm));
  }
}

void NodeStorage::arm_torn_write(uint64_t n, uint32_t keep_unsynced_ppm) {
  fs_.crash_at_write(n, fraction(keep_unsynced_ppm));
}

const raft::LogStorage& NodeStorage::log() const {
  MERIDIAN_ASSERT(log_ != nullptr, "log() of closed storage");
  return *log_;
}

raft::SnapshotMeta NodeStorage::snapshot_meta() const {
  MERIDIAN_ASSERT(is_open(), "snapshot_meta() of closed storage");
  return engine_->snapshot_meta(kGroup);
}

base::Result<raft::Snapshot> NodeStorage::read_snapshot(Index index) const {
  MERIDIAN_ASSERT(is_open(), "read_snapshot() of closed storage");
  return snapshots_->read_all(kGroup, index);
}

NodeStorageStats NodeStorage::stats() const {
  NodeStorageStats s = stats_;
  s.segments_removed = segments_removed_base_ + (engine_ ? engine_->stats().segments_removed : 0);
  return s;
}

std::string NodeStorage::describe() const {
  MERIDIAN_ASSERT(is_open(), "describe() of closed storage");
  const raft::HardState hs = log_->hard_state();
  return cat("log ", log_->first_index(), "..", log_->last_index(), " snapshot ",
             engine_->snapshot_meta(kGroup).index, " segments ", engine_->stats().segments,
             " hs=(term=", hs.term, " vote=", hs.vote, " commit=", hs.commit, ")");
}

}  // namespace meridian::sim
