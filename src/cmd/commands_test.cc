#include "cmd/commands.h"

#include <set>

#include <gtest/gtest.h>

namespace meridian::cmd {
namespace {

TEST(DevPortsTest, FollowTheDocumentedPattern) {
  EXPECT_EQ(dev_peer_port(1), 2380);
  EXPECT_EQ(dev_admin_port(1), 2381);
  EXPECT_EQ(dev_peer_port(2), 22380);
  EXPECT_EQ(dev_admin_port(2), 22381);
  EXPECT_EQ(dev_peer_port(3), 32380);
  EXPECT_EQ(dev_admin_port(3), 32381);
  EXPECT_EQ(dev_admin_port(kDevNodesMax), 62381);
}

TEST(DevPortsTest, AllDistinctAndClearOfTheClientPorts) {
  std::set<int> ports;
  for (int i = 1; i <= kDevNodesMax; ++i) {
    EXPECT_TRUE(ports.insert(dev_peer_port(i)).second) << i;
    EXPECT_TRUE(ports.insert(dev_admin_port(i)).second) << i;
  }
  for (int i = 1; i <= kDevNodesMax; ++i) {
    EXPECT_EQ(ports.count(dev_port(i, 2379)), 0u) << i;  // reserved for the etcd API
  }
}

}  // namespace
}  // namespace meridian::cmd
