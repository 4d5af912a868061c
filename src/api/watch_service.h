// WatchService: etcdserverpb.Watch. One bidirectional stream per client
// connection carries many watchers (create with start_revision, key or range or
// prefix, prev_kv, NOPUT/NODELETE filters, progress_notify, fragment; cancel;
// progress requests). Events come from kv::WatchHub, which the store feeds on
// apply; a watcher that starts in the past, or whose stream fell behind, catches
// up from the store's history. Events reach each watcher in revision order, with
// no gaps and no duplicates.
#pragma once

#include <cstddef>
#include <memory>

#include "api/etcd_server.h"
#include "rpc/server.h"

namespace meridian::kv {
class WatchHub;
}  // namespace meridian::kv

namespace meridian::api {

class WatchService {
 public:
  WatchService(const EtcdServerOptions& options, const EtcdBackend& backend,
               observe::Registry* metrics);
  ~WatchService();  // stop(), then waits until the server has released every stream
  WatchService(const WatchService&) = delete;
  WatchService& operator=(const WatchService&) = delete;

  // Adds /etcdserverpb.Watch/Watch to `server`.
  void register_on(rpc::Server& server);

  // Ends every open stream and refuses new ones; returns when no reactor of this
  // service touches the hub or the store any more.
  void stop();
  // Streams the server has not yet released (tests: stop() leaves none).
  size_t streams_held() const;
  // The hub the store feeds, for in-process watchers (api/concurrency.h); they
  // must close their streams before stop().
  kv::WatchHub* hub() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace meridian::api
