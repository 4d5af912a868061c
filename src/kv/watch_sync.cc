// WatchHub: the synced index, the catch-up lists, stream queues and progress.
// Every function here runs under the hub's mutex.
#include <algorithm>

#include "kv/watch_hub.h"

namespace meridian::kv {

namespace {

constexpr int64_t kInvalidWatchId = -1;  // etcd's clientv3.InvalidWatchID

}  // namespace

void WatchHub::add_synced_locked(Watcher* w) {
  w->state = Watcher::State::kSynced;
  if (w->single_key()) {
    auto& list = by_key_[w->key];
    w->slot = static_cast<uint32_t>(list.size());
    list.push_back(w);
  } else {
    ranges_.insert(w, w->key, w->range_end, w->unbounded());
  }
}

void WatchHub::remove_synced_locked(Watcher* w) {
  MERIDIAN_ASSERT(w->state == Watcher::State::kSynced, "watch ", w->id, " is not synced");
  if (!w->single_key()) {
    const bool found = ranges_.erase(w, w->key);
    MERIDIAN_ASSERT(found, "synced range watch ", w->id, " missing from the index");
    return;
  }
  auto it = by_key_.find(w->key);
  MERIDIAN_ASSERT(it != by_key_.end(), "synced watch ", w->id, " missing from the key index");
  auto& list = it->second;
  MERIDIAN_ASSERT(w->slot < list.size() && list[w->slot] == w, "key index slot out of date");
  list[w->slot] = list.back();
  list[w->slot]->slot = w->slot;
  list.pop_back();
  if (list.empty()) by_key_.erase(it);
}

void WatchHub::add_unsynced_locked(Watcher* w) {
  WatchStream& s = *w->stream;
  w->state = Watcher::State::kUnsynced;
  w->slot = static_cast<uint32_t>(s.unsynced_.size());
  s.unsynced_.push_back(w);
  ++unsynced_count_;
  if (!s.lagging_) {
    s.lagging_ = true;
    lagging_.push_back(&s);
  }
  catch_up_cv_.notify_one();
}

void WatchHub::remove_unsynced_locked(Watcher* w) {
  MERIDIAN_ASSERT(w->state == Watcher::State::kUnsynced, "watch ", w->id, " is not unsynced");
  WatchStream& s = *w->stream;
  auto& list = s.unsynced_;
  MERIDIAN_ASSERT(w->slot < list.size() && list[w->slot] == w, "catch-up slot out of date");
  list[w->slot] = list.back();
  list[w->slot]->slot = w->slot;
  list.pop_back();
  --unsynced_count_;
  if (list.empty()) {
    s.lagging_ = false;
    lagging_.erase(std::find(lagging_.begin(), lagging_.end(), &s));
    maybe_finish_deferred_progress_locked(s);
  }
}

void WatchHub::remove_watcher_locked(Watcher* w) {
  if (w->state == Watcher::State::kSynced) {
    remove_synced_locked(w);
  } else {
    remove_unsynced_locked(w);
  }
}

void WatchHub::erase_watcher_locked(Watcher* w) {
  WatchStream& s = *w->stream;
  remove_watcher_locked(w);
  if (w->progress_notify) --s.progress_watchers_;
  --watcher_count_;
  auto it = s.watchers_.find(w->id);
  MERIDIAN_ASSERT(it != s.watchers_.end() && it->second.get() == w, "watch ", w->id, " unknown");
  if (w->busy) {
    // The catch-up thread is reading its history without the lock: it frees it.
    w->dead = true;
    it->second.release();  // NOLINT(bugprone-unused-return-value): owned by catch-up now
  }
  s.watchers_.erase(it);
}

void WatchHub::unsync_all_synced_locked() {
  for (WatchStream* s : streams_) {
    for (auto& [id, w] : s->watchers_) {
      if (w->state != Watcher::State::kSynced) continue;
      remove_synced_locked(w.get());
      w->next_rev = std::max(w->next_rev, notified_rev_ + 1);
      add_unsynced_locked(w.get());
    }
  }
}

void WatchHub::push_locked(WatchStream& s, QueueItem item) {
  if (s.closed_) return;
  const bool control = item.kind != QueueItem::Kind::kEvents;
  if (control) {
    ++s.control_items_;
  } else {
    s.queued_bytes_ += item.bytes;
  }
  const bool was_empty = s.queue_.empty();
  s.queue_.push_back(std::move(item));
  if (control) s.join_floor_ = s.popped_ + s.queue_.size();
  if (was_empty && !s.kick_pending_) {
    s.kick_pending_ = true;
    kicks_.push_back(&s);
    delivery_cv_.notify_one();
  }
}

void WatchHub::push_events_locked(Watcher* w, QueueItem item) {
  WatchStream& s = *w->stream;
  if (s.closed_) return;
  // A client that keeps up pops each item before the next revision comes; one
  // that is behind gets its waiting revisions in one response, which costs it
  // and us one message instead of many (etcd, too, batches a lagging watcher).
  const uint64_t first_open = std::max(s.popped_, s.join_floor_);
  if (w->queued_at > first_open) {  // its last item is still queued, after any control item
    QueueItem& waiting = s.queue_[w->queued_at - 1 - s.popped_];
    MERIDIAN_ASSERT(waiting.kind == QueueItem::Kind::kEvents && waiting.watch_id == w->id, "watch ",
                    w->id, ": its queued item is not its events");
    if (waiting.bytes + item.bytes <= options_.response_merge_bytes) {
      s.queued_bytes_ += item.bytes;
      waiting.bytes += item.bytes;
      waiting.event_count += item.event_count;
      waiting.revision = std::max(waiting.revision, item.revision);
      waiting.joined.push_back(std::move(item));
      ++joined_items_;
      return;
    }
  }
  w->queued_at = s.popped_ + s.queue_.size() + 1;
  push_locked(s, std::move(item));
}

void WatchHub::maybe_finish_deferred_progress_locked(WatchStream& s) {
  if (!s.progress_deferred_ || !s.unsynced_.empty()) return;
  s.progress_deferred_ = false;
  QueueItem item;
  item.kind = QueueItem::Kind::kProgress;
  item.watch_id = kInvalidWatchId;
  item.revision = notified_rev_;
  push_locked(s, std::move(item));
}

void WatchHub::progress_tick_locked() {
  // etcd: each interval, a watcher that asked for progress notifications and got
  // no events since the last tick gets an empty response with its id, if synced.
  for (WatchStream* s : streams_) {
    if (s->progress_watchers_ == 0) continue;
    for (auto& [id, w] : s->watchers_) {
      if (!w->progress_notify) continue;
      if (w->state == Watcher::State::kSynced && !w->sent_since_tick) {
        QueueItem item;
        item.kind = QueueItem::Kind::kProgress;
        item.watch_id = id;
        item.revision = notified_rev_;
        push_locked(*s, std::move(item));
      }
      w->sent_since_tick = false;
    }
  }
}

void WatchHub::remember_recent_locked(int64_t revision, std::shared_ptr<const EventBatch> batch) {
  if (unsynced_count_ == 0 || batch == nullptr) {
    // Nobody is catching up: keep nothing. A watcher that falls behind later
    // starts at a revision after this one.
    recent_.clear();
    recent_bytes_ = 0;
    return;
  }
  if (!recent_.empty() && recent_.back().first != revision - 1) {
    recent_.clear();
    recent_bytes_ = 0;
  }
  recent_bytes_ += batch->total_bytes;
  recent_.emplace_back(revision, std::move(batch));
  while (recent_.size() > 1 && (recent_.size() > options_.recent_revisions_max ||
                                recent_bytes_ > options_.recent_bytes_max)) {
    recent_bytes_ -= recent_.front().second->total_bytes;
    recent_.pop_front();
  }
}

}  // namespace meridian::kv
