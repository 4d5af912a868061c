// Turning a stream's queued items into etcd WatchResponses: items are taken
// under the hub's lock, the response (copies of keys and values) is built
// without it.
#include <algorithm>
#include <limits>

#include "kv/watch_hub.h"

namespace meridian::kv {

namespace {

// An event inside a WatchResponse costs its fields plus a tag and a length
// prefix; 8 bytes covers both for any realistic size.
constexpr uint32_t kEventOverheadBytes = 8;

void append_event(const mvccpb::Event& src, bool prev_kv, etcdserverpb::WatchResponse* out) {
  mvccpb::Event* ev = out->add_events();
  ev->set_type(src.type());
  *ev->mutable_kv() = src.kv();
  if (prev_kv && src.has_prev_kv()) *ev->mutable_prev_kv() = src.prev_kv();
}

void append_events(const QueueItem& item, etcdserverpb::WatchResponse* out) {
  const auto& events = item.batch->events;
  if (item.picks.empty()) {
    for (const mvccpb::Event& ev : events) append_event(ev, item.prev_kv, out);
  } else {
    for (uint32_t i : item.picks) append_event(events[i], item.prev_kv, out);
  }
  for (const QueueItem& later : item.joined) append_events(later, out);
}

void build_response(const std::vector<QueueItem>& items, etcdserverpb::WatchResponse* out,
                    bool* fragment) {
  const QueueItem& first = items.front();
  out->Clear();
  out->set_watch_id(first.watch_id);
  *fragment = false;
  int64_t revision = 0;
  for (const QueueItem& item : items) revision = std::max(revision, item.revision);
  out->mutable_header()->set_revision(revision);
  switch (first.kind) {
    case QueueItem::Kind::kCreated:
      out->set_created(true);
      return;
    case QueueItem::Kind::kCreateFailed:
      out->set_created(true);
      out->set_canceled(true);
      out->set_cancel_reason(first.reason);
      return;
    case QueueItem::Kind::kCanceled:
      out->set_canceled(true);
      if (first.reason != nullptr) out->set_cancel_reason(first.reason);
      return;
    case QueueItem::Kind::kCompacted:
      out->set_canceled(true);
      out->set_compact_revision(first.compact_revision);
      return;
    case QueueItem::Kind::kProgress:
      return;
    case QueueItem::Kind::kEvents:
      break;
  }
  *fragment = first.fragment;
  size_t count = 0;
  for (const QueueItem& item : items) count += item.event_count;
  out->mutable_events()->Reserve(static_cast<int>(count));
  for (const QueueItem& item : items) append_events(item, out);
}

}  // namespace

EventBatch::EventBatch(std::vector<mvccpb::Event> evs) : events(std::move(evs)) {
  bytes_without_prev.reserve(events.size());
  bytes_with_prev.reserve(events.size());
  for (const mvccpb::Event& ev : events) {
    const auto kv = static_cast<uint32_t>(ev.kv().ByteSizeLong()) + kEventOverheadBytes;
    const auto prev = ev.has_prev_kv()
                          ? static_cast<uint32_t>(ev.prev_kv().ByteSizeLong()) + kEventOverheadBytes
                          : 0;
    bytes_without_prev.push_back(kv);
    bytes_with_prev.push_back(kv + prev);
    total_bytes += kv + prev;
  }
  total_bytes += sizeof(EventBatch);
}

bool WatchStream::pop(etcdserverpb::WatchResponse* out, bool* fragment) {
  std::vector<Popped> one;
  if (pop_many(1, std::numeric_limits<uint64_t>::max(), &one) == 0) return false;
  *out = std::move(one.front().resp);
  *fragment = one.front().fragment;
  return true;
}

size_t WatchStream::pop_many(size_t max_count, uint64_t max_bytes, std::vector<Popped>* out) {
  // Items of each response, taken under one lock round; the responses (copies
  // of keys and values) are built after it.
  std::vector<std::vector<QueueItem>> groups;
  {
    std::lock_guard lock(hub_->mu_);
    max_bytes = std::min(max_bytes, hub_->options_.stream_queue_bytes / 4);
    uint64_t bytes = 0;
    while (groups.size() < max_count && (groups.empty() || bytes < max_bytes)) {
      std::vector<QueueItem> items;
      if (!hub_->pop_locked(*this, &items)) break;
      for (const QueueItem& item : items) bytes += item.bytes;
      groups.push_back(std::move(items));
    }
  }
  for (const auto& items : groups) {
    Popped& p = out->emplace_back();
    build_response(items, &p.resp, &p.fragment);
  }
  return groups.size();
}

// Takes the front item; event items of the same watcher right behind it join it
// (one response with several revisions, as etcd's catch-up sends) up to
// response_merge_bytes.
bool WatchHub::pop_locked(WatchStream& s, std::vector<QueueItem>* items) {
  if (s.closed_ || s.queue_.empty()) return false;
  const bool events = s.queue_.front().kind == QueueItem::Kind::kEvents;
  const int64_t watch_id = s.queue_.front().watch_id;
  uint64_t bytes = 0;
  do {
    QueueItem& front = s.queue_.front();
    if (events) {
      bytes += front.bytes;
      s.queued_bytes_ -= front.bytes;
    } else {
      --s.control_items_;
    }
    items->push_back(std::move(front));
    s.queue_.pop_front();
    ++s.popped_;
  } while (events && !s.queue_.empty() && s.queue_.front().kind == QueueItem::Kind::kEvents &&
           s.queue_.front().watch_id == watch_id && bytes < options_.response_merge_bytes);
  if (s.lagging_ && s.queued_bytes_ <= options_.stream_queue_bytes / 2) {
    catch_up_cv_.notify_one();  // room for a catch-up step
  }
  return true;
}

}  // namespace meridian::kv
