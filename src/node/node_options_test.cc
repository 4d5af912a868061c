#include "node/node_options.h"

#include <gtest/gtest.h>

namespace meridian::node {
namespace {

TEST(NodeOptionsTest, ParsesInitialCluster) {
  auto r = parse_initial_cluster("1=127.0.0.1:2380, 2=127.0.0.1:22380,3=[::1]:32380");
  ASSERT_TRUE(r.is_ok()) << r.status();
  ASSERT_EQ(r.value().size(), 3u);
  EXPECT_EQ(r.value().at(raft::NodeId{2}), "127.0.0.1:22380");
  auto hp = parse_host_port(r.value().at(raft::NodeId{3}));
  ASSERT_TRUE(hp.is_ok());
  EXPECT_EQ(hp.value().first, "::1");
  EXPECT_EQ(hp.value().second, 32380);
}

TEST(NodeOptionsTest, RejectsBadInitialCluster) {
  for (const char* bad : {"", "1", "0=127.0.0.1:1", "x=127.0.0.1:1", "1=127.0.0.1",
                          "1=127.0.0.1:99999", "1=a:1,1=b:2", "1=:5"}) {
    EXPECT_FALSE(parse_initial_cluster(bad).is_ok()) << bad;
  }
}

TEST(NodeOptionsTest, ClusterIdIsStableAndDistinct) {
  EXPECT_EQ(cluster_id_for_token("meridian"), cluster_id_for_token("meridian"));
  EXPECT_NE(cluster_id_for_token("meridian"), cluster_id_for_token("meridian2"));
}

TEST(NodeOptionsTest, Validates) {
  NodeOptions o;
  o.id = raft::NodeId{1};
  o.initial_cluster = {{raft::NodeId{1}, "127.0.0.1:2380"}};
  o.data_dir = "/tmp/x";
  EXPECT_TRUE(validate(o).is_ok());
  NodeOptions bad = o;
  bad.id = raft::NodeId{2};
  EXPECT_FALSE(validate(bad).is_ok());
  bad = o;
  bad.election_ticks = 1;
  EXPECT_FALSE(validate(bad).is_ok());
  bad = o;
  bad.groups = 0;
  EXPECT_FALSE(validate(bad).is_ok());
}

}  // namespace
}  // namespace meridian::node
