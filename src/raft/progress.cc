#include "raft/progress.h"

#include <algorithm>

namespace meridian::raft {

Inflights::Inflights(uint32_t messages_max, uint64_t bytes_max)
    : messages_max_(messages_max), bytes_max_(bytes_max) {
  MERIDIAN_ASSERT(messages_max > 0, "an inflights window must allow at least one message");
}

void Inflights::add(Index last_index, uint64_t bytes) {
  MERIDIAN_ASSERT(!full(), "add to a full inflights window: count ", count_, " bytes ", bytes_);
  if (count_ > 0) {
    const Flight& newest = ring_[(start_ + count_ - 1) % ring_.size()];
    MERIDIAN_ASSERT(last_index > newest.last_index, "inflight index ", last_index,
                    " not above the newest in flight ", newest.last_index);
  }
  if (count_ == ring_.size()) grow();
  ring_[(start_ + count_) % ring_.size()] = Flight{last_index, bytes};
  ++count_;
  bytes_ += bytes;
}

// Re-lays the ring from position 0 into a larger buffer (doubling, capped at
// messages_max_), so that the common case of a short window stays small.
void Inflights::grow() {
  MERIDIAN_ASSERT(ring_.size() < messages_max_, "inflights ring already at its maximum");
  const size_t new_size = std::min<size_t>(std::max<size_t>(ring_.size() * 2, 1), messages_max_);
  std::vector<Flight> bigger(new_size);
  for (uint32_t i = 0; i < count_; ++i) bigger[i] = ring_[(start_ + i) % ring_.size()];
  ring_ = std::move(bigger);
  start_ = 0;
}

void Inflights::free_le(Index i) {
  while (count_ > 0 && ring_[start_].last_index <= i) free_first();
}

void Inflights::free_first() {
  if (count_ == 0) return;
  const Flight& oldest = ring_[start_];
  MERIDIAN_ASSERT(bytes_ >= oldest.bytes, "inflight bytes ", bytes_, " below a message's ",
                  oldest.bytes);
  bytes_ -= oldest.bytes;
  --count_;
  start_ = count_ == 0 ? 0 : static_cast<uint32_t>((start_ + 1) % ring_.size());
}

void Inflights::reset() {
  start_ = 0;
  count_ = 0;
  bytes_ = 0;
}

bool Inflights::full() const {
  if (count_ == messages_max_) return true;
  return bytes_max_ > 0 && bytes_ >= bytes_max_;
}

const char* progress_state_name(ProgressState s) {
  switch (s) {
    case ProgressState::kProbe:
      return "probe";
    case ProgressState::kReplicate:
      return "replicate";
    case ProgressState::kSnapshot:
      return "snapshot";
  }
  return "unknown";
}

Progress::Progress(Index next_index, uint32_t inflight_messages_max, uint64_t inflight_bytes_max)
    : next(next_index), inflights(inflight_messages_max, inflight_bytes_max) {
  MERIDIAN_ASSERT(next > match, "next ", next, " must be above match ", match);
}

void Progress::reset_state(ProgressState s) {
  state = s;
  probe_sent = false;
  pending_snapshot = Index{0};
  inflights.reset();
}

void Progress::become_probe() {
  if (state == ProgressState::kSnapshot) {
    const Index pending = pending_snapshot;
    reset_state(ProgressState::kProbe);
    next = std::max(match + 1, pending + 1);
  } else {
    reset_state(ProgressState::kProbe);
    next = match + 1;
  }
}

void Progress::become_replicate() {
  reset_state(ProgressState::kReplicate);
  next = match + 1;
}

void Progress::become_snapshot(Index snapshot_index) {
  reset_state(ProgressState::kSnapshot);
  pending_snapshot = snapshot_index;
}

bool Progress::maybe_update(Index n) {
  bool updated = false;
  if (n > match) {
    match = n;
    probe_sent = false;
    updated = true;
  }
  next = std::max(next, n + 1);
  inflights.free_le(n);
  return updated;
}

void Progress::sent_entries(Index last, uint64_t bytes, size_t entry_count) {
  switch (state) {
    case ProgressState::kReplicate:
      if (entry_count == 0) return;
      MERIDIAN_ASSERT(last - (entry_count - 1) == next, "entries ending at ", last, " (",
                      entry_count, ") do not start at next ", next);
      next = last + 1;
      inflights.add(last, bytes);
      return;
    case ProgressState::kProbe:
      probe_sent = true;
      return;
    case ProgressState::kSnapshot:
      MERIDIAN_ASSERT(false, "kAppend sent to a follower in the snapshot state: ", to_string());
      return;
  }
}

bool Progress::maybe_decrease_to(Index rejected, Index match_hint) {
  switch (state) {
    case ProgressState::kReplicate:
      // Pipelined messages are answered in order; a rejection at or below match
      // answers a message sent before the match point moved past it.
      if (rejected <= match) return false;
      next = match + 1;
      return true;
    case ProgressState::kProbe:
      // Only one probe is outstanding, the one sent at next - 1; any other rejection
      // is a duplicate or a late answer to an earlier probe.
      if (rejected != next - 1) return false;
      // Fast backtracking: jump straight past the follower's hint instead of one
      // index per round trip, but never to or below what is known to match.
      {
        Index lowered = std::max(std::min(rejected, match_hint + 1), match + 1);
        if (lowered == next) {
          // The follower rejects the entry right after what it acknowledged, so it
          // lost acknowledged entries (a broken disk). Resending at once would loop
          // as fast as the network allows; stay paused and retry on the next
          // heartbeat response.
          return false;
        }
        next = lowered;
      }
      probe_sent = false;
      return true;
    case ProgressState::kSnapshot:
      return false;
  }
  return false;
}

bool Progress::is_paused() const {
  switch (state) {
    case ProgressState::kProbe:
      return probe_sent;
    case ProgressState::kReplicate:
      return inflights.full();
    case ProgressState::kSnapshot:
      return true;
  }
  return true;
}

std::string Progress::to_string() const {
  std::string s = progress_state_name(state);
  s += " match=" + std::to_string(match.value());
  s += " next=" + std::to_string(next.value());
  if (is_learner) s += " learner";
  if (state == ProgressState::kProbe && probe_sent) s += " probe_sent";
  if (state == ProgressState::kSnapshot) {
    s += " pending_snapshot=" + std::to_string(pending_snapshot.value());
  }
  if (!recent_active) s += " inactive";
  if (inflights.count() > 0) {
    s += " inflight=" + std::to_string(inflights.count());
    if (inflights.full()) s += "[full]";
  }
  return s;
}

}  // namespace meridian::raft
