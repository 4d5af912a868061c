// WatchStreamReactor: one etcdserverpb.Watch bidirectional stream of the
// client port's rpc::Server. Requests (create, cancel, progress) go to its
// kv::WatchStream; responses come out of that stream's queue, one write at a
// time: the hub's delivery thread starts a write when the queue fills from
// empty, and each finished write starts the next. A write finishes when the
// server has taken its bytes, which a client that stopped reading holds up
// (HTTP/2 flow control): the hub's queue then fills and the stream's watchers
// fall back to catching up from the store. Responses of a watcher that asked
// for fragments are split as etcd splits them.
//
// Responses are taken from the hub up to 64 (or 256 KiB of events) at a time
// and written as one batch (ServerStream::start_write_many): one crossing to
// the server's I/O thread and a few DATA frames per batch, not one per
// watcher and event.
//
// Lifetime: made by WatchService's stream handler, deletes itself in on_done
// (the server's last callback); the service learns of it through `on_done`.
// Ending (client cancel, failed write, service stop) sets `finishing_` first,
// then closes the kv stream; every call into the hub happens under the
// reactor's mutex with `finishing_` checked, so once shutdown() returns this
// stream never touches the hub again.
//
// Threads: the server's I/O thread (the callbacks) and the hub's delivery
// thread; mu_ guards the state. Lock order: the reactor's mutex, then the hub's.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <string_view>
#include <vector>

#include "api/etcd_server.h"
#include "etcd/etcdserver/etcdserverpb/rpc.pb.h"
#include "kv/watch_hub.h"
#include "rpc/server.h"

namespace meridian::api {

// etcd's sendFragments: a response of at least `limit_bytes` with two or more
// events becomes several, each under the limit where possible (one event per
// response at least), all but the last with fragment = true.
std::vector<etcdserverpb::WatchResponse> split_fragments(etcdserverpb::WatchResponse resp,
                                                         size_t limit_bytes);

class WatchStreamReactor final : public rpc::StreamReactor, public kv::WatchSink {
 public:
  using DoneFn = std::function<void(WatchStreamReactor*)>;
  // Starts reading. `backend` must outlive the reactor.
  WatchStreamReactor(rpc::ServerStream* call, kv::WatchHub* hub, const EtcdBackend& backend,
                     size_t fragment_limit_bytes, DoneFn on_done);

  // Ends the stream with `status` (the service is stopping). Any thread but the
  // hub's delivery thread. A write in flight is let finish first, so that the
  // client gets `status` (etcd's clients retry a watch on UNAVAILABLE, not on
  // CANCELLED); cut_off() ends a stream whose write never completes.
  void shutdown(const rpc::Status& status);
  // Cancels the call if shutdown() is still waiting for a write (a client that
  // stopped reading).
  void cut_off();

  // kv::WatchSink: the hub queued a response.
  void on_ready() override { try_write(); }

  void on_read(std::string_view message) override;
  void on_read_done() override {}  // etcd keeps sending until the client cancels
  void on_write_done(bool ok) override;
  void on_cancel() override;
  void on_done() override;

 private:
  ~WatchStreamReactor() override = default;  // OnDone deletes

  void handle_locked(const etcdserverpb::WatchRequest& req);
  void try_write();
  // Ends the stream; a write in flight is cancelled if `cancel_write`, else
  // OnWriteDone finishes once it completes.
  void finish(const rpc::Status& status, bool cancel_write = true);
  void stamp_header(etcdserverpb::WatchResponse* resp) const;

  rpc::ServerStream* const call_;
  const EtcdBackend& backend_;
  const size_t fragment_limit_bytes_;
  const DoneFn on_done_;
  const std::shared_ptr<kv::WatchStream> stream_;

  std::mutex mu_;
  bool write_in_flight_ = false;  // guarded by mu_
  bool read_paused_ = false;      // too many control responses waiting; guarded by mu_
  bool finishing_ = false;        // guarded by mu_
  bool finish_called_ = false;    // guarded by mu_
  rpc::Status final_status_;      // guarded by mu_
};

}  // namespace meridian::api
