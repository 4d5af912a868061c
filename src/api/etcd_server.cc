#include "api/etcd_server.h"

#include <chrono>
#include <climits>
#include <mutex>
#include <utility>

#include <absl/synchronization/mutex.h>
#include <grpcpp/grpcpp.h>

#include "api/kv_service.h"
#include "api/read_pool.h"
#include "api/watch_service.h"
#include "base/strings.h"
#include "observe/log.h"

namespace meridian::api {

using base::cat;
using base::Code;
using base::Result;
using base::Status;

namespace {

// etcd accepts messages this much larger than --max-request-bytes, so that a
// request at the limit still fits with its framing and metadata, and the limit
// is enforced by validation with etcd's own error rather than by gRPC.
constexpr uint64_t kGrpcOverheadBytes = 512 * 1024;
// gRPC keeps message sizes in an int.
constexpr uint64_t kRequestBytesMax = INT_MAX - kGrpcOverheadBytes;
// Read pool tasks that may wait at once: far more than the pool drains in a
// moment, few enough that the queued requests' memory stays small.
constexpr size_t kReadQueueTasksMax = 10000;
// How long stop() lets calls that gRPC is still running end by themselves
// before it cancels them.
constexpr auto kShutdownGrace = std::chrono::milliseconds(1000);
// Keepalive pings a client may send, as etcd allows them (embed's
// GRPCKeepAliveMinTime): clientv3 pings every 10 s at the least, and gRPC's own
// default (one ping per 5 minutes, none on an idle connection) would close its
// connections as abusive. Idle connections may ping too (etcd refuses that;
// allowing it costs nothing and spares clients that ping between calls).
constexpr int kMinPingIntervalMs = 5000;

std::string host_port(const std::string& host, uint16_t port) {
  return host.find(':') == std::string::npos ? cat(host, ":", port) : cat("[", host, "]:", port);
}

}  // namespace

struct EtcdServer::Impl {
  EtcdServerOptions options;
  EtcdBackend backend;
  std::unique_ptr<observe::Registry> own_metrics;  // when start() was given none
  std::unique_ptr<ReadPool> pool;
  // Declared before the server, so destroyed after it: gRPC needs its services
  // for as long as the server exists.
  std::unique_ptr<KvService> kv;
  std::unique_ptr<WatchService> watch;
  std::unique_ptr<grpc::Server> server;
  int port = 0;

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
  // gRPC locks absl mutexes on every call. Debian's absl is built with its
  // debug default, which checks each acquisition for lock-order cycles under a
  // global lock: a measurable share of a request's CPU, for a check that only
  // matters while developing absl's users.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
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

  const std::string address = host_port(options.listen_host, options.listen_port);
  grpc::ServerBuilder builder;
  builder.AddListeningPort(address, grpc::InsecureServerCredentials(), &impl->port);
  builder.SetMaxReceiveMessageSize(
      static_cast<int>(options.limits.max_request_bytes + kGrpcOverheadBytes));
  builder.SetMaxSendMessageSize(INT_MAX);  // ranges are bounded by the store instead
  // gRPC turns on SO_REUSEPORT by default: two servers on one port would then
  // share it silently instead of the second failing to start.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS,
                             kMinPingIntervalMs);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  builder.RegisterService(impl->kv.get());
  builder.RegisterService(impl->watch.get());
  impl->server = builder.BuildAndStart();
  if (!impl->server || impl->port == 0) {
    impl->watch->stop();
    impl->kv->stop();
    impl->pool->stop();
    return Status(Code::kIoError,
                  cat("cannot serve the etcd API on ", address, " (address in use or invalid?)"));
  }
  observe::log_info("etcd API listening on {}",
                    host_port(options.listen_host, static_cast<uint16_t>(impl->port)));
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
  impl_->kv->stop();
  impl_->watch->stop();
  impl_->server->Shutdown(std::chrono::system_clock::now() + kShutdownGrace);
  impl_->pool->stop();
}

uint16_t EtcdServer::port() const { return static_cast<uint16_t>(impl_->port); }

}  // namespace meridian::api
