// Unit tests of the simulator's building blocks that need no Replica: the
// random source, the event queue, the network model, the fault-set parser and
// the KV state machine's codecs.
#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "sim/event_queue.h"
#include "sim/fault_set.h"
#include "sim/kv_state_machine.h"
#include "sim/network.h"
#include "sim/random.h"
#include "sim/trace.h"

namespace meridian::sim {
namespace {

using raft::NodeId;

Command put(uint32_t client, uint64_t request, const char* key, const char* value) {
  Command c;
  c.client = client;
  c.request = request;
  c.op = CommandOp::kPut;
  c.key = key;
  c.value = value;
  return c;
}

TEST(Rng, SameSeedSameSequence) {
  Rng a(42);
  Rng b(42);
  Rng c(43);
  bool differs = false;
  for (int k = 0; k < 1000; ++k) {
    const uint64_t x = a.next_u64();
    EXPECT_EQ(x, b.next_u64());
    differs = differs || x != c.next_u64();
  }
  EXPECT_TRUE(differs);
}

TEST(Rng, KnownFirstOutputsPinTheAlgorithm) {
  // Any change to the generator silently changes every seed's run; this pins it.
  Rng r(1);
  const uint64_t first = r.next_u64();
  Rng again(1);
  EXPECT_EQ(first, again.next_u64());
  uint64_t sm = 0;
  EXPECT_EQ(splitmix64(sm), 0xe220a8397b1dcdafull);  // splitmix64's published first output
}

TEST(Rng, BoundedDrawsStayInRangeAndCoverIt) {
  Rng r(7);
  std::set<uint64_t> seen;
  for (int k = 0; k < 10000; ++k) {
    const uint64_t x = r.below(6);
    ASSERT_LT(x, 6u);
    seen.insert(x);
    const uint64_t y = r.range(10, 12);
    ASSERT_GE(y, 10u);
    ASSERT_LE(y, 12u);
  }
  EXPECT_EQ(seen.size(), 6u);
  EXPECT_EQ(r.range(5, 5), 5u);
}

TEST(Rng, BelowIsRoughlyUniform) {
  Rng r(99);
  int counts[4] = {};
  constexpr int kDraws = 40000;
  for (int k = 0; k < kDraws; ++k) ++counts[r.below(4)];
  for (int c : counts) {
    EXPECT_GT(c, kDraws / 4 - 600);  // ~6 standard deviations
    EXPECT_LT(c, kDraws / 4 + 600);
  }
}

TEST(Rng, ChanceExtremes) {
  Rng r(3);
  for (int k = 0; k < 1000; ++k) {
    EXPECT_FALSE(r.chance_ppm(0));
    EXPECT_TRUE(r.chance_ppm(Rng::kPpmOne));
  }
}

TEST(EventQueue, RunsByTimeThenInsertionOrder) {
  EventQueue q;
  std::vector<int> order;
  q.at(SimTime{20}, [&] { order.push_back(3); });
  q.at(SimTime{10}, [&] { order.push_back(1); });
  q.at(SimTime{10}, [&] { order.push_back(2); });
  q.at(SimTime{20}, [&] { order.push_back(4); });
  while (!q.empty()) q.run_next();
  EXPECT_EQ(order, (std::vector<int>{1, 2, 3, 4}));
  EXPECT_EQ(q.now(), SimTime{20});
}

TEST(EventQueue, EventsScheduleEventsRelativeToNow) {
  EventQueue q;
  std::vector<uint64_t> times;
  q.at(SimTime{5}, [&] {
    times.push_back(q.now().value());
    q.after(0, [&] { times.push_back(q.now().value()); });
    q.after(7, [&] { times.push_back(q.now().value()); });
  });
  while (!q.empty()) q.run_next();
  EXPECT_EQ(times, (std::vector<uint64_t>{5, 5, 12}));
}

TEST(Trace, HashCoversEveryLineAndRingKeepsTheLast) {
  Trace a(2);
  Trace b(2);
  for (int k = 0; k < 5; ++k) {
    a.add(SimTime{static_cast<uint64_t>(k) * 1500}, cat("line ", k));
    b.add(SimTime{static_cast<uint64_t>(k) * 1500}, cat("line ", k));
  }
  EXPECT_EQ(a.hash(), b.hash());
  EXPECT_EQ(a.lines(), 5u);
  EXPECT_EQ(a.dump(), "t=4.500ms line 3\nt=6.000ms line 4\n");
  b.add(SimTime{9000}, "extra");
  EXPECT_NE(a.hash(), b.hash());
}

TEST(Network, CalmLinksDeliverOnceWithinTheDelayRange) {
  Network net;
  Rng rng(1);
  for (int k = 0; k < 100; ++k) {
    Delivery d = net.plan(NodeId{1}, NodeId{2}, rng);
    ASSERT_EQ(d.fate, Delivery::Fate::kDeliver);
    ASSERT_EQ(d.copies, 1);
    EXPECT_GE(d.delay_us[0], kCalmLinks.delay_min_us);
    EXPECT_LE(d.delay_us[0], kCalmLinks.delay_max_us);
  }
}

TEST(Network, DropAndDuplicateAtCertainty) {
  Network net;
  Rng rng(1);
  LinkFaults f = kCalmLinks;
  f.drop_ppm = Rng::kPpmOne;
  net.set_faults(f);
  EXPECT_EQ(net.plan(NodeId{1}, NodeId{2}, rng).fate, Delivery::Fate::kDropped);
  f.drop_ppm = 0;
  f.dup_ppm = Rng::kPpmOne;
  net.set_faults(f);
  EXPECT_EQ(net.plan(NodeId{1}, NodeId{2}, rng).copies, 2);
}

TEST(Network, OverlappingCutsAreCounted) {
  Network net;
  Rng rng(1);
  const auto links = Network::between({NodeId{1}}, {NodeId{2}, NodeId{3}});
  EXPECT_EQ(links.size(), 4u);
  net.add_cuts(links);
  net.add_cuts({{NodeId{1}, NodeId{2}}});
  EXPECT_TRUE(net.cut(NodeId{1}, NodeId{2}));
  EXPECT_TRUE(net.cut(NodeId{3}, NodeId{1}));
  EXPECT_FALSE(net.cut(NodeId{2}, NodeId{3}));
  EXPECT_EQ(net.plan(NodeId{1}, NodeId{2}, rng).fate, Delivery::Fate::kCut);
  net.remove_cuts(links);
  EXPECT_TRUE(net.cut(NodeId{1}, NodeId{2}));  // still cut by the second fault
  EXPECT_FALSE(net.cut(NodeId{2}, NodeId{1}));
  net.heal();
  EXPECT_FALSE(net.any_cut());
}

TEST(FaultSet, ParsesNamesAllAndAliases) {
  EXPECT_EQ(FaultSet::parse("all").value(), FaultSet::all());
  EXPECT_EQ(FaultSet::parse("none").value(), FaultSet::none());
  FaultSet f = FaultSet::parse("crash,reorder,disk").value();
  EXPECT_TRUE(f.has(Fault::kCrash));
  EXPECT_TRUE(f.has(Fault::kDelay));
  EXPECT_TRUE(f.has(Fault::kDisk));
  EXPECT_FALSE(f.has(Fault::kDrop));
  EXPECT_EQ(f.to_string(), "delay,crash,disk");
  EXPECT_EQ(FaultSet::parse(f.to_string()).value(), f);
  auto bad = FaultSet::parse("crash,meteor");
  ASSERT_FALSE(bad.is_ok());
  EXPECT_NE(bad.status().message().find("meteor"), std::string::npos);
}

TEST(KvStateMachine, CommandRoundTripAndRejectsGarbage) {
  Command c{.client = 3,
            .request = 17,
            .op = CommandOp::kCas,
            .key = "k1",
            .value = "new",
            .expected = "old"};
  const std::string bytes = encode_command(c);
  auto d = decode_command(bytes);
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(d->client, 3u);
  EXPECT_EQ(d->request, 17u);
  EXPECT_EQ(d->op, CommandOp::kCas);
  EXPECT_EQ(d->key, "k1");
  EXPECT_EQ(d->value, "new");
  EXPECT_EQ(d->expected, "old");
  EXPECT_FALSE(decode_command("").has_value());
  EXPECT_FALSE(decode_command(bytes.substr(0, bytes.size() - 1)).has_value());
  EXPECT_FALSE(decode_command(bytes + "x").has_value());
  std::string bad_version = bytes;
  bad_version[0] = 9;
  EXPECT_FALSE(decode_command(bad_version).has_value());
}

TEST(KvStateMachine, PutCasAndDuplicateSuppression) {
  KvStateMachine kv;
  EXPECT_EQ(kv.get("a"), "");
  EXPECT_TRUE(kv.apply(put(1, 1, "a", "x")).applied);
  ApplyResult cas = kv.apply({.client = 2,
                              .request = 1,
                              .op = CommandOp::kCas,
                              .key = "a",
                              .value = "y",
                              .expected = "x"});
  EXPECT_TRUE(cas.applied);
  EXPECT_TRUE(cas.ok);
  cas = kv.apply({.client = 2,
                  .request = 2,
                  .op = CommandOp::kCas,
                  .key = "a",
                  .value = "z",
                  .expected = "x"});
  EXPECT_TRUE(cas.applied);
  EXPECT_FALSE(cas.ok);
  EXPECT_EQ(kv.get("a"), "y");
  // A duplicate, and a request overtaken by the same client's later one, are skipped.
  EXPECT_FALSE(kv.apply(put(1, 1, "a", "x")).applied);
  EXPECT_FALSE(kv.apply(put(2, 1, "a", "old")).applied);
  EXPECT_EQ(kv.get("a"), "y");
}

TEST(KvStateMachine, SnapshotRestoresMapAndDuplicateTable) {
  KvStateMachine kv;
  kv.apply(put(1, 5, "a", "x"));
  kv.apply(put(2, 2, "b", "y"));
  const std::string snap = kv.snapshot(40);
  KvStateMachine other;
  EXPECT_FALSE(other.restore(snap, 41));  // taken at another index
  EXPECT_FALSE(other.restore(snap.substr(1), 40));
  ASSERT_TRUE(other.restore(snap, 40));
  EXPECT_EQ(other.get("a"), "x");
  EXPECT_EQ(other.get("b"), "y");
  EXPECT_FALSE(other.apply(put(1, 5, "a", "again")).applied);
}

}  // namespace
}  // namespace meridian::sim
