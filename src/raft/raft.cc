// Roles, timers, elections and the follower side of replication. The leader side
// (replication, commitment, reads, transfer, membership) is in raft_leader.cc.
#include "raft/raft.h"

#include <algorithm>

#include "base/assert.h"
#include "raft/confchange.h"

namespace meridian::raft {

Raft::Raft(const Config& config, const LogStorage* storage)
    : config_(config),
      id_(config.id),
      log_(storage),
      trk_(config.inflight_messages_max, config.inflight_bytes_max),
      rng_state_(config.random_seed ^ (config.id.value() * 0x9e3779b97f4a7c15ull)) {
  MERIDIAN_ASSERT(config.validate().is_ok(), config.validate());
  HardState hs = storage->hard_state();
  // A snapshot covers committed entries even if the hard state was saved before it.
  if (log_.committed() < log_.first_index() - 1) log_.commit_to(log_.first_index() - 1);
  if (config.applied > log_.applied()) log_.applied_to(config.applied);

  auto restored = restore_conf_state(storage->conf_state(), log_.last_index(),
                                     config.inflight_messages_max, config.inflight_bytes_max);
  MERIDIAN_ASSERT(restored.is_ok(), "stored membership is inconsistent: ", restored.status());
  switch_to_config(std::move(restored.value().first), std::move(restored.value().second));
  become_follower(hs.term, kNoNode);
  vote_ = hs.vote;
}

uint64_t Raft::next_random() {
  // splitmix64: small, fast, and fully determined by the seed.
  uint64_t z = (rng_state_ += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

void Raft::reset_randomized_election_timeout() {
  // Uniform in [election_ticks, 2 * election_ticks): Raft §5.2, so that split votes
  // are rare and resolve quickly.
  randomized_election_timeout_ =
      config_.election_ticks + static_cast<int>(next_random() % config_.election_ticks);
}

void Raft::reset(Term term) {
  if (term_ != term) {
    term_ = term;
    vote_ = kNoNode;
  }
  lead_ = kNoNode;
  election_elapsed_ = 0;
  heartbeat_elapsed_ = 0;
  reset_randomized_election_timeout();
  abort_leader_transfer();
  trk_.reset_votes();
  Index last = log_.last_index();
  trk_.visit([&](NodeId id, Progress& pr) {
    bool learner = pr.is_learner;
    pr = Progress(last + 1, trk_.inflight_messages_max(), trk_.inflight_bytes_max());
    pr.is_learner = learner;
    if (id == id_) pr.match = log_.last_stable_index();
  });
  pending_conf_index_ = Index{0};
  uncommitted_bytes_ = 0;
  read_queue_.clear();
  pending_reads_.clear();
}

void Raft::become_follower(Term term, NodeId leader) {
  reset(term);
  lead_ = leader;
  role_ = Role::kFollower;
}

void Raft::become_pre_candidate() {
  MERIDIAN_ASSERT(role_ != Role::kLeader, "a leader cannot become a pre-candidate");
  // Pre-vote changes neither term nor vote: a node partitioned away can keep
  // campaigning without inflating its term and disrupting the cluster on return.
  trk_.reset_votes();
  lead_ = kNoNode;
  role_ = Role::kPreCandidate;
}

void Raft::become_candidate() {
  MERIDIAN_ASSERT(role_ != Role::kLeader, "a leader cannot become a candidate");
  reset(term_ + 1);
  vote_ = id_;
  role_ = Role::kCandidate;
}

void Raft::become_leader() {
  MERIDIAN_ASSERT(role_ != Role::kFollower, "a follower must campaign to become leader");
  reset(term_);
  lead_ = id_;
  role_ = Role::kLeader;
  trk_.visit([&](NodeId id, Progress& pr) {
    if (id != id_) return;
    pr.become_replicate();
    // The leader is part of the quorum it checks (§6.2); reset() cleared the flag.
    pr.recent_active = true;
  });
  // Entries of earlier terms may hold an unapplied conf change; none may be
  // proposed until everything up to here is applied.
  pending_conf_index_ = log_.last_index();
  // The no-op of this term: committing it commits everything before it (§5.4.2)
  // and lets ReadIndex start (thesis §6.4).
  std::vector<Entry> noop(1);
  Status s = append_entries(noop);
  MERIDIAN_ASSERT(s.is_ok(), "a new leader must be able to append its no-op: ", s);
}

bool Raft::promotable() const {
  auto it = trk_.progress.find(id_);
  return it != trk_.progress.end() && !it->second.is_learner && !log_.unstable_snapshot();
}

bool Raft::has_unapplied_conf_change() const {
  // A node that campaigns with a committed but unapplied conf change would use a
  // stale configuration to count votes.
  Index lo = log_.applied() + 1;
  Index hi = log_.committed() + 1;
  if (lo >= hi || lo < log_.first_index()) return false;
  auto ents = log_.slice(lo, hi, UINT64_MAX);
  MERIDIAN_ASSERT(ents.is_ok(), "committed entries must be readable: ", ents.status());
  return std::any_of(ents.value().begin(), ents.value().end(),
                     [](const Entry& e) { return e.type == EntryType::kConfChange; });
}

void Raft::tick() {
  if (role_ != Role::kLeader) {
    ++election_elapsed_;
    if (promotable() && past_election_timeout()) {
      election_elapsed_ = 0;
      hup(false);
    }
    return;
  }
  ++heartbeat_elapsed_;
  ++election_elapsed_;
  if (election_elapsed_ >= config_.election_ticks) {
    election_elapsed_ = 0;
    if (config_.check_quorum) {
      // Check-quorum (thesis §6.2): a leader that has not heard from a quorum for an
      // election timeout steps down, so that a partitioned leader stops serving.
      if (!trk_.quorum_active()) {
        become_follower(term_, kNoNode);
        return;
      }
      trk_.visit([&](NodeId id, Progress& pr) { pr.recent_active = (id == id_); });
    }
  }
  // A transfer that did not finish within an election timeout is abandoned. Its
  // clock is its own: restarting the election clock instead would let repeated
  // transfer requests postpone check-quorum forever.
  if (lead_transferee_ != kNoNode && ++transfer_elapsed_ >= config_.election_ticks) {
    abort_leader_transfer();
    // on_applied may have refused to leave a joint config during the transfer;
    // nothing else would retry it until some unrelated entry is applied.
    on_applied(log_.applied(), 0);
  }
  if (heartbeat_elapsed_ >= config_.heartbeat_ticks) {
    heartbeat_elapsed_ = 0;
    bcast_heartbeat();
  }
}

void Raft::hup(bool transfer) {
  if (role_ == Role::kLeader || !promotable() || has_unapplied_conf_change()) return;
  election_elapsed_ = 0;  // a campaign started by the host gets a full timeout too
  campaign(config_.pre_vote && !transfer, transfer);
}

void Raft::campaign(bool pre_vote, bool transfer) {
  Term vote_term;
  MessageType type;
  if (pre_vote) {
    become_pre_candidate();
    type = MessageType::kPreVote;
    vote_term = term_ + 1;  // the term it would campaign at; its own stays unchanged
  } else {
    become_candidate();
    type = MessageType::kVote;
    vote_term = term_;
  }
  trk_.record_vote(id_, true);
  if (trk_.tally_votes().result == VoteResult::kWon) {
    // A single-voter group wins at once.
    if (pre_vote) {
      campaign(false, transfer);
    } else {
      become_leader();
    }
    return;
  }
  for (NodeId id : trk_.voter_nodes()) {
    if (id == id_) continue;
    Message m;
    m.type = type;
    m.to = id;
    m.term = vote_term;
    m.index = log_.last_index();
    m.log_term = log_.last_term();
    m.force = transfer;
    m.commit = log_.committed();
    m.commit_term = log_.term_or_zero(m.commit);
    send(std::move(m));
  }
}

// Configurations take effect when applied, so without a leader the voters may
// disagree on the configuration, each waiting for a vote that the other's rules
// forbid (say, one knows a change committed, the other has the longer log). Vote
// requests and rejections carry the sender's commit index so that they learn it
// from each other. Safe: the entry at a committed index is the same in every log
// that has an entry of the same term there (Log Matching, §5.3).
void Raft::learn_commit(const Message& m) {
  if (role_ == Role::kLeader || m.commit <= log_.committed()) return;
  if (log_.match_term(m.commit, m.commit_term)) log_.commit_to(m.commit);
}

Status Raft::step(Message m) {
  bool handled = false;
  Status s = step_by_term(m, handled);
  if (handled) return s;
  switch (m.type) {
    case MessageType::kVote:
    case MessageType::kPreVote:
      step_vote_request(m);
      return Status::ok();
    default:
      break;
  }
  switch (role_) {
    case Role::kLeader:
      return step_leader(m);
    case Role::kCandidate:
    case Role::kPreCandidate:
      return step_candidate(m);
    case Role::kFollower:
      return step_follower(m);
  }
  return Status::ok();
}

// Compares the message's term with ours (Raft §5.1): adopt a newer term, answer or
// drop an older one. Sets `handled` when nothing more is to be done.
Status Raft::step_by_term(Message& m, bool& handled) {
  // Forwarded local requests (proposals, reads, transfers) carry no term.
  if (m.term == Term{0}) return Status::ok();
  if (m.term > term_) {
    bool vote_request = m.type == MessageType::kVote || m.type == MessageType::kPreVote;
    if (vote_request && !m.force && config_.check_quorum && lead_ != kNoNode &&
        election_elapsed_ < config_.election_ticks) {
      // Leader stickiness (thesis §4.2.3): while it hears from a live leader a node
      // ignores vote requests, so a removed or partitioned node cannot depose it.
      handled = true;
      return Status::ok();
    }
    if (m.type == MessageType::kPreVote) return Status::ok();  // no term change for pre-votes
    if (m.type == MessageType::kPreVoteResponse && !m.reject) {
      // A granted pre-vote carries the term we would campaign at; the term changes
      // only when the real election starts.
      return Status::ok();
    }
    bool from_leader = m.type == MessageType::kAppend || m.type == MessageType::kHeartbeat ||
                       m.type == MessageType::kSnapshot;
    become_follower(m.term, from_leader ? m.from : kNoNode);
    return Status::ok();
  }
  if (m.term < term_) {
    handled = true;
    if (m.type == MessageType::kHeartbeat || m.type == MessageType::kAppend) {
      // A stale leader, which may never learn our term otherwise: with pre-vote or
      // check-quorum we never send it a vote request that would, and without them
      // the candidate that raised our term may not count the stale leader among
      // its voters (an older configuration), so no vote request reaches it either:
      // a joint configuration that needs us then stalls forever. Tell it, as
      // Raft's rules say (a reply carries the current term).
      Message r;
      r.type = MessageType::kAppendResponse;
      r.to = m.from;
      send(std::move(r));
    } else if (m.type == MessageType::kPreVote) {
      // Reject with our term so a pre-candidate that fell behind in terms catches up
      // (otherwise a cluster that enabled pre-vote could deadlock).
      Message r;
      r.type = MessageType::kPreVoteResponse;
      r.to = m.from;
      r.reject = true;
      send(std::move(r));
    }
  }
  return Status::ok();
}

void Raft::step_vote_request(const Message& m) {
  learn_commit(m);
  bool pre = m.type == MessageType::kPreVote;
  // A vote in this term is given once (persisted before the answer is sent). A
  // pre-vote for a later term promises nothing, so it may be given freely.
  bool can_vote =
      vote_ == m.from || (vote_ == kNoNode && lead_ == kNoNode) || (pre && m.term > term_);
  bool up_to_date = log_.is_up_to_date(m.index, m.log_term);
  if (MERIDIAN_PLANTED(config_, kVoteWithoutLogCheck)) up_to_date = true;
  Message r;
  r.type = pre ? MessageType::kPreVoteResponse : MessageType::kVoteResponse;
  r.to = m.from;
  if (can_vote && up_to_date) {
    // The answer carries the request's term: for a pre-vote it is a term we have
    // not adopted, and the pre-candidate counts answers at that term.
    r.term = m.term;
    if (!pre) {
      election_elapsed_ = 0;
      vote_ = m.from;
    }
  } else {
    r.term = term_;
    r.reject = true;
    r.commit = log_.committed();
    r.commit_term = log_.term_or_zero(r.commit);
  }
  send(std::move(r));
}

Status Raft::step_candidate(Message& m) {
  switch (m.type) {
    case MessageType::kPropose:
      return Status(Code::kProposalDropped, "no leader: an election is in progress");
    case MessageType::kAppend:
      become_follower(m.term, m.from);  // another candidate won this term
      handle_append(m);
      return Status::ok();
    case MessageType::kHeartbeat:
      become_follower(m.term, m.from);
      handle_heartbeat(m);
      return Status::ok();
    case MessageType::kSnapshot:
      become_follower(m.term, m.from);
      handle_snapshot(m);
      return Status::ok();
    case MessageType::kVoteResponse:
    case MessageType::kPreVoteResponse: {
      if (m.reject) learn_commit(m);
      bool mine = (role_ == Role::kPreCandidate) == (m.type == MessageType::kPreVoteResponse);
      if (!mine) return Status::ok();
      trk_.record_vote(m.from, !m.reject);
      VoteResult result = trk_.tally_votes().result;
      if (result == VoteResult::kWon) {
        if (role_ == Role::kPreCandidate) {
          campaign(false, false);
        } else {
          become_leader();
          bcast_append();
        }
      } else if (result == VoteResult::kLost) {
        become_follower(term_, kNoNode);
      }
      return Status::ok();
    }
    case MessageType::kReadIndex:
      return Status(Code::kNotLeader, "no leader: an election is in progress");
    default:
      return Status::ok();
  }
}

Status Raft::step_follower(Message& m) {
  switch (m.type) {
    case MessageType::kPropose:
      if (lead_ == kNoNode) return Status(Code::kProposalDropped, "no leader");
      if (config_.disable_proposal_forwarding) {
        return Status(Code::kNotLeader, "proposal forwarding is disabled");
      }
      m.to = lead_;
      send(std::move(m));
      return Status::ok();
    case MessageType::kAppend:
      election_elapsed_ = 0;
      lead_ = m.from;
      handle_append(m);
      return Status::ok();
    case MessageType::kHeartbeat:
      election_elapsed_ = 0;
      lead_ = m.from;
      handle_heartbeat(m);
      return Status::ok();
    case MessageType::kSnapshot:
      election_elapsed_ = 0;
      lead_ = m.from;
      handle_snapshot(m);
      return Status::ok();
    case MessageType::kTransferLeader:
    case MessageType::kReadIndex:
      if (lead_ == kNoNode) return Status(Code::kNotLeader, "no leader");
      m.to = lead_;
      send(std::move(m));
      return Status::ok();
    case MessageType::kTimeoutNow:
      // The leader is handing over: campaign at once, past the voters' leases.
      hup(true);
      return Status::ok();
    case MessageType::kReadIndexResponse:
      read_states_.push_back(ReadState{m.index, std::move(m.context)});
      return Status::ok();
    default:
      return Status::ok();
  }
}

void Raft::handle_append(const Message& m) {
  Message r;
  r.type = MessageType::kAppendResponse;
  r.to = m.from;
  if (m.index < log_.committed()) {
    // Everything up to our commit index matches the leader's log already.
    r.index = log_.committed();
    send(std::move(r));
    return;
  }
  auto last = log_.maybe_append(m.index, m.log_term, m.commit, m.entries);
  if (last) {
    r.index = *last;
    send(std::move(r));
    return;
  }
  // Reject, with a hint for fast backtracking (§5.3): our last index at or below
  // the probed one whose term is at most the probed term. The leader can then skip
  // every index of a conflicting term in one round trip.
  Index hint = std::min(m.index, log_.last_index());
  auto [hint_index, hint_term] = log_.find_conflict_by_term(hint, m.log_term);
  r.index = m.index;
  r.reject = true;
  r.reject_hint = hint_index;
  r.log_term = hint_term;
  send(std::move(r));
}

void Raft::handle_heartbeat(const Message& m) {
  // The leader sends min(our match, its commit), so this never passes our log.
  log_.commit_to(std::min(m.commit, log_.last_index()));
  Message r;
  r.type = MessageType::kHeartbeatResponse;
  r.to = m.from;
  r.context = m.context;
  send(std::move(r));
}

void Raft::handle_snapshot(const Message& m) {
  Message r;
  r.type = MessageType::kAppendResponse;
  r.to = m.from;
  r.index = restore(m.snapshot) ? log_.last_index() : log_.committed();
  send(std::move(r));
}

bool Raft::restore(const std::shared_ptr<const Snapshot>& snapshot) {
  if (!snapshot || snapshot->meta.index <= log_.committed()) return false;
  const SnapshotMeta& meta = snapshot->meta;
  if (log_.match_term(meta.index, meta.term)) {
    // We hold the entry the snapshot ends at: our log is a superset; just commit.
    log_.commit_to(meta.index);
    return false;
  }
  auto restored = restore_conf_state(meta.conf_state, meta.index, config_.inflight_messages_max,
                                     config_.inflight_bytes_max);
  if (!restored.is_ok()) return false;  // a malformed snapshot changes nothing
  log_.restore(snapshot);
  switch_to_config(std::move(restored.value().first), std::move(restored.value().second));
  return true;
}

void Raft::send(Message m) {
  m.from = id_;
  bool local_request = m.type == MessageType::kPropose || m.type == MessageType::kReadIndex ||
                       m.type == MessageType::kTransferLeader;
  if (local_request) {
    m.term = Term{0};
  } else if (m.term == Term{0}) {
    m.term = term_;  // vote messages set their own term; everything else carries ours
  }
  // Messages that promise something about our durable state wait for the persist:
  // an append acknowledgement (the entries are ours), a vote or vote request (the
  // vote must survive a crash, or we could vote twice in a term).
  bool after_persist = m.type == MessageType::kAppendResponse || m.type == MessageType::kVote ||
                       m.type == MessageType::kVoteResponse;
  if (m.type == MessageType::kAppendResponse && MERIDIAN_PLANTED(config_, kAckBeforePersist)) {
    after_persist = false;
  }
  (after_persist ? msgs_after_persist_ : msgs_).push_back(std::move(m));
}

}  // namespace meridian::raft
