#include "raft/progress.h"

#include <gtest/gtest.h>

namespace meridian::raft {
namespace {

TEST(InflightsTest, FullByCount) {
  Inflights in(3, 0);
  EXPECT_FALSE(in.full());
  in.add(Index{1}, 10);
  in.add(Index{2}, 10);
  EXPECT_FALSE(in.full());
  in.add(Index{3}, 10);
  EXPECT_TRUE(in.full());
  EXPECT_EQ(in.count(), 3u);
  EXPECT_EQ(in.bytes(), 30u);
}

TEST(InflightsTest, FullByBytes) {
  Inflights in(100, 1000);
  in.add(Index{1}, 400);
  EXPECT_FALSE(in.full());
  // The message that crosses the limit is allowed; afterwards the window is full.
  in.add(Index{2}, 700);
  EXPECT_TRUE(in.full());
  EXPECT_EQ(in.bytes(), 1100u);
  in.free_le(Index{1});
  EXPECT_FALSE(in.full());
  EXPECT_EQ(in.bytes(), 700u);
}

TEST(InflightsTest, ZeroBytesMaxMeansNoByteLimit) {
  Inflights in(2, 0);
  in.add(Index{1}, uint64_t{1} << 40);
  EXPECT_FALSE(in.full());
}

TEST(InflightsTest, FreeLeFreesThroughIndex) {
  Inflights in(10, 0);
  in.add(Index{3}, 1);
  in.add(Index{7}, 2);
  in.add(Index{12}, 4);
  in.free_le(Index{2});  // nothing at or below 2
  EXPECT_EQ(in.count(), 3u);
  in.free_le(Index{8});  // frees 3 and 7, not 12
  EXPECT_EQ(in.count(), 1u);
  EXPECT_EQ(in.bytes(), 4u);
  in.free_le(Index{12});
  EXPECT_EQ(in.count(), 0u);
  EXPECT_EQ(in.bytes(), 0u);
  in.free_le(Index{100});  // on an empty window: no-op
  EXPECT_EQ(in.count(), 0u);
}

TEST(InflightsTest, RingWrapsAround) {
  Inflights in(4, 0);
  uint64_t next = 1;
  // Fill, free two, refill twice over so the ring's start moves all the way round.
  for (int i = 0; i < 4; ++i) in.add(Index{next++}, 1);
  EXPECT_TRUE(in.full());
  for (int round = 0; round < 5; ++round) {
    in.free_le(Index{next - 3});  // keep the newest two
    EXPECT_EQ(in.count(), 2u);
    EXPECT_FALSE(in.full());
    in.add(Index{next++}, 1);
    in.add(Index{next++}, 1);
    EXPECT_TRUE(in.full());
  }
  // The oldest survivors are exactly the last four added, in order.
  in.free_le(Index{next - 4});
  EXPECT_EQ(in.count(), 3u);
  in.free_le(Index{next - 2});
  EXPECT_EQ(in.count(), 1u);
  in.free_le(Index{next - 1});
  EXPECT_EQ(in.count(), 0u);
}

TEST(InflightsTest, GrowsWhileWrappedKeepsOrder) {
  // Wrap a small ring, then grow it: the messages must stay in order.
  Inflights in(8, 0);
  in.add(Index{1}, 1);
  in.add(Index{2}, 2);  // ring size 2
  in.free_le(Index{1});
  in.add(Index{3}, 3);  // wraps to slot 0 of the size-2 ring
  in.add(Index{4}, 4);  // grows to 4
  in.add(Index{5}, 5);
  EXPECT_EQ(in.count(), 4u);
  EXPECT_EQ(in.bytes(), 14u);
  in.free_le(Index{3});
  EXPECT_EQ(in.count(), 2u);
  EXPECT_EQ(in.bytes(), 9u);
}

TEST(InflightsTest, FreeFirstAndReset) {
  Inflights in(2, 0);
  in.add(Index{5}, 10);
  in.add(Index{6}, 20);
  EXPECT_TRUE(in.full());
  in.free_first();
  EXPECT_FALSE(in.full());
  EXPECT_EQ(in.bytes(), 20u);
  in.reset();
  EXPECT_EQ(in.count(), 0u);
  EXPECT_EQ(in.bytes(), 0u);
  in.free_first();  // on an empty window: no-op
  EXPECT_EQ(in.count(), 0u);
}

TEST(InflightsDeathTest, AddWhenFullAsserts) {
  Inflights in(1, 0);
  in.add(Index{1}, 1);
  EXPECT_DEATH(in.add(Index{2}, 1), "full inflights");
}

TEST(InflightsDeathTest, AddNonIncreasingAsserts) {
  Inflights in(4, 0);
  in.add(Index{5}, 1);
  EXPECT_DEATH(in.add(Index{5}, 1), "not above the newest");
}

Progress replicating(Index match, uint32_t messages_max = 8) {
  Progress pr(match + 1, messages_max, 0);
  pr.match = match;
  pr.become_replicate();
  return pr;
}

TEST(ProgressTest, StartsInProbe) {
  Progress pr(Index{6}, 4, 0);
  EXPECT_EQ(pr.state, ProgressState::kProbe);
  EXPECT_EQ(pr.match, Index{0});
  EXPECT_EQ(pr.next, Index{6});
  EXPECT_FALSE(pr.is_paused());
}

TEST(ProgressTest, BecomeReplicateFromProbe) {
  Progress pr(Index{10}, 4, 0);
  pr.match = Index{4};
  pr.probe_sent = true;
  pr.become_replicate();
  EXPECT_EQ(pr.state, ProgressState::kReplicate);
  EXPECT_EQ(pr.next, Index{5});
  EXPECT_FALSE(pr.probe_sent);
}

TEST(ProgressTest, BecomeProbeFromReplicateClearsWindow) {
  Progress pr = replicating(Index{4});
  pr.sent_entries(Index{7}, 30, 3);
  EXPECT_EQ(pr.next, Index{8});
  EXPECT_EQ(pr.inflights.count(), 1u);
  pr.become_probe();
  EXPECT_EQ(pr.state, ProgressState::kProbe);
  EXPECT_EQ(pr.next, Index{5});
  EXPECT_EQ(pr.inflights.count(), 0u);
  EXPECT_FALSE(pr.probe_sent);
}

TEST(ProgressTest, BecomeProbeFromSnapshotResumesAfterSnapshot) {
  Progress pr(Index{2}, 4, 0);
  pr.match = Index{1};
  pr.become_snapshot(Index{20});
  EXPECT_EQ(pr.state, ProgressState::kSnapshot);
  EXPECT_EQ(pr.pending_snapshot, Index{20});
  EXPECT_TRUE(pr.is_paused());
  pr.become_probe();
  EXPECT_EQ(pr.state, ProgressState::kProbe);
  EXPECT_EQ(pr.next, Index{21});
  EXPECT_EQ(pr.pending_snapshot, Index{0});

  // When match already passed the snapshot, match decides.
  Progress ahead(Index{2}, 4, 0);
  ahead.become_snapshot(Index{20});
  ahead.match = Index{25};
  ahead.become_probe();
  EXPECT_EQ(ahead.next, Index{26});
}

TEST(ProgressTest, MaybeUpdate) {
  Progress pr(Index{5}, 4, 0);
  pr.match = Index{3};
  pr.probe_sent = true;
  EXPECT_FALSE(pr.maybe_update(Index{2}));  // stale
  EXPECT_EQ(pr.match, Index{3});
  EXPECT_TRUE(pr.probe_sent);
  EXPECT_EQ(pr.next, Index{5});
  EXPECT_TRUE(pr.maybe_update(Index{6}));
  EXPECT_EQ(pr.match, Index{6});
  EXPECT_EQ(pr.next, Index{7});
  EXPECT_FALSE(pr.probe_sent);
  // Equal to match: not an update, next untouched when already ahead.
  pr.next = Index{10};
  EXPECT_FALSE(pr.maybe_update(Index{6}));
  EXPECT_EQ(pr.next, Index{10});
}

TEST(ProgressTest, MaybeUpdateFreesAcknowledgedInflights) {
  Progress pr = replicating(Index{0});
  pr.sent_entries(Index{2}, 10, 2);
  pr.sent_entries(Index{5}, 10, 3);
  EXPECT_EQ(pr.inflights.count(), 2u);
  EXPECT_TRUE(pr.maybe_update(Index{3}));
  EXPECT_EQ(pr.inflights.count(), 1u);
  EXPECT_EQ(pr.next, Index{6});  // not lowered by an ack below it
}

TEST(ProgressTest, SentEntriesInReplicatePipelines) {
  Progress pr = replicating(Index{4}, /*messages_max=*/2);
  pr.sent_entries(Index{6}, 20, 2);
  EXPECT_EQ(pr.next, Index{7});
  EXPECT_FALSE(pr.is_paused());
  // An empty kAppend (commit only) neither moves next nor uses the window.
  pr.sent_entries(Index{6}, 0, 0);
  EXPECT_EQ(pr.inflights.count(), 1u);
  pr.sent_entries(Index{9}, 30, 3);
  EXPECT_EQ(pr.next, Index{10});
  EXPECT_TRUE(pr.is_paused());  // window of 2 is full
  pr.maybe_update(Index{6});
  EXPECT_FALSE(pr.is_paused());
}

TEST(ProgressTest, SentEntriesInProbePauses) {
  Progress pr(Index{5}, 4, 0);
  pr.sent_entries(Index{7}, 20, 3);
  EXPECT_TRUE(pr.probe_sent);
  EXPECT_TRUE(pr.is_paused());
  EXPECT_EQ(pr.next, Index{5});  // a probe does not advance next
  EXPECT_EQ(pr.inflights.count(), 0u);

  Progress empty(Index{5}, 4, 0);
  empty.sent_entries(Index{4}, 0, 0);
  EXPECT_TRUE(empty.is_paused());
}

TEST(ProgressDeathTest, SentEntriesInSnapshotAsserts) {
  Progress pr(Index{5}, 4, 0);
  pr.become_snapshot(Index{10});
  EXPECT_DEATH(pr.sent_entries(Index{11}, 1, 1), "snapshot state");
}

TEST(ProgressDeathTest, SentEntriesNotStartingAtNextAsserts) {
  Progress pr = replicating(Index{4});
  EXPECT_DEATH(pr.sent_entries(Index{9}, 1, 2), "do not start at next");
}

TEST(ProgressTest, MaybeDecreaseToInReplicate) {
  Progress pr = replicating(Index{5});
  pr.sent_entries(Index{9}, 10, 4);
  // A rejection at or below match answers an old message: stale.
  EXPECT_FALSE(pr.maybe_decrease_to(Index{5}, Index{2}));
  EXPECT_FALSE(pr.maybe_decrease_to(Index{3}, Index{2}));
  EXPECT_EQ(pr.next, Index{10});
  // Above match: fall back to just after match; the hint is not used here.
  EXPECT_TRUE(pr.maybe_decrease_to(Index{7}, Index{6}));
  EXPECT_EQ(pr.next, Index{6});
}

TEST(ProgressTest, MaybeDecreaseToInProbeFastBacktracks) {
  Progress pr(Index{51}, 4, 0);
  pr.match = Index{10};
  pr.sent_entries(Index{50}, 0, 0);  // probe at prev index 50
  ASSERT_TRUE(pr.is_paused());
  // Only a rejection of the outstanding probe (prev index next-1) counts.
  EXPECT_FALSE(pr.maybe_decrease_to(Index{49}, Index{20}));
  EXPECT_TRUE(pr.is_paused());
  // The follower's log ends at 20: jump straight to 21 rather than 50.
  EXPECT_TRUE(pr.maybe_decrease_to(Index{50}, Index{20}));
  EXPECT_EQ(pr.next, Index{21});
  EXPECT_FALSE(pr.probe_sent);
  EXPECT_FALSE(pr.is_paused());
}

TEST(ProgressTest, MaybeDecreaseToInProbeBounds) {
  // A hint at or above the rejected index: next moves only to the rejected index.
  Progress pr(Index{51}, 4, 0);
  EXPECT_TRUE(pr.maybe_decrease_to(Index{50}, Index{80}));
  EXPECT_EQ(pr.next, Index{50});
  // A hint below match: next never drops to or below match.
  Progress low(Index{51}, 4, 0);
  low.match = Index{30};
  EXPECT_TRUE(low.maybe_decrease_to(Index{50}, Index{5}));
  EXPECT_EQ(low.next, Index{31});
}

// Regression: a follower that lost entries it had acknowledged rejects the probe
// right after its match. next cannot go lower, so the leader must wait for a
// heartbeat response instead of resending the same probe in a tight loop (the
// simulator saw 400,000 messages a virtual second).
TEST(ProgressTest, ProbeRejectedJustAfterMatchWaitsForHeartbeat) {
  Progress pr(Index{31}, 4, 0);
  pr.match = Index{30};
  pr.sent_entries(Index{30}, 0, 0);  // the probe at next - 1 = 30
  ASSERT_TRUE(pr.probe_sent);
  EXPECT_FALSE(pr.maybe_decrease_to(Index{30}, Index{12}));
  EXPECT_EQ(pr.next, Index{31});
  EXPECT_TRUE(pr.is_paused());
}

TEST(ProgressTest, MaybeDecreaseToInSnapshotIsStale) {
  Progress pr(Index{11}, 4, 0);
  pr.become_snapshot(Index{30});
  EXPECT_FALSE(pr.maybe_decrease_to(Index{10}, Index{3}));
  EXPECT_EQ(pr.next, Index{11});
}

TEST(ProgressTest, ToString) {
  Progress pr = replicating(Index{4}, 1);
  pr.recent_active = true;
  pr.sent_entries(Index{5}, 1, 1);
  EXPECT_EQ(pr.to_string(), "replicate match=4 next=6 inflight=1[full]");
  Progress probe(Index{3}, 4, 0);
  probe.is_learner = true;
  probe.sent_entries(Index{2}, 0, 0);
  EXPECT_EQ(probe.to_string(), "probe match=0 next=3 learner probe_sent inactive");
  EXPECT_STREQ(progress_state_name(ProgressState::kSnapshot), "snapshot");
}

}  // namespace
}  // namespace meridian::raft
