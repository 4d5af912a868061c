#include "raft/memory_storage.h"

#include <string>
#include <utility>

#include "base/assert.h"

namespace meridian::raft {

namespace {

// Number of entries, starting at `begin`, that fit in max_bytes; at least one if
// any are given (a single oversized entry must still make progress).
size_t count_within_bytes(std::vector<Entry>::const_iterator begin,
                          std::vector<Entry>::const_iterator end, uint64_t max_bytes) {
  size_t n = 0;
  uint64_t total = 0;
  for (auto it = begin; it != end; ++it, ++n) {
    const uint64_t size = it->size_bytes();
    // total passes max_bytes only after a lone oversized first entry; the guarded
    // subtraction avoids overflow at max_bytes = UINT64_MAX.
    if (n > 0 && (total > max_bytes || size > max_bytes - total)) break;
    total += size;
  }
  return n;
}

}  // namespace

MemoryStorage::MemoryStorage() : entries_(1) {}  // the dummy: index 0, term 0

Index MemoryStorage::first_index() const { return dummy_index() + 1; }

Index MemoryStorage::last_index() const { return dummy_index() + (entries_.size() - 1); }

Result<Term> MemoryStorage::term(Index i) const {
  const Index dummy = dummy_index();
  if (i < dummy) return Status(Code::kCompacted, "term below the first stored index");
  if (i > last_index()) return Status(Code::kUnavailable, "term past the last stored index");
  return entries_[i - dummy].term;
}

Result<std::vector<Entry>> MemoryStorage::entries(Index lo, Index hi, uint64_t max_bytes) const {
  const Index dummy = dummy_index();
  if (lo <= dummy) return Status(Code::kCompacted, "entries below the first stored index");
  MERIDIAN_ASSERT(lo <= hi, "entries: lo ", lo, " > hi ", hi);
  MERIDIAN_ASSERT(hi <= last_index() + 1, "entries: hi ", hi, " past last index ", last_index());

  auto begin = entries_.begin() + static_cast<std::ptrdiff_t>(lo - dummy);
  auto end = entries_.begin() + static_cast<std::ptrdiff_t>(hi - dummy);
  const size_t n = count_within_bytes(begin, end, max_bytes);
  return std::vector<Entry>(begin, begin + static_cast<std::ptrdiff_t>(n));
}

void MemoryStorage::append(const std::vector<Entry>& entries) {
  if (entries.empty()) return;
  const Index first = first_index();
  // Entries at or below the dummy are covered by the snapshot: already applied
  // and identical on every replica, so they are skipped rather than rewritten.
  if (entries.back().index < first) return;
  const size_t skip = entries.front().index < first ? first - entries.front().index : 0;
  const Index start = entries[skip].index;
  MERIDIAN_ASSERT(start <= last_index() + 1, "append at ", start, " leaves a gap after ",
                  last_index());
  for (size_t k = skip + 1; k < entries.size(); ++k) {
    MERIDIAN_ASSERT(entries[k].index == entries[k - 1].index + 1, "append: index ",
                    entries[k].index, " does not follow ", entries[k - 1].index);
  }

  // Drop the suffix from `start` on (a conflicting suffix is replaced), then append.
  entries_.erase(entries_.begin() + static_cast<std::ptrdiff_t>(start - dummy_index()),
                 entries_.end());
  entries_.insert(entries_.end(), entries.begin() + static_cast<std::ptrdiff_t>(skip),
                  entries.end());
}

Status MemoryStorage::apply_snapshot(const Snapshot& snap) {
  // An equal index is not newer either: re-installing it would throw away the
  // entries appended after it.
  if (snap.meta.index <= snapshot_.meta.index) {
    return Status(Code::kFailedPrecondition, "snapshot is not newer than the current one");
  }
  snapshot_ = snap;
  entries_.clear();
  entries_.emplace_back();
  entries_.front().term = snap.meta.term;
  entries_.front().index = snap.meta.index;
  return Status::ok();
}

Status MemoryStorage::create_snapshot(Index i, const ConfState& cs, std::string data) {
  if (i <= snapshot_.meta.index) {
    return Status(Code::kFailedPrecondition, "snapshot index is not newer than the current one");
  }
  MERIDIAN_ASSERT(i <= last_index(), "create_snapshot at ", i, " past last index ", last_index());
  // Compaction may have run past the last snapshot (compact only needs "applied"),
  // in which case the term of i is gone and no snapshot can be recorded there.
  Result<Term> t = term(i);
  if (!t.is_ok()) return t.status();
  snapshot_.meta.index = i;
  snapshot_.meta.term = t.value();
  snapshot_.meta.conf_state = cs;
  snapshot_.data = std::move(data);
  return Status::ok();
}

Status MemoryStorage::compact(Index compact_index) {
  const Index dummy = dummy_index();
  if (compact_index <= dummy) return Status(Code::kCompacted, "already compacted past it");
  MERIDIAN_ASSERT(compact_index <= last_index(), "compact at ", compact_index, " past last index ",
                  last_index());
  const auto keep_from = entries_.begin() + static_cast<std::ptrdiff_t>(compact_index - dummy);
  // The entry at compact_index becomes the dummy: keep only its index and term.
  entries_.erase(entries_.begin(), keep_from);
  entries_.front().type = EntryType::kNormal;
  entries_.front().data = std::string();  // frees the payload, unlike clear()
  return Status::ok();
}

std::vector<Entry> MemoryStorage::all_entries() const {
  return std::vector<Entry>(entries_.begin() + 1, entries_.end());
}

}  // namespace meridian::raft
