// The watch hub's private records: one Watcher per watch, the shared batches of
// events it delivers, and the items queued on a stream. Only watch_hub*.cc use
// them; everything here is guarded by the hub's mutex.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "etcd/mvcc/mvccpb/kv.pb.h"

namespace meridian::kv {

class WatchStream;

// Events shared by every watcher they match: one revision's events from the
// apply thread, or a stretch of history read for one watcher. Immutable once
// built, so the stream threads read it without the hub's lock.
struct EventBatch {
  explicit EventBatch(std::vector<mvccpb::Event> evs);
  std::vector<mvccpb::Event> events;
  // Encoded size of each event without and with its prev_kv: what a stream's
  // queue is charged for it.
  std::vector<uint32_t> bytes_without_prev, bytes_with_prev;
  uint64_t total_bytes = 0;  // with prev_kv, plus this object: for the recent window
};

struct Watcher {
  enum class State : uint8_t {
    kSynced,    // in the hub's key or range index: gets events as they are applied
    kUnsynced,  // in its stream's catch-up list: reads them from history
  };

  // The watched keys, in etcd's forms: range_end empty = just `key`; "\0" = every
  // key >= `key`; otherwise [key, range_end).
  std::string key;
  std::string range_end;
  int64_t id = 0;
  // The first revision not yet delivered. While synced, every revision up to the
  // hub's notified revision has been delivered too, so the effective next
  // revision is max(next_rev, notified + 1).
  int64_t next_rev = 0;
  WatchStream* stream = nullptr;
  // 1 + the stream position (WatchStream::popped_ counts from the start) of its
  // last queued event item, 0 if none: its next events join that item while it
  // waits, so a watcher that is behind gets several revisions per response.
  uint64_t queued_at = 0;
  // Position in the hub's per-key list (synced single-key watchers) or in the
  // stream's catch-up list (unsynced): O(1) removal.
  uint32_t slot = 0;
  State state = State::kSynced;
  bool prev_kv = false;
  bool no_put = false;
  bool no_delete = false;
  bool progress_notify = false;
  bool fragment = false;
  bool busy = false;             // the catch-up thread is reading its history without the lock
  bool dead = false;             // canceled while busy: the catch-up thread frees it
  bool sent_since_tick = false;  // events queued since the last progress tick

  bool single_key() const { return range_end.empty(); }
  bool unbounded() const { return range_end.size() == 1 && range_end[0] == '\0'; }
  bool contains(std::string_view k) const {
    if (single_key()) return k == key;
    if (k < std::string_view(key)) return false;
    return unbounded() || k < std::string_view(range_end);
  }
  bool passes_filters(const mvccpb::Event& ev) const {
    if (no_put && ev.type() == mvccpb::Event::PUT) return false;
    if (no_delete && ev.type() == mvccpb::Event::DELETE) return false;
    return true;
  }
};

// One entry of a stream's queue: a response to build when the stream writes.
struct QueueItem {
  enum class Kind : uint8_t {
    kEvents,        // some events of `batch` for watcher `watch_id`
    kCreated,       // a watch was created
    kCreateFailed,  // created and canceled at once, with `reason`
    kCanceled,      // canceled by the client
    kCompacted,     // its next revision was compacted: canceled
    kProgress,      // no events: everything up to `revision` was delivered
  };
  Kind kind = Kind::kEvents;
  bool prev_kv = false;
  bool fragment = false;
  int64_t watch_id = 0;
  int64_t revision = 0;  // the response header's revision
  int64_t compact_revision = 0;
  const char* reason = nullptr;  // kCreateFailed: a static message
  std::shared_ptr<const EventBatch> batch;
  std::vector<uint32_t> picks;  // indices into batch->events; empty: all of them
  uint32_t event_count = 0;     // with those of `joined`
  uint64_t bytes = 0;           // what the queue is charged, with `joined`
  // Later event items of the same watcher that joined this one while it waited
  // in the queue (their revisions follow this item's); sent in the same response.
  std::vector<QueueItem> joined;
};

}  // namespace meridian::kv
