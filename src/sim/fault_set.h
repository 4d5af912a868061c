// FaultSet: which kinds of fault a simulation run may inject, parsed from the
// command line ("all", or a comma-separated list of names). Value type; any thread.
//
//   drop        messages lost at random
//   dup         messages delivered twice
//   delay       widely varying delays, so messages overtake each other (alias: reorder)
//   partition   symmetric partitions: two groups that cannot talk
//   oneway      one-way cuts: A cannot send to B, B can still send to A
//   crash       nodes crash and restart after a while
//   disk        a crash also loses a random suffix of the writes not yet synced
//   membership  conf changes (learners, promotions, removals, joint transitions)
//   snapshot    frequent application snapshots and log compaction
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "base/status.h"

namespace meridian::sim {

enum class Fault : uint8_t {
  kDrop = 0,
  kDup,
  kDelay,
  kPartition,
  kOneWay,
  kCrash,
  kDisk,
  kMembership,
  kSnapshot,
};
inline constexpr int kFaultCount = 9;

const char* fault_name(Fault f);

class FaultSet {
 public:
  constexpr FaultSet() = default;
  static constexpr FaultSet all() { return FaultSet((1u << kFaultCount) - 1); }
  static constexpr FaultSet none() { return FaultSet(0); }
  // "all", "none", or names joined by ','; kInvalidArgument names the bad one.
  static base::Result<FaultSet> parse(std::string_view text);

  bool has(Fault f) const { return (bits_ >> static_cast<int>(f)) & 1u; }
  FaultSet with(Fault f) const { return FaultSet(bits_ | (1u << static_cast<int>(f))); }
  FaultSet without(Fault f) const { return FaultSet(bits_ & ~(1u << static_cast<int>(f))); }
  bool empty() const { return bits_ == 0; }
  // "all", "none", or the names joined by ',' (parse() accepts it back).
  std::string to_string() const;

  bool operator==(const FaultSet&) const = default;

 private:
  constexpr explicit FaultSet(uint32_t bits) : bits_(bits) {}
  uint32_t bits_ = 0;
};

}  // namespace meridian::sim
