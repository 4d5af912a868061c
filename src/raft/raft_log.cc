#include "raft/raft_log.h"

#include <algorithm>
#include <iterator>
#include <utility>

#include "base/assert.h"

namespace meridian::raft {

namespace {

// How many entries of [begin, end) fit when `used` bytes are already taken by
// earlier entries of the same batch (`have_any` of them): stop before the total
// would pass max_bytes, but take at least one entry overall so that a single
// oversized entry still makes progress.
size_t count_within_bytes(std::vector<Entry>::const_iterator begin,
                          std::vector<Entry>::const_iterator end, uint64_t max_bytes, uint64_t used,
                          bool have_any) {
  size_t n = 0;
  for (auto it = begin; it != end; ++it, ++n) {
    const uint64_t size = it->size_bytes();
    const bool first_overall = !have_any && n == 0;
    // `used` never exceeds max_bytes except after a lone oversized first entry, so
    // the subtraction below is guarded; it avoids overflow at max_bytes = UINT64_MAX.
    if (!first_overall && (used > max_bytes || size > max_bytes - used)) break;
    used += size;
  }
  return n;
}

void assert_contiguous(const std::vector<Entry>& entries, size_t from, Index expected_first) {
  Index want = expected_first;
  for (size_t k = from; k < entries.size(); ++k, ++want) {
    MERIDIAN_ASSERT(entries[k].index == want, "entry ", k, " has index ", entries[k].index,
                    ", expected ", want);
  }
}

// Past this capacity a drained unstable buffer gives its memory back, so that one
// large batch (a follower catching up) does not pin memory for the replica's life.
constexpr size_t kUnstableCapacityKeepMax = 1024;

}  // namespace

RaftLog::RaftLog(const LogStorage* storage) : storage_(storage) {
  MERIDIAN_ASSERT(storage_ != nullptr, "RaftLog needs a storage");
  const Index first = storage_->first_index();
  const Index last = storage_->last_index();
  MERIDIAN_ASSERT(first >= Index{1}, "storage first index is 0");
  MERIDIAN_ASSERT(last + 1 >= first, "storage last index ", last, " below first ", first);
  const Index commit = storage_->hard_state().commit;
  MERIDIAN_ASSERT(commit <= last, "hard state commit ", commit, " past last index ", last,
                  ": committed entries were lost");
  unstable_offset_ = last + 1;
  // A snapshot covers only committed entries, so its index is committed even if
  // the host has not (yet) written a hard state saying so.
  committed_ = std::max(commit, first - 1);
  applied_ = first - 1;
}

Index RaftLog::first_index() const {
  if (unstable_snapshot_ != nullptr) return unstable_snapshot_->meta.index + 1;
  return storage_->first_index();
}

// unstable_offset_ - 1 is the last index storage holds that belongs to this log
// (any stable suffix beyond it was replaced by the unstable part), or the pending
// snapshot's index; so no call into storage is needed here.
Index RaftLog::last_index() const { return unstable_offset_ + unstable_entries_.size() - 1; }

Term RaftLog::last_term() const {
  Result<Term> t = term(last_index());
  MERIDIAN_ASSERT(t.is_ok(), "term of the last index ", last_index(), ": ", t.status());
  return t.value();
}

Result<Term> RaftLog::term(Index i) const {
  if (!unstable_entries_.empty() && i >= unstable_offset_) {
    if (i > unstable_last_index()) return Status(Code::kUnavailable, "term past the last index");
    return unstable_entries_[i - unstable_offset_].term;
  }
  if (unstable_snapshot_ != nullptr) {
    const SnapshotMeta& meta = unstable_snapshot_->meta;
    if (i == meta.index) return meta.term;
    if (i < meta.index) return Status(Code::kCompacted, "term below the pending snapshot");
    if (i >= unstable_offset_) return Status(Code::kUnavailable, "term past the last index");
    // Otherwise i lies between the snapshot and the unstable offset: the host
    // persisted those entries (after the snapshot) and storage answers for them.
  }
  // Below the unstable offset storage's view is exactly ours, errors included.
  return storage_->term(i);
}

Term RaftLog::term_or_zero(Index i) const {
  Result<Term> t = term(i);
  return t.is_ok() ? t.value() : Term{0};
}

bool RaftLog::match_term(Index i, Term t) const {
  // Fast path, without building an error Status: every new entry of an append
  // is past our log.
  if (i > last_index()) return false;
  Result<Term> ours = term(i);
  return ours.is_ok() && ours.value() == t;
}

bool RaftLog::is_up_to_date(Index last_index, Term last_term) const {
  const Term our_term = this->last_term();
  if (last_term != our_term) return last_term > our_term;
  return last_index >= this->last_index();
}

std::optional<Index> RaftLog::maybe_append(Index prev_index, Term prev_term, Index commit,
                                           std::vector<Entry> entries) {
  if (!match_term(prev_index, prev_term)) return std::nullopt;
  assert_contiguous(entries, 0, prev_index + 1);
  const Index last_new = prev_index + entries.size();
  const Index conflict = find_conflict(entries);
  if (conflict != Index{0}) {
    // Log Matching plus Leader Completeness (Raft §5.3, §5.4) guarantee that no
    // leader ever contradicts a committed entry; if one does, the log is corrupt.
    MERIDIAN_ASSERT(conflict > committed_, "entry ", conflict, " conflicts at or below commit ",
                    committed_);
    truncate_and_append(std::move(entries), conflict - (prev_index + 1));
  }
  // Only what this message proved to match may be committed: the follower's log
  // past last_new may still diverge from the leader's (Figure 2, AppendEntries 5).
  commit_to(std::min(commit, last_new));
  return last_new;
}

Index RaftLog::append(std::vector<Entry> entries) {
  if (entries.empty()) return last_index();
  MERIDIAN_ASSERT(entries.front().index == last_index() + 1, "leader append at ",
                  entries.front().index, " does not follow last index ", last_index());
  truncate_and_append(std::move(entries), 0);
  return last_index();
}

void RaftLog::truncate_and_append(std::vector<Entry>&& entries, size_t from) {
  if (from >= entries.size()) return;
  const Index first = entries[from].index;
  MERIDIAN_ASSERT(first > committed_, "overwriting committed entry ", first, " (commit ",
                  committed_, ")");
  MERIDIAN_ASSERT(first <= last_index() + 1, "append at ", first, " leaves a gap after ",
                  last_index());
  assert_contiguous(entries, from, first);

  if (first <= unstable_offset_) {
    // Every unstable entry goes, and the stable suffix from `first` on is logically
    // replaced; the host overwrites it in storage when it persists these.
    unstable_offset_ = first;
    unstable_entries_.clear();
  } else {
    unstable_entries_.erase(
        unstable_entries_.begin() + static_cast<std::ptrdiff_t>(first - unstable_offset_),
        unstable_entries_.end());
  }
  if (unstable_entries_.empty() && from == 0) {
    unstable_entries_ = std::move(entries);  // the common case: no copy at all
  } else {
    unstable_entries_.insert(
        unstable_entries_.end(),
        std::make_move_iterator(entries.begin() + static_cast<std::ptrdiff_t>(from)),
        std::make_move_iterator(entries.end()));
  }
}

Index RaftLog::find_conflict(const std::vector<Entry>& entries) const {
  for (const Entry& e : entries) {
    if (!match_term(e.index, e.term)) return e.index;
  }
  return Index{0};
}

// Walks down from `index` while our term is above `term`. Terms never decrease
// along a log, so the first j with term(j) <= term is the largest such index. If a
// term is unknown (index past our log, or the walk reached compacted entries), the
// walk stops there and returns (that index, Term{0}): the leader then probes it.
std::pair<Index, Term> RaftLog::find_conflict_by_term(Index index, Term term) const {
  Index j = index;
  while (true) {
    Result<Term> ours = this->term(j);
    if (!ours.is_ok()) return {j, Term{0}};
    if (ours.value() <= term) return {j, ours.value()};
    // term(0) is 0 <= any term, so j never wraps below 0.
    j -= 1;
  }
}

bool RaftLog::maybe_commit(Index i, Term term) {
  if (i <= committed_ || !match_term(i, term)) return false;
  commit_to(i);
  return true;
}

void RaftLog::commit_to(Index i) {
  if (i <= committed_) return;
  MERIDIAN_ASSERT(i <= last_index(), "commit ", i, " past last index ", last_index());
  committed_ = i;
}

void RaftLog::applied_to(Index i) {
  MERIDIAN_ASSERT(i <= committed_, "applied ", i, " past commit ", committed_);
  MERIDIAN_ASSERT(i >= applied_, "applied ", i, " moves back from ", applied_);
  applied_ = i;
}

Result<std::vector<Entry>> RaftLog::slice(Index lo, Index hi, uint64_t max_bytes) const {
  MERIDIAN_ASSERT(lo <= hi, "slice: lo ", lo, " > hi ", hi);
  MERIDIAN_ASSERT(hi <= last_index() + 1, "slice: hi ", hi, " past last index ", last_index());
  if (lo < first_index()) return Status(Code::kCompacted, "slice below the first index");
  std::vector<Entry> out;
  if (lo == hi) return out;

  uint64_t used = 0;
  if (lo < unstable_offset_) {
    const Index stable_hi = std::min(hi, unstable_offset_);
    Result<std::vector<Entry>> stored = storage_->entries(lo, stable_hi, max_bytes);
    if (!stored.is_ok()) return stored.status();
    out = std::move(stored).value();
    // Fewer than asked: max_bytes was reached, so nothing unstable may follow.
    if (out.size() < stable_hi - lo || hi == stable_hi) return out;
    for (const Entry& e : out) used += e.size_bytes();
  }

  const Index unstable_lo = std::max(lo, unstable_offset_);
  MERIDIAN_ASSERT(hi - unstable_offset_ <= unstable_entries_.size(), "slice: hi ", hi,
                  " past the unstable entries");
  const auto begin =
      unstable_entries_.begin() + static_cast<std::ptrdiff_t>(unstable_lo - unstable_offset_);
  const auto end = unstable_entries_.begin() + static_cast<std::ptrdiff_t>(hi - unstable_offset_);
  const size_t n = count_within_bytes(begin, end, max_bytes, used, !out.empty());
  out.reserve(out.size() + n);
  out.insert(out.end(), begin, begin + static_cast<std::ptrdiff_t>(n));
  return out;
}

void RaftLog::stable_to(Index i, Term t) {
  // Nothing unstable (e.g. a restore dropped the entries being persisted), or i is
  // outside the unstable entries: this acknowledgement is stale.
  if (unstable_entries_.empty() || i < unstable_offset_ || i > unstable_last_index()) return;
  // A newer leader replaced the entry at i while the host persisted the old one;
  // the new one still has to be persisted.
  if (unstable_entries_[i - unstable_offset_].term != t) return;

  unstable_entries_.erase(
      unstable_entries_.begin(),
      unstable_entries_.begin() + static_cast<std::ptrdiff_t>(i - unstable_offset_ + 1));
  unstable_offset_ = i + 1;
  if (unstable_entries_.capacity() > kUnstableCapacityKeepMax &&
      unstable_entries_.size() < unstable_entries_.capacity() / 4) {
    unstable_entries_.shrink_to_fit();
  }
}

void RaftLog::stable_snapshot_to(Index i) {
  if (unstable_snapshot_ != nullptr && unstable_snapshot_->meta.index == i) {
    unstable_snapshot_.reset();
  }
}

// With a snapshot pending, storage's log is about to be replaced wholesale; only
// storage's own snapshot point (older than the pending one, and committed, hence a
// prefix of it) is known to be both durable and part of this log.
Index RaftLog::last_stable_index() const {
  if (unstable_snapshot_ != nullptr) return storage_->first_index() - 1;
  return unstable_offset_ - 1;
}

bool RaftLog::has_next_committed_entries(Index up_to) const {
  const Index lo = std::max(applied_, first_index() - 1) + 1;
  return lo <= std::min(committed_, up_to);
}

std::vector<Entry> RaftLog::next_committed_entries(Index up_to, uint64_t max_bytes) const {
  // After a restore, applied may lag the snapshot; entries it covers are gone and
  // reach the application through the snapshot instead.
  const Index lo = std::max(applied_, first_index() - 1) + 1;
  const Index hi = std::min(committed_, up_to);
  if (lo > hi) return {};
  Result<std::vector<Entry>> r = slice(lo, hi + 1, max_bytes);
  MERIDIAN_ASSERT(r.is_ok(), "committed entries [", lo, ", ", hi, "] unreadable: ", r.status());
  return std::move(r).value();
}

void RaftLog::restore(std::shared_ptr<const Snapshot> snapshot) {
  MERIDIAN_ASSERT(snapshot != nullptr, "restore without a snapshot");
  const Index i = snapshot->meta.index;
  MERIDIAN_ASSERT(i > Index{0}, "restore of an empty snapshot");
  MERIDIAN_ASSERT(i >= committed_, "restore to ", i, " would move commit back from ", committed_);
  unstable_entries_.clear();
  unstable_offset_ = i + 1;
  unstable_snapshot_ = std::move(snapshot);
  committed_ = i;
}

Result<std::shared_ptr<const Snapshot>> RaftLog::snapshot() const {
  if (unstable_snapshot_ != nullptr) return unstable_snapshot_;
  Result<Snapshot> stored = storage_->snapshot();
  if (!stored.is_ok()) return stored.status();
  return std::make_shared<const Snapshot>(std::move(stored).value());
}

}  // namespace meridian::raft
