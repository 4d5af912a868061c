// WatchHub: construction, the stream API, requests and live events. The synced
// and unsynced sets are in watch_sync.cc, the catch-up and delivery threads in
// watch_catchup.cc, responses in watch_response.cc.
#include "kv/watch_hub.h"

#include <algorithm>

#include "observe/log.h"

namespace meridian::kv {

namespace {

// etcd's reasons for refusing a create request (mvcc/watcher.go).
constexpr const char* kEmptyRangeReason = "mvcc: watcher range is empty";
constexpr const char* kDuplicateIdReason = "mvcc: duplicate watch ID provided on the WatchStream";
// etcd's clientv3.InvalidWatchID: the id of failed creates and stream-wide progress.
constexpr int64_t kInvalidWatchId = -1;

}  // namespace

// --- WatchStream: each method takes the hub's lock and forwards ---

void WatchStream::create(const etcdserverpb::WatchCreateRequest& req) {
  std::lock_guard lock(hub_->mu_);
  hub_->create_locked(*this, req);
}

void WatchStream::cancel(int64_t watch_id) {
  std::lock_guard lock(hub_->mu_);
  hub_->cancel_locked(*this, watch_id);
}

void WatchStream::request_progress() {
  std::lock_guard lock(hub_->mu_);
  if (closed_) return;
  if (unsynced_.empty()) {
    QueueItem item;
    item.kind = QueueItem::Kind::kProgress;
    item.watch_id = kInvalidWatchId;
    item.revision = hub_->notified_rev_;
    hub_->push_locked(*this, std::move(item));
  } else {
    progress_deferred_ = true;  // answered when the last one catches up
  }
}

size_t WatchStream::control_backlog() const {
  std::lock_guard lock(hub_->mu_);
  return control_items_;
}

void WatchStream::close() {
  std::unique_lock lock(hub_->mu_);
  hub_->close_locked(*this);
  hub_->kicked_cv_.wait(lock, [&] { return hub_->kicking_ != this; });
}

// --- WatchHub ---

WatchHub::WatchHub(const MvccStore& store, WatchHubOptions options)
    : store_(store), options_(options) {
  MERIDIAN_ASSERT(options_.stream_queue_bytes > 0, "stream_queue_bytes must be positive");
  MERIDIAN_ASSERT(options_.history_batch_events > 0, "history_batch_events must be positive");
  // Writes applied between this read and set_listener() are caught by on_events'
  // gap check: the watchers then read them from history.
  notified_rev_ = store_.revision();
  compact_rev_ = store_.compact_revision();
  next_tick_ = std::chrono::steady_clock::now() + options_.progress_interval;
  delivery_thread_ = std::thread([this] { delivery_loop(); });
  catch_up_thread_ = std::thread([this] { catch_up_loop(); });
}

WatchHub::~WatchHub() {
  stop();
  std::lock_guard lock(mu_);
  MERIDIAN_ASSERT(streams_.empty(), streams_.size(), " watch streams still open");
}

void WatchHub::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  catch_up_cv_.notify_all();
  delivery_cv_.notify_all();
  if (delivery_thread_.joinable()) delivery_thread_.join();
  if (catch_up_thread_.joinable()) catch_up_thread_.join();
}

std::shared_ptr<WatchStream> WatchHub::open_stream(WatchSink* sink) {
  std::shared_ptr<WatchStream> s(new WatchStream(this, sink));
  std::lock_guard lock(mu_);
  if (stopping_)
    s->closed_ = true;  // a closed stream: every call is a no-op
  else
    streams_.insert(s.get());
  return s;
}

WatchHubStats WatchHub::stats() const {
  std::lock_guard lock(mu_);
  WatchHubStats st;
  st.streams = streams_.size();
  st.watchers = watcher_count_;
  st.unsynced_watchers = unsynced_count_;
  for (const WatchStream* s : streams_) st.queued_bytes += s->queued_bytes_;
  st.events_delivered = events_delivered_;
  st.fell_behind = fell_behind_;
  st.history_reads = history_reads_;
  st.recent_catch_ups = recent_catch_ups_;
  st.joined_items = joined_items_;
  st.notified_revision = notified_rev_;
  return st;
}

void WatchHub::create_locked(WatchStream& s, const etcdserverpb::WatchCreateRequest& req) {
  if (s.closed_) return;
  QueueItem reply;
  reply.revision = notified_rev_;
  // etcd's forms: an empty key means "\0" (the smallest key); range_end "\0"
  // means every key >= key; an empty range_end just the key.
  std::string key = req.key().empty() ? std::string(1, '\0') : req.key();
  const std::string& end = req.range_end();
  const bool from_key = end.size() == 1 && end[0] == '\0';
  int64_t id = req.watch_id();
  const char* failure = nullptr;
  if (!end.empty() && !from_key && key >= end) {
    failure = kEmptyRangeReason;
  } else if (id == 0) {  // etcd's AutoWatchID: the stream picks the next free id
    while (s.watchers_.contains(s.next_auto_id_)) ++s.next_auto_id_;
    id = s.next_auto_id_++;
  } else if (s.watchers_.contains(id)) {
    failure = kDuplicateIdReason;
  }
  if (failure != nullptr) {
    reply.kind = QueueItem::Kind::kCreateFailed;
    reply.watch_id = kInvalidWatchId;
    reply.reason = failure;
    push_locked(s, std::move(reply));
    return;
  }

  auto owned = std::make_unique<Watcher>();
  Watcher* w = owned.get();
  w->key = std::move(key);
  w->range_end = end;
  w->id = id;
  w->stream = &s;
  for (int f : req.filters()) {
    if (f == etcdserverpb::WatchCreateRequest::NOPUT) w->no_put = true;
    if (f == etcdserverpb::WatchCreateRequest::NODELETE) w->no_delete = true;
  }
  w->prev_kv = req.prev_kv();
  w->progress_notify = req.progress_notify();
  w->fragment = req.fragment();
  // Revision 0 (or a nonsensical negative one) means "from now on".
  w->next_rev = req.start_revision() > 0 ? req.start_revision() : notified_rev_ + 1;
  s.watchers_.emplace(id, std::move(owned));
  ++watcher_count_;
  if (w->progress_notify) ++s.progress_watchers_;

  // "created" goes first: the watcher's events can only queue after it.
  reply.kind = QueueItem::Kind::kCreated;
  reply.watch_id = id;
  push_locked(s, std::move(reply));
  if (w->next_rev > notified_rev_) {
    add_synced_locked(w);
  } else {
    add_unsynced_locked(w);  // starts in the past: history first
  }
}

void WatchHub::cancel_locked(WatchStream& s, int64_t watch_id) {
  if (s.closed_) return;
  auto it = s.watchers_.find(watch_id);
  if (it == s.watchers_.end()) return;
  erase_watcher_locked(it->second.get());
  QueueItem reply;
  reply.kind = QueueItem::Kind::kCanceled;
  reply.watch_id = watch_id;
  reply.revision = notified_rev_;
  push_locked(s, std::move(reply));
}

void WatchHub::close_locked(WatchStream& s) {
  if (s.closed_) return;
  while (!s.watchers_.empty()) erase_watcher_locked(s.watchers_.begin()->second.get());
  s.closed_ = true;
  s.popped_ += s.queue_.size();
  s.queue_.clear();
  s.queued_bytes_ = 0;
  s.control_items_ = 0;
  auto k = std::find(kicks_.begin(), kicks_.end(), &s);
  if (k != kicks_.end()) kicks_.erase(k);
  s.kick_pending_ = false;
  streams_.erase(&s);
}

void WatchHub::on_events(int64_t revision, std::vector<mvccpb::Event> events) {
  std::lock_guard lock(mu_);
  if (stopping_ || revision <= notified_rev_) return;  // stopped, or seen already
  if (revision != notified_rev_ + 1) {
    // Revisions were applied without reaching us (before the listener was set):
    // the store has them, so every synced watcher reads them from history.
    observe::log_warn("watch hub: revisions {}..{} not notified; watchers resync",
                      notified_rev_ + 1, revision - 1);
    unsync_all_synced_locked();
  }
  matches_.clear();
  for (uint32_t i = 0; i < events.size(); ++i) {
    const std::string& key = events[i].kv().key();
    if (!by_key_.empty()) {
      auto it = by_key_.find(key);
      if (it != by_key_.end()) {
        for (Watcher* w : it->second) matches_.emplace_back(w, i);
      }
    }
    ranges_.stab(key, [&](Watcher* w) { matches_.emplace_back(w, i); });
  }
  const bool keep_recent = unsynced_count_ > 0 || !matches_.empty();
  std::shared_ptr<const EventBatch> batch;
  if (keep_recent) batch = std::make_shared<const EventBatch>(std::move(events));
  if (matches_.size() > 1) {
    // Group each watcher's events together, keeping their order within the revision.
    std::stable_sort(matches_.begin(), matches_.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
  }
  picks_.clear();
  for (size_t i = 0; i < matches_.size(); ++i) {
    picks_.push_back(matches_[i].second);
    if (i + 1 < matches_.size() && matches_[i + 1].first == matches_[i].first) continue;
    deliver_live_locked(matches_[i].first, batch, picks_.data(), picks_.size(), revision);
    picks_.clear();
  }
  notified_rev_ = revision;
  remember_recent_locked(revision, std::move(batch));
}

void WatchHub::deliver_live_locked(Watcher* w, const std::shared_ptr<const EventBatch>& batch,
                                   const uint32_t* picks, size_t n, int64_t revision) {
  if (w->next_rev > revision) return;  // created with a future start revision
  QueueItem item;
  if (!make_event_item_locked(w, batch, picks, n, &item)) return;  // all filtered out
  item.revision = revision;
  WatchStream& s = *w->stream;
  if (s.queued_bytes_ + item.bytes > options_.stream_queue_bytes) {
    // The client is not keeping up: stop queueing for this watcher; it reads
    // this revision and what follows from history once the queue drains.
    ++fell_behind_;
    remove_synced_locked(w);
    w->next_rev = revision;
    add_unsynced_locked(w);
    return;
  }
  push_events_locked(w, std::move(item));
}

bool WatchHub::make_event_item_locked(Watcher* w, const std::shared_ptr<const EventBatch>& batch,
                                      const uint32_t* picks, size_t n, QueueItem* item) {
  const auto& sizes = w->prev_kv ? batch->bytes_with_prev : batch->bytes_without_prev;
  uint64_t bytes = sizeof(QueueItem);
  size_t passing = 0;
  for (size_t k = 0; k < n; ++k) {
    if (w->passes_filters(batch->events[picks[k]])) {
      ++passing;
      bytes += sizes[picks[k]];
    }
  }
  if (passing == 0) return false;
  item->kind = QueueItem::Kind::kEvents;
  item->watch_id = w->id;
  item->prev_kv = w->prev_kv;
  item->fragment = w->fragment;
  item->batch = batch;
  item->bytes = bytes;
  item->event_count = passing;
  if (passing != batch->events.size()) {  // an empty list means all of them
    item->picks.reserve(passing);
    for (size_t k = 0; k < n; ++k) {
      if (w->passes_filters(batch->events[picks[k]])) item->picks.push_back(picks[k]);
    }
  }
  w->sent_since_tick = true;
  events_delivered_ += passing;
  return true;
}

void WatchHub::on_compacted(int64_t revision) {
  std::lock_guard lock(mu_);
  compact_rev_ = std::max(compact_rev_, revision);
  // Synced watchers are past it (compaction is at or below the current
  // revision); unsynced ones find out at their next catch-up step.
}

void WatchHub::on_reset(int64_t revision) {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    unsync_all_synced_locked();
    notified_rev_ = revision;
    compact_rev_ = store_.compact_revision();
    ++epoch_;  // a history read in flight may have seen the old state
    recent_.clear();
    recent_bytes_ = 0;
  }
  catch_up_cv_.notify_one();
}

}  // namespace meridian::kv
