#include "observe/metrics.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <thread>
#include <vector>

namespace meridian::observe {
namespace {

TEST(Metrics, EmptyRegistryRendersNothing) {
  Registry r;
  EXPECT_EQ(r.render(), "");
}

TEST(Metrics, CountersAndGaugesRenderSortedWithOneHeaderPerFamily) {
  Registry r;
  r.gauge("zeta_depth", "Queue depth.")->set(2.5);
  Counter* a1 = r.counter("alpha_total", "Alphas seen.", {{"group", "2"}});
  Counter* a2 = r.counter("alpha_total", "Alphas seen.", {{"group", "1"}});
  a1->add(3);
  a2->add();
  EXPECT_EQ(r.counter("alpha_total", "Alphas seen.", {{"group", "2"}}), a1);
  Gauge* g = r.gauge("mid_value", "A value.");
  g->set(-1);
  g->add(0.25);
  EXPECT_EQ(r.render(),
            "# HELP alpha_total Alphas seen.\n"
            "# TYPE alpha_total counter\n"
            "alpha_total{group=\"1\"} 1\n"
            "alpha_total{group=\"2\"} 3\n"
            "# HELP mid_value A value.\n"
            "# TYPE mid_value gauge\n"
            "mid_value -0.75\n"
            "# HELP zeta_depth Queue depth.\n"
            "# TYPE zeta_depth gauge\n"
            "zeta_depth 2.5\n");
}

TEST(Metrics, EscapesLabelValuesAndHelp) {
  Registry r;
  r.counter("x_total", "Back\\slash and\nnewline \"kept\".",
            {{"path", "a\\b\"c\nd"}, {"peer", "2"}})
      ->add(7);
  EXPECT_EQ(r.render(),
            "# HELP x_total Back\\\\slash and\\nnewline \"kept\".\n"
            "# TYPE x_total counter\n"
            "x_total{path=\"a\\\\b\\\"c\\nd\",peer=\"2\"} 7\n");
}

TEST(Metrics, SpecialFloatValues) {
  Registry r;
  r.gauge("a", "a")->set(std::numeric_limits<double>::infinity());
  r.gauge("b", "b")->set(-std::numeric_limits<double>::infinity());
  r.gauge("c", "c")->set(std::nan(""));
  r.gauge("d", "d")->set(1e21);
  const std::string text = r.render();
  EXPECT_NE(text.find("\na +Inf\n"), std::string::npos) << text;
  EXPECT_NE(text.find("\nb -Inf\n"), std::string::npos) << text;
  EXPECT_NE(text.find("\nc NaN\n"), std::string::npos) << text;
  EXPECT_NE(text.find("\nd 1e+21\n"), std::string::npos) << text;
}

TEST(Metrics, HistogramBucketsAreCumulativeWithInfSumAndCount) {
  Registry r;
  // Binary fractions, so that the sum prints exactly.
  Histogram* h = r.histogram("lat_seconds", "Latency.", {0.25, 0.5, 1}, {{"op", "sync"}});
  for (double v : {0.125, 0.25, 0.375, 0.75, 5.0}) h->observe(v);
  EXPECT_EQ(r.render(),
            "# HELP lat_seconds Latency.\n"
            "# TYPE lat_seconds histogram\n"
            "lat_seconds_bucket{op=\"sync\",le=\"0.25\"} 2\n"
            "lat_seconds_bucket{op=\"sync\",le=\"0.5\"} 3\n"
            "lat_seconds_bucket{op=\"sync\",le=\"1\"} 4\n"
            "lat_seconds_bucket{op=\"sync\",le=\"+Inf\"} 5\n"
            "lat_seconds_sum{op=\"sync\"} 6.5\n"
            "lat_seconds_count{op=\"sync\"} 5\n");
  const Histogram::Snapshot s = h->snapshot();
  EXPECT_EQ(s.cumulative, (std::vector<uint64_t>{2, 3, 4, 5}));
  EXPECT_EQ(s.count, 5u);
}

TEST(Metrics, HistogramWithoutLabels) {
  Registry r;
  r.histogram("h", "H.", {1})->observe(2);
  EXPECT_EQ(r.render(),
            "# HELP h H.\n"
            "# TYPE h histogram\n"
            "h_bucket{le=\"1\"} 0\n"
            "h_bucket{le=\"+Inf\"} 1\n"
            "h_sum 2\n"
            "h_count 1\n");
}

TEST(Metrics, ExponentialBuckets) {
  EXPECT_EQ(exponential_buckets(0.001, 2, 4), (std::vector<double>{0.001, 0.002, 0.004, 0.008}));
}

TEST(Metrics, CollectorsMergeIntoFamiliesByName) {
  Registry r;
  r.gauge("meridian_raft_term", "Current term.", {{"group", "0"}})->set(9);
  const uint64_t id = r.add_collector([](Collector& c) {
    for (int g = 2; g >= 1; --g) {
      const Labels labels{{"group", std::to_string(g)}};
      c.gauge("meridian_raft_term", "Current term.", labels, 3 + g);
      c.counter("meridian_raft_leader_changes_total", "Leader changes.", labels, g);
    }
  });
  r.add_collector([](Collector& c) { c.gauge("aaa", "First by name.", {}, 1); });
  EXPECT_EQ(r.render(),
            "# HELP aaa First by name.\n"
            "# TYPE aaa gauge\n"
            "aaa 1\n"
            "# HELP meridian_raft_leader_changes_total Leader changes.\n"
            "# TYPE meridian_raft_leader_changes_total counter\n"
            "meridian_raft_leader_changes_total{group=\"1\"} 1\n"
            "meridian_raft_leader_changes_total{group=\"2\"} 2\n"
            "# HELP meridian_raft_term Current term.\n"
            "# TYPE meridian_raft_term gauge\n"
            "meridian_raft_term{group=\"0\"} 9\n"
            "meridian_raft_term{group=\"1\"} 4\n"
            "meridian_raft_term{group=\"2\"} 5\n");
  r.remove_collector(id);
  EXPECT_EQ(r.render(),
            "# HELP aaa First by name.\n"
            "# TYPE aaa gauge\n"
            "aaa 1\n"
            "# HELP meridian_raft_term Current term.\n"
            "# TYPE meridian_raft_term gauge\n"
            "meridian_raft_term{group=\"0\"} 9\n");
}

TEST(MetricsDeathTest, OneNameHasOneKind) {
  Registry r;
  r.counter("x_total", "X.");
  EXPECT_DEATH(r.gauge("x_total", "X."), "registered as gauge but it is a counter");
  EXPECT_DEATH(r.counter("x_total", "Other help."), "two help texts");
  EXPECT_DEATH(r.counter("bad-name", "X."), "invalid metric name");
  r.add_collector([](Collector& c) { c.gauge("x_total", "X.", {}, 1); });
  EXPECT_DEATH((void)r.render(), "reported as gauge but it is a counter");
}

TEST(Metrics, ConcurrentUpdatesAndRendersAddUp) {
  Registry r;
  constexpr int kThreads = 4;
  constexpr int kPerThread = 10000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&r, t] {
      Counter* c = r.counter("ops_total", "Ops.");
      Gauge* g = r.gauge("level", "Level.");
      Histogram* h = r.histogram("size_bytes", "Sizes.", {10, 100}, {{"t", std::to_string(t)}});
      for (int i = 0; i < kPerThread; ++i) {
        c->add();
        g->add(1);
        h->observe(i % 200);
        if (i % 2000 == 0) (void)r.render();
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(r.counter("ops_total", "Ops.")->value(), uint64_t{kThreads} * kPerThread);
  EXPECT_EQ(r.gauge("level", "Level.")->value(), double{kThreads} * kPerThread);
  const auto s = r.histogram("size_bytes", "Sizes.", {10, 100}, {{"t", "0"}})->snapshot();
  EXPECT_EQ(s.count, static_cast<uint64_t>(kPerThread));
  EXPECT_EQ(s.cumulative[0], static_cast<uint64_t>(kPerThread / 200 * 11));  // 0..10
  EXPECT_EQ(s.cumulative[1], static_cast<uint64_t>(kPerThread / 200 * 101));
}

TEST(Metrics, ProcessRssIsPositive) { EXPECT_GT(process_rss_bytes(), 0u); }

}  // namespace
}  // namespace meridian::observe
