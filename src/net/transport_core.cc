#include "net/transport_core.h"

#include <algorithm>
#include <utility>

namespace meridian::net::detail {

TransportCore::TransportCore(boost::asio::io_context& io, TransportOptions options,
                             TransportHandler* handler,
                             std::shared_ptr<boost::asio::ssl::context> tls)
    : io_(io), options_(std::move(options)), tls_(std::move(tls)), handler_(handler) {}

void TransportCore::stop_handler_calls() {
  // The flag first, so that new handler calls turn back before queueing for the
  // lock (a reader-preferring rwlock would otherwise let a busy stream of them
  // starve this writer); the exclusive lock then waits out the calls under way.
  stopped_.store(true, std::memory_order_release);
  std::unique_lock lock(handler_mu_);
}

void TransportCore::deliver(raft::NodeId from, std::vector<Envelope> batch) {
  if (stopped()) return;
  std::shared_lock lock(handler_mu_);
  if (stopped()) return;
  handler_->on_messages(from, std::move(batch));
}

void TransportCore::report_dropped(raft::NodeId to, const std::vector<DropNote>& notes) {
  if (notes.empty()) return;
  counters(to)->dropped.fetch_add(notes.size(), std::memory_order_relaxed);
  if (stopped()) return;
  std::shared_lock lock(handler_mu_);
  if (stopped()) return;
  for (const DropNote& n : notes) handler_->on_dropped(to, n.group, n.type);
}

void TransportCore::report_snapshot_sent(raft::NodeId to, GroupId group) {
  if (stopped()) return;
  std::shared_lock lock(handler_mu_);
  if (stopped()) return;
  handler_->on_snapshot_sent(to, group);
}

std::shared_ptr<PeerCounters> TransportCore::counters(raft::NodeId peer) {
  std::lock_guard lock(mu_);
  auto& c = counters_[peer];
  if (!c) c = std::make_shared<PeerCounters>();
  return c;
}

std::shared_ptr<PeerCounters> TransportCore::known_counters(raft::NodeId peer) const {
  std::lock_guard lock(mu_);
  auto it = counters_.find(peer);
  return it == counters_.end() ? nullptr : it->second;
}

std::vector<PeerStats> TransportCore::stats() const {
  std::lock_guard lock(mu_);
  std::vector<PeerStats> out;
  out.reserve(counters_.size());
  for (const auto& [id, c] : counters_) {
    PeerStats s;
    s.peer = id;
    s.connected = c->connected.load(std::memory_order_relaxed);
    s.bytes_out = c->bytes_out.load(std::memory_order_relaxed);
    s.bytes_in = c->bytes_in.load(std::memory_order_relaxed);
    s.messages_out = c->messages_out.load(std::memory_order_relaxed);
    s.messages_in = c->messages_in.load(std::memory_order_relaxed);
    s.frames_out = c->frames_out.load(std::memory_order_relaxed);
    s.frames_in = c->frames_in.load(std::memory_order_relaxed);
    s.dropped = c->dropped.load(std::memory_order_relaxed);
    s.reconnects = c->reconnects.load(std::memory_order_relaxed);
    s.refused = c->refused.load(std::memory_order_relaxed);
    s.queue_bytes = c->queue_bytes.load(std::memory_order_relaxed);
    out.push_back(s);
  }
  return out;
}

bool TransportCore::add_inbound(const std::shared_ptr<Inbound>& conn) {
  std::lock_guard lock(mu_);
  if (stopped()) return false;
  std::erase_if(inbound_, [](const std::weak_ptr<Inbound>& w) { return w.expired(); });
  if (inbound_.size() >= kInboundConnectionsMax) return false;
  inbound_.push_back(conn);
  return true;
}

std::vector<std::shared_ptr<Inbound>> TransportCore::take_inbound() {
  std::lock_guard lock(mu_);
  std::vector<std::shared_ptr<Inbound>> out;
  for (const auto& w : inbound_) {
    if (auto c = w.lock()) out.push_back(std::move(c));
  }
  inbound_.clear();
  established_.clear();
  return out;
}

std::shared_ptr<Inbound> TransportCore::replace_established(raft::NodeId peer,
                                                            const std::shared_ptr<Inbound>& conn) {
  std::lock_guard lock(mu_);
  auto& slot = established_[peer];
  std::shared_ptr<Inbound> old = slot.lock();
  slot = conn;
  return old;
}

std::shared_ptr<Inbound> TransportCore::mark_removed(raft::NodeId peer) {
  std::lock_guard lock(mu_);
  removed_.insert(peer);
  auto it = established_.find(peer);
  if (it == established_.end()) return nullptr;
  std::shared_ptr<Inbound> conn = it->second.lock();
  established_.erase(it);
  return conn;
}

bool TransportCore::is_removed(raft::NodeId peer) const {
  std::lock_guard lock(mu_);
  return removed_.contains(peer);
}

void TransportCore::report_removed(raft::NodeId by) {
  if (stopped()) return;
  std::shared_lock lock(handler_mu_);
  if (stopped()) return;
  handler_->on_removed(by);
}

}  // namespace meridian::net::detail
