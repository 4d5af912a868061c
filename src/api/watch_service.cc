#include "api/watch_service.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <unordered_set>

#include "api/watch_stream.h"
#include "kv/watch_hub.h"
#include "observe/log.h"

namespace meridian::api {

namespace {

// etcd's minimum progress notify interval (v3rpc minWatchProgressInterval).
constexpr uint32_t kProgressNotifyMinMs = 100;
// etcd splits fragments at max request bytes plus gRPC's overhead allowance
// (v3rpc grpcOverheadBytes).
constexpr size_t kGrpcOverheadBytes = 512 * 1024;
// How long stop() lets streams finish a write in flight before cutting them
// off, and how long it then waits for gRPC to be done with them.
constexpr auto kStopGrace = std::chrono::seconds(1);
constexpr auto kStopWait = std::chrono::seconds(10);

// A stream opened after stop(): ended at once.
class RefusedReactor final : public rpc::StreamReactor {
 public:
  explicit RefusedReactor(rpc::ServerStream* call) {
    call->finish(rpc::Status{rpc::StatusCode::kUnavailable, "watch service stopped"});
  }
  void on_read(std::string_view) override {}
  void on_read_done() override {}
  void on_write_done(bool) override {}
  void on_cancel() override {}
  void on_done() override { delete this; }
};

}  // namespace

struct WatchService::Impl {
  EtcdServerOptions options;
  EtcdBackend backend;
  observe::Registry* metrics = nullptr;
  uint64_t collector_id = 0;
  std::unique_ptr<kv::WatchHub> hub;

  std::mutex mu;
  std::condition_variable done_cv;
  std::unordered_set<WatchStreamReactor*> reactors;  // guarded by mu
  bool stopping = false;                             // guarded by mu

  void add_collector();
  void detach_from_store();
};

void WatchService::Impl::add_collector() {
  if (metrics == nullptr) return;
  collector_id = metrics->add_collector([this](observe::Collector& c) {
    const kv::WatchHubStats st = hub->stats();
    c.gauge("meridian_watch_streams", "Open etcd watch streams.", {}, double(st.streams));
    c.gauge("meridian_watch_watchers", "etcd watchers on this node.", {}, double(st.watchers));
    c.gauge("meridian_watch_unsynced_watchers",
            "Watchers catching up from the store's history (slow or started in the past).", {},
            double(st.unsynced_watchers));
    c.gauge("meridian_watch_queued_bytes", "Bytes of events queued for watch streams.", {},
            double(st.queued_bytes));
    c.counter("meridian_watch_events_total", "Events queued for watchers.", {},
              double(st.events_delivered));
    c.counter("meridian_watch_fell_behind_total",
              "Times a watcher found its stream's queue full and fell back to history.", {},
              double(st.fell_behind));
    c.counter("meridian_watch_joined_items_total",
              "Events of a revision added to a response still queued for the same watcher.", {},
              double(st.joined_items));
  });
}

// The store calls its listener on the apply thread, having loaded the pointer
// just before: once the listener is cleared, a task run on that thread after
// it proves no call of the hub is still under way.
void WatchService::Impl::detach_from_store() {
  backend.kv->store().set_listener(nullptr);
  hub->stop();  // later calls (already loaded pointer) do nothing
  if (backend.node == nullptr) return;
  auto passed = std::make_shared<std::promise<void>>();
  std::future<void> barrier = passed->get_future();
  backend.node->read(
      backend.group, false, [](const node::StateMachine&) { return std::string(); },
      [passed](base::Result<std::string>) { passed->set_value(); });
  if (barrier.wait_for(kStopWait) != std::future_status::ready) {
    observe::log_warn("watch service: the apply thread did not answer within {}s",
                      kStopWait.count());
  }
}

WatchService::WatchService(const EtcdServerOptions& options, const EtcdBackend& backend,
                           observe::Registry* metrics)
    : impl_(std::make_unique<Impl>()) {
  MERIDIAN_ASSERT(backend.kv != nullptr, "the watch service needs the key-value state machine");
  impl_->options = options;
  impl_->backend = backend;
  impl_->metrics = metrics;
  kv::WatchHubOptions hub_options;
  hub_options.stream_queue_bytes = options.watch_stream_queue_bytes;
  hub_options.progress_interval =
      std::chrono::milliseconds(std::max(options.progress_notify_ms, kProgressNotifyMinMs));
  impl_->hub = std::make_unique<kv::WatchHub>(backend.kv->store(), hub_options);
  backend.kv->store().set_listener(impl_->hub.get());
  impl_->add_collector();
}

WatchService::~WatchService() {
  stop();
  if (impl_->metrics != nullptr) impl_->metrics->remove_collector(impl_->collector_id);
  // A stream the server has not released yet still points at the hub: wait for it.
  std::unique_lock lock(impl_->mu);
  impl_->done_cv.wait(lock, [&] { return impl_->reactors.empty(); });
}

void WatchService::register_on(rpc::Server& server) {
  Impl* impl = impl_.get();
  server.add_stream("/etcdserverpb.Watch/Watch", [impl](rpc::ServerStream* call) {
    std::lock_guard lock(impl->mu);
    if (impl->stopping) return static_cast<rpc::StreamReactor*>(new RefusedReactor(call));
    const size_t fragment_limit = impl->options.limits.max_request_bytes + kGrpcOverheadBytes;
    auto* reactor = new WatchStreamReactor(call, impl->hub.get(), impl->backend, fragment_limit,
                                           [impl](WatchStreamReactor* r) {
                                             std::lock_guard l(impl->mu);
                                             impl->reactors.erase(r);
                                             impl->done_cv.notify_all();
                                           });
    impl->reactors.insert(reactor);
    return static_cast<rpc::StreamReactor*>(reactor);
  });
}

size_t WatchService::streams_held() const {
  std::lock_guard lock(impl_->mu);
  return impl_->reactors.size();
}

kv::WatchHub* WatchService::hub() const { return impl_->hub.get(); }

void WatchService::stop() {
  {
    std::unique_lock lock(impl_->mu);
    if (impl_->stopping) return;
    impl_->stopping = true;
    // Under mu, so that no reactor is deleted meanwhile (on_done unregisters
    // under mu, on the server's I/O thread, never inline from these calls). Each
    // shutdown() returns once its stream no longer touches the hub.
    const rpc::Status status{rpc::StatusCode::kUnavailable, "etcdserver: server stopped"};
    for (WatchStreamReactor* r : impl_->reactors) r->shutdown(status);
    const auto released = [&] { return impl_->reactors.empty(); };
    if (!impl_->done_cv.wait_for(lock, kStopGrace, released)) {
      for (WatchStreamReactor* r : impl_->reactors) r->cut_off();
    }
    if (!impl_->done_cv.wait_for(lock, kStopWait, released)) {
      observe::log_warn("watch service: {} streams not released by the server within {}s",
                        impl_->reactors.size(), kStopWait.count());
    }
  }
  impl_->detach_from_store();
}

}  // namespace meridian::api
