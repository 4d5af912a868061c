// Transport: the peer port (:2380). Carries Raft messages between the nodes of
// one cluster over TCP, optionally TLS with mutual authentication, on Boost.Asio.
//
// Connections. For each peer, this node dials one outgoing connection and sends
// on it only; it receives on the connections peers dial to it. A dial starts with
// a Hello (cluster id, node ids, protocol version); the listener answers with a
// HelloAck and closes the connection if the cluster id, the addressed node id or
// the version does not match, logging why; the dialer logs the refusal it gets.
// A dropped or refused connection is redialed with exponential backoff and
// jitter (backoff_min_ms doubling up to backoff_max_ms).
//
// Sending. send() queues messages per peer; a writer per connection takes
// everything queued into one batch frame (wire.h: messages of all groups
// together, heartbeats coalesced) per write, so the number of writes follows the
// network, not the number of groups. Snapshots go as chunk frames interleaved
// with the batches (one chunk between batches) so heartbeats are not stuck behind
// a large snapshot. Back-pressure: at most queue_bytes_max bytes wait per peer;
// beyond that, and while a peer is unreachable, messages are dropped and the
// handler is told (on_dropped), as Raft tolerates message loss and probes again.
//
// Receiving. Frames are decoded with the limits below; any protocol error (bad
// frame, bad message, oversized) closes that connection with a log line.
// Decoded batches go to the handler in arrival order per connection.
//
// Threads: the transport runs on the io_context given to start() (one or more
// threads may run it; each connection is used from one strand). send(), stats()
// and stop() may be called from any thread. Handler calls come from the io
// threads and must be quick (post work to the node's thread); a handler may call
// send() and set_peer(), never stop(). Drops found inside send() (peer not
// connected, queue full) are reported from an io thread too, never from within
// send() itself.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "base/status.h"
#include "net/wire.h"
#include "observe/metrics.h"

namespace meridian::net {

struct TlsOptions {
  std::string cert_file;  // this node's certificate chain (PEM)
  std::string key_file;   // its private key (PEM)
  std::string ca_file;    // CA(s) that peers' certificates must chain to (PEM)
};

struct TransportOptions {
  uint64_t cluster_id = 0;
  raft::NodeId self;
  std::string listen_host = "127.0.0.1";
  uint16_t listen_port = 2380;  // 0: any free port (tests; see Transport::port())
  // Peer id -> "host:port" of its peer port. May include self (ignored).
  std::map<raft::NodeId, std::string> peers;
  // Both sides present certificates and verify them against ca_file.
  std::optional<TlsOptions> tls;

  uint32_t max_frame_bytes = 64u << 20;
  // Received snapshots are written here as their chunks arrive (the node's
  // snapshot store); null: gathered in memory, for tests.
  SnapshotSink* snapshot_sink = nullptr;
  // A sanity bound on one received snapshot (with a sink it is on disk, not in memory).
  uint64_t max_snapshot_bytes = 256ull << 30;
  uint64_t snapshot_chunk_bytes = 1u << 20;
  uint64_t queue_bytes_max = 64ull << 20;  // per peer
  uint32_t backoff_min_ms = 50;
  uint32_t backoff_max_ms = 2000;
  uint32_t dial_timeout_ms = 2000;
};

class TransportHandler {
 public:
  virtual ~TransportHandler() = default;
  // A batch from peer `from` (each message has from/to set; snapshots arrive whole).
  virtual void on_messages(raft::NodeId from, std::vector<Envelope> batch) = 0;
  // A message to `to` was not sent (peer unreachable, queue full, connection lost
  // with it queued). For kSnapshot messages this is the failed report.
  virtual void on_dropped(raft::NodeId to, GroupId group, raft::MessageType type) = 0;
  // The last chunk of a snapshot message to `to` was written to the socket.
  virtual void on_snapshot_sent(raft::NodeId to, GroupId group) = 0;
  // Peer `by` refused this node's handshake because it removed this node from
  // the cluster (Transport::remove_peer there).
  virtual void on_removed(raft::NodeId /*by*/) {}
};

struct PeerStats {
  raft::NodeId peer;
  bool connected = false;  // outgoing connection up (handshake done)
  uint64_t bytes_out = 0, bytes_in = 0;
  uint64_t messages_out = 0, messages_in = 0;
  uint64_t frames_out = 0, frames_in = 0;
  uint64_t dropped = 0;      // messages dropped (queue full / unreachable)
  uint64_t reconnects = 0;   // successful dials after the first
  uint64_t refused = 0;      // handshakes refused (either side)
  uint64_t queue_bytes = 0;  // waiting to be written now
};

class Transport {
 public:
  // Binds the listener (kUnavailable with the reason if it cannot, e.g. the port
  // is taken; kInvalidArgument for bad TLS files) and starts dialing peers.
  static base::Result<std::unique_ptr<Transport>> start(boost::asio::io_context& io,
                                                        TransportOptions options,
                                                        TransportHandler* handler);
  virtual ~Transport() = default;

  // Queues messages to one peer (all must have to == `to`). Never blocks.
  virtual void send(raft::NodeId to, std::vector<Envelope> batch) = 0;
  // Adds a peer or changes its address ("host:port"); a changed address closes
  // the connection to the old one (what was queued is dropped) and dials the new
  // one at once. For nodes added to the cluster, and for tests that start every
  // transport on port 0 first. Self is ignored.
  virtual void set_peer(raft::NodeId id, std::string address) = 0;
  // Forgets a peer (a member removed from the cluster): its connection closes,
  // what was queued for it is discarded, and later sends to it are dropped. Its
  // connection to us closes too, and its handshakes from then on are refused
  // with a reason that tells it it was removed (TransportHandler::on_removed),
  // as a removed member may not have heard of its removal. Self is ignored.
  virtual void remove_peer(raft::NodeId id) = 0;
  // Closes every connection and the listener; no handler call after it returns.
  // Must not be called from an io thread, and the io_context must still be run
  // (or be stopped) so that the closes can complete. Idempotent; the destructor
  // calls it. Messages still queued are discarded without on_dropped.
  virtual void stop() = 0;
  virtual uint16_t port() const = 0;
  virtual std::vector<PeerStats> stats() const = 0;
  // Reports peer stats into `registry` at scrape time (meridian_peer_* families).
  virtual void register_metrics(observe::Registry* registry) = 0;
};

}  // namespace meridian::net
