#include "cmd/commands.h"

#include <set>

#include <gtest/gtest.h>

namespace meridian::cmd {
namespace {

TEST(DevPortsTest, FollowTheDocumentedPattern) {
  EXPECT_EQ(dev_client_port(1), 2379);
  EXPECT_EQ(dev_client_port(2), 22379);
  EXPECT_EQ(dev_client_port(3), 32379);
  EXPECT_EQ(dev_peer_port(1), 2380);
  EXPECT_EQ(dev_admin_port(1), 2381);
  EXPECT_EQ(dev_peer_port(2), 22380);
  EXPECT_EQ(dev_admin_port(2), 22381);
  EXPECT_EQ(dev_peer_port(3), 32380);
  EXPECT_EQ(dev_admin_port(3), 32381);
  EXPECT_EQ(dev_admin_port(kDevNodesMax), 62381);
}

TEST(DevPortsTest, AllDistinct) {
  std::set<int> ports;
  for (int i = 1; i <= kDevNodesMax; ++i) {
    EXPECT_TRUE(ports.insert(dev_client_port(i)).second) << i;
    EXPECT_TRUE(ports.insert(dev_peer_port(i)).second) << i;
    EXPECT_TRUE(ports.insert(dev_admin_port(i)).second) << i;
  }
}

}  // namespace
}  // namespace meridian::cmd
