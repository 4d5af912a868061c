// Nemesis: the fault injector of a simulation run. While faults are on it
// periodically, at random intervals drawn from the run's Rng,
//   - crashes a node (at most down_max at once), or sometimes several or all
//     nodes at the same instant, and restarts each after a while;
//   - partitions the network: symmetric (two groups, sometimes the leader alone)
//     or one-way cuts (A cannot send to B), healed after a while;
//   - changes the membership through the current leader: adds learners, promotes,
//     demotes and removes nodes, one at a time or several through a joint
//     configuration (left automatically, or explicitly by a later empty change),
//     keeping at least kVotersMin voters.
// Message loss, duplication and delay are not events but link properties (see
// Network); the Cluster is built with them and heal() calms them.
//
// Owned by run_simulation, next to the Cluster it acts on; single-threaded.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "raft/types.h"
#include "sim/cluster.h"
#include "sim/fault_set.h"

namespace meridian::sim {

struct NemesisParams {
  FaultSet faults;
  uint64_t crash_every_min_us = 0;  // time between two crashes
  uint64_t crash_every_max_us = 0;
  uint64_t down_min_us = 0;  // how long a crashed node stays down
  uint64_t down_max_us = 0;
  size_t down_max = 1;                  // nodes down at once, for single crashes
  uint32_t crash_many_ppm = 0;          // chance a crash downs several nodes (or all) at once
  uint64_t partition_every_min_us = 0;  // time between the end of one partition and the next
  uint64_t partition_every_max_us = 0;
  uint64_t partition_min_us = 0;  // how long a partition lasts
  uint64_t partition_max_us = 0;
  uint32_t isolate_leader_ppm = 0;  // symmetric partitions that cut the leader off alone
  // Right after an election, sometimes cut the new leader off or crash it, within
  // new_leader_fault_delay_max_us: short-lived leaders leave divergent
  // uncommitted suffixes behind, the raw material of Raft's Figure 8.
  uint32_t new_leader_isolate_ppm = 0;
  uint32_t new_leader_crash_ppm = 0;
  uint64_t new_leader_fault_delay_max_us = 0;
  uint64_t membership_every_min_us = 0;
  uint64_t membership_every_max_us = 0;
};

class Nemesis {
 public:
  // Voters never drop below this: three tolerate one failure, and fewer would
  // make most runs of crashes and partitions a long unavailability.
  static constexpr size_t kVotersMin = 3;

  Nemesis(Cluster& cluster, const NemesisParams& params);

  // Injects faults until virtual time stop_at.
  void start(SimTime stop_at);
  // Ends every fault now: whole network, calm links, all nodes up, no disk loss.
  void heal();
  // If the leader's membership is an explicitly joint one, proposes leaving it.
  void leave_joint_if_explicit();
  // A node just became leader (the Cluster's leader hook).
  void on_leader_elected(raft::NodeId id, raft::Term term);

 private:
  bool active() const { return cluster_.now() < stop_at_; }
  void after_random(uint64_t min_us, uint64_t max_us, void (Nemesis::*step)());
  void crash_step();
  void crash_and_schedule_restart(raft::NodeId victim);
  void partition_step();
  // Cuts `links` for a random partition duration; `regular`: part of the
  // periodic partition cycle, which resumes after it.
  void cut_for_a_while(std::vector<Network::Link> links, std::string what, bool regular);
  void isolate_new_leader(raft::NodeId id, raft::Term term);
  std::vector<Network::Link> symmetric_partition(std::string& what);
  std::vector<Network::Link> one_way_cuts(std::string& what);
  void membership_step();
  std::optional<raft::ConfChange> choose_conf_change(const raft::ConfState& cs);

  Cluster& cluster_;
  NemesisParams params_;
  SimTime stop_at_;
  // Bumped by heal(): cuts scheduled to end later were already removed.
  uint64_t heal_generation_ = 0;
};

}  // namespace meridian::sim
