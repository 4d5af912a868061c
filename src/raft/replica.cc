#include "raft/replica.h"

#include "base/assert.h"
#include "raft/message_coalescing.h"
#include "raft/raft.h"

namespace meridian::raft {

Result<std::unique_ptr<Replica>> Replica::create(const Config& config, const LogStorage* storage) {
  Status s = config.validate();
  if (!s.is_ok()) return s;
  if (storage == nullptr) return Status(Code::kInvalidArgument, "storage is required");
  return std::unique_ptr<Replica>(new Replica(std::make_unique<Raft>(config, storage)));
}

Replica::Replica(std::unique_ptr<Raft> raft) : raft_(std::move(raft)) {
  prev_soft_ = SoftState{raft_->leader(), raft_->role()};
  prev_hard_ = raft_->hard_state();
}

Replica::~Replica() = default;

void Replica::tick() { raft_->tick(); }
void Replica::campaign() { raft_->hup(false); }

Status Replica::propose(std::string data) {
  std::vector<Entry> entries(1);
  entries[0].data = std::move(data);
  return raft_->propose(std::move(entries));
}

Status Replica::propose_conf_change(const ConfChange& cc) {
  std::vector<Entry> entries(1);
  entries[0].type = EntryType::kConfChange;
  entries[0].data = encode_conf_change(cc);
  return raft_->propose(std::move(entries));
}

Status Replica::step(Message m) {
  // Local-only message kinds never arrive from the network.
  if (m.from == kNoNode) return Status(Code::kInvalidArgument, "message without a sender");
  return raft_->step(std::move(m));
}

void Replica::read_index(std::string context) {
  Message m;
  m.type = MessageType::kReadIndex;
  m.from = raft_->id();
  m.context = std::move(context);
  Status s = raft_->step(std::move(m));
  (void)s;  // without a leader the read is dropped; the caller times out and retries
}

void Replica::transfer_leader(NodeId target) {
  Message m;
  m.type = MessageType::kTransferLeader;
  m.from = raft_->id();
  m.target = target;
  Status s = raft_->step(std::move(m));
  (void)s;
}

ConfState Replica::apply_conf_change(const ConfChange& cc) { return raft_->apply_conf_change(cc); }
void Replica::report_unreachable(NodeId node) { raft_->report_unreachable(node); }
void Replica::report_snapshot(NodeId node, bool ok) { raft_->report_snapshot(node, ok); }

bool Replica::has_ready() const {
  if (ready_in_flight_) return false;
  const RaftLog& log = raft_->log();
  if (SoftState{raft_->leader(), raft_->role()} != prev_soft_) return true;
  HardState hs = raft_->hard_state();
  if (hs != prev_hard_) return true;
  if (log.unstable_snapshot() || !log.unstable_entries().empty()) return true;
  if (raft_->has_output()) return true;
  return log.has_next_committed_entries(log.last_index());
}

Ready Replica::ready() {
  MERIDIAN_ASSERT(!ready_in_flight_, "ready() called again before advance()");
  RaftLog& log = raft_->log();
  Ready rd;
  SoftState soft{raft_->leader(), raft_->role()};
  if (soft != prev_soft_) {
    rd.soft_state = soft;
    prev_soft_ = soft;
  }
  HardState hs = raft_->hard_state();
  if (hs != prev_hard_) {
    rd.hard_state = hs;
    rd.must_sync = hs.term != prev_hard_.term || hs.vote != prev_hard_.vote;
    prev_hard_ = hs;
  }
  rd.snapshot = log.unstable_snapshot();
  rd.entries = log.unstable_entries();
  rd.messages = raft_->take_messages();
  rd.messages_after_persist = raft_->take_messages_after_persist();
  const uint64_t append_bytes_max = raft_->config().append_bytes_max;
  const bool merge_rejections = MERIDIAN_PLANTED(raft_->config(), kCoalesceRejections);
  coalesce_messages(rd.messages, append_bytes_max, merge_rejections);
  coalesce_messages(rd.messages_after_persist, append_bytes_max, merge_rejections);
  rd.read_states = raft_->take_read_states();
  // Committed entries may include this Ready's own entries: the host persists
  // before it applies.
  rd.committed_entries =
      log.next_committed_entries(log.last_index(), raft_->config().committed_bytes_per_ready_max);
  rd.must_sync = rd.must_sync || rd.snapshot || !rd.entries.empty();

  inflight_snapshot_index_ = rd.snapshot ? rd.snapshot->meta.index : Index{0};
  inflight_stable_.reset();
  if (!rd.entries.empty()) inflight_stable_ = {rd.entries.back().index, rd.entries.back().term};
  inflight_applied_ = rd.committed_entries.empty() ? Index{0} : rd.committed_entries.back().index;
  inflight_applied_bytes_ = 0;
  for (const Entry& e : rd.committed_entries) inflight_applied_bytes_ += e.data.size();
  ready_in_flight_ = true;
  return rd;
}

void Replica::advance() {
  MERIDIAN_ASSERT(ready_in_flight_, "advance() without a Ready");
  RaftLog& log = raft_->log();
  if (inflight_snapshot_index_ > Index{0}) {
    log.stable_snapshot_to(inflight_snapshot_index_);
    if (log.applied() < inflight_snapshot_index_) log.applied_to(inflight_snapshot_index_);
  }
  if (inflight_stable_) log.stable_to(inflight_stable_->first, inflight_stable_->second);
  if (inflight_applied_ > log.applied()) log.applied_to(inflight_applied_);
  ready_in_flight_ = false;
  raft_->on_persisted();
  if (inflight_applied_ > Index{0}) raft_->on_applied(log.applied(), inflight_applied_bytes_);
}

ReplicaStatus Replica::status() const {
  ReplicaStatus s;
  s.id = raft_->id();
  s.term = raft_->term();
  s.vote = raft_->vote();
  s.leader = raft_->leader();
  s.role = raft_->role();
  s.commit = raft_->log().committed();
  s.applied = raft_->log().applied();
  s.last_index = raft_->log().last_index();
  s.conf_state = raft_->tracker().conf_state();
  s.lead_transferee = raft_->lead_transferee();
  if (s.role == Role::kLeader) {
    for (const auto& [id, pr] : raft_->tracker().progress) {
      s.progress[id] = ProgressStatus{pr.match, pr.next, pr.is_learner, pr.recent_active,
                                      progress_state_name(pr.state)};
    }
  }
  return s;
}

NodeId Replica::id() const { return raft_->id(); }
NodeId Replica::leader() const { return raft_->leader(); }
Role Replica::role() const { return raft_->role(); }
Term Replica::term() const { return raft_->term(); }

}  // namespace meridian::raft
