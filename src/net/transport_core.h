// TransportCore: the state one Transport's connections share: options, the TLS
// context, the handler (behind the stop gate), per-peer counters and the registry
// of inbound connections. Owned through shared_ptr by the transport and by every
// connection object, so that a completion handler that runs after the transport is
// gone still finds it (and sees it stopped).
//
// Threads: every member may be used from any thread. Handler calls check the
// stopped flag under a shared lock; stop_handler_calls() sets the flag and then
// takes the lock exclusively, so once it returns no handler call is running or
// will start.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <shared_mutex>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/context.hpp>

#include "net/transport.h"

namespace meridian::net::detail {

class Inbound;

// Counters of one peer, updated lock-free by its connections (relaxed: they are
// statistics, read whole only by stats()).
struct PeerCounters {
  std::atomic<bool> connected{false};
  std::atomic<uint64_t> bytes_out{0}, bytes_in{0};
  std::atomic<uint64_t> messages_out{0}, messages_in{0};
  std::atomic<uint64_t> frames_out{0}, frames_in{0};
  std::atomic<uint64_t> dropped{0};
  std::atomic<uint64_t> reconnects{0};
  std::atomic<uint64_t> refused{0};
  std::atomic<uint64_t> queue_bytes{0};
};

// A message that was not sent, as the handler hears of it.
struct DropNote {
  GroupId group;
  raft::MessageType type = raft::MessageType::kAppend;
};

class TransportCore {
 public:
  // At most this many inbound connections at once (handshaking or established):
  // a cluster has a handful of peers, each with one connection to us, so this only
  // bounds what unauthenticated clients can make us hold.
  static constexpr size_t kInboundConnectionsMax = 256;

  TransportCore(boost::asio::io_context& io, TransportOptions options, TransportHandler* handler,
                std::shared_ptr<boost::asio::ssl::context> tls);

  boost::asio::io_context& io() { return io_; }
  // Immutable after start (set_peer changes addresses in the dialers, not here).
  const TransportOptions& options() const { return options_; }
  raft::NodeId self() const { return options_.self; }
  // Null for plain TCP.
  boost::asio::ssl::context* tls() const { return tls_.get(); }

  bool stopped() const { return stopped_.load(std::memory_order_acquire); }
  // Sets stopped and waits out handler calls in progress; none start afterwards.
  void stop_handler_calls();

  // Handler calls, dropped silently once stopped.
  void deliver(raft::NodeId from, std::vector<Envelope> batch);
  // Counts the drops against `to` and tells the handler about each.
  void report_dropped(raft::NodeId to, const std::vector<DropNote>& notes);
  void report_snapshot_sent(raft::NodeId to, GroupId group);

  // The counters of `peer`, created on first use (also for nodes that dial us
  // without being in our peer list yet: a node added to the cluster).
  std::shared_ptr<PeerCounters> counters(raft::NodeId peer);
  // The counters of `peer` if it has any yet, else null.
  std::shared_ptr<PeerCounters> known_counters(raft::NodeId peer) const;
  std::vector<PeerStats> stats() const;
  // Handshakes refused before the dialer said who it is (TLS failure, bad Hello).
  void count_unattributed_refusal() { refused_unattributed_.fetch_add(1); }
  uint64_t refused_unattributed() const { return refused_unattributed_.load(); }

  // Registers an accepted connection; false (and nothing registered) when stopped
  // or at kInboundConnectionsMax.
  bool add_inbound(const std::shared_ptr<Inbound>& conn);
  // After stop: every inbound connection still alive, and the registry emptied.
  std::vector<std::shared_ptr<Inbound>> take_inbound();
  // The established inbound connection from `peer` is now `conn`; returns the one
  // it replaces (to be closed), if still alive.
  std::shared_ptr<Inbound> replace_established(raft::NodeId peer,
                                               const std::shared_ptr<Inbound>& conn);
  // `peer` was removed from the cluster: its handshakes are refused from now on
  // (is_removed). Returns its established inbound connection, to be closed.
  std::shared_ptr<Inbound> mark_removed(raft::NodeId peer);
  bool is_removed(raft::NodeId peer) const;
  // A listener refused us because it removed us: tells the handler.
  void report_removed(raft::NodeId by);

 private:
  boost::asio::io_context& io_;
  const TransportOptions options_;
  const std::shared_ptr<boost::asio::ssl::context> tls_;

  TransportHandler* const handler_;
  mutable std::shared_mutex handler_mu_;  // shared: a handler call; exclusive: stopping
  std::atomic<bool> stopped_{false};      // then handler_mu_ is taken exclusively once

  mutable std::mutex mu_;
  std::map<raft::NodeId, std::shared_ptr<PeerCounters>> counters_;  // guarded by mu_
  std::vector<std::weak_ptr<Inbound>> inbound_;                     // guarded by mu_
  std::map<raft::NodeId, std::weak_ptr<Inbound>> established_;      // guarded by mu_
  std::set<raft::NodeId> removed_;                                  // guarded by mu_
  std::atomic<uint64_t> refused_unattributed_{0};
};

}  // namespace meridian::net::detail
