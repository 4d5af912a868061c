#include "net/transport_peer.h"

#include <algorithm>
#include <optional>
#include <utility>

#include <fmt/format.h>
#include <boost/asio/connect.hpp>
#include <boost/asio/post.hpp>

#include "base/assert.h"
#include "net/frame.h"
#include "observe/log.h"

namespace meridian::net::detail {

namespace asio = boost::asio;
using observe::log_debug;
using observe::log_error;
using observe::log_info;
using observe::log_warn;

namespace {

struct HostPort {
  std::string host, port;
};

// "host:port" or "[v6]:port".
std::optional<HostPort> split_address(const std::string& address) {
  size_t colon = address.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == address.size()) return std::nullopt;
  std::string host = address.substr(0, colon);
  if (host.front() == '[') {
    if (host.size() < 3 || host.back() != ']') return std::nullopt;
    host = host.substr(1, host.size() - 2);
  }
  return HostPort{host, address.substr(colon + 1)};
}

}  // namespace

struct Peer::Conn {
  Conn(const Strand& strand, asio::ssl::context* tls, uint32_t max_frame_bytes)
      : stream(Tcp::socket(strand), tls),
        timer(strand),
        resolver(strand),
        decoder(max_frame_bytes) {}

  void close() {
    closed = true;
    timer.cancel();
    resolver.cancel();
    stream.close();
  }

  Stream stream;
  asio::steady_timer timer;  // the dial deadline, then the write-stall check
  Tcp::resolver resolver;
  FrameDecoder decoder;
  std::array<char, 4096> buf{};  // only the HelloAck is ever read
  std::string address;
  std::string hello;
  bool tcp_up = false;  // TCP connected; the handshake is under way
  bool ready = false;   // handshake done, writing allowed
  bool closed = false;

  // The write in progress (buffers must live until it completes).
  bool writing = false;
  std::chrono::steady_clock::time_point write_started;
  std::string batch_frame, chunk_frame;
  std::vector<DropNote> in_flight;  // the batch's messages, reported dropped if it fails
  bool chunk_in_write = false;
};

Peer::Peer(std::shared_ptr<TransportCore> core, raft::NodeId id, std::string address)
    : core_(std::move(core)),
      id_(id),
      counters_(core_->counters(id)),
      // Half the frame limit leaves room for estimates below the encoded size.
      batch_bytes_max_(core_->options().max_frame_bytes / 2),
      strand_(asio::make_strand(core_->io())),
      address_(std::move(address)),
      redial_timer_(strand_),
      backoff_ms_(core_->options().backoff_min_ms),
      rng_(std::random_device{}()) {}

uint64_t Peer::estimate_bytes(const raft::Message& m) {
  uint64_t n = kMessageOverheadBytes + m.context.size();
  for (const raft::Entry& e : m.entries) n += e.data.size() + kEntryOverheadBytes;
  return n;
}

void Peer::start() {
  asio::post(strand_, [self = shared_from_this()] { self->connect(); });
}

void Peer::set_address(std::string address) {
  asio::post(strand_, [self = shared_from_this(), address = std::move(address)]() mutable {
    if (self->closed_ || address == self->address_) return;
    log_info("peer {} is now at {}", self->id_, address);
    self->address_ = std::move(address);
    if (self->conn_ && self->conn_->ready) {
      // A copy: fail() resets conn_, which a reference to it would see.
      const std::shared_ptr<Conn> conn = self->conn_;
      self->fail(conn, Failure::kLost, "the peer's address changed");
    } else if (self->conn_) {
      self->conn_->close();  // a dial to the old address: nothing to report
      self->conn_.reset();
    }
    self->redial_timer_.cancel();
    self->backoff_ms_ = self->core_->options().backoff_min_ms;
    self->connect();
  });
}

void Peer::close(std::function<void()> done) {
  asio::post(strand_, [self = shared_from_this(), done = std::move(done)] {
    self->closed_ = true;
    self->redial_timer_.cancel();
    if (self->conn_) self->conn_->close();
    self->conn_.reset();
    self->end_snapshot();
    {
      std::lock_guard lock(self->mu_);
      self->connected_ = false;
      self->queue_.clear();
      self->queue_bytes_ = 0;
      self->snapshots_.clear();
      self->drops_.clear();
      self->publish_queue_bytes();
    }
    self->counters_->connected.store(false);
    if (done) done();
  });
}

// ---- Dialing and the handshake --------------------------------------------

void Peer::connect() {
  if (closed_ || conn_) return;
  auto hp = split_address(address_);
  if (!hp) {
    log_error("peer {} has an invalid address '{}' (want host:port); not dialing", id_, address_);
    return;
  }
  const TransportOptions& o = core_->options();
  auto conn = std::make_shared<Conn>(strand_, core_->tls(), o.max_frame_bytes);
  conn->address = address_;
  conn_ = conn;
  auto self = shared_from_this();
  conn->timer.expires_after(std::chrono::milliseconds(o.dial_timeout_ms));
  conn->timer.async_wait([self, conn](const boost::system::error_code& ec) {
    if (ec || conn->ready) return;
    // Connected but no answer to the handshake: a listener that is not ours (or
    // stuck) rather than an unreachable one.
    self->fail(conn, conn->tcp_up ? Failure::kRefused : Failure::kUnreachable, "timed out");
  });
  conn->resolver.async_resolve(
      hp->host, hp->port,
      [self, conn](const boost::system::error_code& ec, const Tcp::resolver::results_type& eps) {
        if (conn->closed) return;
        if (ec) {
          self->fail(conn, Failure::kUnreachable, fmt::format("cannot resolve: {}", ec.message()));
          return;
        }
        asio::async_connect(conn->stream.socket(), eps,
                            [self, conn](const boost::system::error_code& ec,
                                         const Tcp::endpoint&) { self->on_connected(conn, ec); });
      });
}

void Peer::on_connected(const std::shared_ptr<Conn>& conn, const boost::system::error_code& ec) {
  if (conn->closed) return;
  if (ec) {
    fail(conn, Failure::kUnreachable, ec.message());
    return;
  }
  conn->tcp_up = true;
  boost::system::error_code ignored;
  conn->stream.socket().set_option(Tcp::no_delay(true), ignored);
  if (!conn->stream.is_tls()) {
    send_hello(conn);
    return;
  }
  conn->stream.async_handshake(
      asio::ssl::stream_base::client,
      [self = shared_from_this(), conn](const boost::system::error_code& ec) {
        if (conn->closed) return;
        if (ec) {
          self->fail(conn, Failure::kRefused,
                     fmt::format("TLS handshake failed: {}", ec.message()));
          return;
        }
        self->send_hello(conn);
      });
}

void Peer::send_hello(const std::shared_ptr<Conn>& conn) {
  const TransportOptions& o = core_->options();
  conn->hello = encode_frame(FrameType::kHello,
                             encode_hello(Hello{kProtocolVersion, o.cluster_id, o.self, id_}));
  conn->stream.async_write(
      asio::buffer(conn->hello),
      [self = shared_from_this(), conn](const boost::system::error_code& ec, size_t) {
        if (conn->closed) return;
        if (ec) {
          self->fail(conn, Failure::kRefused,
                     fmt::format("writing the Hello failed: {}", ec.message()));
          return;
        }
        self->read_ack(conn);
      });
}

void Peer::read_ack(const std::shared_ptr<Conn>& conn) {
  conn->stream.async_read_some(asio::buffer(conn->buf), [self = shared_from_this(), conn](
                                                            const boost::system::error_code& ec,
                                                            size_t n) {
    if (conn->closed) return;
    if (ec) {
      // Also how a TLS 1.3 listener that rejects our certificate answers: the
      // client's handshake completes before the server has checked it.
      self->fail(conn, Failure::kRefused,
                 fmt::format("closed before the HelloAck: {}", ec.message()));
      return;
    }
    conn->decoder.feed(conn->buf.data(), n);
    auto next = conn->decoder.next();
    if (!next.is_ok()) {
      self->fail(conn, Failure::kRefused,
                 fmt::format("bad HelloAck frame: {}", next.status().to_string()));
      return;
    }
    if (!next.value()) {
      self->read_ack(conn);
      return;
    }
    const Frame& f = *next.value();
    if (f.type != FrameType::kHelloAck) {
      self->fail(conn, Failure::kRefused,
                 fmt::format("expected a HelloAck, got frame type {}", static_cast<int>(f.type)));
      return;
    }
    auto ack = decode_hello_ack(f.payload);
    if (!ack.is_ok()) {
      self->fail(conn, Failure::kRefused,
                 fmt::format("bad HelloAck: {}", ack.status().to_string()));
    } else if (!ack.value().accepted) {
      if (ack.value().reason.starts_with(kRemovedReasonPrefix))
        self->core_->report_removed(self->id_);
      self->fail(conn, Failure::kRefused, ack.value().reason);
    } else if (conn->decoder.buffered() != 0) {
      self->fail(conn, Failure::kRefused, "unexpected data after the HelloAck");
    } else {
      self->on_ready(conn);
    }
  });
}

void Peer::on_ready(const std::shared_ptr<Conn>& conn) {
  conn->ready = true;
  backoff_ms_ = core_->options().backoff_min_ms;
  failures_ = 0;
  if (ever_connected_) counters_->reconnects.fetch_add(1, std::memory_order_relaxed);
  ever_connected_ = true;
  {
    std::lock_guard lock(mu_);
    connected_ = true;
  }
  counters_->connected.store(true);
  log_info("connected to peer {} at {}{}", id_, conn->address,
           conn->stream.is_tls() ? " (TLS)" : "");
  watch_reads(conn);
  conn->timer.cancel();
  check_stall(conn);
  maybe_write();
}

// The listener never writes after its HelloAck: a read completes only when the
// connection ends (or the peer misbehaves), which is how a dead connection that
// has nothing to write is noticed.
void Peer::watch_reads(const std::shared_ptr<Conn>& conn) {
  conn->stream.async_read_some(
      asio::buffer(conn->buf),
      [self = shared_from_this(), conn](const boost::system::error_code& ec, size_t) {
        if (conn->closed) return;
        if (Stream::is_peer_close(ec)) {
          self->fail(conn, Failure::kLost, "the peer closed the connection");
        } else if (ec) {
          self->fail(conn, Failure::kLost, ec.message());
        } else {
          self->fail(conn, Failure::kLost, "unexpected data from the peer's listener");
        }
      });
}

void Peer::check_stall(const std::shared_ptr<Conn>& conn) {
  conn->timer.expires_after(kStallCheckInterval);
  conn->timer.async_wait([self = shared_from_this(), conn](const boost::system::error_code& ec) {
    if (ec || conn->closed) return;
    if (conn->writing && std::chrono::steady_clock::now() - conn->write_started > kWriteStallMax) {
      self->fail(conn, Failure::kLost,
                 fmt::format("a write made no progress for {} ms", kWriteStallMax.count()));
      return;
    }
    self->check_stall(conn);
  });
}

void Peer::fail(const std::shared_ptr<Conn>& conn, Failure kind, const std::string& why) {
  if (conn != conn_ || conn->closed) return;
  conn->close();
  conn_.reset();
  if (closed_) return;
  if (conn->ready) {
    log_warn("lost connection to peer {} at {}: {}", id_, conn->address, why);
    drop_everything(conn.get());
  } else if (kind == Failure::kRefused) {
    log_warn("connection to peer {} at {} refused: {}", id_, conn->address, why);
    counters_->refused.fetch_add(1, std::memory_order_relaxed);
  } else if (failures_++ == 0) {
    log_warn("cannot reach peer {} at {}: {} (retrying with backoff)", id_, conn->address, why);
  } else {
    log_debug("cannot reach peer {} at {}: {}", id_, conn->address, why);
  }
  schedule_redial();
}

void Peer::schedule_redial() {
  const TransportOptions& o = core_->options();
  // Full jitter over the upper half: peers that lost each other at the same
  // moment do not redial in lockstep, and the delay still grows.
  const uint32_t half = backoff_ms_ / 2;
  const uint32_t delay = half + static_cast<uint32_t>(rng_() % (backoff_ms_ - half + 1));
  const uint64_t doubled = uint64_t{backoff_ms_} * 2;
  backoff_ms_ = static_cast<uint32_t>(
      std::min<uint64_t>(doubled, std::max(o.backoff_max_ms, o.backoff_min_ms)));
  redial_timer_.expires_after(std::chrono::milliseconds(delay));
  redial_timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
    if (!ec) self->connect();
  });
}

// Everything queued for or in flight on a connection that died is reported
// dropped: Raft treats it as lost and probes again (a snapshot as failed).
void Peer::drop_everything(Conn* conn) {
  std::vector<DropNote> notes = std::move(conn->in_flight);
  conn->in_flight.clear();
  if (splitter_) notes.push_back(DropNote{snapshot_group_, raft::MessageType::kSnapshot});
  end_snapshot();
  {
    std::lock_guard lock(mu_);
    connected_ = false;
    for (Queued& q : queue_) notes.push_back(DropNote{q.env.group, q.env.message.type});
    for (Envelope& e : snapshots_) notes.push_back(DropNote{e.group, e.message.type});
    notes.insert(notes.end(), drops_.begin(), drops_.end());
    queue_.clear();
    queue_bytes_ = 0;
    snapshots_.clear();
    drops_.clear();
    publish_queue_bytes();
  }
  counters_->connected.store(false);
  core_->report_dropped(id_, notes);
}

// ---- Queueing and writing -------------------------------------------------

void Peer::send(std::vector<Envelope> batch) {
  const uint64_t queue_bytes_max = core_->options().queue_bytes_max;
  bool kick = false;
  bool report = false;
  size_t oversized = 0;
  {
    std::lock_guard lock(mu_);
    for (Envelope& e : batch) {
      MERIDIAN_ASSERT(e.message.to == id_, "message to ", e.message.to, " sent to peer ", id_);
      const DropNote note{e.group, e.message.type};
      bool queued = false;
      if (connected_ && e.message.type == raft::MessageType::kSnapshot) {
        MERIDIAN_ASSERT(e.message.snapshot != nullptr, "kSnapshot message without a snapshot");
        if (snapshots_.size() < kSnapshotsQueuedMax) {
          snapshots_.push_back(std::move(e));
          queued = true;
        }
      } else if (connected_) {
        uint64_t bytes = estimate_bytes(e.message);
        if (bytes > batch_bytes_max_) {
          ++oversized;
        } else if (queue_bytes_ + bytes <= queue_bytes_max) {
          queue_bytes_ += bytes;
          queue_.push_back(Queued{std::move(e), bytes});
          queued = true;
        }
      }
      if (queued) {
        kick = true;
      } else if (drops_.size() < kDropNotesMax || note.type == raft::MessageType::kSnapshot) {
        drops_.push_back(note);
      } else {
        counters_->dropped.fetch_add(1, std::memory_order_relaxed);
      }
    }
    publish_queue_bytes();
    kick = kick && !kick_posted_;
    kick_posted_ = kick_posted_ || kick;
    report = !drops_.empty() && !drops_posted_;
    drops_posted_ = drops_posted_ || report;
  }
  if (oversized > 0) {
    log_error("dropped {} message(s) to peer {} larger than half the frame limit ({} bytes)",
              oversized, id_, batch_bytes_max_ * 2);
  }
  if (kick) asio::post(strand_, [self = shared_from_this()] { self->maybe_write(); });
  if (report) asio::post(strand_, [self = shared_from_this()] { self->flush_drops(); });
}

void Peer::flush_drops() {
  std::vector<DropNote> notes;
  {
    std::lock_guard lock(mu_);
    notes.swap(drops_);
    drops_posted_ = false;
  }
  if (!closed_) core_->report_dropped(id_, notes);
}

void Peer::maybe_write() {
  std::vector<Envelope> batch;
  std::optional<Envelope> snapshot;
  const std::shared_ptr<Conn> conn = conn_;
  const bool can_write = conn && conn->ready && !conn->writing;
  {
    std::lock_guard lock(mu_);
    // While a write is in progress its completion calls again, so sends need not
    // post kicks until then (one post per write, not per send, under load).
    kick_posted_ = conn && conn->writing;
    if (!can_write) return;
    uint64_t taken = 0;
    while (!queue_.empty() && (batch.empty() || taken + queue_.front().bytes <= batch_bytes_max_)) {
      taken += queue_.front().bytes;
      batch.push_back(std::move(queue_.front().env));
      queue_.pop_front();
    }
    queue_bytes_ -= taken;
    if (!splitter_ && !snapshots_.empty()) {
      snapshot = std::move(snapshots_.front());
      snapshots_.pop_front();
    }
    publish_queue_bytes();
  }
  prepare_chunk(std::move(snapshot));

  conn->batch_frame.clear();
  conn->chunk_frame.clear();
  conn->in_flight.clear();
  if (!batch.empty()) {
    std::string payload = encode_batch(batch);
    for (const Envelope& e : batch) conn->in_flight.push_back(DropNote{e.group, e.message.type});
    if (payload.size() + kFrameHeaderBytes > core_->options().max_frame_bytes) {
      // Cannot happen while estimate_bytes bounds the encoding; never send a frame
      // the peer must refuse (it would close the connection, and we would resend).
      log_error(
          "dropped a batch of {} messages to peer {}: {} bytes encoded exceed the frame limit",
          batch.size(), id_, payload.size());
      core_->report_dropped(id_, conn->in_flight);
      conn->in_flight.clear();
    } else {
      append_frame(&conn->batch_frame, FrameType::kMessages, payload);
    }
  }
  conn->chunk_in_write = chunk_.has_value();
  if (conn->chunk_in_write) {
    append_frame(&conn->chunk_frame, FrameType::kSnapshotChunk, encode_snapshot_chunk(*chunk_));
  }
  if (conn->batch_frame.empty() && conn->chunk_frame.empty()) {
    // Only after dropping an unencodable batch: more may be queued behind it.
    if (!batch.empty()) asio::post(strand_, [self = shared_from_this()] { self->maybe_write(); });
    return;
  }

  conn->writing = true;
  conn->write_started = std::chrono::steady_clock::now();
  std::array<asio::const_buffer, 2> buffers{asio::buffer(conn->batch_frame),
                                            asio::buffer(conn->chunk_frame)};
  conn->stream.async_write(
      buffers, [self = shared_from_this(), conn](const boost::system::error_code& ec, size_t n) {
        self->on_written(conn, ec, n);
      });
}

void Peer::on_written(const std::shared_ptr<Conn>& conn, const boost::system::error_code& ec,
                      size_t n) {
  conn->writing = false;
  if (conn->closed) return;  // its messages were reported when it closed
  if (ec) {
    fail(conn, Failure::kLost, fmt::format("write failed: {}", ec.message()));
    return;
  }
  counters_->bytes_out.fetch_add(n, std::memory_order_relaxed);
  counters_->messages_out.fetch_add(conn->in_flight.size(), std::memory_order_relaxed);
  uint64_t frames = (conn->batch_frame.empty() ? 0 : 1) + (conn->chunk_in_write ? 1 : 0);
  counters_->frames_out.fetch_add(frames, std::memory_order_relaxed);
  conn->in_flight.clear();
  if (conn->chunk_in_write) {
    conn->chunk_in_write = false;
    finish_chunk();
  }
  maybe_write();
}

void Peer::prepare_chunk(std::optional<Envelope> queued) {
  if (queued) {
    // Cut only when its turn comes: until then the data stays with the caller.
    snapshot_group_ = queued->group;
    splitter_ = std::make_unique<SnapshotSplitter>(queued->group, ++snapshot_id_, *queued,
                                                   core_->options().snapshot_chunk_bytes);
  }
  if (!splitter_ || chunk_) return;
  auto next = splitter_->next();
  if (!next.is_ok()) {
    log_warn("cannot send a snapshot of group {} to peer {}: {}", snapshot_group_, id_,
             next.status().to_string());
    end_snapshot();
    core_->report_dropped(id_, {DropNote{snapshot_group_, raft::MessageType::kSnapshot}});
    // Another snapshot may be queued behind it.
    asio::post(strand_, [self = shared_from_this()] { self->maybe_write(); });
    return;
  }
  chunk_ = std::move(next).value();
  snapshot_bytes_.store(chunk_->data.size());
  std::lock_guard lock(mu_);
  publish_queue_bytes();
}

void Peer::finish_chunk() {
  MERIDIAN_ASSERT(chunk_.has_value(), "a chunk written without one prepared");
  const bool last = chunk_->last;
  chunk_.reset();  // give the memory back now, not when the snapshot ends
  snapshot_bytes_.store(0);
  if (last) {
    splitter_.reset();
    counters_->messages_out.fetch_add(1, std::memory_order_relaxed);
    core_->report_snapshot_sent(id_, snapshot_group_);
  }
  std::lock_guard lock(mu_);
  publish_queue_bytes();
}

void Peer::end_snapshot() {
  splitter_.reset();
  chunk_.reset();
  snapshot_bytes_.store(0);
}

void Peer::publish_queue_bytes() {
  counters_->queue_bytes.store(queue_bytes_ + snapshot_bytes_.load(), std::memory_order_relaxed);
}

}  // namespace meridian::net::detail
