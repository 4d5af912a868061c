#include "net/transport_inbound.h"

#include <optional>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/error.hpp>

#include "observe/log.h"

namespace meridian::net::detail {

namespace asio = boost::asio;
using observe::log_info;
using observe::log_warn;

Inbound::Inbound(std::shared_ptr<TransportCore> core, Tcp::socket socket)
    : core_(std::move(core)),
      timer_(socket.get_executor()),
      hello_decoder_(kHelloFrameBytesMax),
      decoder_(core_->options().max_frame_bytes),
      assembler_(core_->options().max_snapshot_bytes, kPartialSnapshotsMax,
                 core_->options().snapshot_sink) {
  boost::system::error_code ec;
  auto ep = socket.remote_endpoint(ec);
  remote_ = ec ? std::string("?") : Stream::format_endpoint(ep);
  stream_ = std::make_shared<Stream>(std::move(socket), core_->tls());
}

void Inbound::start() {
  asio::dispatch(timer_.get_executor(), [self = shared_from_this()] {
    self->timer_.expires_after(std::chrono::milliseconds(self->core_->options().dial_timeout_ms));
    self->timer_.async_wait([self](const boost::system::error_code& ec) {
      if (ec || self->handshaken_) return;
      self->fail("handshake timed out");
    });
    if (self->stream_->is_tls()) {
      self->stream_->async_handshake(
          asio::ssl::stream_base::server,
          [self](const boost::system::error_code& ec) { self->on_tls_handshake(ec); });
    } else {
      self->read_hello();
    }
  });
}

void Inbound::close(std::function<void()> done) {
  asio::dispatch(timer_.get_executor(), [self = shared_from_this(), done = std::move(done)] {
    self->shut();
    if (done) done();
  });
}

void Inbound::on_tls_handshake(const boost::system::error_code& ec) {
  if (closed_) return;
  if (ec) {
    fail(fmt::format("TLS handshake failed: {}", ec.message()));
    return;
  }
  read_hello();
}

void Inbound::read_hello() {
  stream_->async_read_some(asio::buffer(buf_), [self = shared_from_this()](
                                                   const boost::system::error_code& ec, size_t n) {
    if (self->closed_) return;
    if (ec) {
      self->fail(fmt::format("connection lost before the Hello: {}", ec.message()));
      return;
    }
    self->hello_decoder_.feed(self->buf_.data(), n);
    auto next = self->hello_decoder_.next();
    if (!next.is_ok()) {
      self->fail(fmt::format("bad frame: {}", next.status().to_string()));
    } else if (!next.value()) {
      self->read_hello();
    } else {
      self->on_hello_frame(*next.value());
    }
  });
}

void Inbound::on_hello_frame(const Frame& frame) {
  if (frame.type != FrameType::kHello) {
    fail(fmt::format("expected a Hello, got frame type {}", static_cast<int>(frame.type)));
    return;
  }
  auto decoded = decode_hello(frame.payload);
  if (!decoded.is_ok()) {
    fail(fmt::format("bad Hello: {}", decoded.status().to_string()));
    return;
  }
  const Hello& h = decoded.value();
  const TransportOptions& o = core_->options();
  std::optional<raft::NodeId> from = h.from;
  if (h.version != kProtocolVersion) {
    refuse(
        from,
        fmt::format("protocol version mismatch (theirs {}, ours {})", h.version, kProtocolVersion),
        fmt::format("protocol version mismatch (dialer {}, listener {})", h.version,
                    kProtocolVersion));
  } else if (h.cluster_id != o.cluster_id) {
    refuse(
        from,
        fmt::format("cluster id mismatch (theirs {:#x}, ours {:#x})", h.cluster_id, o.cluster_id),
        fmt::format("cluster id mismatch (dialer {:#x}, listener {:#x})", h.cluster_id,
                    o.cluster_id));
  } else if (h.to != o.self) {
    refuse(from, fmt::format("addressed to node {}, this is node {}", h.to, o.self),
           fmt::format("wrong node: this address is node {}, not node {}", o.self, h.to));
  } else if (h.from == o.self || h.from == raft::kNoNode) {
    refuse(from, fmt::format("dialer claims node id {}", h.from),
           fmt::format("node id {} is not valid for a dialer of node {}", h.from, o.self));
  } else if (core_->is_removed(h.from)) {
    refuse(from, fmt::format("node {} was removed from the cluster", h.from),
           fmt::format("{}node {} removed node {} from the cluster", kRemovedReasonPrefix, o.self,
                       h.from));
  } else if (hello_decoder_.buffered() != 0) {
    refuse(from, "data sent before the HelloAck", "data sent before the HelloAck");
  } else {
    accept(h);
  }
}

void Inbound::refuse(std::optional<raft::NodeId> from, const std::string& why_here,
                     const std::string& why_there) {
  log_warn("refused peer connection from {}: {}", remote_, why_here);
  // Attributed only to a peer we already know: a Hello is unauthenticated, and
  // counters for whatever ids it names would grow without bound.
  std::shared_ptr<PeerCounters> c = from ? core_->known_counters(*from) : nullptr;
  if (c) {
    c->refused.fetch_add(1, std::memory_order_relaxed);
  } else {
    core_->count_unattributed_refusal();
  }
  handshaken_ = true;  // the deadline no longer applies; the connection closes below
  timer_.cancel();
  ack_ = encode_frame(FrameType::kHelloAck, encode_hello_ack(HelloAck{false, why_there}));
  stream_->async_write(
      asio::buffer(ack_),
      [self = shared_from_this()](const boost::system::error_code&, size_t) { self->shut(); });
}

void Inbound::accept(const Hello& hello) {
  handshaken_ = true;
  timer_.cancel();
  from_ = hello.from;
  counters_ = core_->counters(from_);
  // The dialer redials only after giving up its previous connection, so an older
  // connection from the same node is dead or dying: close it now rather than hold
  // it until TCP notices.
  if (auto old = core_->replace_established(from_, shared_from_this())) old->close(nullptr);
  log_info("accepted peer connection from node {} at {}{}", from_, remote_,
           stream_->is_tls() ? " (TLS)" : "");
  ack_ = encode_frame(FrameType::kHelloAck, encode_hello_ack(HelloAck{true, ""}));
  established_ = true;
  stream_->async_write(asio::buffer(ack_),
                       [self = shared_from_this()](const boost::system::error_code& ec, size_t) {
                         if (self->closed_) return;
                         if (ec) {
                           self->fail(fmt::format("writing the HelloAck failed: {}", ec.message()));
                           return;
                         }
                         self->read_loop();
                       });
}

void Inbound::read_loop() {
  stream_->async_read_some(asio::buffer(buf_),
                           [self = shared_from_this()](const boost::system::error_code& ec,
                                                       size_t n) { self->on_read(ec, n); });
}

void Inbound::on_read(const boost::system::error_code& ec, size_t n) {
  if (closed_) return;
  if (Stream::is_peer_close(ec)) {
    if (!core_->stopped()) log_info("peer {} closed its connection from {}", from_, remote_);
    shut();
    return;
  }
  if (ec) {
    fail(fmt::format("read failed: {}", ec.message()));
    return;
  }
  counters_->bytes_in.fetch_add(n, std::memory_order_relaxed);
  decoder_.feed(buf_.data(), n);
  if (drain_frames()) read_loop();
}

bool Inbound::drain_frames() {
  for (;;) {
    auto next = decoder_.next();
    if (!next.is_ok()) {
      fail(fmt::format("bad frame: {}", next.status().to_string()));
      return false;
    }
    if (!next.value()) return true;
    if (!handle_frame(std::move(*next.value()))) return false;
    if (closed_) return false;
  }
}

bool Inbound::handle_frame(Frame frame) {
  counters_->frames_in.fetch_add(1, std::memory_order_relaxed);
  const raft::NodeId self_id = core_->self();
  if (frame.type == FrameType::kMessages) {
    auto batch = decode_batch(frame.payload, from_, self_id);
    if (!batch.is_ok()) {
      fail(fmt::format("bad message batch: {}", batch.status().to_string()));
      return false;
    }
    counters_->messages_in.fetch_add(batch.value().size(), std::memory_order_relaxed);
    if (!batch.value().empty()) core_->deliver(from_, std::move(batch).value());
    return true;
  }
  if (frame.type == FrameType::kSnapshotChunk) {
    auto chunk = decode_snapshot_chunk(frame.payload, from_, self_id);
    if (!chunk.is_ok()) {
      fail(fmt::format("bad snapshot chunk: {}", chunk.status().to_string()));
      return false;
    }
    auto whole = assembler_.add(std::move(chunk).value());
    if (!whole.is_ok()) {
      fail(fmt::format("bad snapshot chunk: {}", whole.status().to_string()));
      return false;
    }
    if (whole.value()) {
      counters_->messages_in.fetch_add(1, std::memory_order_relaxed);
      std::vector<Envelope> one;
      one.push_back(std::move(*whole.value()));
      core_->deliver(from_, std::move(one));
    }
    return true;
  }
  fail(fmt::format("unexpected frame type {} after the handshake", static_cast<int>(frame.type)));
  return false;
}

void Inbound::fail(const std::string& why) {
  if (closed_) return;
  if (!core_->stopped()) {
    if (established_) {
      log_warn("closing peer connection from node {} at {}: {}", from_, remote_, why);
    } else {
      log_warn("refused peer connection from {}: {}", remote_, why);
      core_->count_unattributed_refusal();
    }
  }
  shut();
}

void Inbound::shut() {
  if (closed_) return;
  closed_ = true;
  timer_.cancel();
  stream_->close();
}

}  // namespace meridian::net::detail
