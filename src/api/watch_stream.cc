#include "api/watch_stream.h"

#include <utility>

#include "api/response_header.h"

namespace meridian::api {

namespace {

// Control responses (created, canceled, progress) are not bounded by the hub's
// byte limit; a client that sends requests without reading responses is made
// to wait by not reading its next request while this many are queued.
constexpr size_t kControlBacklogMax = 1024;

// Responses taken from the hub in one lock round, and the event bytes that end
// a round early (what a stalled client holds back outside the hub's bound stays
// small).
constexpr size_t kPopCountMax = 64;
constexpr uint64_t kPopBytesMax = 256 << 10;

// Bytes an event adds to a response: its own size, the field tag and the
// length prefix (at most 5 bytes for any size a response can have).
size_t event_wire_bytes(const mvccpb::Event& ev) { return ev.ByteSizeLong() + 6; }

}  // namespace

std::vector<etcdserverpb::WatchResponse> split_fragments(etcdserverpb::WatchResponse resp,
                                                         size_t limit_bytes) {
  std::vector<etcdserverpb::WatchResponse> out;
  if (resp.events_size() < 2 || resp.ByteSizeLong() < limit_bytes) {
    out.push_back(std::move(resp));
    return out;
  }
  etcdserverpb::WatchResponse base = resp;
  base.clear_events();
  base.set_fragment(true);
  const size_t base_bytes = base.ByteSizeLong();
  auto* events = resp.mutable_events();
  int i = 0;
  while (i < events->size()) {
    etcdserverpb::WatchResponse& cur = out.emplace_back(base);
    size_t bytes = base_bytes;
    // As etcd: add events until the response reaches the limit, keeping at
    // least one; the event that crossed it starts the next fragment.
    while (i < events->size()) {
      const size_t ev_bytes = event_wire_bytes(events->Get(i));
      if (cur.events_size() > 0 && bytes + ev_bytes >= limit_bytes) break;
      bytes += ev_bytes;
      cur.add_events()->Swap(events->Mutable(i));
      ++i;
    }
  }
  out.back().set_fragment(false);
  return out;
}

WatchStreamReactor::WatchStreamReactor(rpc::ServerStream* call, kv::WatchHub* hub,
                                       const EtcdBackend& backend, size_t fragment_limit_bytes,
                                       DoneFn on_done)
    : call_(call),
      backend_(backend),
      fragment_limit_bytes_(fragment_limit_bytes),
      on_done_(std::move(on_done)),
      stream_(hub->open_stream(this)) {
  call_->start_read();
}

void WatchStreamReactor::shutdown(const rpc::Status& status) {
  finish(status, /*cancel_write=*/false);
}

void WatchStreamReactor::cut_off() {
  bool cancel = false;
  {
    std::lock_guard lock(mu_);
    cancel = finishing_ && write_in_flight_ && !finish_called_;
  }
  if (cancel) call_->cancel();
}

void WatchStreamReactor::on_read(std::string_view message) {
  etcdserverpb::WatchRequest req;
  if (!req.ParseFromArray(message.data(), static_cast<int>(message.size()))) {
    finish(rpc::Status{rpc::StatusCode::kInternal, "grpc: error unmarshalling request"});
    return;
  }
  bool read_more = false;
  {
    std::lock_guard lock(mu_);
    if (finishing_) return;
    handle_locked(req);
    read_paused_ = stream_->control_backlog() >= kControlBacklogMax;
    read_more = !read_paused_;
  }
  if (read_more) call_->start_read();
  try_write();
}

void WatchStreamReactor::handle_locked(const etcdserverpb::WatchRequest& req) {
  switch (req.request_union_case()) {
    case etcdserverpb::WatchRequest::kCreateRequest:
      stream_->create(req.create_request());
      break;
    case etcdserverpb::WatchRequest::kCancelRequest:
      stream_->cancel(req.cancel_request().watch_id());
      break;
    case etcdserverpb::WatchRequest::kProgressRequest:
      stream_->request_progress();
      break;
    case etcdserverpb::WatchRequest::REQUEST_UNION_NOT_SET:
      break;  // etcd ignores what it does not know rather than end the stream
  }
}

void WatchStreamReactor::try_write() {
  std::unique_lock lock(mu_);
  if (finishing_ || write_in_flight_) return;
  std::vector<kv::WatchStream::Popped> popped;
  if (stream_->pop_many(kPopCountMax, kPopBytesMax, &popped) == 0) return;
  std::vector<std::string> batch;
  batch.reserve(popped.size());
  for (kv::WatchStream::Popped& p : popped) {
    stamp_header(&p.resp);
    if (p.fragment) {
      for (auto& part : split_fragments(std::move(p.resp), fragment_limit_bytes_)) {
        batch.push_back(part.SerializeAsString());
      }
    } else {
      batch.push_back(p.resp.SerializeAsString());
    }
  }
  write_in_flight_ = true;
  lock.unlock();
  call_->start_write_many(std::move(batch));
}

void WatchStreamReactor::on_write_done(bool ok) {
  bool call_finish = false;
  bool resume_reading = false;
  {
    std::lock_guard lock(mu_);
    write_in_flight_ = false;
    if (!ok && !finishing_) {
      finishing_ = true;  // the client is gone
      final_status_ = rpc::Status{rpc::StatusCode::kCancelled, "watch stream write failed"};
    }
    if (finishing_) {
      call_finish = !finish_called_;
      finish_called_ = true;
    } else if (read_paused_ && stream_->control_backlog() < kControlBacklogMax / 2) {
      read_paused_ = false;
      resume_reading = true;
    }
  }
  if (call_finish) {
    stream_->close();
    call_->finish(final_status_);
    return;
  }
  if (resume_reading) call_->start_read();
  try_write();
}

void WatchStreamReactor::on_cancel() {
  finish(rpc::Status{rpc::StatusCode::kCancelled, "watch stream canceled"});
}

void WatchStreamReactor::finish(const rpc::Status& status, bool cancel_write) {
  bool call_finish = false;
  {
    std::lock_guard lock(mu_);
    if (!finishing_) {
      finishing_ = true;
      final_status_ = status;
    }
    if (write_in_flight_) {
      // A client that stopped reading may never let this write complete:
      // cancelling the call makes it fail, and on_write_done finishes.
    } else {
      cancel_write = false;
      if (!finish_called_) {
        finish_called_ = true;
        call_finish = true;
      }
    }
  }
  stream_->close();  // the hub drops the watchers now; never under mu_ (see header)
  if (cancel_write) call_->cancel();
  if (call_finish) call_->finish(final_status_);
}

void WatchStreamReactor::on_done() {
  stream_->close();
  on_done_(this);
  delete this;
}

void WatchStreamReactor::stamp_header(etcdserverpb::WatchResponse* resp) const {
  const int64_t revision = resp->header().revision();
  if (backend_.node != nullptr) {
    fill_header(resp->mutable_header(), backend_, revision);
    return;
  }
  // A backend without a node (unit tests of this service): no Raft term.
  auto* h = resp->mutable_header();
  h->set_cluster_id(backend_.cluster_id);
  h->set_member_id(backend_.member_id);
}

}  // namespace meridian::api
