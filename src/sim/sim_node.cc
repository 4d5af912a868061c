#include "sim/sim_node.h"

#include <sstream>
#include <utility>

#include "base/assert.h"
#include "sim/trace.h"

namespace meridian::sim {

using raft::ConfChange;
using raft::Entry;
using raft::EntryType;
using raft::Index;
using raft::Message;
using raft::Ready;
using raft::Status;

namespace {

// Clients keep at most one read outstanding each; far more pending reads at one
// node means reads are never served, which a later check would report anyway.
constexpr size_t kPendingReadsMax = 1024;

std::string node_name(raft::NodeId id) { return cat("n", id); }

}  // namespace

SimNode::SimNode(const NodeParams& params, NodeHost* host)
    : params_(params), host_(host), storage_(params.file_system_seed) {
  params_.config.id = params_.id;
}

raft::Replica& SimNode::replica() {
  MERIDIAN_ASSERT(replica_ != nullptr, "replica() of down node ", params_.id);
  return *replica_;
}

const raft::Replica& SimNode::replica() const {
  MERIDIAN_ASSERT(replica_ != nullptr, "replica() of down node ", params_.id);
  return *replica_;
}

void SimNode::bootstrap(const raft::Snapshot& snap, const raft::HardState& hs) {
  MERIDIAN_ASSERT(!up() && !storage_.is_open(), "bootstrap of started node ", params_.id);
  Status s = storage_.open();
  if (s.is_ok()) s = storage_.bootstrap(snap, hs);
  if (!s.is_ok()) {
    host_->node_failure("storage write", cat(node_name(id()), " bootstrap: ", s.to_string()));
  }
}

void SimNode::start() {
  MERIDIAN_ASSERT(!up(), "start of running node ", params_.id);
  if (!storage_.is_open()) {
    // Recovery: whatever the crash left on the disk must open, and hold everything
    // that was synced; anything else is a storage bug, never to be skipped.
    if (Status s = storage_.open(); !s.is_ok()) {
      host_->node_failure("storage recovery", cat(node_name(id()), ": ", s.to_string()));
      return;
    }
  }
  const raft::SnapshotMeta meta = storage_.snapshot_meta();
  kv_ = KvStateMachine();
  if (meta.index > Index{0}) {
    auto snap = storage_.read_snapshot(meta.index);
    if (!snap.is_ok()) {
      host_->node_failure("storage recovery", cat(node_name(id()), " cannot read its snapshot at ",
                                                  meta.index, ": ", snap.status().to_string()));
      return;
    }
    if (!kv_.restore(snap.value().data, meta.index.value())) {
      host_->node_failure("snapshot data",
                          cat(node_name(id()), " cannot restore its snapshot at ", meta.index));
      return;
    }
  }
  conf_ = meta.conf_state;
  applied_ = meta.index;
  const raft::LogStorage& log = storage_.log();
  commit_seen_ = log.hard_state().commit;
  raft::Config config = params_.config;
  config.applied = meta.index;
  auto created = raft::Replica::create(config, &log);
  MERIDIAN_ASSERT(created.is_ok(), "Replica::create: ", created.status());
  replica_ = std::move(created).value();
  last_role_ = replica_->role();
  last_term_ = replica_->term();
  last_leader_ = replica_->leader();
  host_->node_trace(cat(node_name(id()), " start term=", last_term_, " applied=", applied_, " ",
                        storage_.describe()));
  after_input();
}

void SimNode::crash(std::optional<uint32_t> keep_unsynced_ppm) {
  MERIDIAN_ASSERT(up(), "crash of down node ", params_.id);
  const bool unsynced = storage_.has_unsynced_write();
  std::string how = storage_.power_failed() ? std::string("power failed during a write")
                    : keep_unsynced_ppm     ? cat("power loss, keeps unsynced appends with chance ",
                                                  *keep_unsynced_ppm, "ppm")
                                            : std::string("process crash");
  replica_.reset();
  ready_.reset();
  pending_reads_.clear();
  ++incarnation_;
  storage_.crash(keep_unsynced_ppm);
  last_role_ = raft::Role::kFollower;
  host_->node_trace(
      cat("crash ", node_name(id()), " (", how, ")", unsynced ? ", one write unsynced" : ""));
}

bool SimNode::storage_failed(const char* invariant, const Status& s) {
  if (storage_.power_failed()) {
    host_->node_trace(
        cat(node_name(id()), " loses power in the middle of a write: ", s.to_string()));
    crash(std::nullopt);  // the file system crashed already, losing what it lost
    host_->node_power_failed(*this);
    return false;
  }
  host_->node_failure(invariant, cat(node_name(id()), ": ", s.to_string()));
  return false;
}

void SimNode::tick() {
  replica().tick();
  after_input();
}

void SimNode::deliver(Message m) {
  Status s = replica().step(std::move(m));
  (void)s;  // stale or misaddressed messages are refused; that is normal traffic
  after_input();
}

Status SimNode::propose(std::string data) {
  Status s = replica().propose(std::move(data));
  after_input();
  return s;
}

Status SimNode::propose_conf_change(const ConfChange& cc) {
  Status s = replica().propose_conf_change(cc);
  after_input();
  return s;
}

void SimNode::read_index(std::string context) {
  replica().read_index(std::move(context));
  after_input();
}

void SimNode::report_snapshot(raft::NodeId to, bool ok) {
  replica().report_snapshot(to, ok);
  after_input();
}

void SimNode::after_input() {
  observe_role();
  pump();
}

void SimNode::observe_role() {
  if (!up()) return;
  const raft::Role role = replica_->role();
  const raft::Term term = replica_->term();
  const raft::NodeId leader = replica_->leader();
  if (role == last_role_ && term == last_term_ && leader == last_leader_) return;
  const bool role_changed = role != last_role_ || term != last_term_;
  last_role_ = role;
  last_term_ = term;
  last_leader_ = leader;
  if (!role_changed) return;
  if (role == raft::Role::kLeader || role == raft::Role::kCandidate) {
    host_->node_trace(cat(node_name(id()), " becomes ", raft::role_name(role), " term=", term));
  }
  host_->node_role_changed(*this);
}

void SimNode::pump() {
  // A callback may feed this node again (never synchronously today, but cheap to
  // guard): the outer pump picks up whatever became ready.
  if (in_pump_) return;
  in_pump_ = true;
  while (up() && !ready_ && replica_->has_ready()) take_ready();
  in_pump_ = false;
}

void SimNode::take_ready() {
  ready_ = replica_->ready();
  const Ready& rd = *ready_;
  observe_role();
  for (const Message& m : rd.messages) host_->node_send(*this, m);
  const Index old_commit = commit_seen_;
  if (!write_ready(rd)) return;  // a failure was reported; the run stops
  host_->node_ready_written(*this, rd, old_commit);
  if (!rd.must_sync) {
    finish_ready(incarnation_);
    return;
  }
  const uint64_t inc = incarnation_;
  host_->node_schedule(host_->node_disk_latency_us(), [this, inc] { finish_ready(inc); });
}

bool SimNode::write_ready(const Ready& rd) {
  if (Status s = storage_.write_ready(rd); !s.is_ok()) return storage_failed("storage write", s);
  if (rd.hard_state) commit_seen_ = rd.hard_state->commit;
  if (rd.snapshot || !rd.entries.empty() || rd.hard_state) {
    std::string line = cat(node_name(id()), " write");
    if (rd.snapshot) line += cat(" snap=", rd.snapshot->meta.term, "/", rd.snapshot->meta.index);
    if (!rd.entries.empty()) {
      line += cat(" entries=", rd.entries.front().index, "..", rd.entries.back().index,
                  " term=", rd.entries.back().term);
    }
    if (rd.hard_state) {
      line += cat(" hs=(term=", rd.hard_state->term, " vote=", rd.hard_state->vote,
                  " commit=", rd.hard_state->commit, ")");
    }
    if (rd.must_sync) line += " sync";
    host_->node_trace(std::move(line));
  }
  return true;
}

void SimNode::finish_ready(uint64_t incarnation) {
  if (incarnation != incarnation_ || !ready_) return;  // crashed meanwhile
  // Also a Ready that needed no sync but wrote (a commit index) is synced here,
  // at no cost in virtual time: the next write must not start before it, as the
  // journal's recovery assumes that only the last write can be torn.
  if (Status s = storage_.sync(); !s.is_ok()) {
    storage_failed("storage sync", s);
    return;
  }
  Ready rd = std::move(*ready_);
  for (Message& m : rd.messages_after_persist) host_->node_send(*this, std::move(m));
  if (rd.snapshot) install_snapshot(*rd.snapshot);
  for (const Entry& e : rd.committed_entries) {
    if (!apply_entry(e)) return;
  }
  for (raft::ReadState& rs : rd.read_states) pending_reads_.push_back(std::move(rs));
  MERIDIAN_ASSERT(pending_reads_.size() <= kPendingReadsMax, node_name(id()), " has ",
                  pending_reads_.size(), " reads pending");
  serve_reads();
  ready_.reset();
  replica_->advance();
  after_input();
}

void SimNode::install_snapshot(const raft::Snapshot& snap) {
  if (snap.meta.index <= applied_) {
    host_->node_failure("snapshot install", cat(node_name(id()), " handed snapshot at ",
                                                snap.meta.index, " with applied ", applied_));
    return;
  }
  if (!kv_.restore(snap.data, snap.meta.index.value())) {
    host_->node_failure("snapshot data",
                        cat(node_name(id()), " got an unreadable snapshot at ", snap.meta.index));
    return;
  }
  conf_ = snap.meta.conf_state;
  applied_ = snap.meta.index;
  std::ostringstream os;
  os << conf_;
  host_->node_trace(cat(node_name(id()), " installs snapshot ", snap.meta.term, "/",
                        snap.meta.index, " ", os.str()));
  host_->node_snapshot_installed(*this, snap.meta);
}

bool SimNode::apply_entry(const Entry& e) {
  if (e.index != applied_ + 1) {
    host_->node_failure(
        "apply order", cat(node_name(id()), " handed entry ", e.index, " with applied ", applied_));
    return false;
  }
  host_->node_entry_applied(*this, e);
  applied_ = e.index;
  if (e.type == EntryType::kConfChange) {
    auto cc = raft::decode_conf_change(e.data);
    if (!cc.is_ok()) {
      host_->node_failure("entry data", cat(node_name(id()), " bad conf change at ", e.index));
      return false;
    }
    conf_ = replica_->apply_conf_change(cc.value());
    std::ostringstream os;
    os << cc.value() << " -> " << conf_;
    host_->node_trace(cat(node_name(id()), " applies conf ", e.term, "/", e.index, " ", os.str()));
  } else if (!e.data.empty()) {
    std::optional<Command> c = decode_command(e.data);
    if (!c) {
      host_->node_failure("entry data", cat(node_name(id()), " bad command at ", e.index));
      return false;
    }
    const ApplyResult r = kv_.apply(*c);
    host_->node_command_applied(*this, *c, r);
  }
  return maybe_snapshot(e);
}

bool SimNode::maybe_snapshot(const Entry& last_applied) {
  const uint64_t every = params_.snapshot_every_entries;
  if (every == 0) return true;
  if (applied_ - storage_.snapshot_meta().index < every) return true;
  // Entries from compact_to on stay: `keep` of them at or below the snapshot.
  const uint64_t keep = params_.snapshot_keep_entries;
  const Index compact_to = applied_.value() > keep ? applied_ - keep + 1 : Index{1};
  const raft::SnapshotMeta meta{.index = applied_, .term = last_applied.term, .conf_state = conf_};
  if (Status s = storage_.snapshot_and_compact(meta, kv_.snapshot(applied_.value()), compact_to);
      !s.is_ok()) {
    return storage_failed("storage snapshot", s);
  }
  host_->node_trace(cat(node_name(id()), " snapshots at ", applied_, " keeps the log from ",
                        storage_.log().first_index()));
  return true;
}

void SimNode::serve_reads() {
  // Served in arrival order; a read waits for the state machine to reach its index.
  size_t kept = 0;
  for (size_t k = 0; k < pending_reads_.size(); ++k) {
    if (pending_reads_[k].index <= applied_) {
      host_->node_read_ready(*this, pending_reads_[k].context);
    } else {
      if (kept != k) pending_reads_[kept] = std::move(pending_reads_[k]);  // no self-move
      ++kept;
    }
  }
  pending_reads_.resize(kept);
}

}  // namespace meridian::sim
