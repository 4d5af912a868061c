// WatchHub's two threads: catch-up (unsynced watchers read their history, then
// rejoin the synced index; progress ticks) and delivery (wakes stream writers).
#include <algorithm>
#include <thread>

#include "base/thread_name.h"
#include "kv/watch_hub.h"
#include "observe/log.h"

namespace meridian::kv {

void WatchHub::catch_up_loop() {
  base::set_thread_name("watch-catchup");
  std::unique_lock lock(mu_);
  while (!stopping_) {
    const auto now = std::chrono::steady_clock::now();
    if (now >= next_tick_) {
      progress_tick_locked();
      next_tick_ = now + options_.progress_interval;
    }
    Watcher* w = pick_unsynced_locked();
    if (w == nullptr) {
      // Woken by a new unsynced watcher, room in a lagging stream, or stop.
      catch_up_cv_.wait_until(lock, next_tick_);
      continue;
    }
    catch_up_one(lock, w);
    // Let the apply thread in between steps: a step served from memory keeps
    // the lock throughout, and many lagging streams make many steps.
    lock.unlock();
    std::this_thread::yield();
    lock.lock();
  }
}

// Round robin over the lagging streams with room (at most half full, so that a
// step can queue a useful amount), then over that stream's unsynced watchers.
Watcher* WatchHub::pick_unsynced_locked() {
  for (size_t n = 0; n < lagging_.size(); ++n) {
    WatchStream* s = lagging_[lagging_cursor_++ % lagging_.size()];
    if (s->queued_bytes_ > options_.stream_queue_bytes / 2) continue;
    MERIDIAN_ASSERT(!s->unsynced_.empty(), "a lagging stream without unsynced watchers");
    return s->unsynced_[s->unsynced_cursor_++ % s->unsynced_.size()];
  }
  return nullptr;
}

void WatchHub::catch_up_one(std::unique_lock<std::mutex>& lock, Watcher* w) {
  if (w->next_rev < compact_rev_) {  // etcd: history it needs is gone
    compacted_locked(w);
    return;
  }
  if (w->next_rev > notified_rev_) {  // nothing to read (a reset, a future start)
    finish_catch_up_locked(w);
    return;
  }
  if (catch_up_from_recent_locked(w)) return;

  // Read its history up to what the hub has been notified of, without the lock:
  // the apply thread keeps running; what it applies meanwhile is in recent_ (or
  // read by the next step).
  const int64_t from = w->next_rev;
  const int64_t to = notified_rev_;
  const uint64_t epoch = epoch_;
  ++history_reads_;
  w->busy = true;  // cancel leaves it to us; key, range_end, prev_kv do not change
  lock.unlock();
  std::vector<mvccpb::Event> events;
  int64_t next = from;
  const Errc err = store_.history(w->key, w->range_end, from, to, w->prev_kv,
                                  options_.history_batch_events, &events, &next);
  lock.lock();
  w->busy = false;
  if (w->dead) {
    delete w;  // NOLINT(cppcoreguidelines-owning-memory): released by erase_watcher_locked
    return;
  }
  if (epoch != epoch_) return;  // the store was reset meanwhile: read again
  if (err == Errc::kCompacted) {
    compact_rev_ = std::max(compact_rev_, store_.compact_revision());
    compacted_locked(w);
    return;
  }
  if (err != Errc::kOk) {
    // Not expected (a corrupt record): end this watch rather than spin on it.
    observe::log_error("watch {}: history read failed: {}", w->id, errc_message(err));
    QueueItem item;
    item.kind = QueueItem::Kind::kCanceled;
    item.reason = errc_message(err);
    end_watcher_locked(w, std::move(item));
    return;
  }
  MERIDIAN_ASSERT(next > from && next <= to + 1, "history returned next ", next, " for [", from,
                  ", ", to, "]");
  queue_history_locked(w, std::move(events), next);
}

// Serves w from the recent window if its next revision is still there: queues
// what it needs, revision by revision, and rejoins the synced set at the end.
bool WatchHub::catch_up_from_recent_locked(Watcher* w) {
  if (recent_.empty() || w->next_rev < recent_.front().first) return false;
  MERIDIAN_ASSERT(recent_.back().first == notified_rev_, "recent window ends at ",
                  recent_.back().first, ", notified ", notified_rev_);
  WatchStream& s = *w->stream;
  ++recent_catch_ups_;
  bool queued = false;
  for (size_t i = static_cast<size_t>(w->next_rev - recent_.front().first); i < recent_.size();
       ++i) {
    const auto& [revision, batch] = recent_[i];
    picks_.clear();
    for (uint32_t e = 0; e < batch->events.size(); ++e) {
      if (w->contains(batch->events[e].kv().key())) picks_.push_back(e);
    }
    QueueItem item;
    if (make_event_item_locked(w, batch, picks_.data(), picks_.size(), &item)) {
      // At least one revision per step, then only while the queue has room.
      if (queued && s.queued_bytes_ + item.bytes > options_.stream_queue_bytes) return true;
      item.revision = revision;
      push_events_locked(w, std::move(item));
      queued = true;
    }
    w->next_rev = revision + 1;
  }
  finish_catch_up_locked(w);
  return true;
}

void WatchHub::queue_history_locked(Watcher* w, std::vector<mvccpb::Event> events, int64_t next) {
  WatchStream& s = *w->stream;
  auto batch = std::make_shared<const EventBatch>(std::move(events));
  const auto& sizes = w->prev_kv ? batch->bytes_with_prev : batch->bytes_without_prev;
  // Keep whole revisions while they fit (the first one always, for progress);
  // the rest is read again at the next step.
  uint64_t bytes = sizeof(QueueItem);
  size_t keep = 0;
  while (keep < batch->events.size()) {
    const int64_t revision = batch->events[keep].kv().mod_revision();
    size_t end = keep;
    uint64_t revision_bytes = 0;
    while (end < batch->events.size() && batch->events[end].kv().mod_revision() == revision) {
      revision_bytes += sizes[end++];
    }
    if (keep > 0 && s.queued_bytes_ + bytes + revision_bytes > options_.stream_queue_bytes) {
      next = revision;
      break;
    }
    bytes += revision_bytes;
    keep = end;
  }
  picks_.resize(keep);
  for (uint32_t i = 0; i < keep; ++i) picks_[i] = i;
  QueueItem item;
  if (make_event_item_locked(w, batch, picks_.data(), keep, &item)) {
    item.revision = next - 1;  // everything below next has been read
    push_events_locked(w, std::move(item));
  }
  w->next_rev = next;
  if (next > notified_rev_) finish_catch_up_locked(w);
}

void WatchHub::finish_catch_up_locked(Watcher* w) {
  MERIDIAN_ASSERT(w->next_rev > notified_rev_, "watch ", w->id, " rejoins at ", w->next_rev,
                  " but revision ", notified_rev_, " was notified");
  remove_unsynced_locked(w);
  add_synced_locked(w);
}

void WatchHub::compacted_locked(Watcher* w) {
  // etcd: a response with compact_revision set, and the watch is gone.
  QueueItem item;
  item.kind = QueueItem::Kind::kCompacted;
  item.compact_revision = compact_rev_;
  end_watcher_locked(w, std::move(item));
}

void WatchHub::end_watcher_locked(Watcher* w, QueueItem last) {
  WatchStream& s = *w->stream;
  last.watch_id = w->id;
  last.revision = notified_rev_;
  erase_watcher_locked(w);
  push_locked(s, std::move(last));
}

void WatchHub::delivery_loop() {
  base::set_thread_name("watch-deliver");
  std::unique_lock lock(mu_);
  while (true) {
    delivery_cv_.wait(lock, [&] { return stopping_ || !kicks_.empty(); });
    if (stopping_) return;
    WatchStream* s = kicks_.front();
    kicks_.pop_front();
    s->kick_pending_ = false;
    kicking_ = s;  // close() waits for this call to return
    lock.unlock();
    s->sink_->on_ready();
    lock.lock();
    kicking_ = nullptr;
    kicked_cv_.notify_all();
  }
}

}  // namespace meridian::kv
