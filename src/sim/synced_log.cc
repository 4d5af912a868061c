#include "sim/synced_log.h"

#include <algorithm>

#include "base/assert.h"

namespace meridian::sim {

using raft::Index;
using raft::Term;

namespace {

Term term_of(const raft::LogStorage& log, Index i) {
  auto t = log.term(i);
  MERIDIAN_ASSERT(t.is_ok(), "a synced log has no term at ", i, " (first ", log.first_index(),
                  ", last ", log.last_index(), "): ", t.status());
  return t.value();
}

}  // namespace

void SyncedLog::record(const raft::LogStorage& log, Index changed_from, Index snapshot_index) {
  hard_state_ = log.hard_state();
  snapshot_index_ = snapshot_index;
  const Index new_base = log.first_index() - 1;
  const Index last = log.last_index();
  // Terms of entries below keep_end are still right, if the log still holds them.
  const Index keep_end = std::min({changed_from, last + 1, base_ + terms_.size()});
  if (new_base < base_ || keep_end <= new_base) {
    terms_.clear();
  } else {
    terms_.erase(terms_.begin(), terms_.begin() + static_cast<long>(new_base - base_));
    terms_.resize(keep_end - new_base);
  }
  base_ = new_base;
  // The entry before the first may have been replaced by a snapshot's: read it again.
  if (terms_.empty()) terms_.emplace_back();
  terms_.front() = term_of(log, new_base);
  for (Index i = base_ + terms_.size(); i <= last; ++i) terms_.push_back(term_of(log, i));
}

std::optional<Term> SyncedLog::term(Index i) const {
  if (i < base_ || i > last_index()) return std::nullopt;
  return terms_[i - base_];
}

}  // namespace meridian::sim
