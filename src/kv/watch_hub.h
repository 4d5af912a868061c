// WatchHub: fans the store's events out to etcd watchers (etcd's
// mvcc/watchable_store, in our own shape).
//
// Every client stream (api::WatchService's reactor) opens a WatchStream here and
// creates watchers on it. A watcher is either
//   - synced: indexed by key (single-key watches, a hash map) or by range (range,
//     prefix and from-key watches, a KeyRangeIndex); on_events, on the store's
//     apply thread, finds the watchers of each event through those indexes (never
//     by looking at every watcher) and appends a small item referring to the
//     shared events to the stream's queue; or
//   - unsynced: it starts in the past, or its stream's queue was full (bounded by
//     stream_queue_bytes, so a slow client never makes on_events wait or grow
//     memory), or the store was reset. The hub's catch-up thread reads its
//     history from the store (without the lock, up to the revision notified
//     when the read began), queues it as room frees up, and moves it back to
//     the synced index once it has delivered every revision the hub has been
//     notified of. The last stretch comes from a window of the latest
//     revisions' events that the hub keeps while anyone is unsynced, under the
//     lock: so a watcher rejoins even while writes keep coming, and the apply
//     thread never waits for a history read.
// Under the hub's mutex, a synced watcher has been given every revision up to the
// notified revision, and an unsynced one exactly those below its next_rev; moving
// between the two happens under the mutex at that boundary, so no event is lost
// or delivered twice. A stream's queue is FIFO, so a watcher's responses stay in
// revision order, after its "created" and before its "canceled".
//
// The consumer (the stream's writer) pops whole responses; the hub's delivery
// thread calls the stream's WatchSink::on_ready when its queue goes from empty
// to non-empty, so that the apply thread never builds or writes a response.
//
// Threads: on_events/on_compacted/on_reset on the apply thread; WatchStream's
// methods from any thread (one consumer at a time per stream); two threads of
// the hub's own (delivery; catch-up and progress ticks). One mutex guards
// everything; it is held for index lookups and queue appends, never for reading
// history or building responses.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "etcd/etcdserver/etcdserverpb/rpc.pb.h"
#include "kv/key_range_index.h"
#include "kv/mvcc_store.h"
#include "kv/watcher.h"

namespace meridian::kv {

struct WatchHubOptions {
  // Events queued for one stream beyond this make its watchers catch up from
  // history instead (a catch-up read may overshoot it by one revision).
  uint64_t stream_queue_bytes = 4ull << 20;
  // Watchers created with progress_notify get an empty response after an
  // interval in which nothing was queued for them (etcd: 10 minutes).
  std::chrono::milliseconds progress_interval{600000};
  // Events read from history per catch-up step (etcd syncs up to 1000 revisions
  // per round); whole revisions are kept together.
  size_t history_batch_events = 1000;
  // Consecutive event items of one watcher are merged into one response up to
  // about this many bytes.
  uint64_t response_merge_bytes = 1ull << 20;
  // Bounds of the recent-events window (see WatchHub::recent_).
  size_t recent_revisions_max = 4096;
  uint64_t recent_bytes_max = 16ull << 20;
};

// The api's side of a stream.
class WatchSink {
 public:
  virtual ~WatchSink() = default;
  // The stream's queue went from empty to non-empty: pop() has a response.
  // Called on the hub's delivery thread with no hub lock held; never after
  // WatchStream::close() returned.
  virtual void on_ready() = 0;
};

class WatchHub;

// One client stream's watchers and queue. Made by WatchHub::open_stream; the
// owner must close() it before dropping it.
class WatchStream {
 public:
  // etcd's WatchCreateRequest: queues a "created" response (or a failed one,
  // with etcd's reason: duplicate watch id, empty range), then the events.
  void create(const etcdserverpb::WatchCreateRequest& req);
  // Queues a "canceled" response if the watch exists (etcd ignores unknown ids).
  void cancel(int64_t watch_id);
  // etcd's progress request: a response with watch_id -1 and the revision up to
  // which everything has been delivered, once every watcher of the stream is
  // synced (deferred until then, as etcd 3.5 does).
  void request_progress();

  // The next response (header.revision set; cluster, member and term left to
  // the caller), and whether its watcher asked for fragmentation. False when the
  // queue is empty or the stream is closed.
  bool pop(etcdserverpb::WatchResponse* out, bool* fragment);
  // The next responses at once (one lock round for all of them): at most
  // `max_count`, and no more once their events reach `max_bytes` or a quarter
  // of the stream's queue bound (what the caller holds is outside the hub's
  // bound; at least one is taken). Each comes with whether its watcher asked
  // for fragmentation; appended to *out. Returns how many were taken.
  struct Popped {
    etcdserverpb::WatchResponse resp;
    bool fragment = false;
  };
  size_t pop_many(size_t max_count, uint64_t max_bytes, std::vector<Popped>* out);
  // Control responses (created, canceled, progress) queued: the reader stops
  // taking requests while too many wait, since they are not bounded by bytes.
  size_t control_backlog() const;

  // Drops every watcher and queued response; waits for a running on_ready of
  // this stream to return. Idempotent. Must not be called from on_ready.
  void close();

 private:
  friend class WatchHub;
  WatchStream(WatchHub* hub, WatchSink* sink) : hub_(hub), sink_(sink) {}

  WatchHub* const hub_;
  WatchSink* const sink_;
  // The rest is guarded by hub_->mu_.
  std::unordered_map<int64_t, std::unique_ptr<Watcher>> watchers_;
  int64_t next_auto_id_ = 0;
  std::deque<QueueItem> queue_;
  uint64_t popped_ = 0;  // items ever taken from the queue's front: queue_[i] is at popped_ + i
  // No event item before this position takes more events: a control item
  // (created, canceled, progress) was queued after it, and a watcher's events
  // never overtake a control response.
  uint64_t join_floor_ = 0;
  uint64_t queued_bytes_ = 0;  // event items only
  size_t control_items_ = 0;
  std::vector<Watcher*> unsynced_;  // catch-up list; Watcher::slot indexes it
  size_t unsynced_cursor_ = 0;      // round robin among them
  size_t progress_watchers_ = 0;
  bool progress_deferred_ = false;
  bool kick_pending_ = false;
  bool lagging_ = false;  // listed in hub_->lagging_
  bool closed_ = false;
};

struct WatchHubStats {
  uint64_t streams = 0;
  uint64_t watchers = 0;
  uint64_t unsynced_watchers = 0;
  uint64_t queued_bytes = 0;
  uint64_t events_delivered = 0;  // events queued to streams, live and from history
  uint64_t fell_behind = 0;       // times a synced watcher found its stream's queue full
  uint64_t history_reads = 0;     // catch-up steps that read the store's history
  uint64_t recent_catch_ups = 0;  // catch-up steps served from the recent window
  uint64_t joined_items = 0;      // event items added to a waiting response of their watcher
  int64_t notified_revision = 0;
};

class WatchHub final : public EventListener {
 public:
  // Starts the hub's threads. The caller installs it with store.set_listener().
  WatchHub(const MvccStore& store, WatchHubOptions options);
  // stop(); every stream must have been closed.
  ~WatchHub() override;
  WatchHub(const WatchHub&) = delete;
  WatchHub& operator=(const WatchHub&) = delete;

  std::shared_ptr<WatchStream> open_stream(WatchSink* sink);

  // EventListener (the apply thread).
  void on_events(int64_t revision, std::vector<mvccpb::Event> events) override;
  void on_compacted(int64_t revision) override;
  void on_reset(int64_t revision) override;

  // Stops the threads; later calls of the listener do nothing. Idempotent.
  void stop();

  WatchHubStats stats() const;

 private:
  friend class WatchStream;

  // watch_hub.cc: requests and live events.
  void create_locked(WatchStream& s, const etcdserverpb::WatchCreateRequest& req);
  void cancel_locked(WatchStream& s, int64_t watch_id);
  void close_locked(WatchStream& s);
  void deliver_live_locked(Watcher* w, const std::shared_ptr<const EventBatch>& batch,
                           const uint32_t* picks, size_t n, int64_t revision);
  // Fills `item` with the events picks[0..n) of `batch` that pass w's filters;
  // false if none does.
  bool make_event_item_locked(Watcher* w, const std::shared_ptr<const EventBatch>& batch,
                              const uint32_t* picks, size_t n, QueueItem* item);
  void remember_recent_locked(int64_t revision, std::shared_ptr<const EventBatch> batch);
  void unsync_all_synced_locked();

  // watch_sync.cc: moving watchers between the synced index and catch-up.
  void add_synced_locked(Watcher* w);
  void remove_synced_locked(Watcher* w);
  void add_unsynced_locked(Watcher* w);
  void remove_unsynced_locked(Watcher* w);
  void remove_watcher_locked(Watcher* w);  // from whichever set it is in
  void erase_watcher_locked(Watcher* w);   // removes and frees (or leaves to catch-up)
  void push_locked(WatchStream& s, QueueItem item);
  // Queues w's event item, or adds it to w's item still waiting in the queue.
  void push_events_locked(Watcher* w, QueueItem item);
  void maybe_finish_deferred_progress_locked(WatchStream& s);
  void progress_tick_locked();

  // watch_catchup.cc: the catch-up thread.
  void catch_up_loop();
  Watcher* pick_unsynced_locked();
  void catch_up_one(std::unique_lock<std::mutex>& lock, Watcher* w);
  bool catch_up_from_recent_locked(Watcher* w);
  void queue_history_locked(Watcher* w, std::vector<mvccpb::Event> events, int64_t next);
  void finish_catch_up_locked(Watcher* w);
  void compacted_locked(Watcher* w);
  // Removes the watcher and queues `last` (its final response) on its stream.
  void end_watcher_locked(Watcher* w, QueueItem last);
  void delivery_loop();

  // watch_response.cc: building a response from queued items (no lock).
  bool pop_locked(WatchStream& s, std::vector<QueueItem>* items);

  const MvccStore& store_;
  const WatchHubOptions options_;

  mutable std::mutex mu_;
  std::condition_variable catch_up_cv_;  // unsynced work or room appeared; stop
  std::condition_variable delivery_cv_;  // a stream to kick; stop
  std::condition_variable kicked_cv_;    // a kick finished (close() waits for it)
  // Guarded by mu_:
  bool stopping_ = false;
  int64_t notified_rev_ = 0;  // the last revision given to on_events (or reset)
  int64_t compact_rev_ = 0;   // history below it is gone
  uint64_t epoch_ = 0;        // bumped by on_reset: in-flight history reads are dropped
  std::unordered_set<WatchStream*> streams_;
  std::unordered_map<std::string, std::vector<Watcher*>> by_key_;  // synced single-key
  KeyRangeIndex<Watcher> ranges_;                                  // synced ranges
  std::vector<WatchStream*> lagging_;                              // streams with unsynced watchers
  size_t lagging_cursor_ = 0;
  std::deque<WatchStream*> kicks_;  // streams whose sink awaits on_ready
  WatchStream* kicking_ = nullptr;  // the one whose on_ready runs now
  // The events of the latest revisions, kept while some watcher is unsynced: a
  // watcher whose next revision is still here catches up from memory under the
  // lock, which is how it rejoins the synced set while writes keep coming.
  // Contiguous, ending at notified_rev_ when not empty.
  std::deque<std::pair<int64_t, std::shared_ptr<const EventBatch>>> recent_;
  uint64_t recent_bytes_ = 0;
  std::vector<std::pair<Watcher*, uint32_t>> matches_;  // on_events scratch
  std::vector<uint32_t> picks_;                         // on_events scratch
  uint64_t watcher_count_ = 0;
  uint64_t unsynced_count_ = 0;
  uint64_t events_delivered_ = 0;
  uint64_t fell_behind_ = 0;
  uint64_t history_reads_ = 0;
  uint64_t recent_catch_ups_ = 0;
  uint64_t joined_items_ = 0;
  std::chrono::steady_clock::time_point next_tick_;

  std::thread delivery_thread_;
  std::thread catch_up_thread_;
};

}  // namespace meridian::kv
