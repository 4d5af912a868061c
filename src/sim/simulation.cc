#include "sim/simulation.h"

#include <algorithm>
#include <utility>

#include "sim/clients.h"
#include "sim/cluster.h"
#include "sim/nemesis.h"

namespace meridian::sim {

namespace {

constexpr uint64_t kMs = kMicrosPerMilli;

struct RunPlan {
  ClusterParams cluster;
  NemesisParams nemesis;
  ClientParams clients;
};

// Per-percent probabilities in ppm.
constexpr uint32_t percent(uint32_t p) { return p * (Rng::kPpmOne / 100); }

void draw_topology(const SimOptions& o, Rng& rng, RunPlan& p) {
  // With membership changes there are spare nodes to add; without, the pool is
  // exactly the voters. Five or seven nodes, three or five voters.
  const bool five_voters = rng.below(3) == 0;
  p.cluster.initial_voters = five_voters ? 5 : 3;
  p.cluster.pool_size = p.cluster.initial_voters;
  if (o.faults.has(Fault::kMembership)) p.cluster.pool_size += rng.below(2) == 0 ? 2 : 0;
  if (o.faults.has(Fault::kMembership) && p.cluster.pool_size == 3) p.cluster.pool_size = 5;
  raft::Config& c = p.cluster.raft;
  c.election_ticks = 10;           // 100 ms at 10 ms ticks: an etcd-like ratio to network delays
  c.heartbeat_ticks = 3;           // well below the election timeout; fewer messages per run
  c.pre_vote = rng.below(5) != 0;  // mostly on, as deployed; off explores more
  c.check_quorum = rng.below(4) != 0;  // off: stale leaders live until they hear a term
  // Flow control: often the defaults, often tight. A small append size makes
  // leaders ship a log suffix in several messages, so followers acknowledge
  // entries of old terms before the new leader's no-op (the Figure 8 window);
  // a small window makes lost appends matter.
  if (rng.below(2) == 0) c.append_bytes_max = rng.range(1, 200);  // 1 byte: one entry each
  if (rng.below(2) == 0) c.inflight_messages_max = static_cast<uint32_t>(rng.range(1, 8));
  c.planted_bug = o.planted_bug;
  p.cluster.tick_us = 10 * kMs;
}

void draw_disk_and_links(const SimOptions& o, Rng& rng, RunPlan& p) {
  const FaultSet& f = o.faults;
  ClusterParams& c = p.cluster;
  // An fsync on an SSD: tens of microseconds to a few milliseconds.
  c.disk_latency_min_us = rng.range(20, 200);
  c.disk_latency_max_us = rng.range(500, 5 * kMs);
  if (f.has(Fault::kDisk)) {
    c.lose_unsynced = true;
    c.disk_stall_ppm = rng.range(0, percent(5));
    c.disk_stall_max_us = rng.range(5 * kMs, 50 * kMs);
    // Torn writes in half the runs: a node's power fails in the middle of one of
    // its next 1..N appends, N of a few hundred to a few thousand (a node makes
    // some thousands of appends in a run, so zero to several per node), then it
    // stays down like a crashed node.
    if (rng.below(2) == 0) c.torn_write_appends_max = rng.range(300, 5000);
    c.torn_write_down_min_us = rng.range(1 * kMs, 20 * kMs);
    c.torn_write_down_max_us = c.torn_write_down_min_us + rng.range(10 * kMs, 500 * kMs);
  }
  if (f.has(Fault::kSnapshot)) {
    // Every 20-200 applied entries: several snapshots per run on every node. Up to
    // ten entries are kept below one, so followers a little behind catch up from
    // the log and those further behind need a snapshot.
    c.snapshot_every_entries = rng.range(20, 200);
    c.snapshot_keep_entries = rng.range(0, 10);
  }
  LinkFaults& l = c.links;
  l = kCalmLinks;
  // Loss of 0.5-10% and duplication of 0.5-5%: enough to exercise every retry
  // path, not so much that a run rarely makes progress.
  if (f.has(Fault::kDrop)) l.drop_ppm = rng.range(percent(1) / 2, percent(10));
  if (f.has(Fault::kDup)) l.dup_ppm = rng.range(percent(1) / 2, percent(5));
  if (f.has(Fault::kDelay)) {
    // A wide spread of delays (tens of microseconds to 20 ms) reorders freely;
    // up to 10% of messages are up to 150 ms late, past an election timeout.
    l.delay_min_us = rng.range(50, 500);
    l.delay_max_us = rng.range(2 * kMs, 20 * kMs);
    l.slow_ppm = rng.range(0, percent(10));
    l.slow_max_us = rng.range(20 * kMs, 150 * kMs);
  }
}

void draw_nemesis(const SimOptions& o, Rng& rng, RunPlan& p) {
  NemesisParams& n = p.nemesis;
  n.faults = o.faults;
  // Every fault kind recurs every 50 ms to 1.3 s, a few to dozens of times per
  // run; a crashed node stays down from a millisecond to a second.
  n.crash_every_min_us = rng.range(50 * kMs, 300 * kMs);
  n.crash_every_max_us = n.crash_every_min_us + rng.range(100 * kMs, 1000 * kMs);
  n.down_min_us = rng.range(1 * kMs, 50 * kMs);
  n.down_max_us = n.down_min_us + rng.range(50 * kMs, 1000 * kMs);
  // Usually a minority, sometimes enough to stop progress for a while.
  n.down_max = 1 + rng.below(static_cast<uint64_t>(p.cluster.pool_size) / 2 + 1);
  // Some crashes take down several nodes at the same instant (a rack or a
  // datacenter losing power): every one of them loses its unsynced writes.
  n.crash_many_ppm = rng.range(0, percent(30));
  n.partition_every_min_us = rng.range(50 * kMs, 300 * kMs);
  n.partition_every_max_us = n.partition_every_min_us + rng.range(100 * kMs, 1000 * kMs);
  n.partition_min_us = rng.range(20 * kMs, 200 * kMs);
  n.partition_max_us = n.partition_min_us + rng.range(100 * kMs, 1500 * kMs);
  // Partitions that cut off the leader alone make deposed leaders that still
  // believe they lead: the case reads and commits must survive.
  n.isolate_leader_ppm = rng.range(percent(20), percent(60));
  n.new_leader_isolate_ppm = rng.range(0, percent(40));
  n.new_leader_crash_ppm = rng.range(0, percent(30));
  n.new_leader_fault_delay_max_us = rng.range(0, 30 * kMs);
  n.membership_every_min_us = rng.range(50 * kMs, 200 * kMs);
  n.membership_every_max_us = n.membership_every_min_us + rng.range(100 * kMs, 600 * kMs);
}

void draw_clients(const SimOptions& o, Rng& rng, RunPlan& p) {
  ClientParams& c = p.clients;
  c.clients = o.clients > 0 ? o.clients : static_cast<int>(rng.range(3, 5));
  c.keys = static_cast<int>(rng.range(1, 3));  // few keys: operations contend
  // A pause of 20-100 ms gives each client 10-40 operations per virtual second:
  // a few hundred per run, enough to exercise every path, cheap to check.
  c.think_min_us = rng.range(5 * kMs, 20 * kMs);
  c.think_max_us = c.think_min_us + rng.range(20 * kMs, 80 * kMs);
  // Retries after 2-40 ms; an operation is given up after 0.3-1 s (several
  // election timeouts, so it usually survives one leader change); a read attempt
  // is retried elsewhere after 50-200 ms (a few round trips and heartbeats).
  c.retry_min_us = 2 * kMs;
  c.retry_max_us = rng.range(10 * kMs, 40 * kMs);
  c.op_timeout_us = rng.range(300 * kMs, 1000 * kMs);
  c.read_attempt_us = rng.range(50 * kMs, 200 * kMs);
  // 25-50% reads and 10-30% compare-and-sets: enough reads to see stale data,
  // enough conditional writes to see lost or doubled updates.
  c.get_ppm = rng.range(percent(25), percent(50));
  c.cas_ppm = rng.range(percent(10), percent(30));
}

// Overrides for SimOptions::adversarial, drawn after the normal plan.
void make_adversarial(const SimOptions& o, Rng& rng, RunPlan& p) {
  if (!o.faults.has(Fault::kMembership)) {
    p.cluster.pool_size = 3;  // the smallest quorum: every fault moves the majority
    p.cluster.initial_voters = 3;
  }
  raft::Config& c = p.cluster.raft;
  c.append_bytes_max = 1;  // one entry per append: old-term entries travel alone
  c.inflight_messages_max = static_cast<uint32_t>(rng.range(1, 2));
  // Slow fsyncs keep acknowledged-but-unsynced windows open for milliseconds.
  p.cluster.disk_latency_max_us = rng.range(5 * kMs, 20 * kMs);
  NemesisParams& n = p.nemesis;
  n.new_leader_isolate_ppm = rng.range(percent(40), percent(80));
  n.new_leader_crash_ppm = rng.range(percent(20), percent(50));
  n.new_leader_fault_delay_max_us = rng.range(5 * kMs, 40 * kMs);
  n.crash_many_ppm = rng.range(percent(30), percent(70));
}

std::string describe_plan(const SimOptions& o, const RunPlan& p) {
  const ClusterParams& c = p.cluster;
  const LinkFaults& l = c.links;
  return cat(
      "seed=", o.seed, " faults=", o.faults.to_string(), " bug=", planted_bug_name(o.planted_bug),
      o.adversarial ? " adversarial" : "", o.check_protocol_rules ? "" : " no-protocol-rules",
      " pool=", c.pool_size, " voters=", c.initial_voters, " prevote=", c.raft.pre_vote,
      " checkquorum=", c.raft.check_quorum, " append_max=", c.raft.append_bytes_max,
      " inflight_max=", c.raft.inflight_messages_max, " drop=", l.drop_ppm, "ppm dup=", l.dup_ppm,
      "ppm delay=", l.delay_min_us, "-", l.delay_max_us, "us disk=", c.disk_latency_min_us, "-",
      c.disk_latency_max_us, "us torn_write_max=", c.torn_write_appends_max,
      " snapshot_every=", c.snapshot_every_entries, " clients=", p.clients.clients,
      " keys=", p.clients.keys);
}

// Runs the three phases; returns with the cluster failed or the run complete.
void run_phases(const SimOptions& o, Cluster& cluster, Nemesis& nemesis, Clients& clients) {
  const SimTime heal_at{o.fault_duration_us};
  const SimTime liveness_deadline = heal_at + o.liveness_bound_us;
  const SimTime stop_issuing_at = heal_at + o.heal_duration_us;
  cluster.start();
  clients.start();
  nemesis.start(heal_at);
  cluster.run_until(heal_at);
  if (cluster.failed()) return;
  nemesis.heal();
  clients.start_probe();
  // Membership may have been left joint on purpose; leaving it is part of healing.
  // A few tries, half a second apart, from just after the first post-heal election
  // (a leader may still be applying the change, or not be elected yet).
  constexpr int kLeaveJointTries = 4;
  for (int k = 0; k < kLeaveJointTries; ++k) {
    cluster.events().after((200 + 500 * static_cast<uint64_t>(k)) * kMs,
                           [&nemesis] { nemesis.leave_joint_if_explicit(); });
  }
  cluster.events().at(liveness_deadline, [&cluster, &clients, &o] {
    if (!clients.probe_succeeded()) {
      cluster.fail("liveness", cat("no progress after heal: no write committed within ",
                                   o.liveness_bound_us / kMs, " ms"));
    }
  });
  cluster.run_until(std::max(stop_issuing_at, liveness_deadline));
  if (cluster.failed()) return;
  clients.stop_issuing();
  // Drain in slices: stop as soon as every operation is answered or timed out.
  constexpr uint64_t kSliceUs = 50 * kMs;  // coarse enough to be cheap to poll
  while (!clients.idle() && !cluster.failed() && !cluster.events().empty()) {
    cluster.run_until(cluster.now() + kSliceUs);
  }
}

void check_history(const SimOptions& o, const Clients& clients, SimResult& r) {
  const CheckResult check = check_kv_history(clients.history(), o.check_steps_max);
  r.history_check_steps = check.steps;
  if (check.verdict == Verdict::kTimedOut) r.history_check_timed_out = true;
  if (check.verdict != Verdict::kViolation) return;
  r.ok = false;
  r.invariant = "linearizability";
  r.failure = cat("linearizability: history of key '", check.key, "' has no linearization\n",
                  check.explanation);
}

}  // namespace

SimResult run_simulation(const SimOptions& o) {
  Rng rng(o.seed);
  RunPlan plan;
  draw_topology(o, rng, plan);
  draw_disk_and_links(o, rng, plan);
  draw_nemesis(o, rng, plan);
  draw_clients(o, rng, plan);
  if (o.adversarial) make_adversarial(o, rng, plan);
  plan.cluster.check_protocol_rules = o.check_protocol_rules;
  plan.cluster.events_max = o.events_max;
  plan.cluster.trace_capacity = o.trace_capacity;
  plan.cluster.trace_live = o.trace_live;

  SimResult r;
  r.summary = describe_plan(o, plan);
  Cluster cluster(plan.cluster, rng);
  cluster.trace(r.summary);
  Clients clients(cluster, plan.clients);
  Nemesis nemesis(cluster, plan.nemesis);
  cluster.set_listener(&clients);
  cluster.set_leader_hook(
      [&nemesis](raft::NodeId id, raft::Term term) { nemesis.on_leader_elected(id, term); });
  run_phases(o, cluster, nemesis, clients);

  if (cluster.failed()) {
    r.ok = false;
    r.invariant = cluster.failure()->invariant;
    r.failure = cat(cluster.failure()->invariant, ": ", cluster.failure()->detail);
  } else {
    check_history(o, clients, r);
  }
  if (!r.ok) r.trace = cluster.trace_log().dump();
  r.trace_hash = cluster.trace_log().hash();
  r.trace_lines = cluster.trace_log().lines();
  r.events = cluster.events_run();
  r.virtual_us = cluster.now().value();
  r.ops_completed = clients.ops_completed();
  r.ops_unknown = clients.ops_unknown();
  r.ops_total = clients.history().size();
  r.leaders = cluster.safety().leaders_elected();
  r.committed_entries = cluster.safety().committed_entries();
  const NodeStorageStats st = cluster.storage_stats();
  r.recoveries = st.recoveries;
  r.torn_crashes = st.torn_crashes;
  r.snapshots_written = st.snapshots_written;
  r.segments_removed = st.segments_removed;
  r.journal_writes = st.journal_writes;
  return r;
}

const char* planted_bug_name(raft::PlantedBug bug) {
  switch (bug) {
    case raft::PlantedBug::kNone:
      return "none";
    case raft::PlantedBug::kCommitOldTermByCount:
      return "commit-old-term";
    case raft::PlantedBug::kVoteWithoutLogCheck:
      return "vote-without-log-check";
    case raft::PlantedBug::kAckBeforePersist:
      return "ack-before-persist";
    case raft::PlantedBug::kReadIndexWithoutQuorum:
      return "read-index-without-quorum";
    case raft::PlantedBug::kCoalesceRejections:
      return "coalesce-rejections";
  }
  return "unknown";
}

bool parse_planted_bug(const std::string& name, raft::PlantedBug& bug) {
  for (raft::PlantedBug b :
       {raft::PlantedBug::kNone, raft::PlantedBug::kCommitOldTermByCount,
        raft::PlantedBug::kVoteWithoutLogCheck, raft::PlantedBug::kAckBeforePersist,
        raft::PlantedBug::kReadIndexWithoutQuorum, raft::PlantedBug::kCoalesceRejections}) {
    if (name == planted_bug_name(b)) {
      bug = b;
      return true;
    }
  }
  return false;
}

}  // namespace meridian::sim
