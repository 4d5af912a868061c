#include "api/etcd_server.h"

#include <chrono>
#include <climits>
#include <mutex>
#include <utility>

#include <thread>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include "api/cluster_service.h"
#include "api/concurrency.h"
#include "api/defragmenter.h"
#include "api/election_service.h"
#include "api/kv_service.h"
#include "api/learner_promoter.h"
#include "api/lease_keeper.h"
#include "api/lease_service.h"
#include "api/lock_service.h"
#include "api/maintenance_service.h"
#include "api/member_changes.h"
#include "api/member_publisher.h"
#include "api/peer_directory.h"
#include "api/read_pool.h"
#include "api/watch_service.h"
#include "base/strings.h"
#include "base/thread_name.h"
#include "observe/log.h"
#include "rpc/server.h"

namespace meridian::api {

using base::cat;
using base::Code;
using base::Result;
using base::Status;

namespace {

// etcd accepts messages this much larger than --max-request-bytes, so that a
// request at the limit still fits with its framing and metadata, and the limit
// is enforced by validation with etcd's own error rather than by the transport.
constexpr uint64_t kGrpcOverheadBytes = 512 * 1024;
// gRPC's length prefix is 32 bits; its clients keep message sizes in an int.
constexpr uint64_t kRequestBytesMax = INT_MAX - kGrpcOverheadBytes;
// Read pool tasks that may wait at once: far more than the pool drains in a
// moment, few enough that the queued requests' memory stays small.
constexpr size_t kReadQueueTasksMax = 10000;

std::string host_port(const std::string& host, uint16_t port) {
  return host.find(':') == std::string::npos ? cat(host, ":", port) : cat("[", host, "]:", port);
}

}  // namespace

struct EtcdServer::Impl {
  EtcdServerOptions options;
  EtcdBackend backend;
  std::unique_ptr<observe::Registry> own_metrics;  // when start() was given none
  std::unique_ptr<ReadPool> pool;
  // Declared before the server, so destroyed after it: its handlers call them.
  std::unique_ptr<KvService> kv;
  std::unique_ptr<WatchService> watch;
  // The Lock and Election services' in-process client (watches on watch's hub).
  std::shared_ptr<StoreClient> store_client;
  std::unique_ptr<Defragmenter> defragmenter;
  std::unique_ptr<LeaseKeeper> lease_keeper;
  std::unique_ptr<MemberPublisher> publisher;
  std::unique_ptr<PeerDirectory> peers;  // the node's peer addresses from the member records
  std::unique_ptr<LearnerPromoter> promoter;
  // The client port's connections and handlers all run on this one thread
  // (the concurrency hint: only that thread runs it).
  boost::asio::io_context io{1};
  std::unique_ptr<rpc::Server> server;
  std::thread io_thread;

  std::mutex stop_mu;
  bool stopped = false;  // guarded by stop_mu
};

Result<std::unique_ptr<EtcdServer>> EtcdServer::start(const EtcdServerOptions& options,
                                                      EtcdBackend backend,
                                                      observe::Registry* metrics) {
  MERIDIAN_ASSERT(backend.node != nullptr, "EtcdServer needs a node");
  MERIDIAN_ASSERT(backend.kv != nullptr, "EtcdServer needs the coordination group's store");
  if (options.read_threads == 0) {
    return Status(Code::kInvalidArgument, "the etcd API needs at least one read thread");
  }
  if (options.limits.max_request_bytes == 0 ||
      options.limits.max_request_bytes > kRequestBytesMax) {
    return Status(Code::kInvalidArgument,
                  cat("max request bytes must be from 1 to ", kRequestBytesMax));
  }
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  impl->backend = backend;
  if (metrics == nullptr) {
    impl->own_metrics = std::make_unique<observe::Registry>();
    metrics = impl->own_metrics.get();
  }
  impl->pool = std::make_unique<ReadPool>(options.read_threads, kReadQueueTasksMax);
  impl->kv = std::make_unique<KvService>(options, backend, impl->pool.get(), metrics);
  impl->watch = std::make_unique<WatchService>(options, backend, metrics);
  impl->store_client =
      std::make_shared<StoreClient>(backend, options.limits, impl->pool.get(), impl->watch->hub());
  impl->defragmenter = std::make_unique<Defragmenter>(&backend.kv->store());
  impl->lease_keeper = std::make_unique<LeaseKeeper>(
      backend,
      LeaseKeeperOptions{.check_interval = std::chrono::milliseconds(options.lease_check_ms)},
      metrics);

  rpc::ServerOptions so;
  so.host = options.listen_host;
  so.port = options.listen_port;
  so.max_receive_message_bytes =
      static_cast<uint32_t>(options.limits.max_request_bytes + kGrpcOverheadBytes);
  auto server = rpc::Server::start(so, impl->io);
  if (!server.is_ok()) {
    impl->defragmenter->stop();
    impl->store_client->stop();
    impl->watch->stop();
    impl->kv->stop();
    impl->pool->stop();
    return Status(server.status().code(), cat("cannot serve the etcd API on ",
                                              host_port(options.listen_host, options.listen_port),
                                              ": ", server.status().message()));
  }
  impl->server = std::move(server).value();
  impl->kv->register_on(*impl->server);
  impl->watch->register_on(*impl->server);
  register_maintenance(*impl->server, backend,
                       {.io = &impl->io,
                        .pool = impl->pool.get(),
                        .defragmenter = impl->defragmenter.get(),
                        .server_version = options.server_version});
  register_lease(*impl->server, backend,
                 {.keeper = impl->lease_keeper.get(),
                  .pool = impl->pool.get(),
                  .min_ttl = min_lease_ttl(options.election_timeout_ms),
                  .limits = options.limits});
  register_lock(*impl->server, impl->store_client);
  register_election(*impl->server, impl->store_client);
  impl->lease_keeper->start();
  register_cluster(*impl->server, backend, options.initial_peer_urls);
  register_member_changes(*impl->server, backend, options.initial_peer_urls);
  impl->peers = std::make_unique<PeerDirectory>(backend);
  impl->promoter = std::make_unique<LearnerPromoter>(
      backend, options.auto_promote_learners, std::chrono::milliseconds(options.learner_check_ms));
  impl->promoter->start();
  etcdserverpb::Member self;
  self.set_id(backend.member_id);
  self.set_name(options.member_name);
  for (const std::string& url : options.peer_urls) self.add_peerurls(url);
  for (const std::string& url : options.client_urls) self.add_clienturls(url);
  if (options.client_urls.empty()) {
    self.add_clienturls(cat("http://", host_port(options.listen_host, impl->server->port())));
  }
  impl->publisher = std::make_unique<MemberPublisher>(backend, std::move(self));
  impl->publisher->start();
  impl->io_thread = std::thread([io = &impl->io] {
    base::set_thread_name("etcd-api");
    auto work = boost::asio::make_work_guard(*io);
    io->run();
  });
  observe::log_info("etcd API listening on {}",
                    host_port(options.listen_host, impl->server->port()));
  return std::unique_ptr<EtcdServer>(new EtcdServer(std::move(impl)));
}

EtcdServer::EtcdServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

EtcdServer::~EtcdServer() { stop(); }

void EtcdServer::stop() {
  std::lock_guard lock(impl_->stop_mu);
  if (impl_->stopped) return;
  impl_->stopped = true;
  // Requests waiting on the node are answered "server stopped" at once, and
  // streams end, so that Shutdown finds little left to wait for.
  impl_->defragmenter->stop();  // cancels a run under way
  impl_->lease_keeper->stop();  // keep-alives waiting are answered "server stopped"
  impl_->publisher->stop();
  impl_->peers.reset();
  impl_->promoter->stop();
  impl_->kv->stop();
  impl_->store_client->stop();  // its watches, before the hub stops
  impl_->watch->stop();
  impl_->server->stop();
  impl_->io.stop();
  impl_->io_thread.join();
  impl_->pool->stop();
}

uint16_t EtcdServer::port() const { return impl_->server->port(); }

}  // namespace meridian::api
