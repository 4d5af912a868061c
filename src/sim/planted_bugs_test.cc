// The checkers bite: with a known bug planted in the Raft core (raft/config.h
// PlantedBug; this binary links the planted build), some seed in a bounded range
// must fail. Each test prints the seed that did it and how many seeds it took.
//
// Two kinds of test per bug where they differ:
//   - with every check on (as meridian-sim runs), including the protocol rules
//     that catch a bug at its first misstep;
//   - end to end: protocol rules off, so only the safety properties and the
//     linearizability check of client histories can notice, at the bug's first
//     visible consequence. Those consequences are rare under uniform random
//     faults, so these tests use the adversarial schedule and longer runs.
#include <gtest/gtest.h>

#include <cstdio>
#include <set>
#include <string>

#include "sim/simulation.h"

namespace meridian::sim {
namespace {

using raft::PlantedBug;

struct Hunt {
  bool found = false;
  uint64_t seed = 0;
  uint64_t seeds_run = 0;
  SimResult result;
};

Hunt hunt(SimOptions o, uint64_t seeds_max) {
  Hunt h;
  for (uint64_t seed = 1; seed <= seeds_max; ++seed) {
    o.seed = seed;
    ++h.seeds_run;
    SimResult r = run_simulation(o);
    if (!r.ok) {
      h.found = true;
      h.seed = seed;
      h.result = std::move(r);
      break;
    }
  }
  std::printf(
      "%s (%s%s%s): %s after %llu seeds%s%s\n", planted_bug_name(o.planted_bug),
      o.faults.to_string().c_str(), o.adversarial ? ", adversarial" : "",
      o.check_protocol_rules ? "" : ", end to end", h.found ? "caught" : "NOT caught",
      static_cast<unsigned long long>(h.seeds_run), h.found ? " at seed " : "",
      h.found ? (std::to_string(h.seed) + ": " + h.result.failure.substr(0, 160)).c_str() : "");
  return h;
}

// Properties every correct run keeps; the end-to-end tests must fail on one of them.
bool is_end_to_end(const std::string& invariant) {
  static const std::set<std::string> kNames = {"election safety", "log matching",
                                               "leader completeness", "state machine safety",
                                               "linearizability"};
  return kNames.count(invariant) > 0;
}

SimOptions planted(PlantedBug bug, const char* faults) {
  SimOptions o;
  o.planted_bug = bug;
  o.faults = FaultSet::parse(faults).value();
  return o;
}

SimOptions end_to_end(PlantedBug bug, const char* faults) {
  SimOptions o = planted(bug, faults);
  o.check_protocol_rules = false;
  o.adversarial = true;
  // Three times the usual fault phase: each seed then holds several times more
  // leader changes and power losses, the raw material of these bugs.
  o.fault_duration_us = 15 * kMicrosPerSecond;
  return o;
}

void expect_replays(const SimOptions& base, const Hunt& h) {
  SimOptions o = base;
  o.seed = h.seed;
  const SimResult again = run_simulation(o);
  EXPECT_FALSE(again.ok);
  EXPECT_EQ(again.failure, h.result.failure);
  EXPECT_EQ(again.trace_hash, h.result.trace_hash);
}

TEST(PlantedBugs, CommitOldTermByCount) {
  const SimOptions o = planted(PlantedBug::kCommitOldTermByCount, "all");
  const Hunt h = hunt(o, 300);
  ASSERT_TRUE(h.found);
  expect_replays(o, h);
}

TEST(PlantedBugs, CommitOldTermByCountEndToEnd) {
  const Hunt h = hunt(end_to_end(PlantedBug::kCommitOldTermByCount, "partition,delay"), 300);
  ASSERT_TRUE(h.found);
  EXPECT_TRUE(is_end_to_end(h.result.invariant)) << h.result.failure;
}

TEST(PlantedBugs, VoteWithoutLogCheck) {
  const SimOptions o = planted(PlantedBug::kVoteWithoutLogCheck, "all");
  const Hunt h = hunt(o, 300);
  ASSERT_TRUE(h.found);
  EXPECT_TRUE(is_end_to_end(h.result.invariant)) << h.result.failure;
  expect_replays(o, h);
}

TEST(PlantedBugs, AckBeforePersist) {
  const SimOptions o = planted(PlantedBug::kAckBeforePersist, "crash,disk");
  const Hunt h = hunt(o, 300);
  ASSERT_TRUE(h.found);
  expect_replays(o, h);
}

TEST(PlantedBugs, AckBeforePersistEndToEnd) {
  const Hunt h =
      hunt(end_to_end(PlantedBug::kAckBeforePersist, "crash,disk,partition,delay,drop"), 300);
  ASSERT_TRUE(h.found);
  EXPECT_TRUE(is_end_to_end(h.result.invariant)) << h.result.failure;
}

TEST(PlantedBugs, ReadIndexWithoutQuorum) {
  // Only a client can see this one: a deposed leader answers a read with a stale
  // value. Partitions (often of the leader alone) make deposed leaders.
  const SimOptions o = planted(PlantedBug::kReadIndexWithoutQuorum, "partition,delay");
  const Hunt h = hunt(o, 300);
  ASSERT_TRUE(h.found);
  EXPECT_EQ(h.result.invariant, "linearizability") << h.result.failure;
  expect_replays(o, h);
}

TEST(PlantedBugs, CoalesceRejections) {
  // Rejections follow acknowledgements when messages are lost, duplicated or
  // reordered; the protocol rules see the leader's match pass the follower's log.
  const SimOptions o = planted(PlantedBug::kCoalesceRejections, "all");
  const Hunt h = hunt(o, 300);
  ASSERT_TRUE(h.found);
  expect_replays(o, h);
}

TEST(PlantedBugs, CoalesceRejectionsEndToEnd) {
  const Hunt h =
      hunt(end_to_end(PlantedBug::kCoalesceRejections, "drop,dup,delay,partition,crash"), 300);
  ASSERT_TRUE(h.found);
  EXPECT_TRUE(is_end_to_end(h.result.invariant)) << h.result.failure;
}

}  // namespace
}  // namespace meridian::sim
