// WatchStreamReactor: one etcdserverpb.Watch bidirectional stream, on gRPC's
// callback API. Requests (create, cancel, progress) go to its kv::WatchStream;
// responses come out of that stream's queue, one write at a time (gRPC allows
// a single outstanding write per stream): the hub's delivery thread starts a
// write when the queue fills from empty, and each finished write starts the
// next. Responses of a watcher that asked for fragments are split as etcd
// splits them.
//
// Responses are taken from the hub up to 64 at a time, and all but the last of
// such a batch are written with gRPC's buffer hint: gRPC completes such a write
// at once and sends the batch in a few socket writes when the last one (no
// hint) is written. One write per response cost a sendmsg per watcher and
// event, which bounded delivery (10,000 watchers on 100 streams: 926,000
// sendmsg calls for 900,000 events; with the hint 31,000). The first write
// carries the stream's headers and goes without the hint: a hinted first write
// was seen to wait for a flush that never came.
//
// Lifetime: made by WatchService::Watch, deletes itself in OnDone (after gRPC
// has finished with it); the service learns of it through `on_done`. Ending
// (client cancel, failed write, service stop) sets `finishing_` first, then
// closes the kv stream; every call into the hub happens under the reactor's
// mutex with `finishing_` checked, so once shutdown() returns this stream
// never touches the hub again.
//
// Threads: gRPC's callback threads and the hub's delivery thread; mu_ guards
// the state. Lock order: the reactor's mutex, then the hub's.
#pragma once

#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include "api/etcd_server.h"
#include "etcd/etcdserver/etcdserverpb/rpc.grpc.pb.h"
#include "kv/watch_hub.h"

namespace meridian::api {

// etcd's sendFragments: a response of at least `limit_bytes` with two or more
// events becomes several, each under the limit where possible (one event per
// response at least), all but the last with fragment = true.
std::vector<etcdserverpb::WatchResponse> split_fragments(etcdserverpb::WatchResponse resp,
                                                         size_t limit_bytes);

class WatchStreamReactor final
    : public grpc::ServerBidiReactor<etcdserverpb::WatchRequest, etcdserverpb::WatchResponse>,
      public kv::WatchSink {
 public:
  using DoneFn = std::function<void(WatchStreamReactor*)>;
  // Starts reading. `backend` must outlive the reactor.
  WatchStreamReactor(grpc::CallbackServerContext* context, kv::WatchHub* hub,
                     const EtcdBackend& backend, size_t fragment_limit_bytes, DoneFn on_done);

  // Ends the stream with `status` (the service is stopping). Any thread but the
  // hub's delivery thread. A write in flight is let finish first, so that the
  // client gets `status` (etcd's clients retry a watch on UNAVAILABLE, not on
  // CANCELLED); cut_off() ends a stream whose write never completes.
  void shutdown(const grpc::Status& status);
  // Cancels the call if shutdown() is still waiting for a write (a client that
  // stopped reading).
  void cut_off();

  // kv::WatchSink: the hub queued a response.
  void on_ready() override { try_write(); }

  void OnReadDone(bool ok) override;
  void OnWriteDone(bool ok) override;
  void OnCancel() override;
  void OnDone() override;

 private:
  ~WatchStreamReactor() override = default;  // OnDone deletes

  void handle_locked(const etcdserverpb::WatchRequest& req);
  void try_write();
  // Ends the stream; a write in flight is cancelled if `cancel_write`, else
  // OnWriteDone finishes once it completes.
  void finish(const grpc::Status& status, bool cancel_write = true);
  void stamp_header(etcdserverpb::WatchResponse* resp) const;

  grpc::CallbackServerContext* const context_;
  const EtcdBackend& backend_;
  const size_t fragment_limit_bytes_;
  const DoneFn on_done_;
  const std::shared_ptr<kv::WatchStream> stream_;

  std::mutex mu_;
  etcdserverpb::WatchRequest req_;    // the read in progress
  etcdserverpb::WatchResponse resp_;  // the write in flight (owned by the writer)
  // Responses taken from the hub and not yet written (whole ones and the parts
  // of split ones); guarded by mu_.
  std::deque<etcdserverpb::WatchResponse> pending_;
  bool wrote_once_ = false;       // a write has completed (the headers are out); guarded by mu_
  bool write_in_flight_ = false;  // guarded by mu_
  bool read_paused_ = false;      // too many control responses waiting; guarded by mu_
  bool finishing_ = false;        // guarded by mu_
  bool finish_called_ = false;    // guarded by mu_
  grpc::Status final_status_;     // guarded by mu_
};

}  // namespace meridian::api
