// The leader side of Raft: proposals, replication with flow control, commitment,
// ReadIndex, leadership transfer and membership changes.
#include <algorithm>

#include "base/assert.h"
#include "raft/confchange.h"
#include "raft/raft.h"

namespace meridian::raft {
namespace {
uint64_t payload_bytes(const std::vector<Entry>& entries) {
  uint64_t n = 0;
  for (const Entry& e : entries) n += e.data.size();
  return n;
}
}  // namespace

Status Raft::propose(std::vector<Entry> entries) {
  Message m;
  m.type = MessageType::kPropose;
  m.from = id_;
  m.entries = std::move(entries);
  return step(std::move(m));
}

Status Raft::step_leader(Message& m) {
  switch (m.type) {
    case MessageType::kPropose:
      return append_entries(m.entries);
    case MessageType::kReadIndex:
      handle_read_index(m);
      return Status::ok();
    case MessageType::kTransferLeader:
      handle_transfer_leader(m.target);
      return Status::ok();
    default:
      break;
  }
  auto it = trk_.progress.find(m.from);
  if (it == trk_.progress.end()) return Status::ok();  // not (or no longer) a member
  Progress& pr = it->second;
  switch (m.type) {
    case MessageType::kAppendResponse:
      handle_append_response(m, pr);
      break;
    case MessageType::kHeartbeatResponse:
      handle_heartbeat_response(m, pr);
      break;
    default:
      break;
  }
  return Status::ok();
}

Status Raft::append_entries(std::vector<Entry>& entries) {
  if (entries.empty()) return Status(Code::kInvalidArgument, "empty proposal");
  if (!trk_.progress.count(id_)) {
    return Status(Code::kProposalDropped, "this node was removed from the group");
  }
  if (lead_transferee_ != kNoNode) {
    return Status(Code::kProposalDropped, "leadership transfer in progress");
  }
  uint64_t bytes = payload_bytes(entries);
  // The first proposal always fits, so that one large entry cannot be refused forever.
  if (config_.uncommitted_bytes_max > 0 && uncommitted_bytes_ > 0 &&
      uncommitted_bytes_ + bytes > config_.uncommitted_bytes_max) {
    return Status(Code::kProposalDropped, "too many uncommitted bytes");
  }
  Index next = log_.last_index() + 1;
  for (size_t i = 0; i < entries.size(); i++) {
    if (entries[i].type == EntryType::kConfChange &&
        !check_conf_change_proposal(entries[i], next + i)) {
      if (entries.size() == 1) {
        return Status(Code::kProposalDropped, "a membership change is already pending");
      }
      // Keep the batch's other entries; this one becomes a no-op.
      entries[i] = Entry{};
    }
    entries[i].term = term_;
    entries[i].index = next + i;
  }
  uncommitted_bytes_ += bytes;
  log_.append(std::move(entries));
  bcast_append();
  // Our own entries count toward commitment only once persisted (on_persisted),
  // except in a single-voter group that has nothing else to wait for.
  return Status::ok();
}

bool Raft::check_conf_change_proposal(const Entry& e, Index entry_index) {
  auto cc = decode_conf_change(e.data);
  if (!cc.is_ok()) return false;
  if (pending_conf_index_ > log_.applied()) return false;  // one change at a time
  bool joint = trk_.config.voters.outgoing.size() > 0;
  // Leaving a joint config is the only change allowed while in one, and the only
  // one that makes no sense outside it.
  if (joint != cc.value().leave_joint()) return false;
  pending_conf_index_ = entry_index;
  return true;
}

void Raft::bcast_append() {
  trk_.visit([&](NodeId id, Progress&) {
    if (id != id_) maybe_send_append(id, true);
  });
}

bool Raft::maybe_send_append(NodeId to, bool send_if_empty) {
  Progress& pr = trk_.progress.at(to);
  if (pr.is_paused()) return false;
  Index prev = pr.next - 1;
  auto prev_term = log_.term(prev);
  std::vector<Entry> entries;
  if (prev_term.is_ok() && pr.next <= log_.last_index()) {
    auto slice = log_.slice(pr.next, log_.last_index() + 1, config_.append_bytes_max);
    if (!slice.is_ok()) return send_snapshot(to, pr);
    entries = std::move(slice).value();
  }
  if (!prev_term.is_ok()) return send_snapshot(to, pr);  // the follower needs compacted entries
  if (entries.empty() && !send_if_empty) return false;
  uint64_t bytes = 0;
  for (const Entry& e : entries) bytes += e.size_bytes();
  Index last = entries.empty() ? prev : entries.back().index;
  pr.sent_entries(last, bytes, entries.size());
  Message m;
  m.type = MessageType::kAppend;
  m.to = to;
  m.index = prev;
  m.log_term = prev_term.value();
  m.entries = std::move(entries);
  m.commit = log_.committed();
  send(std::move(m));
  return true;
}

bool Raft::send_snapshot(NodeId to, Progress& pr) {
  // A follower that is not answering would not take a snapshot either; wait until
  // it is heard from again rather than build and ship one in vain.
  if (!pr.recent_active) return false;
  auto snap = log_.snapshot();
  if (!snap.is_ok() || snap.value()->empty()) return false;  // retried on a later heartbeat
  pr.become_snapshot(snap.value()->meta.index);
  Message m;
  m.type = MessageType::kSnapshot;
  m.to = to;
  m.snapshot = std::move(snap).value();
  send(std::move(m));
  return true;
}

void Raft::bcast_heartbeat() { bcast_heartbeat_with_context(read_queue_.last_context()); }

void Raft::bcast_heartbeat_with_context(const std::string* context) {
  trk_.visit([&](NodeId id, Progress& pr) {
    if (id == id_) return;
    Message m;
    m.type = MessageType::kHeartbeat;
    m.to = id;
    // Never past what the follower holds: it cannot commit entries it lacks.
    m.commit = std::min(pr.match, log_.committed());
    if (context) m.context = *context;
    send(std::move(m));
  });
}

void Raft::handle_append_response(const Message& m, Progress& pr) {
  pr.recent_active = true;
  if (m.reject) {
    Index probe = m.reject_hint;
    if (m.log_term > Term{0}) {
      // The follower's entry at reject_hint has term log_term: skip to our last
      // entry with a term at most that, where the logs may agree (thesis §5.3).
      probe = log_.find_conflict_by_term(m.reject_hint, m.log_term).first;
    }
    if (pr.maybe_decrease_to(m.index, probe)) {
      if (pr.state == ProgressState::kReplicate) pr.become_probe();
      maybe_send_append(m.from, true);
    }
    return;
  }
  bool was_paused = pr.is_paused();
  if (!pr.maybe_update(m.index)) return;
  switch (pr.state) {
    case ProgressState::kProbe:
      pr.become_replicate();
      break;
    case ProgressState::kSnapshot:
      if (pr.match >= pr.pending_snapshot) {
        pr.become_probe();
        pr.become_replicate();
      }
      break;
    case ProgressState::kReplicate:
      pr.inflights.free_le(m.index);
      break;
  }
  if (maybe_commit()) {
    bcast_append();  // followers learn the new commit index
  } else if (was_paused) {
    maybe_send_append(m.from, true);
  }
  // Fill the flow-control window.
  while (maybe_send_append(m.from, false)) {
  }
  if (m.from == lead_transferee_ && pr.match == log_.last_index()) {
    Message t;
    t.type = MessageType::kTimeoutNow;
    t.to = m.from;
    send(std::move(t));
  }
}

void Raft::handle_heartbeat_response(const Message& m, Progress& pr) {
  pr.recent_active = true;
  pr.probe_sent = false;
  if (pr.match < log_.last_index()) {
    // A full window with a follower that is behind means appends were lost: free a
    // slot so the next append exposes the gap (the follower rejects it and we probe).
    if (pr.state == ProgressState::kReplicate && pr.inflights.full()) pr.inflights.free_first();
    maybe_send_append(m.from, true);
  }
  // Lease-based reads also queue here when the lease is not fresh.
  if (m.context.empty()) return;
  auto acks = read_queue_.ack(m.from, m.context);
  if (!acks) return;
  if (trk_.config.voters.vote_result(*acks) != VoteResult::kWon) return;
  for (ReadIndexRequest& req : read_queue_.release_through(m.context)) {
    answer_read(req.from, req.index, std::move(req.context));
  }
}

bool Raft::maybe_commit() {
  Index index = trk_.committed();
  bool moved;
  if (MERIDIAN_PLANTED(config_, kCommitOldTermByCount)) {
    moved = index > log_.committed() && index <= log_.last_index();
    if (moved) log_.commit_to(index);
  } else {
    // Only an entry of the current term is committed by counting replicas (§5.4.2,
    // Figure 8); earlier ones are committed with it.
    moved = log_.maybe_commit(index, term_);
  }
  if (moved) release_pending_read_indexes();
  return moved;
}

bool Raft::committed_entry_in_current_term() const {
  return log_.term_or_zero(log_.committed()) == term_;
}

void Raft::release_pending_read_indexes() {
  if (pending_reads_.empty() || !committed_entry_in_current_term()) return;
  std::vector<Message> reads = std::exchange(pending_reads_, {});
  for (Message& m : reads) handle_read_index(m);
}

void Raft::handle_read_index(Message& m) {
  if (trk_.is_singleton()) {
    answer_read(m.from, log_.committed(), std::move(m.context));
    return;
  }
  if (!committed_entry_in_current_term()) {
    // Until the no-op of this term commits, our commit index may lag the true one.
    if (pending_reads_.size() < kPendingReadsMax) pending_reads_.push_back(std::move(m));
    return;
  }
  // The lease (thesis §6.4.1): a quorum answered during the current check-quorum
  // period, less than an election timeout ago, so each of them still refuses to vote
  // for anyone else (leader stickiness) and no other leader exists yet. Without such
  // a fresh quorum (check-quorum's verdict covers the previous period, up to two
  // election timeouts back) the read takes the safe path below. So it does during a
  // transfer: the target's forced votes ignore those leases (§3.10).
  bool lease = config_.read_only == ReadOnlyOption::kLeaseBased && trk_.quorum_active() &&
               lead_transferee_ == kNoNode;
  if (lease || MERIDIAN_PLANTED(config_, kReadIndexWithoutQuorum)) {
    answer_read(m.from, log_.committed(), std::move(m.context));
    return;
  }
  // Safe: confirm leadership with a heartbeat round to a quorum first.
  if (!read_queue_.add(log_.committed(), m.from, m.context)) return;
  read_queue_.ack(id_, m.context);
  bcast_heartbeat_with_context(&m.context);
}

void Raft::answer_read(NodeId from, Index index, std::string context) {
  if (from == id_ || from == kNoNode) {
    read_states_.push_back(ReadState{index, std::move(context)});
    return;
  }
  Message r;
  r.type = MessageType::kReadIndexResponse;
  r.to = from;
  r.index = index;
  r.context = std::move(context);
  send(std::move(r));
}

void Raft::handle_transfer_leader(NodeId target) {
  auto it = trk_.progress.find(target);
  if (target == id_ || it == trk_.progress.end() || it->second.is_learner) return;
  if (lead_transferee_ == target) return;  // already under way
  // The transfer must finish within an election timeout (tick() abandons it), and
  // proposals wait meanwhile, so that the target can catch up (thesis §3.10).
  transfer_elapsed_ = 0;
  lead_transferee_ = target;
  if (it->second.match == log_.last_index()) {
    Message t;
    t.type = MessageType::kTimeoutNow;
    t.to = target;
    send(std::move(t));
  } else {
    maybe_send_append(target, true);
  }
}

void Raft::report_unreachable(NodeId node) {
  if (role_ != Role::kLeader) return;
  auto it = trk_.progress.find(node);
  if (it != trk_.progress.end() && it->second.state == ProgressState::kReplicate) {
    it->second.become_probe();  // its in-flight appends were likely lost
  }
}

void Raft::report_snapshot(NodeId node, bool ok) {
  if (role_ != Role::kLeader) return;
  auto it = trk_.progress.find(node);
  if (it == trk_.progress.end() || it->second.state != ProgressState::kSnapshot) return;
  Progress& pr = it->second;
  if (!ok) pr.pending_snapshot = Index{0};
  // Probe from the snapshot on, after the next heartbeat response shows the
  // follower is there.
  pr.become_probe();
  pr.probe_sent = true;
}

void Raft::on_persisted() {
  if (role_ != Role::kLeader) return;
  auto it = trk_.progress.find(id_);
  if (it == trk_.progress.end()) return;
  if (it->second.maybe_update(log_.last_stable_index()) && maybe_commit()) bcast_append();
}

void Raft::on_applied(Index applied, uint64_t applied_entry_bytes) {
  uncommitted_bytes_ -= std::min(uncommitted_bytes_, applied_entry_bytes);
  if (role_ != Role::kLeader || !trk_.config.auto_leave || applied < pending_conf_index_) {
    return;
  }
  // The joint configuration we entered with auto-leave is applied: leave it.
  Entry e;
  e.type = EntryType::kConfChange;
  e.data = encode_conf_change(ConfChange{});
  std::vector<Entry> ents{std::move(e)};
  Status s = append_entries(ents);
  (void)s;  // dropped during a transfer: retried at the next apply
}

ConfState Raft::apply_conf_change(const ConfChange& cc) {
  Changer changer(trk_.config, trk_.progress, log_.last_index(), config_.inflight_messages_max,
                  config_.inflight_bytes_max);
  ConfChangePlan plan = plan_conf_change(cc);
  auto result = plan.leave   ? changer.leave_joint()
                : plan.joint ? changer.enter_joint(plan.auto_leave, cc.changes)
                             : changer.simple(cc.changes);
  // Every replica applies the same committed change and reaches the same verdict,
  // so an invalid one is ignored everywhere alike.
  if (result.is_ok()) {
    switch_to_config(std::move(result.value().first), std::move(result.value().second));
  }
  return trk_.conf_state();
}

void Raft::switch_to_config(TrackerConfig config, ProgressMap progress) {
  trk_.config = std::move(config);
  trk_.progress = std::move(progress);
  auto self = trk_.progress.find(id_);
  is_learner_ = self != trk_.progress.end() && self->second.is_learner;
  if ((role_ == Role::kCandidate || role_ == Role::kPreCandidate) && !promotable()) {
    // Removed or demoted mid-campaign. Voters do not check a candidate's
    // membership, so it could still win; a leader outside its group cannot lead.
    become_follower(term_, kNoNode);
    return;
  }
  if (role_ != Role::kLeader) return;
  if (self == trk_.progress.end() || is_learner_) {
    // Removed or demoted: stop leading; the remaining voters elect a successor.
    become_follower(term_, kNoNode);
    return;
  }
  if (lead_transferee_ != kNoNode && !trk_.config.voters.contains(lead_transferee_)) {
    abort_leader_transfer();
  }
  // The quorum changed: something may now be committed, and new members need appends.
  if (maybe_commit()) {
    bcast_append();
  } else {
    // A new member's Progress starts past our log (next = last + 1), so it has no
    // entries to send: probe it with an empty append instead of waiting a heartbeat.
    trk_.visit([&](NodeId id, Progress& pr) {
      if (id != id_) maybe_send_append(id, pr.match == Index{0});
    });
  }
}

}  // namespace meridian::raft
