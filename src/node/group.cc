#include "node/group.h"

#include <algorithm>
#include <utility>

#include "base/assert.h"
#include "base/strings.h"
#include "node/request_codec.h"
#include "observe/log.h"

namespace meridian::node {

using base::cat;
using base::Code;
using base::Result;
using base::Status;
using observe::glog_info;
using observe::glog_warn;
using raft::Index;

namespace {

uint64_t wall_ms() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

// A source that hands out `first` before the rest of `rest`.
class PrefixedSource final : public base::ByteSource {
 public:
  PrefixedSource(std::string first, base::ByteSource* rest)
      : first_(std::move(first)), rest_(rest) {}
  Result<std::string> read(size_t max_bytes) override {
    if (pos_ == first_.size()) return rest_->read(max_bytes);
    const size_t n = std::min(max_bytes, first_.size() - pos_);
    std::string out = first_.substr(pos_, n);
    pos_ += n;
    return out;
  }

 private:
  std::string first_;
  size_t pos_ = 0;
  base::ByteSource* rest_;
};

// Restores `sm` from group g's stored snapshot at `index`, streaming it (an image
// can be larger than memory).
Status restore_stored_snapshot(storage::SnapshotStore* store, GroupId g, Index index,
                               StateMachine* sm) {
  auto reader = store->read(g, index);
  if (!reader.is_ok()) return reader.status();
  auto first = reader.value()->next_chunk();
  if (!first.is_ok()) return first.status();
  if (!first.value() && sm->durable()) {
    // A durable machine's own snapshots hold no data (its files are the
    // snapshot): the log was compacted up to this index only after the machine
    // said its state was durable there, so its files have since lost entries.
    return Status(Code::kCorruption,
                  cat("the state machine's files hold entries up to ", sm->durable_applied_index(),
                      " but the log was compacted up to ", index,
                      " after they were synced there; its data was lost"));
  }
  PrefixedSource source(first.value() ? std::move(*first.value()) : std::string(),
                        reader.value().get());
  return sm->restore_from(source);
}

Status write_snapshot_file(storage::SnapshotStore* store, GroupId g, const raft::SnapshotMeta& meta,
                           std::string_view data) {
  auto writer = store->begin(g, meta);
  if (!writer.is_ok()) return writer.status();
  if (!data.empty()) {
    if (Status s = writer.value()->append(data); !s.is_ok()) return s;
  }
  return writer.value()->finish();
}

}  // namespace

Group::Group(GroupId id, GroupEnv* env, std::unique_ptr<StateMachine> sm)
    : id_(id), env_(env), sm_(std::move(sm)) {}

Group::~Group() = default;

Result<std::unique_ptr<Group>> Group::open(GroupId id, GroupEnv* env,
                                           std::unique_ptr<StateMachine> sm, uint64_t random_seed) {
  std::unique_ptr<Group> g(new Group(id, env, std::move(sm)));
  g->log_ = std::make_unique<storage::GroupLogStorage>(env->engine, env->snapshots, id);
  const raft::SnapshotMeta meta = env->engine->snapshot_meta(id);
  // A durable state machine already holding everything up to the snapshot (or
  // more) is not rolled back to it; the log replays only what it lacks.
  const Index durable = g->sm_->durable_applied_index();
  if (meta.index > Index{0} && durable < meta.index) {
    if (Status s = restore_stored_snapshot(env->snapshots, id, meta.index, g->sm_.get());
        !s.is_ok()) {
      return Status(s.code(),
                    cat("group ", id, ": restoring snapshot ", meta.index, ": ", s.message()));
    }
  }
  // Raft restarts at the snapshot, whose membership the journal holds, and hands
  // back every committed entry after it: membership changes are applied again
  // (Raft knows only the snapshot's), commands a durable machine already holds
  // are skipped. Starting Raft at the machine's own index instead would lose
  // later membership changes, and could place "applied" past the commit index
  // the journal recorded (that record is not synced when only it moved).
  g->applied_ = meta.index;
  g->sm_holds_ = std::max(meta.index, g->sm_->durable_applied_index());
  g->snapshot_index_ = meta.index;
  g->conf_state_ = g->log_->conf_state();
  g->last_hard_state_ = g->log_->hard_state();

  raft::Config config;
  config.id = env->self;
  config.election_ticks = env->options->election_ticks;
  config.heartbeat_ticks = env->options->heartbeat_ticks;
  config.random_seed = random_seed;
  config.applied = meta.index;
  auto replica = raft::Replica::create(config, g->log_.get());
  if (!replica.is_ok()) return replica.status();
  g->replica_ = std::move(replica).value();
  return g;
}

// Raft drops a ReadIndex request while no leader is known (after a restart,
// during an election), and the request or its answer can be lost on the way.
// Asking again is harmless (any index the leader confirms after the read began
// serves it), so unanswered reads are asked for again every election timeout and
// as soon as a leader becomes known.
std::chrono::milliseconds Group::reissue_interval() const {
  return std::chrono::milliseconds(uint64_t{env_->options->tick_ms} *
                                   static_cast<uint64_t>(env_->options->election_ticks));
}

void Group::reissue_reads(bool all, Clock::time_point now) {
  for (auto& [rid, r] : reads_) {
    if (r.index || (!all && r.reissue_at > now)) continue;
    r.reissue_at = now + reissue_interval();
    unasked_reads_.push_back(rid);
  }
  // Rounds older than two intervals are lost or stale: each of their reads that
  // still waits has been asked again since.
  const auto stale = now - 2 * reissue_interval();
  std::erase_if(read_rounds_, [&](const auto& kv) { return kv.second.asked_at < stale; });
  ask_read_round(now);
  env_->wake(id_);
}

void Group::ask_read_round(Clock::time_point now) {
  if (unasked_reads_.empty()) return;
  const uint64_t round = env_->next_request_id();
  read_rounds_.emplace(round, ReadRound{std::move(unasked_reads_), now});
  unasked_reads_.clear();
  round_in_flight_ = round;
  round_in_flight_since_ = now;
  ++read_rounds_asked_;
  replica_->read_index(encode_read_context(round));
}

void Group::maybe_ask_read_round(Clock::time_point now) {
  if (unasked_reads_.empty()) return;
  // A round normally answers within a round trip to a quorum; one that has not
  // after a tick is slow or lost, and holds nobody back any longer (lost rounds
  // are also asked again by reissue_reads).
  const auto patience = std::chrono::milliseconds(env_->options->tick_ms);
  if (round_in_flight_ != 0 && now - round_in_flight_since_ < patience) return;
  ask_read_round(now);
}

void Group::tick(Clock::time_point now) {
  replica_->tick();
  expire(now);
  reissue_reads(false, now);
  env_->wake(id_);
}

void Group::step(raft::Message m, std::shared_ptr<net::ReceivedSnapshot> received) {
  if (received && m.type == raft::MessageType::kSnapshot && m.snapshot) {
    // Kept until a Ready installs this snapshot; a newer one replaces it (the
    // older data is then removed), as does nothing if Raft ignores it.
    received_ = std::move(received);
    received_index_ = m.snapshot->meta.index;
  }
  // Errors here are stale or misaddressed messages, which Raft ignores by design.
  (void)replica_->step(std::move(m));
  env_->wake(id_);
}

Status Group::not_leader_status() const {
  const raft::ReplicaStatus st = replica_->status();
  if (st.lead_transferee != raft::kNoNode) {
    return Status(Code::kNotLeader, cat("group ", id_, ": leadership is moving to node ",
                                        st.lead_transferee, "; retry"));
  }
  if (st.leader == raft::kNoNode) {
    return Status(Code::kNotLeader,
                  cat("group ", id_, ": no leader (an election is under way); retry"));
  }
  if (st.leader == env_->self) {
    return Status(Code::kUnavailable,
                  cat("group ", id_, ": too many uncommitted proposals at the leader; retry"));
  }
  return Status(Code::kNotLeader,
                cat("group ", id_, ": not accepted; the leader is node ", st.leader, "; retry"));
}

void Group::propose(std::string command, Node::ProposeDone done) {
  const uint64_t rid = env_->next_request_id();
  Status s = replica_->propose(encode_request({env_->self, rid}, command));
  if (!s.is_ok()) {
    ++proposals_failed_;
    done(not_leader_status());
    return;
  }
  proposals_.emplace(rid, PendingProposal{std::move(done),
                                          Clock::now() + std::chrono::milliseconds(
                                                             env_->options->proposal_timeout_ms)});
  env_->wake(id_);
}

void Group::propose_membership(MembershipChange change, Node::ProposeDone done) {
  // Checked here for a quick answer; checked again, authoritatively, when applied.
  if (Status s = check_membership_change(conf_state_, change.type, change.node); !s.is_ok()) {
    done(s);
    return;
  }
  const uint64_t rid = env_->next_request_id();
  raft::ConfChange cc;
  cc.changes.push_back(raft::ConfChangeSingle{change.type, change.node});
  cc.context = encode_request({env_->self, rid}, change.context);
  Status s = replica_->propose_conf_change(cc);
  if (!s.is_ok()) {
    ++proposals_failed_;
    // The leader refuses a second change while one is not yet applied.
    done(is_leader() ? Status(Code::kFailedPrecondition,
                              cat("group ", id_, ": another membership change is in progress (",
                                  s.message(), "); try again once it is applied"))
                     : not_leader_status());
    return;
  }
  proposals_.emplace(rid, PendingProposal{std::move(done),
                                          Clock::now() + std::chrono::milliseconds(
                                                             env_->options->proposal_timeout_ms)});
  env_->wake(id_);
}

void Group::read(bool linearizable, Node::Query query, Node::ReadDone done) {
  if (!linearizable) {
    done(query(*sm_));
    return;
  }
  const uint64_t rid = env_->next_request_id();
  const auto now = Clock::now();
  reads_.emplace(rid,
                 PendingRead{std::move(query), std::move(done),
                             now + std::chrono::milliseconds(env_->options->proposal_timeout_ms),
                             std::nullopt, now + reissue_interval()});
  unasked_reads_.push_back(rid);
  env_->wake(id_);
}

void Group::transfer_leader(raft::NodeId target) {
  replica_->transfer_leader(target);
  env_->wake(id_);
}

void Group::report_unreachable(raft::NodeId peer) {
  replica_->report_unreachable(peer);
  env_->wake(id_);
}

void Group::report_snapshot(raft::NodeId peer, bool ok) {
  if (ok) ++snapshots_sent_;
  replica_->report_snapshot(peer, ok);
  env_->wake(id_);
}

void Group::expire(Clock::time_point now) {
  for (auto it = proposals_.begin(); it != proposals_.end();) {
    if (it->second.deadline > now) {
      ++it;
      continue;
    }
    ++proposals_failed_;
    auto done = std::move(it->second.done);
    it = proposals_.erase(it);
    const raft::NodeId leader = replica_->leader();
    done(Status(
        Code::kUnavailable,
        cat("group ", id_, ": proposal timed out after ", env_->options->proposal_timeout_ms,
            " ms (leader: ", leader == raft::kNoNode ? std::string("none") : cat("node ", leader),
            "); it may still be applied")));
  }
  for (auto it = reads_.begin(); it != reads_.end();) {
    if (it->second.deadline > now) {
      ++it;
      continue;
    }
    auto done = std::move(it->second.done);
    it = reads_.erase(it);
    done(Status(Code::kUnavailable, cat("group ", id_, ": read timed out after ",
                                        env_->options->proposal_timeout_ms, " ms")));
  }
}

void Group::fail_all(const Status& why) { fail_waiting(why, why); }

// As etcd does ("leader changed"): a request waiting on the old leader may never
// be answered by it (it crashed, or its uncommitted entries get overwritten), and
// waiting for the full timeout would turn every failover into a timeout. The
// outcome of a proposal is unknown (it may still commit under the new leader), and
// the error says so; a read had no effect and is simply retried.
void Group::fail_in_flight(raft::NodeId old_leader) {
  if (proposals_.empty() && reads_.empty()) return;
  const std::string was = cat("group ", id_, ": the leader changed (was node ", old_leader,
                              ") while the request was in flight");
  fail_waiting(Status(Code::kUnavailable, cat(was, "; it may or may not be applied; retry")),
               Status(Code::kUnavailable, cat(was, "; retry")));
}

// Requests in flight are failed when the leader they went to is known to be
// replaced: this node lost its own leadership, or a leader other than the last
// one (another node, or the same node in a later term) is known. A leader that
// is only unknown for a while (a follower timed out and pre-campaigned in vain)
// and comes back in the same term still holds everything it was sent, so its
// requests go on waiting: failing them made a blip of a slow leader look like a
// failover to every client.
void Group::note_leader(raft::NodeId leader) {
  const raft::Term term = replica_->term();
  if (soft_.leader == env_->self && leader != env_->self) {
    fail_in_flight(env_->self);
  } else if (leader != raft::kNoNode && last_leader_ != raft::kNoNode &&
             (leader != last_leader_ || term != last_leader_term_)) {
    fail_in_flight(last_leader_);
  }
  if (leader != raft::kNoNode) {
    last_leader_ = leader;
    last_leader_term_ = term;
  }
}

void Group::fail_waiting(const Status& proposal_error, const Status& read_error) {
  // Taken out first: a callback may make a new request of this group.
  auto proposals = std::move(proposals_);
  auto reads = std::move(reads_);
  proposals_.clear();
  reads_.clear();
  unasked_reads_.clear();
  read_rounds_.clear();
  round_in_flight_ = 0;
  for (auto& [rid, p] : proposals) {
    ++proposals_failed_;
    p.done(proposal_error);
  }
  for (auto& [rid, r] : reads) r.done(read_error);
}

bool Group::only_commit_moved(const raft::Ready& rd) {
  const raft::HardState& hs = *rd.hard_state;
  const bool commit_only = hs.term == last_hard_state_.term && hs.vote == last_hard_state_.vote;
  last_hard_state_ = hs;
  return commit_only;
}

void Group::process_ready() {
  if (!unasked_reads_.empty()) maybe_ask_read_round(Clock::now());
  while (!persisting_ && replica_->has_ready()) {
    auto rd = std::make_shared<raft::Ready>(replica_->ready());
    if (rd->soft_state) {
      const raft::SoftState& ss = *rd->soft_state;
      if (ss.leader != soft_.leader) {
        ++leader_changes_;
        note_leader(ss.leader);
        if (ss.leader != raft::kNoNode) reissue_pending_reads_ = true;
        glog_info(id_, "leader is now {} (term {}, this node {})",
                  ss.leader == raft::kNoNode ? std::string("unknown") : cat("node ", ss.leader),
                  replica_->term(), raft::role_name(ss.role));
      } else if (ss.role != soft_.role) {
        glog_info(id_, "role is now {} (term {})", raft::role_name(ss.role), replica_->term());
      }
      soft_ = ss;
    }
    for (raft::Message& m : rd->messages) send(std::move(m));
    rd->messages.clear();

    if (rd->snapshot) {
      // The snapshot file must be durable before the journal names it. Data the
      // transport stored as it arrived only needs publishing.
      const raft::SnapshotMeta& meta = rd->snapshot->meta;
      Status s;
      if (received_ && received_index_ == meta.index) {
        s = received_->keep();
        received_.reset();
      } else {
        s = write_snapshot_file(env_->snapshots, id_, meta, rd->snapshot->data);
      }
      if (!s.is_ok()) {
        env_->fail(Status(s.code(), cat("group ", id_, ": writing received snapshot ", meta.index,
                                        ": ", s.message())));
        persisting_ = true;  // stop this group: the node is failing
        return;
      }
    }
    const bool commit_only = rd->hard_state && only_commit_moved(*rd);
    if (!rd->snapshot && rd->entries.empty() && (!rd->hard_state || commit_only)) {
      // A commit index alone need not be durable before going on (Raft learns
      // it again from the leader after a restart), so it waits for the next
      // journal write instead of costing an fsync of its own: without this every
      // write took two rounds of fsyncs on every member.
      if (rd->hard_state) unwritten_hard_state_ = rd->hard_state;
      finish_ready(*rd);
      continue;
    }
    persisting_ = true;
    submit(std::move(rd));
  }
  if (reissue_pending_reads_) {
    reissue_pending_reads_ = false;
    reissue_reads(true, Clock::now());
  }
}

// The journal batch of a Ready (its snapshot file is already durable). Built
// again for a retry rather than kept, so the hot path copies entries only once.
void Group::submit(std::shared_ptr<raft::Ready> rd) {
  storage::WriteBatch batch;
  if (rd->snapshot) batch.install_snapshot(id_, rd->snapshot->meta);
  if (!rd->entries.empty()) batch.append(id_, rd->entries);
  if (rd->hard_state) {
    batch.set_hard_state(id_, *rd->hard_state);
  } else if (unwritten_hard_state_) {
    batch.set_hard_state(id_, *unwritten_hard_state_);
  }
  unwritten_hard_state_.reset();
  batch.set_time_ms(wall_ms());
  env_->committer->submit(std::move(batch), [this, post = env_->post, rd](Status s) {
    post([this, s = std::move(s), rd] { on_persisted(s, rd); });
  });
}

void Group::on_persisted(const Status& s, const std::shared_ptr<raft::Ready>& rd) {
  if (s.code() == Code::kNoSpace) {
    // Nothing of the batch is in the journal (kNoSpace leaves it exactly as it
    // was). Retry after a pause: reads and everything already durable keep
    // working; writes wait for space.
    env_->no_space(true);
    glog_warn(id_, "disk full writing the log: {}; retrying in 1 s", s.message());
    env_->post_after(std::chrono::seconds(1), [this, rd] { submit(rd); });
    return;
  }
  if (!s.is_ok()) {
    env_->fail(Status(s.code(), cat("group ", id_, ": journal write failed: ", s.message())));
    return;  // persisting_ stays set: this group does nothing more
  }
  env_->no_space(false);
  persisting_ = false;
  if (rd->snapshot) {
    // The journal now points at the new snapshot; older files are unneeded.
    const Index idx = rd->snapshot->meta.index;
    (void)env_->snapshots->remove_older_than(id_, idx);
    env_->committer->request_garbage_collection();
  }
  finish_ready(*rd);
  env_->wake(id_);
}

void Group::finish_ready(raft::Ready& rd) {
  for (raft::Message& m : rd.messages_after_persist) send(std::move(m));
  if (rd.snapshot) {
    const raft::SnapshotMeta& meta = rd.snapshot->meta;
    if (Status s = restore_stored_snapshot(env_->snapshots, id_, meta.index, sm_.get());
        !s.is_ok()) {
      env_->fail(Status(s.code(), cat("group ", id_, ": restoring received snapshot ", meta.index,
                                      ": ", s.message())));
      persisting_ = true;
      return;
    }
    applied_ = meta.index;
    sm_holds_ = std::max(meta.index, sm_->durable_applied_index());
    snapshot_index_ = meta.index;
    conf_state_ = meta.conf_state;
    ++snapshots_received_;
    glog_info(id_, "installed snapshot at index {} (term {}) from the leader", meta.index,
              meta.term);
  }
  for (const raft::Entry& e : rd.committed_entries) apply(e);
  for (raft::ReadState& rs : rd.read_states) {
    auto round_id = decode_read_context(rs.context);
    if (!round_id) continue;
    auto round = read_rounds_.find(*round_id);
    if (round == read_rounds_.end()) continue;
    for (uint64_t rid : round->second.reads) {
      auto it = reads_.find(rid);
      if (it != reads_.end() && !it->second.index) it->second.index = rs.index;
    }
    if (round->first == round_in_flight_) round_in_flight_ = 0;
    read_rounds_.erase(round);
  }
  replica_->advance();
  serve_reads();
  // The reads that waited for the answered round go out in the next one.
  if (round_in_flight_ == 0 && !unasked_reads_.empty()) maybe_ask_read_round(Clock::now());
  maybe_snapshot();
}

void Group::apply(const raft::Entry& e) {
  if (e.index <= applied_) return;  // covered by a snapshot installed meanwhile
  applied_ = e.index;
  bytes_since_snapshot_ += e.data.size();
  recent_sizes_.emplace_back(e.index, e.data.size());
  if (recent_sizes_.size() > env_->options->snapshot_catchup_entries) recent_sizes_.pop_front();
  if (e.type == raft::EntryType::kConfChange) {
    apply_conf_change(e);
    return;
  }
  if (e.data.empty()) return;  // a new leader's no-op
  auto req = decode_request(e.data);
  if (!req) {
    // Every member skips it alike, so the replicas stay equal.
    glog_warn(id_, "committed entry {} is not a request; skipped", e.index);
    return;
  }
  if (e.index <= sm_holds_) {
    // Already in a durable machine's restored image; its result is unknown here.
    fail_proposal(req->first,
                  Status(Code::kUnavailable, cat("group ", id_,
                                                 ": applied before this member installed a "
                                                 "snapshot; the result is unknown")));
    return;
  }
  std::string result = sm_->apply(e.index, req->second);
  if (req->first.origin != env_->self) return;
  auto it = proposals_.find(req->first.request_id);
  if (it == proposals_.end()) return;  // timed out earlier, or proposed before a restart
  auto done = std::move(it->second.done);
  proposals_.erase(it);
  ++proposals_committed_;
  done(ProposeResult{e.index, std::move(result)});
}

// A change proposed through propose_membership carries its proposer's request
// header and a context for the state machine; Raft's own (leaving a joint
// configuration) carries neither. Every member reaches the same verdict from the
// same configuration, so a refused change leaves every replica as it was.
void Group::apply_conf_change(const raft::Entry& e) {
  auto cc = raft::decode_conf_change(e.data);
  if (!cc.is_ok()) {
    env_->fail(
        Status(Code::kCorruption, cat("group ", id_, ": committed entry ", e.index,
                                      " holds a bad membership change: ", cc.status().message())));
    return;
  }
  std::optional<std::pair<RequestHeader, std::string_view>> req;
  if (!cc.value().context.empty()) req = decode_request(cc.value().context);
  const bool single = cc.value().changes.size() == 1;
  Status verdict;
  if (single) {
    const raft::ConfChangeSingle& c = cc.value().changes[0];
    verdict = check_membership_change(conf_state_, c.type, c.node);
  }
  if (verdict.is_ok()) {
    const raft::ConfState before = conf_state_;
    conf_state_ = replica_->apply_conf_change(cc.value());
    if (conf_state_ == before && !cc.value().leave_joint()) {
      verdict = Status(Code::kFailedPrecondition,
                       cat("group ", id_, ": Raft refused the membership change ", cc.value(),
                           " (it would leave the group without a voter)"));
    }
  }
  if (!verdict.is_ok()) {
    glog_warn(id_, "membership change at index {} refused: {}", e.index, verdict.message());
    if (req) fail_proposal(req->first, verdict);
    return;
  }
  if (single) {
    const raft::ConfChangeSingle& c = cc.value().changes[0];
    glog_info(id_, "{}",
              cat("membership change at index ", e.index, ": ", cc.value(), "; now ", conf_state_));
    if (e.index > sm_holds_) {
      sm_->apply_membership(e.index, c, req ? req->second : std::string_view());
    }
    if (env_->membership_changed) env_->membership_changed(id_, c);
  }
  if (!req || req->first.origin != env_->self) return;
  auto it = proposals_.find(req->first.request_id);
  if (it == proposals_.end()) return;
  auto done = std::move(it->second.done);
  proposals_.erase(it);
  ++proposals_committed_;
  done(ProposeResult{e.index, std::string()});
}

void Group::fail_proposal(const RequestHeader& h, const Status& why) {
  if (h.origin != env_->self) return;
  auto it = proposals_.find(h.request_id);
  if (it == proposals_.end()) return;
  auto done = std::move(it->second.done);
  proposals_.erase(it);
  ++proposals_failed_;
  done(why);
}

void Group::send(raft::Message m) {
  if (m.type == raft::MessageType::kSnapshot && sm_->durable()) {
    // The stored snapshot of a durable machine holds no data (see
    // state_machine.h): the image is fixed now, at the current applied index,
    // and read as the transport sends it. The bootstrap snapshot at index 1
    // holds an empty machine's data; the image replaces that too.
    if (m.snapshot && !m.snapshot->data.empty()) {
      auto meta_only = std::make_shared<raft::Snapshot>();
      meta_only->meta = m.snapshot->meta;
      m.snapshot = std::move(meta_only);
    }
    env_->send(id_, std::move(m), sm_->image());
    return;
  }
  env_->send(id_, std::move(m), nullptr);
}

void Group::serve_reads() {
  for (auto it = reads_.begin(); it != reads_.end();) {
    if (!it->second.index || *it->second.index > applied_) {
      ++it;
      continue;
    }
    PendingRead r = std::move(it->second);
    it = reads_.erase(it);
    r.done(r.query(*sm_));
  }
}

void Group::maybe_snapshot() {
  if (persisting_ || snapshotting_) return;
  const NodeOptions& o = *env_->options;
  if (applied_ - snapshot_index_ < o.snapshot_entries && bytes_since_snapshot_ < o.snapshot_bytes) {
    return;
  }
  auto term = log_->term(applied_);
  if (!term.is_ok()) return;  // not in the log (just installed a snapshot): nothing to do
  raft::SnapshotMeta meta{applied_, term.value(), conf_state_};
  Status s;
  if (sm_->durable()) {
    // The machine's own files are the snapshot once synced; the file records
    // only where the log may be compacted (state_machine.h).
    s = sm_->sync(applied_);
    if (s.is_ok()) s = write_snapshot_file(env_->snapshots, id_, meta, {});
  } else {
    s = write_snapshot_file(env_->snapshots, id_, meta, sm_->snapshot());
  }
  if (!s.is_ok()) {
    glog_warn(id_, "snapshot at index {} failed: {}; the log keeps growing", applied_,
              s.to_string());
    if (s.code() != Code::kNoSpace) env_->fail(s);
    return;
  }
  storage::WriteBatch batch;
  batch.install_snapshot(id_, meta);
  // Keep the last snapshot_catchup_entries (and at most snapshot_catchup_bytes of
  // them) so that a slightly lagging follower catches up from the log instead of
  // by snapshot.
  const uint64_t keep = o.snapshot_catchup_entries;
  Index compact_to = applied_ - Index{0} > keep ? applied_ + 1 - keep : Index{1};
  uint64_t kept_bytes = 0;
  for (auto it = recent_sizes_.rbegin(); it != recent_sizes_.rend(); ++it) {
    kept_bytes += it->second;
    if (kept_bytes > o.snapshot_catchup_bytes) {
      compact_to = std::max(compact_to, it->first + 1);
      break;
    }
  }
  compact_to = std::min(compact_to, applied_);
  bytes_since_snapshot_ = 0;
  if (compact_to > log_->first_index()) batch.compact(id_, compact_to);
  snapshotting_ = true;
  env_->committer->submit(std::move(batch), [this, post = env_->post, meta](Status s) {
    post([this, s = std::move(s), meta] {
      snapshotting_ = false;
      if (!s.is_ok()) {
        if (s.code() == Code::kNoSpace) {
          env_->no_space(true);
        } else {
          env_->fail(s);
        }
        return;
      }
      ++snapshots_taken_;
      snapshot_index_ = std::max(snapshot_index_, meta.index);
      (void)env_->snapshots->remove_older_than(id_, snapshot_index_);
      env_->committer->request_garbage_collection();
      observe::glog_debug(id_, "snapshot at index {}, log now starts at {}", meta.index,
                          log_->first_index());
      env_->wake(id_);
    });
  });
}

raft::NodeId Group::best_transfer_target(const std::set<raft::NodeId>& reachable) const {
  const raft::ReplicaStatus st = replica_->status();
  raft::NodeId best = raft::kNoNode;
  Index best_match;
  for (raft::NodeId v : st.conf_state.voters) {
    if (v == env_->self || reachable.count(v) == 0) continue;
    auto it = st.progress.find(v);
    // A voter not heard from lately (down, partitioned) could not take over.
    if (it == st.progress.end() || !it->second.recent_active) continue;
    const Index match = it->second.match;
    if (best == raft::kNoNode || match > best_match) {
      best = v;
      best_match = match;
    }
  }
  return best;
}

GroupStatus Group::status() const {
  const raft::ReplicaStatus st = replica_->status();
  GroupStatus g;
  g.group = id_;
  g.term = st.term;
  g.leader = st.leader;
  g.role = st.role;
  g.commit = st.commit;
  g.applied = applied_;
  g.last_index = st.last_index;
  g.first_index = log_->first_index();
  g.snapshot_index = snapshot_index_;
  g.conf_state = st.conf_state;
  g.leader_changes = leader_changes_;
  g.proposals_committed = proposals_committed_;
  g.proposals_failed = proposals_failed_;
  g.pending_proposals = proposals_.size();
  g.pending_reads = reads_.size();
  g.read_rounds = read_rounds_asked_;
  g.snapshots_sent = snapshots_sent_;
  g.snapshots_received = snapshots_received_;
  g.snapshots_taken = snapshots_taken_;
  for (const auto& [id, p] : st.progress) {
    g.match[id] = p.match;
    if (p.recent_active) g.recently_active.insert(id);
  }
  return g;
}

}  // namespace meridian::node
