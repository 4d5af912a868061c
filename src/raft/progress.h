// Progress: the leader's view of how far one follower's log matches its own, and
// the flow control of kAppend messages to it (Raft thesis §10.2.1: probe one
// message at a time until the match point is found, then pipeline up to a bounded
// window; fall back to a snapshot when the entries it needs are compacted).
// Inflights: that bounded window, a ring of the kAppend messages sent but not yet
// acknowledged.
//
// Owned by the ProgressTracker of the leader; used only on the replica's thread.
//
// Invariants: match < next (the leader never sends an entry the follower is known to
// have). Inflights holds at most messages_max messages, with strictly increasing last
// indices; it is empty outside the replicate state. pending_snapshot is non-zero only
// in the snapshot state.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "raft/types.h"

namespace meridian::raft {

class Inflights {
 public:
  // messages_max > 0; bytes_max == 0 means no byte limit.
  Inflights(uint32_t messages_max, uint64_t bytes_max);

  // Records a sent kAppend whose last entry is `last_index` and whose entries total
  // `bytes`. Must not be full(), and last_index must exceed every recorded one.
  void add(Index last_index, uint64_t bytes);
  // Frees every message whose last index is <= i (the follower acknowledged through i).
  void free_le(Index i);
  // Frees the oldest message, if any. A leader may call this on a heartbeat response
  // when the window is full, so that a lost acknowledgement cannot stall it forever.
  void free_first();
  void reset();

  // Whether no further message may be sent: the window is full by count, or by bytes
  // (the message that crossed bytes_max is allowed; the next one is not).
  bool full() const;
  uint32_t count() const { return count_; }
  uint64_t bytes() const { return bytes_; }
  uint32_t messages_max() const { return messages_max_; }
  uint64_t bytes_max() const { return bytes_max_; }

 private:
  struct Flight {
    Index last_index;
    uint64_t bytes = 0;
  };

  void grow();

  uint32_t messages_max_;
  uint64_t bytes_max_;
  // Grows on demand up to messages_max_: most followers keep few messages in flight,
  // and a learner or a lagging follower should not cost the full window up front.
  std::vector<Flight> ring_;
  uint32_t start_ = 0;  // position of the oldest message in ring_
  uint32_t count_ = 0;
  uint64_t bytes_ = 0;
};

enum class ProgressState : uint8_t {
  // The leader does not know where the follower's log matches: it sends one kAppend
  // and waits for the answer (or a heartbeat response) before sending another.
  kProbe,
  // The follower's match point is known: kAppend messages are pipelined, bounded by
  // the inflights window.
  kReplicate,
  // The follower needs entries the leader has compacted: a snapshot is on its way and
  // nothing else is sent until it is reported done or failed.
  kSnapshot,
};

const char* progress_state_name(ProgressState s);

struct Progress {
  // A follower in the probe state, with nothing known to match (match = 0).
  Progress(Index next, uint32_t inflight_messages_max, uint64_t inflight_bytes_max);

  Index match;  // highest index known to be in the follower's log
  Index next;   // index of the next entry to send
  ProgressState state = ProgressState::kProbe;
  Index pending_snapshot;  // index of the snapshot being sent (kSnapshot only)
  // Heard from since the last check-quorum round (reset by the leader every election
  // timeout; Raft thesis §6.2).
  bool recent_active = false;
  // kProbe only: a kAppend is outstanding; pause until a response or heartbeat response.
  bool probe_sent = false;
  bool is_learner = false;
  Inflights inflights;

  // From replicate: next = match + 1. From snapshot: next = max(match + 1,
  // pending_snapshot + 1), since a follower that reports the snapshot applied holds
  // everything it covers. Clears the window and probe_sent.
  void become_probe();
  // next = match + 1; pipelining starts from the known match point.
  void become_replicate();
  void become_snapshot(Index snapshot_index);

  // A successful kAppendResponse acknowledged the log through n. Returns whether match
  // advanced (then probe_sent is cleared); next = max(next, n + 1) in all cases. The
  // acknowledged messages are freed from the window too (idempotent, so a caller that
  // also calls inflights.free_le(n) is fine).
  bool maybe_update(Index n);

  // Called after sending a kAppend with `entry_count` entries ending at `last`
  // (`bytes` in total). Replicate: entries must start at next; next = last + 1 and the
  // message enters the window (an empty kAppend, e.g. carrying only the commit index,
  // does not). Probe: probe_sent = true, with or without entries. Snapshot: a bug, as
  // the leader must not send kAppend while paused.
  void sent_entries(Index last, uint64_t bytes, size_t entry_count);

  // The follower rejected the kAppend whose previous index was `rejected`; the leader
  // has computed `match_hint` (an index at which the logs may match) by fast
  // backtracking. Returns false for a stale rejection, which changes nothing.
  // Replicate: stale if rejected <= match; else next = match + 1 (the caller then
  // moves to probe). Probe: stale unless rejected == next - 1; else next =
  // max(min(rejected, match_hint + 1), match + 1) and probe_sent is cleared.
  // Snapshot: always stale (no kAppend is sent in that state; the snapshot decides).
  bool maybe_decrease_to(Index rejected, Index match_hint);

  // Whether the leader must not send kAppend now.
  bool is_paused() const;

  // e.g. "replicate match=5 next=9 inflight=3" or "probe match=0 next=4 probe_sent learner"
  std::string to_string() const;

 private:
  void reset_state(ProgressState s);
};

}  // namespace meridian::raft
