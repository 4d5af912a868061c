#include "sim/cluster.h"

#include <algorithm>
#include <utility>

#include "base/assert.h"

namespace meridian::sim {

using raft::Message;
using raft::MessageType;
using raft::NodeId;

std::string describe_message(const Message& m) {
  std::string s =
      cat("n", m.from, " -> n", m.to, " k", raft::message_type_name(m.type), " term=", m.term);
  switch (m.type) {
    case MessageType::kAppend:
      s += cat(" index=", m.index, " log_term=", m.log_term, " entries=", m.entries.size(),
               " commit=", m.commit);
      break;
    case MessageType::kAppendResponse:
      s += cat(" index=", m.index);
      if (m.reject) s += cat(" reject hint=", m.log_term, "/", m.reject_hint);
      break;
    case MessageType::kVote:
    case MessageType::kPreVote:
      s += cat(" last=", m.log_term, "/", m.index, m.force ? " force" : "");
      break;
    case MessageType::kVoteResponse:
    case MessageType::kPreVoteResponse:
      s += m.reject ? " rejected" : " granted";
      break;
    case MessageType::kHeartbeat:
      s += cat(" commit=", m.commit);
      break;
    case MessageType::kSnapshot:
      if (m.snapshot) s += cat(" snap=", m.snapshot->meta.term, "/", m.snapshot->meta.index);
      break;
    case MessageType::kReadIndexResponse:
      s += cat(" index=", m.index);
      break;
    case MessageType::kPropose:
      s += cat(" entries=", m.entries.size());
      break;
    default:
      break;
  }
  if (!m.context.empty()) s += cat(" ctx=", m.context);
  return s;
}

Cluster::Cluster(const ClusterParams& params, Rng rng)
    : params_(params), rng_(rng), trace_(params.trace_capacity, params.trace_live) {
  MERIDIAN_ASSERT(
      params_.pool_size >= 1 && static_cast<uint64_t>(params_.pool_size) <= Network::kNodesMax,
      "pool size ", params_.pool_size);
  MERIDIAN_ASSERT(params_.initial_voters >= 1 && params_.initial_voters <= params_.pool_size,
                  "initial voters ", params_.initial_voters);
  network_.set_faults(params_.links);
  for (int k = 1; k <= params_.pool_size; ++k) {
    NodeParams np;
    np.id = NodeId{static_cast<uint64_t>(k)};
    np.config = params_.raft;
    np.config.random_seed = rng_.fork_seed();
    np.file_system_seed = rng_.fork_seed();
    np.snapshot_every_entries = params_.snapshot_every_entries;
    np.snapshot_keep_entries = params_.snapshot_keep_entries;
    nodes_.push_back(std::make_unique<SimNode>(np, this));
  }
  commit_when_elected_.resize(nodes_.size());
}

std::vector<NodeId> Cluster::pool() const {
  std::vector<NodeId> ids;
  for (const auto& n : nodes_) ids.push_back(n->id());
  return ids;
}

SimNode& Cluster::node(NodeId id) {
  MERIDIAN_ASSERT(id.value() >= 1 && id.value() <= nodes_.size(), "no node ", id);
  return *nodes_[id.value() - 1];
}

SimNode* Cluster::leader() {
  SimNode* best = nullptr;
  for (const auto& n : nodes_) {
    if (!n->up() || n->replica().role() != raft::Role::kLeader) continue;
    if (best == nullptr || n->replica().term() > best->replica().term()) best = n.get();
  }
  return best;
}

size_t Cluster::nodes_down() const {
  size_t down = 0;
  for (const auto& n : nodes_) down += n->up() ? 0 : 1;
  return down;
}

void Cluster::start() {
  raft::Snapshot boot;
  // Index 1 / term 1: the bootstrap state every initial voter shares, as if a
  // first entry establishing the membership had been committed and snapshotted.
  boot.meta.index = raft::Index{1};
  boot.meta.term = raft::Term{1};
  for (int k = 1; k <= params_.initial_voters; ++k) {
    boot.meta.conf_state.voters.push_back(NodeId{static_cast<uint64_t>(k)});
  }
  boot.data = KvStateMachine().snapshot(1);
  const raft::HardState hs{.term = raft::Term{1}, .vote = raft::kNoNode, .commit = raft::Index{1}};
  for (int k = 1; k <= params_.initial_voters; ++k) {
    node(NodeId{static_cast<uint64_t>(k)}).bootstrap(boot, hs);
  }
  for (const auto& n : nodes_) {
    if (failed()) return;
    n->start();
    maybe_arm_torn_write(*n);
    // Random phases so that nodes do not tick in lockstep.
    schedule_ticks(n->id(), rng_.below(params_.tick_us));
  }
}

void Cluster::run_until(SimTime until) {
  while (!failed() && !events_.empty() && events_.next_time() <= until) {
    events_.run_next();
    if (++events_run_ > params_.events_max) {
      fail("event budget",
           cat("more than ", params_.events_max, " events: a message storm or a livelock"));
    }
  }
}

void Cluster::schedule_ticks(NodeId id, uint64_t first_delay_us) {
  const uint64_t inc = node(id).incarnation();
  events_.after(first_delay_us, [this, id, inc] { tick(id, inc); });
}

void Cluster::tick(NodeId id, uint64_t incarnation) {
  // The chain of ticks of one incarnation ends when it crashes; a restart starts
  // a new chain.
  SimNode& n = node(id);
  if (!n.up() || n.incarnation() != incarnation) return;
  n.tick();
  events_.after(params_.tick_us, [this, id, incarnation] { tick(id, incarnation); });
}

void Cluster::crash(NodeId id) {
  SimNode& n = node(id);
  if (!n.up()) return;
  std::optional<uint32_t> keep_unsynced_ppm;
  if (params_.lose_unsynced) keep_unsynced_ppm = static_cast<uint32_t>(rng_.range(0, Rng::kPpmOne));
  n.crash(keep_unsynced_ppm);
  if (listener_ != nullptr) listener_->on_crash(id);
}

void Cluster::restart(NodeId id) {
  SimNode& n = node(id);
  if (n.up()) return;
  n.start();
  if (!n.up()) return;  // recovery failed: the run has failed
  maybe_arm_torn_write(n);
  schedule_ticks(id, rng_.below(params_.tick_us));
}

void Cluster::maybe_arm_torn_write(SimNode& n) {
  if (params_.torn_write_appends_max == 0) return;
  const uint64_t at = rng_.range(1, params_.torn_write_appends_max);
  n.arm_torn_write(at, static_cast<uint32_t>(rng_.range(0, Rng::kPpmOne)));
}

void Cluster::calm_disks() {
  params_.lose_unsynced = false;
  params_.torn_write_appends_max = 0;
  for (const auto& n : nodes_) n->arm_torn_write(0, 0);
}

NodeStorageStats Cluster::storage_stats() const {
  NodeStorageStats sum;
  for (const auto& n : nodes_) {
    const NodeStorageStats s = n->storage().stats();
    sum.recoveries += s.recoveries;
    sum.torn_crashes += s.torn_crashes;
    sum.snapshots_written += s.snapshots_written;
    sum.segments_removed += s.segments_removed;
    sum.journal_writes += s.journal_writes;
  }
  return sum;
}

void Cluster::set_disk_latency(uint64_t min_us, uint64_t max_us, uint32_t stall_ppm) {
  params_.disk_latency_min_us = min_us;
  params_.disk_latency_max_us = max_us;
  params_.disk_stall_ppm = stall_ppm;
}

void Cluster::fail(std::string invariant, std::string detail) {
  if (failed()) return;
  trace(cat("FAILURE ", invariant, ": ", detail));
  failure_ = Violation{std::move(invariant), std::move(detail)};
}

void Cluster::check(MaybeViolation v) {
  if (v) fail(std::move(v->invariant), std::move(v->detail));
}

void Cluster::node_send(const SimNode& from, Message m) {
  if (m.to.value() < 1 || m.to.value() > nodes_.size() || m.from != from.id()) {
    fail("message address", cat("n", from.id(), " sent ", describe_message(m)));
    return;
  }
  if (params_.check_protocol_rules) {
    check(safety_.check_persisted_before_send(m, from.storage().synced(), from.log()));
    if (failed()) return;
  }
  const Delivery d = network_.plan(m.from, m.to, rng_);
  const bool is_snapshot = m.type == MessageType::kSnapshot;
  if (d.fate != Delivery::Fate::kDeliver) {
    const char* why = d.fate == Delivery::Fate::kCut ? "cut " : "drop ";
    trace(cat(why, describe_message(m)));
    if (is_snapshot) {
      const uint64_t inc = from.incarnation();
      events_.after(0, [this, f = m.from, inc, to = m.to] { report_snapshot(f, inc, to, false); });
    }
    return;
  }
  const uint64_t inc = from.incarnation();
  if (d.copies == 2) {
    trace(cat("dup ", describe_message(m)));
    events_.after(d.delay_us[1],
                  [this, copy = m, inc]() mutable { deliver(std::move(copy), inc, false); });
  }
  events_.after(d.delay_us[0], [this, m = std::move(m), inc, is_snapshot]() mutable {
    deliver(std::move(m), inc, is_snapshot);
  });
}

void Cluster::deliver(Message m, uint64_t from_incarnation, bool report) {
  SimNode& dst = node(m.to);
  const NodeId from = m.from;
  const NodeId to = m.to;
  const char* lost = !dst.up() ? "lost (down) " : network_.cut(from, to) ? "lost (cut) " : nullptr;
  if (lost != nullptr) {
    trace(cat(lost, describe_message(m)));
    if (report) report_snapshot(from, from_incarnation, to, false);
    return;
  }
  trace(describe_message(m));
  dst.deliver(std::move(m));
  if (report) report_snapshot(from, from_incarnation, to, true);
}

void Cluster::report_snapshot(NodeId from, uint64_t from_incarnation, NodeId to, bool ok) {
  SimNode& sender = node(from);
  // Only the incarnation that sent the snapshot is waiting for the outcome.
  if (!sender.up() || sender.incarnation() != from_incarnation) return;
  trace(cat("n", from, " report snapshot to n", to, ok ? " ok" : " failed"));
  sender.report_snapshot(to, ok);
}

void Cluster::node_schedule(uint64_t delay_us, std::function<void()> fn) {
  events_.after(delay_us, std::move(fn));
}

uint64_t Cluster::node_disk_latency_us() {
  uint64_t d = rng_.range(params_.disk_latency_min_us, params_.disk_latency_max_us);
  if (params_.disk_stall_ppm > 0 && rng_.chance_ppm(params_.disk_stall_ppm)) {
    d += rng_.range(0, params_.disk_stall_max_us);
  }
  return d;
}

void Cluster::node_failure(std::string invariant, std::string detail) {
  fail(std::move(invariant), std::move(detail));
}

void Cluster::node_power_failed(SimNode& n) {
  const NodeId id = n.id();
  const uint64_t inc = n.incarnation();
  // The clients hear of it from an event of its own: this runs inside the node's
  // input, possibly while a client is in the middle of sending to it.
  events_.after(0, [this, id] {
    if (listener_ != nullptr) listener_->on_crash(id);
  });
  events_.after(rng_.range(params_.torn_write_down_min_us, params_.torn_write_down_max_us),
                [this, id, inc] {
                  SimNode& down = node(id);
                  if (!down.up() && down.incarnation() == inc) restart(id);
                });
}

void Cluster::node_role_changed(SimNode& n) {
  check(safety_.on_role(n.id(), n.role(), n.term()));
  if (n.role() != raft::Role::kLeader) return;
  commit_when_elected_[n.id().value() - 1] = n.replica().status().commit;
  if (leader_hook_) leader_hook_(n.id(), n.term());
}

void Cluster::node_ready_written(SimNode& n, const raft::Ready& rd, raft::Index old_commit) {
  const raft::LogStorage& log = n.log();
  check(safety_.on_entries_written(n.id(), rd.entries, log));
  if (failed() || n.replica().role() != raft::Role::kLeader) return;
  const raft::Term term = n.replica().term();
  check(safety_.on_leader_log(n.id(), term, log));
  if (failed() || !rd.hard_state) return;
  if (params_.check_protocol_rules) {
    const raft::Index since = std::max(old_commit, commit_when_elected_[n.id().value() - 1]);
    check(safety_.check_commit_rule(n.id(), term, since, rd.hard_state->commit, log));
    if (failed()) return;
  }
  check(safety_.on_leader_commit(n.id(), term, old_commit, rd.hard_state->commit, log));
}

void Cluster::node_snapshot_installed(SimNode& n, const raft::SnapshotMeta& meta) {
  check(safety_.on_snapshot(n.id(), meta));
}

void Cluster::node_entry_applied(SimNode& n, const raft::Entry& e) {
  check(safety_.on_applied(n.id(), e));
}

void Cluster::node_command_applied(SimNode& n, const Command& c, const ApplyResult& r) {
  if (listener_ != nullptr) listener_->on_command_applied(n, c, r);
}

void Cluster::node_read_ready(SimNode& n, const std::string& context) {
  if (listener_ != nullptr) listener_->on_read_ready(n, context);
}

}  // namespace meridian::sim
