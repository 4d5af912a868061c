// Network: the simulator's model of the links between nodes. For each message it
// decides, from the run's Rng, whether the message is lost, and otherwise after
// what delay it arrives and whether a duplicate arrives too. Reordering is not a
// separate mechanism: it arises from independent delays. Partitions are a set of
// cut directed links (a symmetric partition cuts both directions between two
// groups; a one-way cut only one), consulted when a message is sent and again
// when it would arrive (cutting a link loses what is on the wire).
//
// Owned by the Cluster; single-threaded. Knows nothing about crashes: the Cluster
// drops messages addressed to a node that is down.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "raft/types.h"
#include "sim/random.h"

namespace meridian::sim {

using raft::NodeId;

// Link behaviour; the Cluster sets it per run (randomized per seed) and resets it
// to kCalm when faults are healed.
struct LinkFaults {
  uint32_t drop_ppm = 0;      // probability a message is lost
  uint32_t dup_ppm = 0;       // probability a delivered message arrives twice
  uint64_t delay_min_us = 0;  // base one-way delay range
  uint64_t delay_max_us = 0;
  uint32_t slow_ppm = 0;     // probability of an extra long delay (reordering)
  uint64_t slow_max_us = 0;  // bound of that extra delay
};

// A healthy datacenter link: 0.2-1 ms one way, nothing lost or duplicated.
inline constexpr LinkFaults kCalmLinks{.delay_min_us = 200, .delay_max_us = 1000};

// What happens to one message.
struct Delivery {
  enum class Fate : uint8_t { kDeliver, kDropped, kCut };
  Fate fate = Fate::kDeliver;
  int copies = 0;  // 1 or 2 when delivered
  std::array<uint64_t, 2> delay_us{};
};

class Network {
 public:
  // Node ids are 1..kNodesMax; the simulator's pools are at most 7 nodes.
  static constexpr uint64_t kNodesMax = 9;

  void set_faults(const LinkFaults& f) { faults_ = f; }
  const LinkFaults& faults() const { return faults_; }

  // The fate of a message sent now from `from` to `to`.
  Delivery plan(NodeId from, NodeId to, Rng& rng) const;

  using Link = std::pair<NodeId, NodeId>;  // from -> to
  // Every link between group a and group b, both directions.
  static std::vector<Link> between(const std::vector<NodeId>& a, const std::vector<NodeId>& b);

  bool cut(NodeId from, NodeId to) const { return cuts_[slot(from)][slot(to)] > 0; }
  bool any_cut() const;

  // Cuts are counted per link: overlapping faults may cut the same link, and it
  // is restored only when every one of them has ended.
  void add_cuts(const std::vector<Link>& links);
  void remove_cuts(const std::vector<Link>& links);
  // Restores every link at once.
  void heal();

 private:
  static uint64_t slot(NodeId id);
  uint64_t delay(Rng& rng) const;

  LinkFaults faults_ = kCalmLinks;
  std::array<std::array<uint32_t, kNodesMax + 1>, kNodesMax + 1> cuts_{};
};

}  // namespace meridian::sim
