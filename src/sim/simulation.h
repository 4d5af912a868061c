// run_simulation: one deterministic simulated run of a Meridian Raft cluster,
// the library entry point used by meridian-sim and the tests.
//
// From the seed alone it draws the run's character (cluster size, fault rates,
// delays, snapshot cadence, workload), builds a Cluster of real raft::Replica
// nodes, and runs three phases of virtual time:
//   1. faults: clients run while the Nemesis injects the enabled faults;
//   2. heal: every fault ends (network whole, links calm, all nodes up); clients
//      continue, and a probe write through the leader must complete within
//      liveness_bound_us ("no progress after heal" otherwise);
//   3. drain: clients stop issuing and outstanding operations finish or time out.
// Safety invariants are checked continuously (see invariants.h); at the end the
// client history must be linearizable (see linearizability.h). The same options
// always give the same run: SimResult::trace_hash is a hash of every trace line.
//
// Pure function of its options; no global state, so separate runs may proceed on
// separate threads.
#pragma once

#include <cstdint>
#include <string>

#include "raft/config.h"
#include "sim/fault_set.h"
#include "sim/linearizability.h"
#include "sim/trace.h"

namespace meridian::sim {

struct SimOptions {
  uint64_t seed = 1;
  FaultSet faults = FaultSet::all();
  raft::PlantedBug planted_bug = raft::PlantedBug::kNone;
  // Phase lengths in virtual time. Five seconds of faults is dozens of election
  // timeouts and hundreds of client operations; three seconds of calm is ample
  // for an election, catch-up by snapshot and a committed write.
  uint64_t fault_duration_us = 5 * kMicrosPerSecond;
  uint64_t heal_duration_us = 3 * kMicrosPerSecond;
  uint64_t liveness_bound_us = 3 * kMicrosPerSecond;
  int clients = 0;  // 0: drawn from the seed (3 to 5)
  // Invariants 5 and 6 of invariants.h (commitment rule, persist before
  // responding) on top of the safety properties. Turning them off shows that the
  // end-to-end checks alone still catch a bug, at its first visible consequence.
  bool check_protocol_rules = true;
  // Adversarial schedule: three nodes, one-entry appends with a window of one or
  // two, slow disks, new leaders often cut off or crashed within milliseconds, and
  // frequent power loss of several nodes at once. It drives the cluster into the
  // rare states (Raft's Figure 8, lost unsynced acknowledgements) that uniform
  // random faults reach only once in thousands of seeds.
  bool adversarial = false;
  uint64_t events_max = 2'000'000;  // see ClusterParams::events_max
  bool trace_live = false;          // print every trace line as it happens
  size_t trace_capacity = Trace::kCapacityDefault;
  // Search budget of the history check. A clean run's history needs a few
  // thousand steps; histories with many unknown writes can need far more, and a
  // check that runs out is reported as timed out (neither pass nor fail).
  // 10M steps is about half a second.
  uint64_t check_steps_max = 10'000'000;
};

struct SimResult {
  bool ok = true;
  std::string invariant;  // the property that failed ("" if ok)
  std::string failure;    // "<invariant>: <detail>" and, for histories, the explanation
  std::string trace;      // the last trace lines, on failure
  std::string summary;    // the run's drawn parameters, one line
  uint64_t trace_hash = 0;
  uint64_t trace_lines = 0;
  uint64_t events = 0;
  uint64_t virtual_us = 0;
  uint64_t ops_completed = 0;
  uint64_t ops_unknown = 0;
  uint64_t ops_total = 0;
  uint64_t leaders = 0;                  // terms that had a leader
  uint64_t committed_entries = 0;        // distinct log indexes seen committed
  bool history_check_timed_out = false;  // the linearizability check gave up (not a failure)
  uint64_t history_check_steps = 0;
  // Storage, summed over nodes: recoveries after crashes, power losses in the
  // middle of a write, snapshots written, journal segments collected, journal writes.
  uint64_t recoveries = 0;
  uint64_t torn_crashes = 0;
  uint64_t snapshots_written = 0;
  uint64_t segments_removed = 0;
  uint64_t journal_writes = 0;
};

SimResult run_simulation(const SimOptions& options);

// Name of a planted bug as on the command line ("none", "commit-old-term", ...),
// and its inverse (false if unknown).
const char* planted_bug_name(raft::PlantedBug bug);
bool parse_planted_bug(const std::string& name, raft::PlantedBug& bug);

}  // namespace meridian::sim
