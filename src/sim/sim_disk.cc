#include "sim/sim_disk.h"

#include <utility>

#include "base/assert.h"

namespace meridian::sim {

using raft::Entry;
using raft::HardState;
using raft::Index;
using raft::Snapshot;
using raft::Status;

SimDisk::SimDisk() : page_cache_(std::make_unique<raft::MemoryStorage>()) {}

void SimDisk::bootstrap(const Snapshot& snap, const HardState& hs) {
  MERIDIAN_ASSERT(pending_.empty(), "bootstrap with unsynced writes");
  Status s = durable_.apply_snapshot(snap);
  MERIDIAN_ASSERT(s.is_ok(), "bootstrap snapshot: ", s);
  durable_.set_hard_state(hs);
  *page_cache_ = durable_;
}

void SimDisk::apply(raft::MemoryStorage& storage, const Write& w) {
  if (const auto* snap = std::get_if<std::shared_ptr<const Snapshot>>(&w)) {
    Status s = storage.apply_snapshot(**snap);
    // The page cache accepted this snapshot, and the durable copy only lags it.
    MERIDIAN_ASSERT(s.is_ok(), "durable snapshot install failed: ", s);
  } else if (const auto* e = std::get_if<Entry>(&w)) {
    storage.append({*e});
  } else {
    storage.set_hard_state(std::get<SetHardState>(w).hs);
  }
}

Status SimDisk::write_snapshot(std::shared_ptr<const Snapshot> snap) {
  Status s = page_cache_->apply_snapshot(*snap);
  if (!s.is_ok()) return s;
  pending_.emplace_back(std::move(snap));
  return Status::ok();
}

void SimDisk::write_entries(const std::vector<Entry>& entries) {
  if (entries.empty()) return;
  page_cache_->append(entries);
  // One queued write per entry, so that a crash can keep any prefix of the batch
  // (a torn append). Appending them one by one has the same end result as the
  // batch: each truncates the suffix from its own index and extends the log.
  for (const Entry& e : entries) pending_.emplace_back(e);
}

void SimDisk::write_hard_state(const HardState& hs) {
  page_cache_->set_hard_state(hs);
  pending_.emplace_back(SetHardState{hs});
}

void SimDisk::sync() {
  for (const Write& w : pending_) apply(durable_, w);
  pending_.clear();
  check_copies_agree();
}

Status SimDisk::snapshot_and_compact(Index i, const raft::ConfState& cs, std::string data,
                                     Index compact_to) {
  sync();
  MERIDIAN_ASSERT(compact_to <= i, "compact_to ", compact_to, " past snapshot ", i);
  Status s = page_cache_->create_snapshot(i, cs, data);
  if (!s.is_ok()) return s;
  s = durable_.create_snapshot(i, cs, std::move(data));
  MERIDIAN_ASSERT(s.is_ok(), "durable create_snapshot failed after the page cache's: ", s);
  if (compact_to >= page_cache_->first_index()) {
    s = page_cache_->compact(compact_to);
    MERIDIAN_ASSERT(s.is_ok(), "compact: ", s);
    s = durable_.compact(compact_to);
    MERIDIAN_ASSERT(s.is_ok(), "durable compact: ", s);
  }
  check_copies_agree();
  return Status::ok();
}

void SimDisk::crash(size_t kept) {
  MERIDIAN_ASSERT(kept <= pending_.size(), "kept ", kept, " of ", pending_.size());
  for (size_t k = 0; k < kept; ++k) apply(durable_, pending_[k]);
  pending_.clear();
  *page_cache_ = durable_;
}

void SimDisk::check_copies_agree() const {
  const raft::MemoryStorage& a = *page_cache_;
  const raft::MemoryStorage& b = durable_;
  MERIDIAN_ASSERT(a.first_index() == b.first_index(), "first index ", a.first_index(), " vs ",
                  b.first_index());
  MERIDIAN_ASSERT(a.last_index() == b.last_index(), "last index ", a.last_index(), " vs ",
                  b.last_index());
  MERIDIAN_ASSERT(a.hard_state() == b.hard_state(), "hard states differ after sync");
  MERIDIAN_ASSERT(a.term(a.last_index()).value() == b.term(b.last_index()).value(),
                  "last terms differ after sync");
}

}  // namespace meridian::sim
