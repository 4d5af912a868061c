// Whole-cluster simulation runs: determinism, and clean runs that must pass.
#include "sim/simulation.h"

#include <gtest/gtest.h>

#include <cstdio>

namespace meridian::sim {
namespace {

// Prints a failing run so that the test log alone explains it.
void expect_ok(const SimResult& r) {
  EXPECT_TRUE(r.ok) << r.summary << "\n" << r.failure << "\n--- trace ---\n" << r.trace;
}

TEST(Simulation, SameSeedReplaysTheSameRun) {
  for (uint64_t seed : {3u, 11u}) {
    SimOptions o;
    o.seed = seed;
    const SimResult a = run_simulation(o);
    const SimResult b = run_simulation(o);
    EXPECT_EQ(a.trace_hash, b.trace_hash) << "seed " << seed;
    EXPECT_EQ(a.trace_lines, b.trace_lines);
    EXPECT_EQ(a.events, b.events);
    EXPECT_EQ(a.ops_completed, b.ops_completed);
    EXPECT_EQ(a.ok, b.ok);
    EXPECT_GT(a.trace_lines, 1000u);  // a real run, not an early stop
  }
}

TEST(Simulation, DifferentSeedsDiffer) {
  SimOptions o;
  o.seed = 1;
  const uint64_t h1 = run_simulation(o).trace_hash;
  o.seed = 2;
  EXPECT_NE(h1, run_simulation(o).trace_hash);
}

TEST(Simulation, FaultFreeRunCompletesNearlyEverything) {
  SimOptions o;
  o.seed = 5;
  o.faults = FaultSet::none();
  const SimResult r = run_simulation(o);
  expect_ok(r);
  EXPECT_GT(r.ops_completed, 100u);
  EXPECT_EQ(r.ops_unknown, 0u) << "nothing should time out without faults";
  EXPECT_GE(r.leaders, 1u);
}

TEST(Simulation, FiftySeedsWithAllFaultsPass) {
  uint64_t ops = 0;
  for (uint64_t seed = 1; seed <= 50; ++seed) {
    SimOptions o;
    o.seed = seed;
    const SimResult r = run_simulation(o);
    expect_ok(r);
    if (!r.ok) return;  // one trace is enough to read
    ops += r.ops_completed;
  }
  std::printf("50 seeds, %llu operations completed\n", static_cast<unsigned long long>(ops));
}

TEST(Simulation, EachFaultAloneRunsClean) {
  for (int k = 0; k < kFaultCount; ++k) {
    SimOptions o;
    o.seed = 100 + static_cast<uint64_t>(k);
    o.faults = FaultSet::none().with(static_cast<Fault>(k));
    const SimResult r = run_simulation(o);
    expect_ok(r);
    EXPECT_GT(r.ops_completed, 0u) << fault_name(static_cast<Fault>(k));
  }
}

TEST(Simulation, AdversarialScheduleRunsClean) {
  for (uint64_t seed = 1; seed <= 10; ++seed) {
    SimOptions o;
    o.seed = seed;
    o.adversarial = true;
    expect_ok(run_simulation(o));
  }
}

}  // namespace
}  // namespace meridian::sim
