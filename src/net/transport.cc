// The production Transport: a listener (accepting Inbound connections), one Peer
// (dialer and writer) per remote node, and the TransportCore they share. See
// transport.h for the contract, transport_peer.h and transport_inbound.h for the
// two halves of a connection.
//
// Lifetime: every asynchronous operation holds its object (and through it the
// core) by shared_ptr, so the Transport itself can go away while completions are
// still queued; after stop() they find everything closed and the handler gate shut.
#include "net/transport.h"

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <utility>

#include <fmt/format.h>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include "net/frame.h"
#include "net/tls_context.h"
#include "net/transport_core.h"
#include "net/transport_inbound.h"
#include "net/transport_peer.h"
#include "observe/log.h"

namespace meridian::net {

namespace asio = boost::asio;
using detail::Inbound;
using detail::Peer;
using detail::Strand;
using detail::Tcp;
using detail::TransportCore;
using observe::log_info;
using observe::log_warn;

namespace {

// Accepts connections on the peer port and hands each to an Inbound with a strand
// of its own. Strand only after start().
class Listener : public std::enable_shared_from_this<Listener> {
 public:
  // After a failed accept (e.g. out of file descriptors), wait this long rather
  // than spin; the failure is logged each time.
  static constexpr std::chrono::milliseconds kAcceptRetryDelay{100};

  explicit Listener(std::shared_ptr<TransportCore> core)
      : core_(std::move(core)),
        strand_(asio::make_strand(core_->io())),
        acceptor_(strand_),
        retry_timer_(strand_) {}

  // Binds and listens; on the caller's thread, before start().
  base::Status open(const std::string& host, uint16_t port) {
    auto fail = [&](const boost::system::error_code& ec) {
      return base::Status(base::Code::kUnavailable,
                          fmt::format("cannot listen on {}:{}: {}", host, port, ec.message()));
    };
    boost::system::error_code ec;
    Tcp::resolver resolver(core_->io());
    auto eps = resolver.resolve(host, std::to_string(port), Tcp::resolver::passive, ec);
    if (ec) return fail(ec);
    if (eps.empty()) return fail(asio::error::host_not_found);
    const Tcp::endpoint ep = eps.begin()->endpoint();
    if (acceptor_.open(ep.protocol(), ec); ec) return fail(ec);
    // A restarted node must get its port back while old connections linger in TIME_WAIT.
    if (acceptor_.set_option(asio::socket_base::reuse_address(true), ec); ec) return fail(ec);
    if (acceptor_.bind(ep, ec); ec) return fail(ec);
    if (acceptor_.listen(asio::socket_base::max_listen_connections, ec); ec) return fail(ec);
    auto local = acceptor_.local_endpoint(ec);
    if (ec) return fail(ec);
    port_ = local.port();
    return base::Status::ok();
  }

  uint16_t port() const { return port_; }

  void start() {
    asio::post(strand_, [self = shared_from_this()] { self->accept(); });
  }

  void close(std::function<void()> done) {
    asio::post(strand_, [self = shared_from_this(), done = std::move(done)] {
      self->closed_ = true;
      boost::system::error_code ignored;
      self->acceptor_.close(ignored);
      self->retry_timer_.cancel();
      done();
    });
  }

 private:
  void accept() {
    acceptor_.async_accept(
        asio::make_strand(core_->io()),
        [self = shared_from_this()](const boost::system::error_code& ec, Tcp::socket socket) {
          self->on_accept(ec, std::move(socket));
        });
  }

  void on_accept(const boost::system::error_code& ec, Tcp::socket socket) {
    if (closed_) return;
    if (ec) {
      log_warn("accepting a peer connection failed: {}", ec.message());
      retry_timer_.expires_after(kAcceptRetryDelay);
      retry_timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
        if (!ec && !self->closed_) self->accept();
      });
      return;
    }
    boost::system::error_code ignored;
    socket.set_option(Tcp::no_delay(true), ignored);
    auto conn = std::make_shared<Inbound>(core_, std::move(socket));
    if (core_->add_inbound(conn)) {
      conn->start();
    } else {
      if (!core_->stopped()) {
        log_warn("refused a peer connection: {} connections already open",
                 TransportCore::kInboundConnectionsMax);
        core_->count_unattributed_refusal();
      }
      conn->close(nullptr);
    }
    accept();
  }

  const std::shared_ptr<TransportCore> core_;
  Strand strand_;
  Tcp::acceptor acceptor_;
  asio::steady_timer retry_timer_;
  bool closed_ = false;  // strand only
  uint16_t port_ = 0;    // set by open(), then read-only
};

// Counts down closes posted to strands; stop() waits on it.
class Latch {
 public:
  explicit Latch(size_t n) : n_(n) {}
  void count_down() {
    std::lock_guard lock(mu_);
    if (--n_ == 0) cv_.notify_all();
  }
  bool wait_for(std::chrono::milliseconds d) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, d, [&] { return n_ == 0; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  size_t n_;  // guarded by mu_
};

class TransportImpl final : public Transport {
 public:
  TransportImpl(std::shared_ptr<TransportCore> core, std::shared_ptr<Listener> listener)
      : core_(std::move(core)), listener_(std::move(listener)) {}
  ~TransportImpl() override { stop(); }

  void send(raft::NodeId to, std::vector<Envelope> batch) override {
    if (batch.empty()) return;
    std::shared_ptr<Peer> peer;
    {
      std::lock_guard lock(mu_);
      if (stopped_) return;
      auto it = peers_.find(to);
      if (it != peers_.end()) peer = it->second;
    }
    if (peer) {
      peer->send(std::move(batch));
      return;
    }
    // No such peer: dropped, and told from an io thread as every handler call is.
    std::vector<detail::DropNote> notes;
    for (const Envelope& e : batch) notes.push_back(detail::DropNote{e.group, e.message.type});
    asio::post(core_->io(),
               [core = core_, to, notes = std::move(notes)] { core->report_dropped(to, notes); });
  }

  void set_peer(raft::NodeId id, std::string address) override {
    if (id == core_->self()) return;
    std::shared_ptr<Peer> peer;
    bool created = false;
    {
      std::lock_guard lock(mu_);
      if (stopped_) return;
      auto& slot = peers_[id];
      if (!slot) {
        slot = std::make_shared<Peer>(core_, id, address);
        created = true;
      }
      peer = slot;
    }
    if (created) {
      peer->start();
    } else {
      peer->set_address(std::move(address));
    }
  }

  void remove_peer(raft::NodeId id) override {
    if (id == core_->self()) return;
    std::shared_ptr<Peer> peer;
    {
      std::lock_guard lock(mu_);
      if (stopped_) return;
      auto it = peers_.find(id);
      if (it != peers_.end()) {
        peer = std::move(it->second);
        peers_.erase(it);
      }
    }
    if (std::shared_ptr<Inbound> in = core_->mark_removed(id)) in->close(nullptr);
    log_info("peer {} removed from the cluster: no longer dialed, its handshakes refused", id);
    if (peer) peer->close(nullptr);
  }

  void stop() override {
    std::map<raft::NodeId, std::shared_ptr<Peer>> peers;
    observe::Registry* registry = nullptr;
    uint64_t collector = 0;
    {
      std::lock_guard lock(mu_);
      if (stopped_) return;
      stopped_ = true;
      peers.swap(peers_);
      std::swap(registry, registry_);
      collector = collector_;
    }
    if (registry != nullptr) registry->remove_collector(collector);
    // From here no handler call starts, and none is running.
    core_->stop_handler_calls();
    // Then close everything on its strand. Inbound connections accepted from now
    // on are refused by add_inbound (the core is stopped).
    std::vector<std::shared_ptr<Inbound>> inbound = core_->take_inbound();
    auto latch = std::make_shared<Latch>(1 + peers.size() + inbound.size());
    auto done = [latch] { latch->count_down(); };
    listener_->close(done);
    for (auto& [id, peer] : peers) peer->close(done);
    for (auto& conn : inbound) conn->close(done);
    // Wait so that the port is free and no socket is open when stop() returns. If
    // the io_context is not running, nothing would ever run the closes; the gate
    // above already guarantees that no handler call happens.
    while (!latch->wait_for(std::chrono::milliseconds(20))) {
      if (core_->io().stopped()) break;
    }
    log_info("peer transport stopped");
  }

  uint16_t port() const override { return listener_->port(); }

  std::vector<PeerStats> stats() const override { return core_->stats(); }

  void register_metrics(observe::Registry* registry) override {
    std::lock_guard lock(mu_);
    if (stopped_) return;
    if (registry_ != nullptr) registry_->remove_collector(collector_);
    registry_ = registry;
    collector_ =
        registry->add_collector([core = core_](observe::Collector& c) { collect(*core, c); });
  }

 private:
  static void collect(const TransportCore& core, observe::Collector& c);

  const std::shared_ptr<TransportCore> core_;
  const std::shared_ptr<Listener> listener_;
  mutable std::mutex mu_;
  bool stopped_ = false;                                 // guarded by mu_
  std::map<raft::NodeId, std::shared_ptr<Peer>> peers_;  // guarded by mu_
  observe::Registry* registry_ = nullptr;                // guarded by mu_
  uint64_t collector_ = 0;                               // guarded by mu_
};

void TransportImpl::collect(const TransportCore& core, observe::Collector& c) {
  for (const PeerStats& s : core.stats()) {
    const observe::Labels labels{{"peer", std::to_string(s.peer.value())}};
    auto num = [](uint64_t v) { return static_cast<double>(v); };
    c.gauge("meridian_peer_connected", "1 if the outgoing connection to the peer is up", labels,
            s.connected ? 1 : 0);
    c.counter("meridian_peer_bytes_sent_total", "Bytes written to the peer", labels,
              num(s.bytes_out));
    c.counter("meridian_peer_bytes_received_total", "Bytes read from the peer", labels,
              num(s.bytes_in));
    c.counter("meridian_peer_messages_sent_total", "Raft messages written to the peer", labels,
              num(s.messages_out));
    c.counter("meridian_peer_messages_received_total", "Raft messages received from the peer",
              labels, num(s.messages_in));
    c.counter("meridian_peer_dropped_total",
              "Messages to the peer dropped (unreachable, queue full, connection lost)", labels,
              num(s.dropped));
    c.counter("meridian_peer_reconnects_total", "Successful dials to the peer after the first",
              labels, num(s.reconnects));
    c.counter("meridian_peer_handshakes_refused_total",
              "Handshakes with the peer refused, by either side", labels, num(s.refused));
    c.gauge("meridian_peer_queue_bytes", "Bytes waiting to be written to the peer", labels,
            num(s.queue_bytes));
  }
  // Refusals before the dialer said who it is (TLS failure, garbage, bad Hello).
  c.counter("meridian_peer_handshakes_refused_total",
            "Handshakes with the peer refused, by either side", {{"peer", "unknown"}},
            static_cast<double>(core.refused_unattributed()));
}

base::Status check_options(const TransportOptions& o) {
  auto bad = [](std::string why) {
    return base::Status(base::Code::kInvalidArgument, "transport options: " + std::move(why));
  };
  if (o.self == raft::kNoNode) return bad("self must be a node id, not 0");
  // A chunk frame carries the chunk's data plus its header fields and, in the
  // first chunk, the message (membership lists): 64 KiB is ample for those.
  constexpr uint64_t kChunkHeaderBytesMax = 64 * 1024;
  if (o.snapshot_chunk_bytes == 0 ||
      o.snapshot_chunk_bytes + kChunkHeaderBytesMax > o.max_frame_bytes) {
    return bad(
        fmt::format("snapshot_chunk_bytes ({}) must be > 0 and at most max_frame_bytes ({}) "
                    "minus {}",
                    o.snapshot_chunk_bytes, o.max_frame_bytes, kChunkHeaderBytesMax));
  }
  if (o.queue_bytes_max == 0) return bad("queue_bytes_max must be > 0");
  if (o.backoff_min_ms == 0 || o.backoff_max_ms < o.backoff_min_ms) {
    return bad("need 0 < backoff_min_ms <= backoff_max_ms");
  }
  if (o.dial_timeout_ms == 0) return bad("dial_timeout_ms must be > 0");
  return base::Status::ok();
}

}  // namespace

base::Result<std::unique_ptr<Transport>> Transport::start(asio::io_context& io,
                                                          TransportOptions options,
                                                          TransportHandler* handler) {
  MERIDIAN_ASSERT(handler != nullptr, "Transport::start without a handler");
  if (auto st = check_options(options); !st.is_ok()) return st;
  std::shared_ptr<asio::ssl::context> tls;
  if (options.tls) {
    auto ctx = make_tls_context(*options.tls);
    if (!ctx.is_ok()) return ctx.status();
    tls = std::move(ctx).value();
  }
  std::map<raft::NodeId, std::string> peers = options.peers;
  const std::string host = options.listen_host;
  const uint16_t port = options.listen_port;
  const raft::NodeId self = options.self;
  auto core = std::make_shared<TransportCore>(io, std::move(options), handler, std::move(tls));
  auto listener = std::make_shared<Listener>(core);
  if (auto st = listener->open(host, port); !st.is_ok()) return st;
  auto transport = std::make_unique<TransportImpl>(core, listener);
  listener->start();
  for (auto& [id, address] : peers) transport->set_peer(id, std::move(address));
  log_info("peer transport of node {} listening on {}:{}{}", self, host, listener->port(),
           core->tls() != nullptr ? " (TLS, mutual authentication)" : "");
  return std::unique_ptr<Transport>(std::move(transport));
}

}  // namespace meridian::net
