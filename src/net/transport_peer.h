// Peer: the sending half of the transport for one remote node. It dials the
// peer's address, runs the dialer's side of the handshake (TLS if configured,
// Hello -> HelloAck), then writes everything send() queued: per write, all queued
// messages in one kMessages frame plus at most one snapshot chunk, so a large
// snapshot never holds heartbeats back by more than one chunk. A failed dial or a
// lost connection is retried after an exponential backoff with jitter; every
// message queued or in flight on a lost connection is reported dropped.
//
// Threads: send() and the other public methods may be called from any thread.
// send() touches only the queue under mu_ and posts a "kick" to the strand only
// when no writer run is already due (about one post per write, however many
// sends), so many small sends cost a lock each. Everything else runs on the
// peer's strand.
//
// Bounds: queued messages at most queue_bytes_max (estimated size, see
// estimate_bytes), snapshots queued at most kSnapshotsQueuedMax (their data is
// shared with the caller or read from their image one chunk ahead as they go
// out, never copied whole), pending drop notifications at most kDropNotesMax.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include <boost/asio/steady_timer.hpp>

#include "net/transport_core.h"
#include "net/transport_stream.h"
#include "net/wire.h"

namespace meridian::net::detail {

class Peer : public std::enable_shared_from_this<Peer> {
 public:
  // Fixed part of a message's estimated size: its header fields as varints (13
  // of them at up to 10 bytes each, rounded up). Entries add their own.
  static constexpr uint64_t kMessageOverheadBytes = 128;
  // Per entry beyond its data: term, index, length varints and the type byte.
  static constexpr uint64_t kEntryOverheadBytes = 32;
  // Raft sends one snapshot per group and follower at a time; a few groups may be
  // catching the same follower up at once.
  static constexpr size_t kSnapshotsQueuedMax = 8;
  // Drop notifications waiting for the strand; beyond this (only when the io
  // threads are stuck) non-snapshot drops are counted but not told one by one.
  static constexpr size_t kDropNotesMax = 1 << 16;
  // A write that has not completed after this long means the peer stopped
  // reading (or vanished without a reset): close and redial rather than queue
  // forever. Far above any chunk's transfer time on a working link.
  static constexpr std::chrono::milliseconds kWriteStallMax{15000};
  static constexpr std::chrono::milliseconds kStallCheckInterval{1000};

  Peer(std::shared_ptr<TransportCore> core, raft::NodeId id, std::string address);

  // Starts dialing.
  void start();
  void send(std::vector<Envelope> batch);
  // A new address: closes the current connection (if the address differs) and dials it.
  void set_address(std::string address);
  // Stops for good on the strand (no reports, no redials), then calls `done` there.
  void close(std::function<void()> done);

  // Estimated bytes a queued message holds (the unit of queue_bytes_max).
  static uint64_t estimate_bytes(const raft::Message& m);

 private:
  struct Conn;  // one dial attempt, then its connection; strand only
  enum class Failure : uint8_t { kUnreachable, kRefused, kLost };
  struct Queued {
    Envelope env;
    uint64_t bytes = 0;
  };

  // Strand only.
  void connect();
  void on_connected(const std::shared_ptr<Conn>& conn, const boost::system::error_code& ec);
  void send_hello(const std::shared_ptr<Conn>& conn);
  void read_ack(const std::shared_ptr<Conn>& conn);
  void on_ready(const std::shared_ptr<Conn>& conn);
  void watch_reads(const std::shared_ptr<Conn>& conn);
  void check_stall(const std::shared_ptr<Conn>& conn);
  void fail(const std::shared_ptr<Conn>& conn, Failure kind, const std::string& why);
  void schedule_redial();
  void drop_everything(Conn* conn);
  void flush_drops();
  void maybe_write();
  void on_written(const std::shared_ptr<Conn>& conn, const boost::system::error_code& ec, size_t n);
  // Starts the next queued snapshot, or cuts the current one's next chunk, if
  // no chunk is waiting; reports a snapshot whose data cannot be read as dropped.
  void prepare_chunk(std::optional<Envelope> queued);
  void finish_chunk();
  void end_snapshot();
  void publish_queue_bytes();  // needs mu_ held

  const std::shared_ptr<TransportCore> core_;
  const raft::NodeId id_;
  const std::shared_ptr<PeerCounters> counters_;
  const uint64_t batch_bytes_max_;  // estimated bytes per batch frame
  Strand strand_;

  // Strand only.
  std::string address_;
  std::shared_ptr<Conn> conn_;  // the dial attempt or connection, if any
  boost::asio::steady_timer redial_timer_;
  uint32_t backoff_ms_;
  bool closed_ = false;
  bool ever_connected_ = false;
  uint32_t failures_ = 0;  // dial failures since the last connection (log once per streak)
  std::minstd_rand rng_;
  // The snapshot being sent (null: none), cut into chunks as they go out, and
  // its chunk being written.
  std::unique_ptr<SnapshotSplitter> splitter_;
  std::optional<SnapshotChunk> chunk_;
  GroupId snapshot_group_;
  uint64_t snapshot_id_ = 0;
  std::atomic<uint64_t> snapshot_bytes_{0};  // data of chunk_ not yet written

  std::mutex mu_;
  bool connected_ = false;          // guarded by mu_; queueing allowed
  std::deque<Queued> queue_;        // guarded by mu_
  uint64_t queue_bytes_ = 0;        // guarded by mu_; sum of queue_[i].bytes
  std::deque<Envelope> snapshots_;  // guarded by mu_
  std::vector<DropNote> drops_;     // guarded by mu_; to report on the strand
  bool kick_posted_ = false;        // guarded by mu_
  bool drops_posted_ = false;       // guarded by mu_
};

}  // namespace meridian::net::detail
